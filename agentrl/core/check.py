"""``check_text_env``: check an env against the :class:`~agentrl.core.env.TextEnv` contract.

Like ``gymnasium.utils.env_checker``, the checker is a few small ``check_*`` functions that each
test one promise and raise :class:`ContractError` with what broke and how to fix it. Run it on your
own env before training on it::

    from agentrl.core import check_text_env
    check_text_env(MyEnv())

It plays short episodes through the public API only, so it works on any env ``agentrl.make``
returns. Checks that need an invalid action use text no env accepts as an action.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import numpy as np
from gymnasium.utils.env_checker import check_env as gymnasium_check_env

from agentrl.core.env import STEP_INFO_KEYS, RewardBounds, TextEnv
from agentrl.core.policy import PolicyInput
from agentrl.core.trajectory import Turn

#: Text that is an invalid action in every built-in env (and, in practice, in any env).
INVALID_ACTION = "\x00 definitely not an action }{"

#: Hostile inputs an agent can type; none may raise out of ``step``.
HOSTILE_ACTIONS = (
    "",
    "\x00\x00\x00",
    "<answer></answer>",
    "<answer>\ud800</answer>",  # a lone surrogate
    "<answer>" + "x" * 5000 + "</answer>",
    "<answer>a||b||c||d||e||f</answer>",
    "</answer><answer>",
    "<think>" * 50,
)

#: Relative tolerance for ``reward == sum(reward_components)``.
REWARD_TOLERANCE = 1e-9


class ContractError(AssertionError):
    """An env breaks the TextEnv contract; the message says which promise and how to fix it."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ContractError(message)


def _base(env: Any) -> TextEnv:
    base = getattr(env, "unwrapped", env)
    _require(isinstance(base, TextEnv), f"{type(base).__name__} is not an agentrl.core.TextEnv")
    return base


# ------------------------------------------------------------------------------- the checks
def check_public_hooks(env: Any) -> None:
    """The env implements the contract through public hooks only: no underscore method of
    ``TextEnv`` is overridden (private methods are not an extension API)."""
    base = _base(env)
    private = {name for name, value in vars(TextEnv).items() if name.startswith("_") and not name.startswith("__")
               and callable(value)}
    for klass in type(base).__mro__:
        if klass is TextEnv:
            break
        overridden = sorted(private & set(vars(klass)))
        _require(not overridden, f"{klass.__name__} overrides private TextEnv method(s) {overridden}; "
                                 "implement the public hooks instead (see agentrl.core.env)")
    for hook in ("step", "reset"):
        for klass in type(base).__mro__:
            if klass is TextEnv:
                break
            _require(hook not in vars(klass), f"{klass.__name__} overrides {hook}(); implement step_action/"
                                              "run_turn/finish_episode (step) or reset_state (reset) instead")


def check_reset(env: Any, seed: int = 0) -> tuple[Any, dict]:
    """``reset`` returns an observation in the space and an info with the standard keys."""
    observation, info = env.reset(seed=seed)
    base = _base(env)
    _require(base.observation_space.contains(observation),
             f"reset's observation is not in observation_space {base.observation_space}")
    missing = [k for k in STEP_INFO_KEYS if k not in info]
    _require(not missing, f"reset's info lacks the standard key(s) {missing}")
    _require(isinstance(info.get("task_id"), str) and info["task_id"], "reset's info needs a non-empty task_id")
    _require(info["success"] is False, "success must be False at reset")
    _require(0.0 <= info["progress"] <= 1.0, f"progress must lie in [0, 1], got {info['progress']}")
    return observation, info


def check_determinism(env: Any, seed: int = 0) -> None:
    """The same seed gives the same task and the same first observation."""
    first, info_a = env.reset(seed=seed)
    second, info_b = env.reset(seed=seed)
    _require(_same(first, second), "reset(seed=s) twice gave different observations; draw all "
                                   "randomness from self.np_random")
    _require(info_a["task_id"] == info_b["task_id"], "reset(seed=s) twice gave different task ids")


def check_step_result(env: Any, result: tuple, *, where: str = "step") -> None:
    """One ``step`` result: types, standard info keys, reward == sum(reward_components)."""
    _require(len(result) == 5, f"{where} must return 5 values, got {len(result)}")
    observation, reward, terminated, truncated, info = result
    base = _base(env)
    _require(base.observation_space.contains(observation), f"{where}: observation not in observation_space")
    _require(isinstance(terminated, bool) and isinstance(truncated, bool), f"{where}: terminated/truncated must be bool")
    _require(not (terminated and truncated), f"{where}: terminated and truncated are both True")
    missing = [k for k in STEP_INFO_KEYS if k not in info]
    _require(not missing, f"{where}: info lacks the standard key(s) {missing}")
    components = info["reward_components"]
    _require(isinstance(components, dict) and all(isinstance(v, (int, float)) for v in components.values()),
             f"{where}: reward_components must map names to numbers")
    total = float(sum(components.values()))
    _require(math.isfinite(reward), f"{where}: reward {reward} is not finite")
    _require(math.isclose(reward, total, rel_tol=REWARD_TOLERANCE, abs_tol=REWARD_TOLERANCE),
             f"{where}: reward {reward} != sum(reward_components) {total} ({components})")
    _require(0.0 <= info["progress"] <= 1.0, f"{where}: progress {info['progress']} outside [0, 1]")
    _require(isinstance(info["success"], bool) and isinstance(info["action_valid"], bool),
             f"{where}: success and action_valid must be bool")
    _require(not info["success"] or terminated or truncated, f"{where}: success reported before the episode ended")


def check_invalid_action(env: Any, seed: int = 0) -> None:
    """An invalid action is explained, flagged, penalised by ``format_penalty`` and changes nothing."""
    base = _base(env)
    env.reset(seed=seed)
    before, progress = base.render_text(), base.progress()
    result = env.step(INVALID_ACTION)
    check_step_result(env, result, where="invalid step")
    observation, _, _, _, info = result
    _require(info["action_valid"] is False, "an invalid action must set info['action_valid'] = False")
    _require(math.isclose(info["reward_components"].get("format", 0.0), base.config.format_penalty),
             "an invalid action must add config.format_penalty to reward_components['format']")
    text = observation if isinstance(observation, str) else observation.get("text", "")
    _require("invalid" in text.lower(), "the observation after an invalid action must explain it ('Invalid ...')")
    if not (result[2] or result[3]):
        _require(base.render_text() == before and base.progress() == progress,
                 "an invalid action changed the state (render_text or progress differ)")


def check_hostile_actions(env: Any, seed: int = 0, actions: Iterable[str] = HOSTILE_ACTIONS) -> None:
    """Nothing an agent can type raises out of ``step``; each result keeps the contract."""
    for action in actions:
        env.reset(seed=seed)
        try:
            result = env.step(action)
        except Exception as exc:  # noqa: BLE001 - the point is to report any exception
            raise ContractError(f"step({action[:40]!r}) raised {type(exc).__name__}: {exc}; agent text must "
                                "become an observation, never an exception") from exc
        check_step_result(env, result, where=f"step({action[:40]!r})")
    env.reset(seed=seed)
    too_long = "<answer>" + "x" * (_base(env).config.max_action_chars + 1) + "</answer>"
    observation, _, _, _, info = env.step(too_long)
    _require(info["action_valid"] is False, "an action longer than max_action_chars must be invalid")
    text = observation if isinstance(observation, str) else observation.get("text", "")
    _require(len(text) < len(too_long) // 2, "an over-long action must not be echoed back whole")


def check_turn_limit(env: Any, seed: int = 0, action: str = INVALID_ACTION) -> None:
    """At ``max_turns`` the episode ends truncated, never terminated, and not a turn earlier."""
    base = _base(env)
    env.reset(seed=seed)
    limit = base.config.max_turns
    for turn in range(1, limit + 1):
        _, _, terminated, truncated, _ = env.step(action)
        if terminated:
            return  # the action ended the game; nothing to say about the limit
        _require(truncated == (turn == limit),
                 f"turn {turn} of {limit}: truncated={truncated}; the limit must truncate exactly at max_turns")
    _require(base.done, "the episode must be over after max_turns turns")


#: An action stream: ``(observation, info, turn) -> action text``.
Stream = Callable[[Any, dict, int], str]


def check_reward_bounds(env: Any, policies: Iterable[Stream] | None = None, *,
                        episodes: int = 2, seed: int = 0) -> None:
    """Play action streams and check every turn's and episode's reward against ``reward_bounds()``."""
    base = _base(env)
    bounds = base.reward_bounds()
    _require(isinstance(bounds, RewardBounds), "reward_bounds() must return a RewardBounds")
    for policy in policies if policies is not None else default_streams(seed, env):
        for episode in range(episodes):
            total = play(env, policy, seed=seed + episode, bounds=bounds)
            low, high = bounds.episode
            _require(low - 1e-9 <= total <= high + 1e-9,
                     f"episode return {total} outside the documented range {bounds.episode}")


def play(env: Any, policy: Stream, *, seed: int, bounds: RewardBounds | None = None) -> float:
    """Play one episode with ``policy(observation, info, turn) -> text``; checks each step; returns
    the episode's return."""
    observation, info = env.reset(seed=seed)
    total, turn, done = 0.0, 0, False
    while not done:
        result = env.step(policy(observation, info, turn))
        check_step_result(env, result)
        observation, reward, terminated, truncated, info = result
        if bounds is not None:
            low, high = bounds.step
            _require(low - 1e-9 <= reward <= high + 1e-9,
                     f"turn reward {reward} outside the documented range {bounds.step} ({info['reward_components']})")
        total += reward
        turn += 1
        done = terminated or truncated
    return total


def default_streams(seed: int = 0, env: Any = None) -> list[Stream]:
    """Random valid-looking actions, a flood of invalid ones, one action repeated, and (given the
    env) its own expert."""
    rng = np.random.default_rng(seed)

    def random_action(observation: Any, info: dict, turn: int) -> str:
        choices = info.get("available_actions")
        if choices:
            return f"<answer>{choices[int(rng.integers(len(choices)))]}</answer>"
        return "".join(chr(int(c)) for c in rng.integers(32, 127, size=int(rng.integers(1, 24))))

    def repeat_first(observation: Any, info: dict, turn: int) -> str:
        choices = info.get("available_actions") or ["look"]
        return f"<answer>{choices[0]}</answer>"

    streams: list[Stream] = [random_action, lambda observation, info, turn: INVALID_ACTION, repeat_first]
    expert = expert_stream(env) if env is not None else None
    return streams + ([expert] if expert is not None else [])


def expert_stream(env: Any) -> Stream | None:
    """The env's ``expert_policy()`` as a stream (None when it has none or cannot run in this config)."""
    base = _base(env)
    try:
        expert = base.expert_policy()
    except Exception:  # noqa: BLE001 - e.g. an expert that reads an observation mode not in use
        return None
    if expert is None:
        return None
    history: list[Turn] = []

    def act(observation: Any, info: dict, turn: int) -> str:
        if turn == 0:
            history.clear()
        item = PolicyInput(observation=observation, instructions=base.instructions(), history=list(history),
                           info=info, episode_key=0)
        text = expert.act([item])[0].text
        history.append(Turn(observation=observation, action=text, info=info))
        return text

    return act


def check_text_env(env: Any, *, seed: int = 0, gymnasium_checks: bool = True,
                   reward_streams: Iterable[Stream] | None = None) -> None:
    """Run every check; raise :class:`ContractError` (an ``AssertionError``) on the first broken promise."""
    check_public_hooks(env)
    if gymnasium_checks:
        gymnasium_check_env(_base(env), skip_render_check=False)
    check_reset(env, seed)
    check_determinism(env, seed)
    check_invalid_action(env, seed)
    check_hostile_actions(env, seed)
    check_turn_limit(env, seed)
    check_reward_bounds(env, reward_streams, seed=seed)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    return a == b
