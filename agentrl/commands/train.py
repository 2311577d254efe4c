"""``agentrl train``: train a policy from a preset or config file, with key=value overrides."""

from agentrl.commands import command_parser
from agentrl.core.config import describe_fields, parse_overrides
from agentrl.train.config import TrainConfig, dump_config, list_presets, load_config
from agentrl.train.loop import Trainer


def add_parser(subparsers) -> None:
    keys = "\n".join("  " + line for line in describe_fields(TrainConfig))
    parser = command_parser(
        subparsers, "train", "Train a policy (SFT warm start, then multi-turn RL). With no arguments it trains "
        "the quickstart preset: a tiny LM on Sokoban, on the CPU.",
        "  agentrl train                                   # quickstart preset\n"
        "  agentrl train --config grid-ppo                  # a shipped preset\n"
        "  agentrl train --config my.yaml rl.iterations=50 rl.lr=1e-5\n"
        "  agentrl train run.output_dir=runs/try2 rewards=preset   # env's reward-pipeline preset\n"
        "  agentrl train --show-config                      # print the resolved config\n"
        f"\npresets: {', '.join(list_presets())}\n\nconfig keys (key = default  -- meaning):\n{keys}",
    )
    parser.add_argument("--config", default=None, help="preset name or YAML file (default: quickstart)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. rl.iterations=5")
    parser.add_argument("--show-config", action="store_true", help="print the resolved config and exit")
    parser.set_defaults(func=run)


def run(args) -> int:
    config = load_config(args.config, parse_overrides(args.overrides))
    if args.show_config:
        print(dump_config(config), end="")
        return 0
    result = Trainer(config).run()
    if result.initial_success is not None:
        print(f"held-out success rate: {result.initial_success:.1%} before training -> {result.final_success:.1%} after")
    print(f"metrics: {result.output_dir / 'metrics.jsonl'}\nplot:    {result.plot}\ncheckpoint: {result.checkpoint}")
    return 0
