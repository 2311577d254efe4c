"""Train a tiny language model on Sokoban with agentrl's public pieces, top to bottom.

    python examples/train_sokoban.py                 # about 4 minutes on a 2-core CPU
    python examples/train_sokoban.py --iterations 2 --sft-steps 20 --eval-episodes 20   # a smoke run

This is what ``agentrl train`` does for the quickstart, without the plumbing (checkpoints, logs,
data parallelism, reward pipelines): imitate the solver, then improve with policy-gradient RL on
per-turn advantages. Read it as CleanRL's ppo.py is read: every step of the algorithm is here.
"""

from __future__ import annotations

import argparse
import random

import numpy as np
import torch

import agentrl
from agentrl.envs.sokoban.expert import SolverPolicy
from agentrl.models import tiny_causal_lm, tiny_tokenizer
from agentrl.policies.generation import GenerationConfig
from agentrl.rollout import grouped_specs, run_episodes
from agentrl.train.advantages import batch_advantages
from agentrl.train.agents import LMAgent
from agentrl.train.config import RLConfig, SFTConfig
from agentrl.train.learner import Learner
from agentrl.train.sft import collect_demonstrations, supervised_finetune

ENV = {"dim_room": (6, 6), "num_boxes": 1, "max_turns": 15, "min_solution_moves": 4}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sft-episodes", type=int, default=1500)
    parser.add_argument("--sft-steps", type=int, default=600)
    parser.add_argument("--iterations", type=int, default=20, help="RL iterations")
    parser.add_argument("--tasks", type=int, default=32, help="distinct rooms per iteration")
    parser.add_argument("--group-size", type=int, default=4, help="episodes per room (the RLOO group)")
    parser.add_argument("--eval-episodes", type=int, default=200)
    return parser.parse_args()


def evaluate(agent: LMAgent, envs: list, episodes: int, seed: int) -> float:
    """Held-out success rate with greedy decoding (rooms 10,000,000 onwards are never trained on)."""
    policy = agent.policy.evaluation_view(greedy=True, seed=seed)
    batch = run_episodes(envs, policy, grouped_specs(range(10_000_000, 10_000_000 + episodes), 1))
    return batch.summary()["success_rate"]


def main() -> None:
    args = parse_args()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # tiny models: one thread is fastest, and deterministic

    # 1. Environments: 32 Sokoban rooms played at once. The action is the model's raw text.
    envs = [agentrl.make("agentrl/Sokoban-v0", **ENV) for _ in range(32)]

    # 2. The agent: a tiny Llama-architecture model (random weights: nothing can be downloaded) that
    #    sees a fresh prompt each turn (Sokoban is fully observed) and writes at most 6 tokens.
    generation = GenerationConfig(max_new_tokens=6, context="last", system_prompt=False)
    model = tiny_causal_lm(hidden_size=64, num_layers=4, num_heads=4, seed=args.seed)
    agent = LMAgent(model, tiny_tokenizer(), generation, seed=args.seed)

    # 3. Supervised warm start: the exact solver plays (with 20% random moves, each state labelled
    #    with the solver's move), and the model learns to write the solver's answers.
    sft = SFTConfig(episodes=args.sft_episodes, steps=args.sft_steps, batch_size=64, lr=1e-3)
    demonstrations = collect_demonstrations(envs, SolverPolicy(), sft, full_context=False, run_seed=args.seed)
    supervised_finetune(agent, agent.demonstration_units(demonstrations), sft, seed=args.seed)
    print(f"after SFT: held-out success {evaluate(agent, envs, args.eval_episodes, args.seed):.1%}")

    # 4. Reinforcement learning. Each iteration:
    rl = RLConfig(lr=2e-4, epochs=2, minibatch_size=128, advantage="turn")
    learner = Learner(agent, rl, seed=args.seed)
    for iteration in range(1, args.iterations + 1):
        # a. play `group_size` episodes of each of `tasks` new rooms with the current policy; every
        #    turn keeps the exact token ids the model saw and wrote, and their sampling log-probs;
        first = 100_000_000 + iteration * args.tasks + args.seed * 10_000_000
        agent.policy.reseed(args.seed * 1_000_003 + iteration)
        batch = run_episodes(envs, agent.policy, grouped_specs(range(first, first + args.tasks), args.group_size))

        # b. per-turn advantages: each turn's return-to-go (env rewards: -0.1 a move, +1 a box on a
        #    goal, +10 solved) minus the mean of the other episodes of the same room at that turn;
        advantages = batch_advantages(batch, "turn", normalize=True)

        # c. the clipped policy-gradient update: each turn's advantage is spread over the tokens the
        #    model generated in that turn (prompt tokens get none), PPO's ratio against the stored
        #    log-probs is clipped at 1 +- 0.2;
        stats = learner.update(batch, advantages, seed=iteration)

        # d. the acting policy takes the new weights.
        agent.sync()
        summary = batch.summary()
        print(f"iteration {iteration}: rollout success {summary['success_rate']:.1%}, "
              f"mean return {summary['mean_return']:+.2f}, loss {stats.get('learner/loss', 0.0):+.3f}")

    print(f"after RL: held-out success {evaluate(agent, envs, args.eval_episodes, args.seed):.1%}")


if __name__ == "__main__":
    main()
