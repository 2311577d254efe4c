"""A torch policy for numeric grid observations (Sokoban, MiniHack) with an optional value head.

The network reads ``observation["grid"]`` (integer cell codes), one-hot encodes it, and outputs
logits over the env's discrete actions plus a state value. Acting records the chosen action index
as the turn's single "token", so the learner treats grid and language policies the same way.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from agentrl.core.policy import ActionOutput, PolicyInput, wrap_answer


class GridNet(nn.Module):
    """CNN (or MLP) torso over one-hot cell codes, with policy and value heads."""

    def __init__(self, shape: tuple[int, int], num_codes: int, num_actions: int, *, kind: str = "cnn",
                 hidden: int = 128):
        super().__init__()
        if kind not in ("cnn", "mlp"):
            raise ValueError(f"grid_net must be 'cnn' or 'mlp', got {kind!r}")
        self.shape, self.num_codes, self.kind = tuple(shape), num_codes, kind
        height, width = self.shape
        if kind == "cnn":
            self.torso = nn.Sequential(
                nn.Conv2d(num_codes, 32, 3, padding=1), nn.ReLU(),
                nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                nn.Flatten(), nn.Linear(64 * height * width, hidden), nn.ReLU(),
            )
        else:
            self.torso = nn.Sequential(
                nn.Flatten(), nn.Linear(num_codes * height * width, hidden), nn.ReLU(),
                nn.Linear(hidden, hidden), nn.ReLU(),
            )
        self.policy_head = nn.Linear(hidden, num_actions)
        self.value_head = nn.Linear(hidden, 1)

    def forward(self, grids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        onehot = nn.functional.one_hot(grids.long().clamp(0, self.num_codes - 1), self.num_codes)
        features = self.torso(onehot.permute(0, 3, 1, 2).float())
        return self.policy_head(features), self.value_head(features).squeeze(-1)


def stack_grids(observations: Sequence) -> torch.Tensor:
    grids = []
    for observation in observations:
        if not isinstance(observation, dict) or "grid" not in observation:
            raise ValueError("grid policies need dict observations with a 'grid' entry (observation_mode='dict')")
        grids.append(np.asarray(observation["grid"]))
    return torch.as_tensor(np.stack(grids))


class GridPolicy:
    """Samples an action index from :class:`GridNet` and phrases it as the env's action text."""

    def __init__(self, net: GridNet, actions: Sequence[str], *, seed: int = 0, greedy: bool = False,
                 tag: str | None = "answer"):
        self.net = net
        self.actions = list(actions)
        self.greedy = greedy
        self.tag = tag
        self.generator = torch.Generator().manual_seed(seed)

    def load_weights(self, state_dict: dict) -> None:
        self.net.load_state_dict(state_dict)

    def reseed(self, seed: int) -> None:
        self.generator.manual_seed(seed)

    def evaluation_view(self, *, greedy: bool, seed: int) -> "GridPolicy":
        return GridPolicy(self.net, self.actions, seed=seed, greedy=greedy, tag=self.tag)

    @torch.no_grad()
    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        device = next(self.net.parameters()).device
        logits, _ = self.net(stack_grids([item.observation for item in inputs]).to(device))
        log_probs = torch.log_softmax(logits.float().cpu(), dim=-1)
        if self.greedy:
            chosen = log_probs.argmax(-1)
        else:
            chosen = torch.multinomial(log_probs.exp(), 1, generator=self.generator).squeeze(-1)
        picked = log_probs.gather(-1, chosen.unsqueeze(-1)).squeeze(-1)
        return [
            ActionOutput(text=wrap_answer(self.actions[int(a)], self.tag), token_ids=[int(a)],
                         logprobs=[float(lp)], loss_mask=[1], new_context=True)
            for a, lp in zip(chosen, picked)
        ]
