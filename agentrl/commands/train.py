"""``agentrl train``: train a policy from a preset or config file, with key=value overrides."""

from agentrl.commands import add_import_option, command_parser, config_overrides, import_modules, without_keys
from agentrl.core.config import describe_fields
from agentrl.train.config import TrainConfig, config_source, dump_config, list_presets, load_config
from agentrl.train.console import describe_success
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
        "  agentrl train env.kwargs.dim_room=[7,7] env.kwargs.num_boxes=2   # merge into the env settings\n"
        "  agentrl train env.id=agentrl/Bargaining-v0 'env.kwargs={opponent: boulware}'   # replace them\n"
        "  agentrl train --import my_envs env.id=agentrl/Guess-v0          # an env your module registers\n"
        "  agentrl train env.id=my_envs:Guess-v0                           # the same, gymnasium style\n"
        "  agentrl train --show-config                      # print the resolved config\n"
        f"\npresets: {', '.join(list_presets())}\n\n"
        "Overrides: key=value. A whole mapping (env.kwargs={...}) replaces the config's; a dotted key\n"
        "(env.kwargs.max_turns=10) merges into it. Values inside env.kwargs, rewards and lists are read as\n"
        "YAML, so they keep their types. Changing env.id drops the config's env.kwargs (they belong to the\n"
        "other env). A run resumes from its folder's latest checkpoint when the model and task match.\n\n"
        f"config keys (key = default  -- meaning):\n{keys}",
    )
    parser.add_argument("--config", default=None, help="preset name or YAML file (default: quickstart)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. rl.iterations=5")
    parser.add_argument("--show-config", action="store_true", help="print the resolved config and exit")
    add_import_option(parser)
    parser.set_defaults(func=run)


def config_from_args(config: str | None, overrides: list[str]) -> TrainConfig:
    """The run's config: the preset or file, with the command line's overrides."""
    tree, replaced = config_overrides(TrainConfig, overrides)
    return load_config(without_keys(config_source(config), replaced), tree)


def run(args) -> int:
    import_modules(args.imports)
    config = config_from_args(args.config, args.overrides)
    if args.show_config:
        print(dump_config(config), end="")
        return 0
    result = Trainer(config).run()
    if summary := describe_success(result):
        print(summary)
    print(f"metrics: {result.output_dir / 'metrics.jsonl'}\nplot:    {result.plot}\ncheckpoint: {result.checkpoint}")
    if result.best_success is not None:
        print(f"best:       {result.output_dir / 'best'}")
    return 0
