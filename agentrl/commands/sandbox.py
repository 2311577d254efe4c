"""``agentrl sandbox``: build the SWE base image, validate the task suite, reap leaked containers."""

from __future__ import annotations

import json
import sys

from agentrl.commands import command_parser
from agentrl.envs.swe.tasks import load_tasks
from agentrl.envs.swe.validate import TaskValidation, validate_tasks
from agentrl.sandboxes.backends import resolve_backend
from agentrl.sandboxes.base import SandboxError
from agentrl.sandboxes.docker import docker_client
from agentrl.sandboxes.images import build_base_image
from agentrl.sandboxes.reaper import reap


def add_parser(subparsers) -> None:
    parser = command_parser(
        subparsers, "sandbox", "SWE sandboxes: build the base image, validate tasks, remove leaked containers.",
        "  agentrl sandbox build                       # Dockerfile if its base image is local, else offline\n"
        "  agentrl sandbox build --backend local       # only the bubblewrap root filesystem (no engine)\n"
        "  agentrl sandbox validate --backend both     # gold patch scores 1, empty patch 0, every task\n"
        "  agentrl sandbox validate --task-id pagekit-1 --json validation.json\n"
        "  agentrl sandbox reap                        # containers whose owner process is gone",
    )
    verbs = parser.add_subparsers(dest="sandbox_command", metavar="VERB")
    build = verbs.add_parser("build", help="build the base image (skipped when its content hash exists)")
    build.add_argument("--method", default="auto", choices=["auto", "dockerfile", "offline"])
    build.add_argument("--backend", default="auto", choices=["auto", "docker", "local"],
                       help="docker: image and root filesystem; local: root filesystem only")
    build.add_argument("--mirror", default=None, help="Debian mirror for the offline build")
    build.add_argument("--force", action="store_true", help="rebuild even if the content hash exists")
    build.set_defaults(func=_clear_errors(run_build))
    validate = verbs.add_parser("validate", help="prove every task: gold patch -> 1, empty patch -> 0")
    validate.add_argument("--backend", default="auto", choices=["auto", "docker", "local", "both"])
    validate.add_argument("--tasks", default="builtin", help="builtin, a task directory or a SWE-bench JSONL")
    validate.add_argument("--task-id", action="append", default=[], help="only this task (repeatable)")
    validate.add_argument("--workers", type=int, default=4, help="tasks validated at once")
    validate.add_argument("--json", default=None, help="write the per-task results here")
    validate.set_defaults(func=_clear_errors(run_validate))
    reap = verbs.add_parser("reap", help="remove sandbox containers whose owner process is gone")
    reap.add_argument("--all", action="store_true", help="remove every agentrl sandbox container")
    reap.set_defaults(func=_clear_errors(run_reap))
    parser.set_defaults(func=lambda args: parser.print_help() or 0)


def _clear_errors(run):
    """Sandbox problems (no engine, no image, failed build) end in one clear line, not a traceback."""

    def wrapped(args) -> int:
        try:
            return run(args)
        except SandboxError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return wrapped


def run_build(args) -> int:
    docker = resolve_backend(args.backend) == "docker"
    result = build_base_image(
        args.method, client=docker_client() if docker else None, docker=docker, mirror=args.mirror,
        force=args.force, log=lambda line: print(line, file=sys.stderr),
    )
    print(f"{result.method}: {result.tag or '-'}  rootfs={result.rootfs or '-'}  ({result.seconds:.1f}s)")
    return 0


def run_validate(args) -> int:
    tasks = load_tasks(args.tasks)
    if args.task_id:
        known = {task.instance_id for task in tasks}
        unknown = sorted(set(args.task_id) - known)
        if unknown:
            print(f"error: unknown task id(s) {unknown}; valid ids: {', '.join(sorted(known))}", file=sys.stderr)
            return 2
        tasks = [task for task in tasks if task.instance_id in args.task_id]
    backends = ["docker", "local"] if args.backend == "both" else [resolve_backend(args.backend)]
    width = max([len("task"), *(len(task.instance_id) for task in tasks)]) + 2
    print(f"{'task':<{width}}{'backend':<9}{'gold':>6}{'empty':>7}{'seconds':>9}  result")
    reports = []
    for backend in backends:
        reports += validate_tasks(tasks, backend, workers=args.workers,
                                  on_result=lambda report: _print_row(report, width))
    failed = [report for report in reports if not report.ok]
    print(f"{len(reports) - len(failed)}/{len(reports)} validations passed")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump([report.to_dict() for report in reports], handle, indent=2)
        print(f"wrote {args.json}")
    return 1 if failed else 0


def _print_row(report: TaskValidation, width: int) -> None:
    """One row; ``width`` fits the longest instance id, so ids never run into the next column."""
    gold = f"{report.gold.outcome:.0f}" if report.gold else "-"
    empty = f"{report.empty.outcome:.0f}" if report.empty else "-"
    result = "ok" if report.ok else "FAILED: " + "; ".join(report.problems)
    print(f"{report.instance_id:<{width}}{report.backend:<9}{gold:>6}{empty:>7}{report.seconds:>9.2f}  {result}",
          flush=True)


def run_reap(args) -> int:
    removed = reap(docker_client(), everything=args.all)
    print(f"removed {len(removed)} container(s)" + (": " + ", ".join(removed) if removed else ""))
    return 0
