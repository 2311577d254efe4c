"""The ``agentrl`` command line. Each verb lives in its own module under ``agentrl.commands``.

Only the module of the verb being run is imported (its ``add_parser`` and ``run``), so
``agentrl --help`` and light verbs stay fast while heavy ones import torch at their top.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import time
from pathlib import Path

from agentrl.core.config import ConfigError
from agentrl.core.extras import MissingExtraError
from agentrl.core.registry import UnknownEnvError

#: Verb -> one-line help (the verb's module is ``agentrl.commands.<verb with - as _>``).
COMMANDS = {
    "envs": "List the registered environments.",
    "play": "Play an environment yourself in the terminal.",
    "eval": "Evaluate a policy on an environment.",
    "train": "Train a policy (SFT warm start, then multi-turn RL).",
    "plot": "Plot learning curves of one or more runs (seeds of one config as mean and spread).",
    "export": "Export a trained run's model as a Hugging Face transformers folder.",
    "router-eval": "Evaluate routers (Router-R1 protocol) on QA sets: quality against cost.",
    "sandbox": "Build, validate and clean up the SWE sandboxes.",
    "bench": "Run the benchmark scripts.",
}

EPILOG = """examples:
  agentrl envs                                  list environments
  agentrl play agentrl/Sokoban-v0               play Sokoban in the terminal
  agentrl train                                 train the quickstart preset
  agentrl eval --env agentrl/Sokoban-v0 --policy solver --episodes 50
  agentrl eval --policy checkpoint:runs/quickstart   a trained run, on its own held-out rooms
  agentrl plot runs/quickstart runs/other          compare runs
run 'agentrl COMMAND --help' for a command's options and examples."""

#: Verbs whose module imports torch and transformers (seconds on a busy CPU): a line says so first.
HEAVY = {"train", "eval", "export"}

#: Errors a user causes (bad config, unknown id, missing extra, a missing or wrong file): one line,
#: exit code 2. AGENTRL_DEBUG=1 shows their traceback too.
USER_ERRORS = (ConfigError, UnknownEnvError, MissingExtraError, FileNotFoundError, IsADirectoryError,
               NotADirectoryError, PermissionError)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentrl", description="Multi-turn reinforcement learning for LLM agents.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((arg for arg in argv or [] if not arg.startswith("-")), None)
    for name, summary in COMMANDS.items():
        if name == chosen:
            _verb_module(name, announce=name in HEAVY and not {"-h", "--help"} & set(argv or [])).add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=summary)
    return parser


def _verb_module(name: str, *, announce: bool):
    log = logging.getLogger("agentrl.cli")
    module_name = f"agentrl.commands.{name.replace('-', '_')}"
    announce = announce and module_name not in sys.modules
    if announce:
        log.info("agentrl %s: importing torch and transformers", name)
    started = time.perf_counter()
    module = importlib.import_module(module_name)
    if announce:
        log.info("imports done [%.1f s]", time.perf_counter() - started)
    return module


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    configure_console()
    if str(Path.cwd()) not in sys.path:  # as `python -m` does: env modules next to you import (module:Env-v0)
        sys.path.append(str(Path.cwd()))
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
        if os.environ.get("AGENTRL_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (tests and tools swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # a closed or broken stream must not end the run
            self.handleError(record)


def configure_console(level: int = logging.INFO) -> None:
    """Show agentrl's log lines (phases, progress) on stderr as ``HH:MM:SS message``, once."""
    logger = logging.getLogger("agentrl")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
        logger.addHandler(handler)
    logger.setLevel(level)


if __name__ == "__main__":
    sys.exit(main())
