"""Shared builders for the reward-pipeline tests (trajectories, toy judges and models)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Sequence

import torch

from agentrl.core.trajectory import Trajectory, TrajectoryBatch, Turn
from agentrl.judges import JudgeError, UnparseableReply


def trajectory(
    components: Sequence[dict[str, float]],
    *,
    group: str = "g",
    success: bool = False,
    outcome: float | None = None,
    **kwargs: Any,
) -> Trajectory:
    """A trajectory whose turn ``t`` has reward components ``components[t]`` (reward = their sum)."""
    turns = [
        Turn(
            observation=f"obs {t}",
            action=f"act {t}",
            reward=float(sum(c.values())),
            reward_components=dict(c),
            info={"reward_components": dict(c)},
        )
        for t, c in enumerate(components)
    ]
    return Trajectory(
        turns=turns,
        group_id=group,
        success=success,
        outcome=float(success) if outcome is None else outcome,
        final_observation="obs end",
        **kwargs,
    )


class ScriptedJudge:
    """A judge whose verdicts are looked up by action text; counts its calls.

    ``verdicts[action]`` is ``{subgoal: bool}``, a ``JudgeError`` instance to raise, or a string
    (an unparseable reply).
    """

    def __init__(self, verdicts: dict[str, Any], subgoals: Sequence[str] = ("key", "door")) -> None:
        self.verdicts = verdicts
        self.subgoals = list(subgoals)
        self.judge_calls = 0
        self.decompose_calls = 0

    def cache_id(self) -> str:
        return "scripted:v1"

    def decompose(self, task: str) -> list[str]:
        self.decompose_calls += 1
        return list(self.subgoals)

    def judge(
        self, observation, action, next_observation, subgoals, *, task="", info=None
    ) -> dict[str, bool]:
        self.judge_calls += 1
        verdict = self.verdicts.get(action, {})
        if isinstance(verdict, JudgeError):
            raise verdict
        if isinstance(verdict, str):
            raise UnparseableReply("scripted garbage", verdict)
        return {goal: bool(verdict.get(goal, False)) for goal in subgoals}


class UnigramLM(torch.nn.Module):
    """A causal 'LM' whose next-token distribution is softmax(bias) at every position.

    Its log-probabilities are known in closed form, so step rewards can be worked by hand.
    """

    def __init__(self, vocab_size: int = 4, bias: Sequence[float] | None = None) -> None:
        super().__init__()
        initial = torch.zeros(vocab_size) if bias is None else torch.tensor(bias, dtype=torch.float32)
        self.bias = torch.nn.Parameter(initial.clone())
        self.config = SimpleNamespace(vocab_size=vocab_size)

    def forward(self, input_ids, attention_mask=None):
        batch, length = input_ids.shape
        return SimpleNamespace(logits=self.bias.expand(batch, length, -1))


def attach_tokens(batch: TrajectoryBatch, tokenizer, model, *, one_segment: bool = True) -> TrajectoryBatch:
    """Give every turn token ids (observation as prompt, action as completion) and the logprobs of
    ``model`` for the completion tokens -- what an LM policy would have recorded."""
    from agentrl.core.trajectory import observation_text
    from agentrl.models.logprobs import collate_segments, token_logprobs

    for traj in batch:
        for index, turn in enumerate(traj.turns):
            prompt = tokenizer(observation_text(turn.observation) + "\n", add_special_tokens=False)[
                "input_ids"
            ]
            completion = tokenizer(turn.action, add_special_tokens=False)["input_ids"]
            turn.token_ids = list(prompt) + list(completion)
            turn.loss_mask = [0] * len(prompt) + [1] * len(completion)
            turn.logprobs = [0.0] * len(turn.token_ids)
            turn.new_context = index == 0 or not one_segment
        for segment in traj.segments():
            collated = collate_segments([segment])
            with torch.no_grad():
                logps = token_logprobs(model, collated.input_ids, collated.attention_mask)[0].tolist()
            position = 0
            for turn in segment:
                n = len(turn.token_ids)
                turn.logprobs = [
                    lp if m else 0.0 for lp, m in zip(logps[position : position + n], turn.loss_mask)
                ]
                position += n
    return batch
