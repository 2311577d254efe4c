"""``agentrl router-eval``: cost-quality evaluation of routers on ``agentrl/Router-v0``."""

from agentrl.commands import command_parser, parse_env_kwargs


def add_parser(subparsers) -> None:
    parser = command_parser(
        subparsers, "router-eval",
        "Evaluate routers (a trained policy, an API model, baselines) on EM, F1, cost and calls per "
        "question; writes a table, router_eval.json and a cost-quality Pareto plot.",
        "  agentrl router-eval                                    # offline: generated QA, simulated pool\n"
        "  agentrl router-eval --episodes 500 --out-dir runs/router_eval\n"
        "  agentrl router-eval --policy checkpoint:runs/router/checkpoints/latest\n"
        "  agentrl router-eval --policy api:qwen2.5-7b@http://127.0.0.1:8000/v1 --baselines oracle knn\n"
        "  agentrl router-eval --env-arg task_files=[data/nq_test.jsonl] --env-arg backend=replay \\\n"
        "      --env-arg replay_files=[data/pool_responses.jsonl] --env-arg pool_file=pool.yaml",
    )
    parser.add_argument("--policy", action="append", metavar="SPEC", default=[],
                        help="a router policy (repeatable): checkpoint:DIR | hf:MODEL | api:MODEL@URL")
    parser.add_argument("--baselines", nargs="*", metavar="NAME",
                        help="baselines to run (default: all): single random cheapest most-expensive "
                             "oracle knn; give none to skip them")
    parser.add_argument("--episodes", type=int, default=200, help="questions to evaluate")
    parser.add_argument("--seed", type=int, default=0, help="first reset seed (then seed+1, ...)")
    parser.add_argument("--num-envs", type=int, default=8, help="episodes played at once")
    parser.add_argument("--env-arg", action="append", metavar="KEY=VALUE", help="Router-v0 config override")
    parser.add_argument("--knn-k", type=int, default=10, help="neighbours of the kNN router")
    parser.add_argument("--knn-cost-weight", type=float, default=0.1, help="kNN: quality - w * cost/max")
    parser.add_argument("--knn-train-size", type=int, default=200, help="generated kNN training questions")
    parser.add_argument("--out-dir", default="router_eval", help="where router_eval.json and pareto.png go")
    parser.set_defaults(func=run)


def run(args) -> int:
    from agentrl.eval.router_eval import BASELINES, router_eval

    result = router_eval(
        episodes=args.episodes, seed=args.seed, num_envs=args.num_envs,
        env_kwargs=parse_env_kwargs(args.env_arg),
        baselines=list(BASELINES) if args.baselines is None else args.baselines,
        knn_k=args.knn_k, knn_cost_weight=args.knn_cost_weight, knn_train_size=args.knn_train_size,
        out_dir=args.out_dir, policies={spec: spec for spec in args.policy},
    )
    print(result["table"])
    print(f"pareto front: {', '.join(result['pareto_front'])}")
    for name, value in result["checks"].items():
        print(f"{name}: {value}")
    print(f"wrote {result['files']['json']} and {result['files']['plot']}")
    return 0
