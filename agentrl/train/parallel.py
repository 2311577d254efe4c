"""Data parallelism over processes (torchrun / accelerate launch): one object, no branches.

Each rank plays its share of the iteration's tasks, computes gradients on its own episodes, and
averages gradients with the other ranks before every optimizer step, so all ranks keep identical
weights. A single process uses :class:`SingleProcess`, whose methods do nothing, so the learner
code is the same either way. Launch with, for example::

    torchrun --nproc_per_node 8 -m agentrl.cli train --config my.yaml

NCCL is used on CUDA, gloo on CPU (the tests run two CPU processes).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class SingleProcess:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, items: list) -> list:
        return items

    def all_reduce_gradients(self, parameters: Iterable[torch.nn.Parameter]) -> None:
        pass

    def broadcast_parameters(self, parameters: Iterable[torch.nn.Parameter]) -> None:
        pass

    def max(self, value: int) -> int:
        return value

    def gather(self, value: Any) -> list[Any]:
        return [value]

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        return value

    def barrier(self) -> None:
        pass

    def close(self) -> None:
        pass


class DistributedProcess(SingleProcess):
    """One rank of a ``torch.distributed`` process group."""

    def __init__(self, device: torch.device):
        import torch.distributed as dist

        self.dist = dist
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        super().__init__(dist.get_rank(), dist.get_world_size())
        self.device = device

    def shard(self, items: list) -> list:
        return items[self.rank::self.world_size]

    def all_reduce_gradients(self, parameters: Iterable[torch.nn.Parameter]) -> None:
        for p in parameters:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            self.dist.all_reduce(p.grad)
            p.grad /= self.world_size

    def broadcast_parameters(self, parameters: Iterable[torch.nn.Parameter]) -> None:
        with torch.no_grad():
            for p in parameters:
                self.dist.broadcast(p.data, src=0)

    def max(self, value: int) -> int:
        tensor = torch.tensor([value], device=self.device)
        self.dist.all_reduce(tensor, op=self.dist.ReduceOp.MAX)
        return int(tensor.item())

    def gather(self, value: Any) -> list[Any]:
        out: list[Any] = [None] * self.world_size
        self.dist.all_gather_object(out, value)
        return out

    def broadcast(self, value: Any) -> Any:
        box = [value]
        self.dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        self.dist.barrier()

    def close(self) -> None:
        if self.dist.is_initialized():
            self.dist.destroy_process_group()


def launched_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_device(requested: torch.device) -> torch.device:
    """Under torchrun each rank takes the GPU of its LOCAL_RANK."""
    if requested.type == "cuda" and launched_world_size() > 1:
        index = int(os.environ.get("LOCAL_RANK", "0"))
        available = torch.cuda.device_count()
        if index >= available:
            raise RuntimeError(
                f"rank with LOCAL_RANK={index} has no GPU: this node has {available}. Launch at most "
                f"{available} process(es) per node (torchrun --nproc_per_node {available}), or train on "
                "the CPU with run.device=cpu"
            )
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    return requested


def make_parallel(device: torch.device) -> SingleProcess:
    return DistributedProcess(device) if launched_world_size() > 1 else SingleProcess()
