"""``agentrl eval``: evaluate a policy on an environment."""

from agentrl.commands import command_parser, parse_env_kwargs


def add_parser(subparsers) -> None:
    parser = command_parser(
        subparsers, "eval", "Evaluate a policy: success rate, mean return and mean turns, written to JSON.",
        "  agentrl eval --env agentrl/Sokoban-v0 --policy random --episodes 100\n"
        "  agentrl eval --env agentrl/Sokoban-v0 --policy solver --episodes 50 --out solver.json\n"
        "  agentrl eval --env agentrl/Sokoban-v0 --policy checkpoint:runs/quickstart/checkpoints/latest\n"
        "  agentrl eval --env agentrl/WebShop-v0 --split test --policy expert   (test goals 0..499, once each)",
    )
    parser.add_argument("--env", required=True, help="env id, e.g. agentrl/Sokoban-v0")
    parser.add_argument("--policy", default="random",
                        help="random | expert (solver for Sokoban) | checkpoint:DIR | hf:MODEL | api:MODEL@URL")
    parser.add_argument("--episodes", type=int, default=None,
                        help="episodes to play (default 50); with --split, the first N tasks (default all)")
    parser.add_argument("--split", default=None,
                        help="play each fixed task of the env's published split once, in order (e.g. test)")
    parser.add_argument("--seed", type=int, default=10_000, help="first reset seed (episodes use seed, seed+1, ...)")
    parser.add_argument("--num-envs", type=int, default=8, help="episodes played at once")
    parser.add_argument("--env-arg", action="append", metavar="KEY=VALUE", help="env config override")
    parser.add_argument("--out", default="eval.json", help="where to write the JSON results")
    parser.set_defaults(func=run)


def run(args) -> int:
    import json

    from agentrl.eval.evaluate import evaluate

    result = evaluate(
        args.env, args.policy, episodes=args.episodes, seed=args.seed,
        num_envs=args.num_envs, env_kwargs=parse_env_kwargs(args.env_arg), split=args.split,
    )
    summary = result["summary"]
    print(f"{'env':<22}{'policy':<14}{'episodes':>9}{'success':>9}{'score':>7}{'return':>9}{'turns':>7}")
    print(f"{args.env:<22}{args.policy[:13]:<14}{summary['episodes']:>9}{summary['success_rate']:>9.1%}"
          f"{summary['mean_outcome']:>7.3f}{summary['mean_return']:>9.2f}{summary['mean_turns']:>7.1f}")
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    print(f"wrote {args.out}")
    return 0
