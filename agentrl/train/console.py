"""What a run tells the person watching it: one line per phase through the ``agentrl.train`` logger,
and progress that suits where the output goes.

On a terminal, progress is a tqdm bar. Anywhere else (a log file, a CI job, a pipe), bars would
write carriage-return noise, so progress is a plain line every ``every_s`` seconds and one at the
end. The ``agentrl`` command prints the logger's lines on stderr; from Python,
``logging.basicConfig(level=logging.INFO)`` shows them.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from tqdm.auto import tqdm

log = logging.getLogger("agentrl.train")


def interactive() -> bool:
    """Whether progress goes to a terminal (where bars redraw in place)."""
    stream = sys.stderr
    return bool(getattr(stream, "isatty", None) and stream.isatty())


class Progress:
    """Counts steps of a phase: a tqdm bar on a terminal, periodic plain lines elsewhere, nothing
    when disabled. Has the ``update`` / ``set_postfix`` / ``close`` subset of tqdm the loops use."""

    def __init__(self, name: str, total: int, *, initial: int = 0, enabled: bool = True, every_s: float = 30.0,
                 bar: bool | None = None):
        self.name, self.total, self.done = name, total, initial
        self.enabled = enabled
        self.every_s = every_s
        self.postfix: dict[str, Any] = {}
        self.started = self.last_line = time.perf_counter()
        self.start_count = initial
        use_bar = interactive() if bar is None else bar
        self.bar = tqdm(total=total, initial=initial, desc=name) if enabled and use_bar else None

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.enabled and time.perf_counter() - self.last_line >= self.every_s and self.done < self.total:
            self._line()

    def set_postfix(self, **values: Any) -> None:
        self.postfix = values
        if self.bar is not None:
            self.bar.set_postfix(**values)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _line(self) -> None:
        now = time.perf_counter()
        self.last_line = now
        elapsed = now - self.started
        rate = (self.done - self.start_count) / elapsed if elapsed > 0 else 0.0
        left = f", ~{duration((self.total - self.done) / rate)} left" if rate > 0 else ""
        extra = "".join(f" {k}={v}" for k, v in self.postfix.items())
        log.info("%s %d/%d%s [%s%s]", self.name, self.done, self.total, extra, duration(elapsed), left)


def duration(seconds: float) -> str:
    """``4.2 s``, ``3 min 05 s``, ``1 h 02 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class RunReport:
    """The phase lines of a run: start-up, resume, SFT, evaluations, the end. Silent when disabled
    (the non-main ranks of a data-parallel run)."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.started = time.perf_counter()

    def line(self, message: str, *args: Any) -> None:
        if self.enabled:
            log.info(message, *args)

    def startup(self, config, parameters: int, device, seconds: float) -> None:
        threads = "torch's default threads" if not config.run.threads else (
            f"{config.run.threads} thread{'s' if config.run.threads > 1 else ''}")
        model = config.policy.model if config.policy.kind == "lm" else f"{config.policy.grid_net} on the grid"
        self.line("start-up: %s, %s policy %s (%s trainable parameters) on %s, %s; output %s [%s]",
                  config.env.id, config.policy.kind, model, f"{parameters:,}", device, threads,
                  config.run.output_dir, duration(seconds))

    def resumed(self, checkpoint, changes) -> None:
        self.line("resuming from %s in %s%s", checkpoint.name, checkpoint.parent.parent,
                  "" if changes else " (same config)")
        for text in changes.lines() if changes else []:
            self.line("changed since that checkpoint:%s", text[1:])

    def fresh(self, output) -> None:
        self.line("starting a new run in %s", output)

    def sft(self, demonstrations: int, units: int, losses: list[float], seconds: float) -> None:
        self.line("SFT: %d demonstration episodes, %d training units, %d steps, loss %.3f -> %.3f [%s]",
                  demonstrations, units, len(losses), losses[0], losses[-1], duration(seconds))

    def evaluation(self, label: str, summary: dict[str, float], seconds: float) -> None:
        self.line("evaluation %s: success %.1f%% over %d held-out episodes, mean return %.2f [%s]", label,
                  100 * summary.get("success_rate", 0.0), int(summary.get("episodes", 0)),
                  summary.get("mean_return", 0.0), duration(seconds))

    def finished(self, result) -> None:
        change = describe_success(result)
        self.line("done: %s%s [%s in all]", f"{change}; " if change else "", result.output_dir,
                  duration(time.perf_counter() - self.started))


def describe_success(result) -> str:
    """Held-out success of a finished run: before training, after SFT, at the end, and the best
    evaluated weights (kept in ``best/``); empty when the run did not evaluate."""
    if result.initial_success is None:
        return ""
    sft = f" -> {result.sft_success:.1%} after SFT" if result.sft_success is not None else ""
    text = f"held-out success {result.initial_success:.1%}{sft} -> {result.final_success:.1%} at the end"
    if result.best_success is not None:
        text += f", best {result.best_success:.1%} at iteration {result.best_iteration} (best/)"
    return text
