"""``agentrl envs``: list registered environments."""

from agentrl.commands import command_parser
from agentrl.core.registry import env_entry, list_envs


def add_parser(subparsers) -> None:
    parser = command_parser(
        subparsers, "envs", "List the registered environments with a one-line description.",
        "  agentrl envs\n  agentrl envs --ids      # ids only, one per line",
    )
    parser.add_argument("--ids", action="store_true", help="print ids only")
    parser.set_defaults(func=run)


def run(args) -> int:
    ids = list_envs()
    width = max(map(len, ids), default=0)
    for env_id in ids:
        entry = env_entry(env_id)
        if args.ids:
            print(env_id)
        else:
            extra = f"  [extra: {entry.extra}]" if entry.extra else ""
            print(f"{env_id:<{width}}  {entry.description}{extra}")
    return 0
