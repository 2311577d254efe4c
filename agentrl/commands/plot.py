"""``agentrl plot``: learning curves of one or more runs in one figure.

Runs whose configs differ only in ``run.*`` settings (the seed, the folder) are seeds of one
experiment: drawn as their mean with a min-max band. Experiments are labelled by the settings
that differ between them.
"""

from __future__ import annotations

from agentrl.commands import command_parser
from agentrl.train.plots import COMPARED, group_runs, load_run, plot_comparison


def add_parser(subparsers) -> None:
    parser = command_parser(
        subparsers, "plot", "Compare runs: one panel per metric, seeds of one config as mean and min-max band.",
        "  agentrl plot runs/quickstart                        # one run\n"
        "  agentrl plot runs/seed0 runs/seed1 runs/seed2        # three seeds: mean and spread\n"
        "  agentrl plot runs/lr-* --metric eval/success_rate --out lr.png",
    )
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folders (each with metrics.jsonl)")
    parser.add_argument("--metric", action="append", default=None, metavar="KEY",
                        help=f"metric to plot (repeatable; default: {', '.join(COMPARED)})")
    parser.add_argument("--out", default="comparison.png", help="PNG to write (default: comparison.png here)")
    parser.set_defaults(func=run)


def run(args) -> int:
    experiments = group_runs([load_run(path) for path in args.runs])
    path = plot_comparison(experiments, args.out, args.metric or COMPARED)
    for experiment in experiments:
        finals = [next((rec["eval/success_rate"] for rec in reversed(r.records) if "eval/success_rate" in rec), None)
                  for r in experiment.runs]
        finals = [f for f in finals if f is not None]
        final = ""
        if finals:
            spread = f" (min {min(finals):.1%}, max {max(finals):.1%})" if len(finals) > 1 else ""
            final = f": final held-out success {sum(finals) / len(finals):.1%}{spread}"
        print(f"{experiment.label}{final}")
    print(f"wrote {path}")
    return 0
