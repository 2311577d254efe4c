"""The learner measurably learns: RL moves a policy towards the rewarded action."""

import agentrl
from agentrl.core.env import TextEnv, Transition
from agentrl.core.policy import RandomPolicy

LETTERS = ["A", "B", "C", "D"]


class PickLetterEnv(TextEnv):
    """One turn: name a letter; only C is rewarded."""

    def reset_state(self, seed, options):
        self.picked = None

    def step_action(self, action):
        if action not in LETTERS:
            return Transition(valid=False, message=f"{action!r} is not one of {LETTERS}")
        self.picked = action
        return Transition(reward_components={"pick": float(action == "C")}, terminated=True)

    def is_success(self):
        return self.picked == "C"

    def render_text(self):
        return "Pick a letter: A B C D"

    def available_actions(self):
        return list(LETTERS)

    def expert_policy(self):
        return RandomPolicy(seed=0)  # demonstrations teach the format, not the answer


def test_rl_raises_success_of_a_uniform_policy(tmp_path):
    agentrl.register("PickLetter-v0", PickLetterEnv, max_turns=1, format_penalty=-1.0)
    config = {
        "env": {"id": "agentrl/PickLetter-v0"},
        "policy": {"tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2}, "context": "last",
                   "system_prompt": False, "max_new_tokens": 4},
        "sft": {"episodes": 64, "steps": 60, "batch_size": 32, "lr": 0.003},
        "rl": {"iterations": 8, "tasks_per_iteration": 8, "group_size": 8, "num_envs": 64, "lr": 0.003,
               "epochs": 2, "minibatch_size": 64},
        "eval": {"episodes": 100, "every": 8},
        "run": {"output_dir": str(tmp_path / "pick"), "progress": False, "threads": 1, "tensorboard": False},
    }
    result = agentrl.train(config)
    after_sft = result.metrics[0]["sft/success_rate"]
    assert 0.1 <= after_sft <= 0.45, after_sft  # roughly uniform over four letters after SFT
    assert result.final_success >= 0.8 and result.final_success > after_sft + 0.3
