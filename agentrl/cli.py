"""The ``agentrl`` command line. Each verb lives in its own module under ``agentrl.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "envs",
    "play",
    "eval",
    "train",
    "router_eval",
    "sandbox",
    "bench",
)

EPILOG = """examples:
  agentrl envs                                  list environments
  agentrl play agentrl/Sokoban-v0               play Sokoban in the terminal
  agentrl train                                 train the quickstart preset
  agentrl eval --env agentrl/Sokoban-v0 --policy solver --episodes 50
run 'agentrl COMMAND --help' for a command's options and examples."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentrl",
        description="Multi-turn reinforcement learning for LLM agents.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module_name = f"agentrl.commands.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # user-facing errors: one clear line, not a traceback
        from agentrl.core.config import ConfigError
        from agentrl.core.registry import MissingExtraError, UnknownEnvError

        if isinstance(exc, (ConfigError, UnknownEnvError, MissingExtraError, FileNotFoundError)):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
