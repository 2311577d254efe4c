"""A policy that acts in a child process, for asynchronous actors that must not share the learner's
interpreter.

Threads of one Python process take turns on the interpreter lock. Torch releases it inside its
kernels, but generating with a small model is mostly Python (one decoding step after another), so
an actor thread and a learner thread slow each other down. :class:`PolicyProcess` moves the acting
policy into its own process (``multiprocessing``'s ``spawn`` start method): ``act`` sends the batch
of inputs over a pipe and waits, releasing the lock; ``load_weights`` sends the learner's weights
(on the CPU) after each update. Messages are plain pickles of the data (tensors by value), not
torch's shared-memory handles, which need a large ``/dev/shm``.

The child gets a copy of the policy as it is when the process starts (pickled, weights included).
Like every ``spawn``-based program, a script that starts one must guard its entry point with
``if __name__ == "__main__":``.
"""

from __future__ import annotations

import multiprocessing
import pickle
import threading
import traceback
from typing import Any, Mapping, Sequence

import torch

from agentrl.core.policy import ActionOutput, PolicyInput, TrainablePolicy


class PolicyProcessError(RuntimeError):
    """The policy process failed or died; the message carries its traceback."""


class PolicyProcess:
    """``act``, ``load_weights`` and ``reseed`` of ``policy``, run in a child process."""

    def __init__(self, policy: TrainablePolicy, *, threads: int = 1, timeout: float = 600.0):
        """``threads``: torch CPU threads in the child; ``timeout``: seconds one call may take."""
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, pickle.dumps(policy), threads),
                                        name="agentrl-policy", daemon=True)
        self._process.start()
        child.close()
        self._lock = threading.Lock()
        self.timeout = timeout
        self._call("ping", None)

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        return self._call("act", list(inputs))

    def load_weights(self, state_dict: Mapping[str, Any]) -> None:
        self._call("load_weights", {name: value.detach().to("cpu") for name, value in state_dict.items()})

    def reseed(self, seed: int) -> None:
        self._call("reseed", seed)

    def _call(self, method: str, argument: Any) -> Any:
        with self._lock:
            try:
                self._connection.send_bytes(pickle.dumps((method, argument)))
                if not self._connection.poll(self.timeout):
                    raise PolicyProcessError(f"the policy process did not answer {method} within {self.timeout} s")
                status, value = pickle.loads(self._connection.recv_bytes())
            except (EOFError, BrokenPipeError, ConnectionResetError) as exc:
                raise PolicyProcessError(f"the policy process died (exit code {self._process.exitcode})") from exc
        if status == "error":
            raise PolicyProcessError(f"the policy process failed in {method}:\n{value}")
        return value

    def close(self, timeout: float = 30.0) -> None:
        """Stop the child (politely, then by force)."""
        if self._process.is_alive():
            try:
                with self._lock:
                    self._connection.send_bytes(pickle.dumps(("close", None)))
            except (BrokenPipeError, OSError):
                pass
            self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout)
        self._connection.close()


def _serve(connection, pickled_policy: bytes, threads: int) -> None:
    """The child's loop: one request, one answer, until ``close`` or the parent goes away."""
    torch.set_num_threads(threads)
    policy: TrainablePolicy = pickle.loads(pickled_policy)
    calls = {"ping": lambda _: None, "act": policy.act, "load_weights": policy.load_weights,
             "reseed": policy.reseed}
    while True:
        try:
            method, argument = pickle.loads(connection.recv_bytes())
        except (EOFError, OSError):
            return
        if method == "close":
            return
        try:
            answer = ("ok", calls[method](argument))
        except Exception:  # noqa: BLE001 - the parent raises it with this traceback
            answer = ("error", traceback.format_exc())
        connection.send_bytes(pickle.dumps(answer))
