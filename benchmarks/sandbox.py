"""Sandbox latency and parallelism, against their baselines, in one run (Docker backend).

1. Command round trip through the persistent session (``sandbox.run("true")``) against one
   ``docker exec CONTAINER true`` CLI call per command, interleaved in blocks so that both see the
   same machine load. Target: session p50 <= 0.2 x CLI p50.
2. Reset: time until a clean sandbox answers its first command, handed over by a warm
   :class:`SandboxPool` against started cold (create + start + session). Target: cold p50 >=
   5 x warm p50. The same comparison through
   ``SWEEnv.reset``, which also uploads the task's repository (steady state: one task, whose
   archive is already built), is reported alongside, with the same target.
3. Parallelism: 8 sandboxes at once, each grading a different built-in task with its gold patch
   in a fresh container. Target: zero failures, every task resolved.
4. The price of hardened grading: ``grade()`` (trusted git, patch triage, re-checked paths, the
   grader's runner with its audit hook and own results file) against a naive SWE-bench-style
   grade (``git apply`` of the whole patch, ``python3 -m pytest -rA``, log parsed), both in a fresh
   sandbox on the same tasks; and ``SWEEnv.step`` of ``bash true`` (which also takes the trusted
   diff for the ``modification`` reward) against the bare ``sandbox.run("true")``. Reported as
   ratios; target: hardened grading <= 2x the naive one.

    python benchmarks/sandbox.py [--commands 200] [--resets 10] [--parallel 8] [--backend docker]

Results go to ``benchmarks/results/sandbox.json`` (``sandbox-local.json`` for ``--backend local``,
whose baseline is a fresh bubblewrap process per command).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
from _common import RESULTS

from agentrl.envs.swe import SWEEnv, grade, load_tasks, parse_test_statuses, prepare_repo
from agentrl.envs.swe.gitops import apply_patch
from agentrl.sandboxes import SandboxPool
from agentrl.sandboxes.backends import backend_class
from agentrl.sandboxes.pool import close_shared_pools, wait_discarded

TARGETS = {"round_trip_ratio_max": 0.2, "reset_speedup_min": 5.0, "parallel_failures_max": 0,
           "grading_overhead_max": 2.0}


def percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.array(samples) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)), "n": len(samples)}


def timed(call, *args, **kwargs) -> float:
    started = time.perf_counter()
    call(*args, **kwargs)
    return time.perf_counter() - started


def round_trip(backend: str, commands: int, block: int = 10) -> dict:
    cli = shutil.which("docker")
    with backend_class(backend)() as sandbox:
        sandbox.run("true")
        if backend == "docker" and cli:
            baseline_name = "docker exec CLI"
            baseline = partial(subprocess.run, [cli, "exec", sandbox.name, "true"], check=True)
        elif backend == "docker":
            api, container = sandbox.client.api, sandbox.container.id
            baseline_name = "docker exec API"

            def baseline():
                api.exec_start(api.exec_create(container, ["true"])["Id"])
        else:
            baseline_name = "fresh bwrap process"
            baseline = partial(subprocess.run, sandbox._bwrap_argv()[:-4] + ["true"], check=True)
        session, fresh = [], []
        for _ in range(max(commands // block, 1)):  # interleaved blocks share the same machine load
            session += [timed(sandbox.run, "true") for _ in range(block)]
            fresh += [timed(baseline) for _ in range(max(block // 4, 1))]
    result = {"session": percentiles(session), "baseline": percentiles(fresh), "baseline_name": baseline_name}
    result["ratio_p50"] = result["session"]["p50_ms"] / result["baseline"]["p50_ms"]
    return result


def reset_latency(backend: str, resets: int) -> dict:
    """Time until a clean sandbox has answered its first command."""
    cls = backend_class(backend)
    cold = []
    for _ in range(resets):
        sandbox = cls()
        started = time.perf_counter()
        sandbox.start().run("true")
        cold.append(time.perf_counter() - started)
        sandbox.close()
    warm = []
    with SandboxPool(cls, size=2) as pool:
        for _ in range(resets):
            pool.wait_ready(timeout=300)
            started = time.perf_counter()
            sandbox = pool.acquire()
            sandbox.run("true")
            warm.append(time.perf_counter() - started)
            pool.release(sandbox)
    result = {"cold": percentiles(cold), "warm_pool": percentiles(warm)}
    result["speedup_p50"] = result["cold"]["p50_ms"] / result["warm_pool"]["p50_ms"]
    return result


def env_reset_latency(backend: str, resets: int) -> dict:
    out = {}
    for name, pool_size in (("cold", 0), ("warm_pool", 2)):
        env = SWEEnv(backend=backend, pool_size=pool_size)
        options = {"task_id": "pagekit-1"}  # steady state: the task's repository archive is cached
        env.reset(seed=0, options=options)  # the first reset also builds the pool and that archive
        samples = []
        for seed in range(1, resets + 1):
            if env._pool is not None:
                env._pool.wait_ready(timeout=300)
            samples.append(timed(env.reset, seed=seed, options=options))
        env.close()
        close_shared_pools()
        out[name] = percentiles(samples)
    out["speedup_p50"] = out["cold"]["p50_ms"] / out["warm_pool"]["p50_ms"]
    return out


def parallel(backend: str, count: int) -> dict:
    tasks = load_tasks("builtin")[:count]
    cls = backend_class(backend)

    def one(task):
        with cls(cpus=1.0) as sandbox:
            return grade(task, task.patch, sandbox).kind

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as executor:
        futures = [executor.submit(one, task) for task in tasks]
    outcomes, errors = [], []
    for future in futures:
        try:
            outcomes.append(future.result())
        except Exception as exc:  # counted and reported, never hidden
            errors.append(f"{type(exc).__name__}: {exc}")
    failures = len(errors) + sum(kind != "resolved" for kind in outcomes)
    return {"sandboxes": count, "seconds": time.perf_counter() - started, "failures": failures,
            "outcomes": outcomes, "errors": errors}


def naive_grade(task, sandbox) -> bool:
    """SWE-bench's way: apply everything, run pytest, read the log (no triage, no runner)."""
    prepare_repo(sandbox, task)
    for patch in (task.patch, task.test_patch):
        assert apply_patch(sandbox, task.workdir, patch) == ""
    run = sandbox.run(f"cd {task.workdir} && {task.test_cmd} {' '.join(task.tests_to_run)}", persist=False,
                      timeout=300, output_limit=1 << 20)
    statuses = parse_test_statuses(run.output)
    return all(statuses.get(test) == "PASSED" for test in task.fail_to_pass + task.pass_to_pass)


def grading_overhead(backend: str, rounds: int) -> dict:
    cls = backend_class(backend)
    tasks = load_tasks("builtin")[:rounds]
    hardened, naive = [], []
    for task in tasks:  # interleaved, so both see the same machine load
        with cls() as sandbox:
            started = time.perf_counter()
            assert grade(task, task.patch, sandbox).resolved
            hardened.append(time.perf_counter() - started)
        with cls() as sandbox:
            started = time.perf_counter()
            assert naive_grade(task, sandbox)
            naive.append(time.perf_counter() - started)
    env = SWEEnv(backend=backend)
    env.reset(seed=0, options={"task_id": "pagekit-1"})
    steps = [timed(env.step, "<answer>bash true</answer>") for _ in range(20)]
    bare = [timed(env.sandbox.run, "true") for _ in range(20)]
    env.close()
    result = {"hardened": percentiles(hardened), "naive": percentiles(naive),
              "env_step": percentiles(steps), "bare_command": percentiles(bare)}
    result["ratio_p50"] = result["hardened"]["p50_ms"] / result["naive"]["p50_ms"]
    result["step_ratio_p50"] = result["env_step"]["p50_ms"] / result["bare_command"]["p50_ms"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="docker", choices=["docker", "local"])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--resets", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args(argv)
    results = {
        "backend": args.backend,
        "round_trip": round_trip(args.backend, args.commands),
        "reset": reset_latency(args.backend, args.resets),
        "env_reset": env_reset_latency(args.backend, max(args.resets // 2, 3)),
        "parallel": parallel(args.backend, args.parallel),
        "grading": grading_overhead(args.backend, max(args.resets // 2, 4)),
        "targets": TARGETS,
    }
    wait_discarded()
    rt, rs, er, par = results["round_trip"], results["reset"], results["env_reset"], results["parallel"]
    gr = results["grading"]
    results["passed"] = {
        "round_trip": rt["ratio_p50"] <= TARGETS["round_trip_ratio_max"],
        "reset": rs["speedup_p50"] >= TARGETS["reset_speedup_min"],
        "env_reset": er["speedup_p50"] >= TARGETS["reset_speedup_min"],
        "parallel": par["failures"] <= TARGETS["parallel_failures_max"],
        "grading": gr["ratio_p50"] <= TARGETS["grading_overhead_max"],
    }
    print(f"sandbox benchmark ({args.backend} backend)")
    print(f"{'measure':<34}{'p50 ms':>10}{'p95 ms':>10}{'n':>6}")
    rows = [
        ("command via session", rt["session"]), (f"command via {rt['baseline_name']}", rt["baseline"]),
        ("reset to 1st command: cold start", rs["cold"]), ("reset to 1st command: warm pool", rs["warm_pool"]),
        ("SWEEnv.reset, cold", er["cold"]), ("SWEEnv.reset, warm pool", er["warm_pool"]),
        ("grade(): hardened", gr["hardened"]), ("grade: naive (SWE-bench style)", gr["naive"]),
        ("SWEEnv.step('bash true')", gr["env_step"]), ("sandbox.run('true')", gr["bare_command"]),
    ]
    for name, stats in rows:
        print(f"{name:<34}{stats['p50_ms']:>10.2f}{stats['p95_ms']:>10.2f}{stats['n']:>6}")
    def verdict(name: str) -> str:
        if args.backend != "docker":
            return "(targets are set for the Docker backend)"
        return "PASS" if results["passed"][name] else "FAIL"

    print(f"round trip ratio (session / {rt['baseline_name']}, p50): {rt['ratio_p50']:.3f}  "
          f"target <= {TARGETS['round_trip_ratio_max']}  {verdict('round_trip')}")
    print(f"reset speed-up (cold / warm pool, p50): {rs['speedup_p50']:.1f}x  target >= "
          f"{TARGETS['reset_speedup_min']}x  {verdict('reset')}")
    print(f"SWEEnv.reset speed-up (cold / warm pool, p50): {er['speedup_p50']:.1f}x  target >= "
          f"{TARGETS['reset_speedup_min']}x  {verdict('env_reset')}")
    print(f"parallel: {par['sandboxes']} sandboxes, {par['failures']} failures, {par['seconds']:.1f}s  "
          f"{verdict('parallel')}")
    print(f"grading overhead (hardened / naive, p50): {gr['ratio_p50']:.2f}x  target <= "
          f"{TARGETS['grading_overhead_max']}x  {verdict('grading')}; env step / bare command: {gr['step_ratio_p50']:.1f}x")
    path = RESULTS / ("sandbox.json" if args.backend == "docker" else f"sandbox-{args.backend}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
    return 0 if args.backend != "docker" or all(results["passed"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
