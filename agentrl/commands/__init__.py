"""One module per CLI verb; each defines ``add_parser(subparsers)``."""

import argparse


def command_parser(subparsers, name: str, help: str, examples: str) -> argparse.ArgumentParser:
    """A sub-parser whose ``--help`` ends with worked examples."""
    return subparsers.add_parser(
        name,
        help=help,
        description=help,
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def parse_env_kwargs(items: list[str] | None) -> dict:
    """``["max_turns=10", "dim_room=[7,7]"]`` -> keyword arguments for ``agentrl.make``."""
    import yaml

    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--env-arg {item!r} must look like key=value")
        key, value = item.split("=", 1)
        out[key] = yaml.safe_load(value)
    return out
