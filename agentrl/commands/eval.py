"""``agentrl eval``: evaluate a policy on an environment.

A trained run's policy (``checkpoint:RUN``) is measured on the run's own terms by default: its env,
env settings and held-out seeds, as its evaluations during training were; ``--run RUN`` does the
same for any other policy (a baseline on the run's rooms). The command says what it used.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from agentrl.commands import add_import_option, command_parser, count, import_modules, parse_env_kwargs
from agentrl.core.config import ConfigError
from agentrl.eval.evaluate import DEFAULT_EPISODES, RunDefaults, evaluate, run_defaults

#: First reset seed when neither ``--seed`` nor a run gives one.
DEFAULT_SEED = 10_000


def add_parser(subparsers) -> None:
    parser = command_parser(
        subparsers, "eval", "Evaluate a policy: success rate, mean return and mean turns, written to JSON.",
        "  agentrl eval --env agentrl/Sokoban-v0 --policy random --episodes 100\n"
        "  agentrl eval --env agentrl/Sokoban-v0 --policy solver --episodes 50 --out solver.json\n"
        "  agentrl eval --policy checkpoint:runs/quickstart      # the run's env, settings and held-out seeds\n"
        "  agentrl eval --policy random --run runs/quickstart    # a baseline on the same rooms\n"
        "  agentrl eval --env agentrl/WebShop-v0 --split test --policy expert   (test goals 0..499, once each)\n"
        "  agentrl eval --import my_envs --env agentrl/Guess-v0 --policy expert # an env your module registers\n"
        "  agentrl eval --env my_envs:Guess-v0 --policy expert                  # the same, gymnasium style",
    )
    parser.add_argument("--env", default=None,
                        help="env id, e.g. agentrl/Sokoban-v0, or module:Env-v0 (default: the run's env)")
    parser.add_argument("--policy", default="random",
                        help="random | expert (solver for Sokoban) | checkpoint:RUN | hf:MODEL | api:MODEL@URL")
    parser.add_argument("--run", default=None, metavar="RUN",
                        help="take the env, env settings and held-out seeds of this training run (the default "
                             "for a checkpoint:RUN policy)")
    parser.add_argument("--episodes", type=count(1), default=None,
                        help=f"episodes to play (default: the run's eval.episodes, else {DEFAULT_EPISODES}); "
                             "with --split, the first N tasks (default all)")
    parser.add_argument("--split", default=None,
                        help="play each fixed task of the env's published split once, in order (e.g. test)")
    parser.add_argument("--seed", type=count(0), default=None,
                        help=f"first reset seed; episodes use seed, seed+1, ... (default: the run's held-out "
                             f"eval.seed, else {DEFAULT_SEED})")
    parser.add_argument("--num-envs", type=count(1), default=8, help="episodes played at once")
    parser.add_argument("--env-arg", action="append", metavar="KEY=VALUE",
                        help="env setting, on top of the run's when there is one (repeatable)")
    parser.add_argument("--out", default=None,
                        help="where to write the JSON results (default: RUN/evals/POLICY.json for a run, else "
                             "evals/ENV-POLICY.json here; an existing file is never overwritten by default)")
    add_import_option(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    import_modules(args.imports)
    defaults = _run_defaults(args)
    env_id, env_kwargs, seed, episodes = _settings(args, defaults)
    result = evaluate(env_id, args.policy, episodes=episodes, seed=seed, num_envs=args.num_envs,
                      env_kwargs=env_kwargs, split=args.split)
    if defaults is not None:
        result["run"] = str(defaults.checkpoint)
    print_table([result])
    out = Path(args.out) if args.out else _default_out(defaults, env_id, args.policy)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {out}")
    return 0


def _run_defaults(args) -> RunDefaults | None:
    """The run whose terms apply: ``--run``, the run of a ``checkpoint:`` policy, or the run an
    ``hf:DIR`` policy was exported from (``agentrl export`` records it)."""
    kind, _, arg = args.policy.partition(":")
    run_path = args.run
    if run_path is None and kind == "checkpoint":
        run_path = arg
    if run_path is None and kind == "hf" and (Path(arg) / "agentrl_export.json").is_file():
        exported = json.loads((Path(arg) / "agentrl_export.json").read_text())["checkpoint"]
        run_path = exported if Path(exported).exists() else None
    return run_defaults(run_path) if run_path else None


def _settings(args, defaults: RunDefaults | None) -> tuple[str, dict, int, int | None]:
    """The env, its settings, the first seed and the episode count, saying where they came from."""
    overrides = parse_env_kwargs(args.env_arg)
    if defaults is None or (args.env is not None and args.env != defaults.env_id):
        if args.env is None:
            raise ConfigError("give --env ID (or a checkpoint:RUN policy or --run RUN, whose env is then used)")
        if defaults is not None:
            print(f"note: --env {args.env} is not the run's env ({defaults.env_id}); using {args.env} with "
                  f"{overrides or 'its default settings'}")
        return args.env, overrides, DEFAULT_SEED if args.seed is None else args.seed, args.episodes
    env_kwargs = {**defaults.env_kwargs, **overrides}
    seed = defaults.seed if args.seed is None else args.seed
    episodes = args.episodes if args.episodes is not None or args.split else defaults.episodes
    print(f"evaluating on the run's env {defaults.env_id} with {env_kwargs or 'its default settings'}"
          + ("" if args.split else f", seeds {seed}..{seed + episodes - 1}")
          + ("" if args.seed is None and args.episodes is None else " (as given)")
          + f"; run: {defaults.checkpoint}")
    return defaults.env_id, env_kwargs, seed, episodes


def _default_out(defaults: RunDefaults | None, env_id: str, policy: str) -> Path:
    """A results path under the run (or ``evals/`` here) that no earlier evaluation wrote."""
    if defaults is not None:
        base = defaults.checkpoint.parent.parent / "evals" / f"{_slug(policy, defaults.checkpoint)}.json"
    else:
        base = Path("evals") / f"{_slug(env_id.rpartition('/')[2])}-{_slug(policy)}.json"
    path, number = base, 2
    while path.exists():
        path = base.with_name(f"{base.stem}-{number}{base.suffix}")
        number += 1
    return path


def _slug(text: str, checkpoint: Path | None = None) -> str:
    if checkpoint is not None and text.startswith("checkpoint:"):
        text = f"checkpoint-{checkpoint.name}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "policy"


def print_table(results: list[dict]) -> None:
    """One row per result, columns as wide as their longest cell (names are never cut)."""
    headers = ["env", "policy", "episodes", "success", "score", "return", "turns"]
    rows = [[r["env"], r["policy"], str(r["summary"]["episodes"]), f"{r['summary']['success_rate']:.1%}",
             f"{r['summary']['mean_outcome']:.3f}", f"{r['summary']['mean_return']:.2f}",
             f"{r['summary']['mean_turns']:.1f}"] for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    left = {0, 1}  # text columns align left, numbers right

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    print(line(headers))
    for row in rows:
        print(line(row))
