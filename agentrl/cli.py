"""The ``agentrl`` command line. Each verb lives in its own module under ``agentrl.commands``.

Only the module of the verb being run is imported (its ``add_parser`` and ``run``), so
``agentrl --help`` and light verbs stay fast while heavy ones import torch at their top.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from agentrl.core.config import ConfigError
from agentrl.core.extras import MissingExtraError
from agentrl.core.registry import UnknownEnvError

#: Verb -> one-line help (the verb's module is ``agentrl.commands.<verb with - as _>``).
COMMANDS = {
    "envs": "List the registered environments.",
    "play": "Play an environment yourself in the terminal.",
    "eval": "Evaluate a policy on an environment.",
    "train": "Train a policy (SFT warm start, then multi-turn RL).",
    "router-eval": "Evaluate routers (Router-R1 protocol) on QA sets: quality against cost.",
    "sandbox": "Build, validate and clean up the SWE sandboxes.",
    "bench": "Run the benchmark scripts.",
}

EPILOG = """examples:
  agentrl envs                                  list environments
  agentrl play agentrl/Sokoban-v0               play Sokoban in the terminal
  agentrl train                                 train the quickstart preset
  agentrl eval --env agentrl/Sokoban-v0 --policy solver --episodes 50
run 'agentrl COMMAND --help' for a command's options and examples."""

#: Errors a user causes (bad config, unknown id, missing extra, missing file): one line, exit code 2.
USER_ERRORS = (ConfigError, UnknownEnvError, MissingExtraError, FileNotFoundError)


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentrl", description="Multi-turn reinforcement learning for LLM agents.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    for name, summary in COMMANDS.items():
        if name == chosen:
            importlib.import_module(f"agentrl.commands.{name.replace('-', '_')}").add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
