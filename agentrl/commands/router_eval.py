"""``agentrl router-eval``: cost-quality evaluation of routers on ``agentrl/Router-v0``."""

import sys

from agentrl.commands import command_parser, parse_env_kwargs
from agentrl.envs.router.routers import RouterRequestError
from agentrl.eval.router_eval import BASELINES, router_eval

DATASET_NAMES = "nq triviaqa popqa hotpotqa 2wikimultihopqa musique bamboogle"


def add_parser(subparsers) -> None:
    parser = command_parser(
        subparsers, "router-eval",
        "Evaluate routers (a Router-R1 checkpoint, your own, an API model, baselines) on EM, F1, cost and "
        "calls per question, per dataset as in the Router-R1 paper; writes the tables, router_eval.json "
        "and a cost-quality Pareto plot.",
        "  agentrl router-eval                                    # offline: generated QA, simulated pool\n"
        "  agentrl router-eval --policy hf:checkpoints/router-r1-qwen --data-dir data/flashrag \\\n"
        f"      --datasets {DATASET_NAMES} \\\n"
        "      --candidates-url https://integrate.api.nvidia.com/v1 --candidates-key-env NVIDIA_API_KEY\n"
        "  agentrl router-eval --policy api:router-r1@http://127.0.0.1:8000/v1 --data-dir data \\\n"
        "      --datasets nq \\\n"
        "      --candidates-url http://127.0.0.1:8001/v1 --baselines single cascade --limit 50\n"
        "  agentrl router-eval --policy checkpoint:runs/router --protocol chat --episodes 500",
    )
    parser.add_argument("--policy", action="append", metavar="SPEC", default=[],
                        help="a router (repeatable): hf:PATH | checkpoint:DIR | api:MODEL@URL")
    parser.add_argument("--baselines", nargs="*", metavar="NAME",
                        help="baselines to run (default: all): single random cheapest most-expensive oracle "
                             "knn cascade; give none to skip them")
    data = parser.add_argument_group("questions")
    data.add_argument("--datasets", nargs="+", metavar="NAME", default=[],
                      help=f"Router-R1 test sets to evaluate: {DATASET_NAMES}")
    data.add_argument("--data-dir", help="folder with FlashRAG NAME/{test,dev,train}.jsonl, NAME.jsonl or "
                                         "Router-R1 test_NAME_*.parquet files")
    data.add_argument("--dataset", action="append", metavar="NAME=PATH", default=[],
                      help="one test set's folder or file (repeatable; implies --datasets NAME)")
    data.add_argument("--sample-size", type=int, default=500,
                      help="questions drawn per FlashRAG set (Router-R1: 500)")
    data.add_argument("--sample-seed", type=int, default=42, help="seed of the draw (Router-R1: 42)")
    data.add_argument("--limit", type=int, help="only the first N drawn questions of each set (quick runs)")
    data.add_argument("--episodes", type=int, default=200,
                      help="without --datasets: generated questions, or the first N of the env's task files")
    data.add_argument("--seed", type=int, default=0, help="first generated-task seed")
    env = parser.add_argument_group("environment and candidates")
    env.add_argument("--protocol", choices=["router-r1", "chat"],
                     help="Router-v0 protocol (default router-r1)")
    env.add_argument("--env-arg", action="append", metavar="KEY=VALUE", help="Router-v0 config override")
    env.add_argument("--candidates-url", help="one OpenAI-compatible endpoint serving every pool model")
    env.add_argument("--candidates-key-env", default="OPENAI_API_KEY",
                     help="environment variable with the key of --candidates-url")
    env.add_argument("--num-envs", type=int, default=8, help="episodes played at once")
    gen = parser.add_argument_group("router generation (hf: and api: routers; defaults: Router-R1's test.sh)")
    gen.add_argument("--max-new-tokens", type=int, default=1024, help="tokens per generation")
    gen.add_argument("--temperature", type=float, default=0.0, help="0 decodes greedily")
    gen.add_argument("--top-p", type=float, default=1.0, help="nucleus mass when sampling")
    gen.add_argument("--stop", action="append", metavar="TEXT", default=[],
                     help="a stop string (repeatable; kept in the text, e.g. --stop '</search>' "
                          "--stop '</answer>'); none by default, as Router-R1's evaluation")
    gen.add_argument("--max-context-tokens", type=int, default=4096, help="left-cut of the context (hf)")
    gen.add_argument("--max-prompt-tokens", type=int, default=2048, help="left-cut of the prompt (hf)")
    gen.add_argument("--batch-size", type=int, default=16, help="generations per batch / requests in flight")
    other = parser.add_argument_group("baselines")
    other.add_argument("--knn-k", type=int, default=10, help="neighbours of the kNN router")
    other.add_argument("--knn-cost-weight", type=float, default=0.1, help="kNN: quality - w * cost/max")
    other.add_argument("--knn-train-size", type=int, default=200, help="generated kNN training questions")
    other.add_argument("--cascade-calls", type=int, default=3, help="most calls of the cascade baseline")
    parser.add_argument("--out-dir", default="router_eval", help="where router_eval.json and pareto.png go")
    parser.set_defaults(func=run)


def run(args) -> int:
    env_kwargs = parse_env_kwargs(args.env_arg)
    if args.protocol:
        env_kwargs["protocol"] = args.protocol
    paths = dict(item.split("=", 1) for item in args.dataset if "=" in item)
    if len(paths) != len(args.dataset):
        print("error: --dataset must look like NAME=PATH", file=sys.stderr)
        return 2
    try:
        result = router_eval(
            datasets=list(dict.fromkeys([*args.datasets, *paths])), data_dir=args.data_dir,
            dataset_paths=paths,
            sample_size=args.sample_size, sample_seed=args.sample_seed, limit=args.limit,
            episodes=args.episodes, seed=args.seed, num_envs=args.num_envs, env_kwargs=env_kwargs,
            candidates_url=args.candidates_url, candidates_key_env=args.candidates_key_env,
            generation={"max_new_tokens": args.max_new_tokens, "temperature": args.temperature,
                        "top_p": args.top_p, "stop": args.stop, "max_context_tokens": args.max_context_tokens,
                        "max_prompt_tokens": args.max_prompt_tokens, "batch_size": args.batch_size},
            baselines=list(BASELINES) if args.baselines is None else args.baselines,
            knn_k=args.knn_k, knn_cost_weight=args.knn_cost_weight, knn_train_size=args.knn_train_size,
            cascade_calls=args.cascade_calls, out_dir=args.out_dir,
            policies={spec: spec for spec in args.policy},
        )
    except RouterRequestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(result["paper_layout"])
    print()
    print(result["table"])
    print(f"pareto front: {', '.join(result['pareto_front'])}")
    for name, value in result["checks"].items():
        print(f"{name}: {value}")
    print(f"wrote {result['files']['json']} and {result['files']['plot']}")
    return 0
