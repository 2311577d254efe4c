"""CALM judges against the oracle on recorded MiniHack KeyRoom transitions: precision, recall, F1.

    python benchmarks/calm_judges.py                       # oracle, trivial baselines, a trained tiny LM
    python benchmarks/calm_judges.py --judge hf:PATH       # also a local transformers model (any size)
    python benchmarks/calm_judges.py --judge openai:MODEL@http://127.0.0.1:8000/v1   # an API judge

Transitions are recorded from the scripted KeyRoom expert with random deviations (so some turns
achieve subgoals and most do not); the env's own subgoal checks are the labels. Episodes are split
by seed: the *train* half is held apart for judges that learn, the *test* half scores every judge.

Judges measured here (no pretrained LM can be downloaded on this machine):

* ``oracle`` -- the env's checks (the upper bound, 1.0 by construction);
* ``never`` -- says no subgoal is ever achieved (what an unhelpful judge scores: recall 0);
* ``tiny-lm`` -- the tiny Llama-architecture model, fine-tuned on the train transitions to answer the
  CALM prompt with the verdict dictionary (an honest small-model baseline, not a claim about LLMs);
* anything given with ``--judge`` (``hf:PATH`` loads a local model; ``openai:MODEL@URL`` an endpoint).

Writes ``benchmarks/results/calm_judges.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch

from _common import print_table, write_results  # noqa: E402  (this folder is sys.path[0] when run as a script)

# benchmarks/minihack.py would shadow the real minihack package the MiniHack env imports
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import agentrl
from agentrl.core.policy import ActionOutput, PolicyInput
from agentrl.judges import HFJudge, OpenAIJudge, OracleJudge, judge_prompt
from agentrl.models import tiny_causal_lm, tiny_tokenizer
from agentrl.eval.judges import JudgedTransition, record_transitions, score_judge

ENV = dict(task="KeyRoom-S5", observation_mode="dict", grid="glyphs", text_view="language", crop_size=21,
           max_turns=40)


class NoisyExpert:
    """The KeyRoom expert, with a random listed action instead of its own ``epsilon`` of the time."""

    def __init__(self, expert, epsilon: float, seed: int):
        self.expert, self.epsilon, self.rng = expert, epsilon, random.Random(seed)

    def act(self, inputs: list[PolicyInput]) -> list[ActionOutput]:
        outputs = self.expert.act(inputs)
        for i, item in enumerate(inputs):
            choices = item.info.get("available_actions")
            if choices and self.rng.random() < self.epsilon:
                outputs[i] = ActionOutput(text=f"<answer>{self.rng.choice(list(choices))}</answer>")
        return outputs


class NeverJudge:
    """Says nothing is ever achieved."""

    def judge(self, observation, action, next_observation, subgoals, *, task="", info=None):
        return {goal: False for goal in subgoals}


def record(episodes: int, seed: int) -> list[JudgedTransition]:
    envs = [agentrl.make("agentrl/MiniHack-v0", **ENV) for _ in range(4)]
    try:
        policy = NoisyExpert(envs[0].unwrapped.expert_policy(), epsilon=0.25, seed=seed)
        return record_transitions(envs, policy, range(seed, seed + episodes))
    finally:
        for env in envs:
            env.close()


def train_tiny_judge(transitions: list[JudgedTransition], steps: int, seed: int) -> HFJudge:
    """Fine-tune the tiny model to answer CALM's judge prompt with the oracle's verdicts."""
    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    model = tiny_causal_lm(hidden_size=96, num_layers=4, num_heads=4, seed=seed, max_positions=4096)
    judge = HFJudge(model=model, tokenizer=tokenizer, max_new_tokens=80, device="cpu")
    room = model.config.max_position_embeddings - judge.config.max_new_tokens
    examples = []
    for item in transitions:
        prompt = judge_prompt(item.task, item.subgoals, item.observation, item.action, item.next_observation,
                              judge.config.role, judge.config.symbols)
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True)
        prompt_ids = tokenizer(text, add_special_tokens=False)["input_ids"][-room:]
        reply_ids = tokenizer(json.dumps(item.achieved), add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        examples.append((prompt_ids, reply_ids, any(item.achieved.values())))
    positives = [e for e in examples if e[2]]
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    model.train()
    for _ in range(steps):
        # half the batch from transitions that achieve something: they are rare
        batch = rng.sample(examples, 4) + (rng.sample(positives, min(4, len(positives))) if positives else [])
        loss = sum(_reply_loss(model, p, r) for p, r, _ in batch) / len(batch)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    model.eval()
    return judge


def _reply_loss(model, prompt_ids: list[int], reply_ids: list[int]) -> torch.Tensor:
    ids = torch.tensor([prompt_ids + reply_ids])
    logits = model(input_ids=ids).logits[0, len(prompt_ids) - 1:-1]
    return torch.nn.functional.cross_entropy(logits.float(), torch.tensor(reply_ids))


def external_judge(spec: str):
    kind, _, arg = spec.partition(":")
    if kind == "hf":
        return HFJudge(model=arg)
    if kind == "openai":
        model, _, url = arg.partition("@")
        return OpenAIJudge(model=model, base_url=url)
    raise SystemExit(f"--judge must be hf:PATH or openai:MODEL@URL, got {spec!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=40, help="episodes recorded (half train, half test)")
    parser.add_argument("--steps", type=int, default=300, help="fine-tuning steps of the tiny judge")
    parser.add_argument("--judge", action="append", default=[], help="hf:PATH or openai:MODEL@URL")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    transitions = record(args.episodes, args.seed)
    episodes = sorted({t.episode for t in transitions})
    held_apart = set(episodes[: len(episodes) // 2])
    train = [t for t in transitions if t.episode in held_apart]
    test = [t for t in transitions if t.episode not in held_apart]
    record_s = time.perf_counter() - started
    positives = sum(v for t in test for v in t.achieved.values())
    print(f"{len(transitions)} transitions from {len(episodes)} episodes ({record_s:.0f} s); "
          f"test: {len(test)} transitions, {positives} achieved (transition, subgoal) pairs")

    judges = {"oracle": OracleJudge(), "never": NeverJudge()}
    started = time.perf_counter()
    judges["tiny-lm"] = train_tiny_judge(train, args.steps, args.seed)
    train_s = time.perf_counter() - started
    for spec in args.judge:
        judges[spec] = external_judge(spec)

    results, rows = {}, []
    for name, judge in judges.items():
        started = time.perf_counter()
        score = score_judge(judge, test)
        seconds = time.perf_counter() - started
        results[name] = {**score.to_dict(), "seconds": seconds}
        rows.append([name, score.precision, score.recall, score.f1, score.counts["tp"], score.counts["fp"],
                     score.counts["fn"], score.counts["failures"], f"{seconds:.1f}"])
    print_table(["judge", "precision", "recall", "F1", "tp", "fp", "fn", "failed", "seconds"], rows)
    write_results("calm_judges", {"env": ENV, "episodes": args.episodes, "train_transitions": len(train),
                                  "test_transitions": len(test), "test_positives": positives,
                                  "tiny_judge_training_s": train_s, "judges": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
