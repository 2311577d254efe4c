"""The rollout tests' fixture env: say anything, and the episode ends after ``turns_for(seed)`` turns.

Test modules subclass it to choose each episode's length and what a step waits on
(``before_step``: a sleep standing for I/O, or a test's hold on the env)."""

from agentrl.core.env import TextEnv, Transition


class CountdownEnv(TextEnv):
    def turns_for(self, seed: int) -> int:
        return 1

    def before_step(self) -> None:
        pass

    def reset_state(self, seed, options):
        self.seed_played = seed or 0
        self.left = self.turns_for(self.seed_played)

    def step_action(self, action):
        self.before_step()
        self.left -= 1
        return Transition(reward_components={"done": float(self.left == 0)}, terminated=self.left == 0)

    def render_text(self):
        return f"{self.left} to go"

    def is_success(self):
        return self.left == 0
