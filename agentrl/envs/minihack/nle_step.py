"""One key into the MiniHack/NLE env: its own ``step``, or the same step without its array copies.

NLE's ``env.step`` starts by copying every observation array it tracks, and MiniHack's adds a second
copy: about 150 KB per key (``screen_descriptions`` alone is 21 x 79 x 80 bytes), so that the
task's reward function can compare the new state with the previous one. Those copies, the
observation dict and the info dict are more than half of what a key costs.

:func:`key_stepper` returns a function that types one key and gives ``(reward, done, end_status)``:

* :class:`LeanStep` runs the same sequence as ``MiniHack.step``/``NLE.step``, calling the task's
  own methods (``_check_abort``, ``_get_end_status``, ``_reward_fn``, ``_perform_known_steps``,
  ``_quit_game``), but keeps a copy of the previous ``blstats`` only. It is used only for tasks
  whose reward and episode-end checks are known to read nothing else of the previous state: the
  NLE score/staircase/gold rewards and MiniHack's sparse win/lose reward (``reward_manager`` is
  ``None``: every navigation task). Any other field of the previous state reads as ``None`` and
  fails loudly. The observation arrays are NLE's own buffers, which NetHack rewrites in place, so
  the dict built at reset stays current.
* Any other task (a MiniHack ``reward_manager``, a custom ``step`` or reward) gets the env's own
  ``step``.

Where NLE's prompt handling is on (``allow_all_modes=False``, as MiniHack ships its tasks), NLE
presses Space through ``--More--`` inside the step; the lean step runs the same handling
(:meth:`LeanStep._known_steps`, NLE's ``_perform_known_steps``) and first hands each page to
``on_page``, so that its text is not lost.

``tests/envs/test_minihack_engine.py`` plays seeded games through both and checks every array,
reward, ending and step count is identical.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from nle.env.base import ASCII_ESC, ASCII_SPACE, SKIP_EXCEPTIONS

KeyStep = Callable[[int], "tuple[float, bool, int]"]
"""Types one key: ``(reward, done, end_status)``; ``end_status`` is 0 while the game runs."""


def _previous_blstats_only_rewards() -> tuple[Callable, ...]:
    """Reward functions that read nothing of the previous state but ``blstats``."""
    from minihack.base import MiniHack
    from nle.env.base import NLE
    from nle.env.tasks import NetHackGold, NetHackScore, NetHackStaircase

    return (
        NLE._reward_fn,
        NetHackScore._reward_fn,
        NetHackStaircase._reward_fn,
        NetHackGold._reward_fn,
        MiniHack._reward_fn,  # with reward_manager None (checked separately)
    )


def lean_step_supported(env: Any) -> bool:
    """Whether :class:`LeanStep` is exact for ``env`` (see the module docstring)."""
    from minihack.base import MiniHack
    from minihack.envs.keyroom import MiniHackKeyDoor
    from nle.env.base import NLE

    cls = type(env)
    if cls.step not in (NLE.step, MiniHack.step, MiniHackKeyDoor.step):
        return False
    if isinstance(env, MiniHack) and env.reward_manager is not None:
        return False  # the manager reads the whole previous observation
    if cls._reward_fn not in _previous_blstats_only_rewards():
        return False
    return getattr(env.nethack, "_copy", False) is False


class LeanStep:
    """``MiniHack.step`` / ``NLE.step`` for one key, keeping only the previous ``blstats``."""

    def __init__(self, env: Any, on_page: Callable[[tuple], None] | None = None):
        self.env = env
        self.on_page = on_page
        """Called with the observation at each ``--More--`` NLE's prompt handling presses Space on."""
        self.nethack = env.nethack
        self._minihack = hasattr(env, "reward_manager")
        self._blstats_index = env._blstats_index
        self._program_state_index = env._program_state_index
        self._previous_blstats: np.ndarray | None = None
        self._previous: tuple = ()

    def _start(self) -> None:
        """Size the previous-state tuple on the first key (the env has no observation before reset)."""
        last = self.env.last_observation
        self._previous_blstats = np.array(last[self._blstats_index])
        previous: list[Any] = [None] * len(last)
        previous[self._blstats_index] = self._previous_blstats
        self._previous = tuple(previous)

    def __call__(self, key: int) -> tuple[float, bool, int]:
        env = self.env
        if self._previous_blstats is None:
            self._start()
        self._previous_blstats[...] = env.last_observation[self._blstats_index]  # np.copyto without its dispatch
        if self._minihack:
            env._previous_action = key
        observation, done = self.nethack.step(env.actions[key])
        env._check_abort(observation)  # as NLE.step does: some tasks count no-progress steps in it
        if observation[self._program_state_index].item(0) == 1 or not env._allow_all_modes:
            observation, done = self._known_steps(observation, done)
        env._steps += 1
        env.last_observation = observation
        end_status = env._get_end_status(observation, done)
        reward = float(env._reward_fn(self._previous, key, observation, end_status))
        if end_status and not done:
            env._quit_game(observation, done)  # NLE ends a task that is over by quitting the game
            done = True
        return reward, bool(done), int(end_status)


    def _known_steps(self, observation: tuple, done: bool) -> tuple[tuple, bool]:
        """NLE's ``_perform_known_steps(observation, done, exceptions=True)``, step for step, with each
        ``--More--`` page handed to ``on_page`` before Space dismisses it."""
        env = self.env
        internal_index, message_index = env._internal_index, env._message_index
        while not done:
            internal = observation[internal_index].tolist()  # Python ints: cheaper tests than NumPy scalars
            if internal[3]:  # xwaitforspace
                if self.on_page is not None:
                    self.on_page(observation)
                observation, done = self.nethack.step(ASCII_SPACE)
                continue
            if internal[2]:  # in_getlin
                observation, done = self.nethack.step(ASCII_ESC)
                continue
            if internal[1]:  # in_yn_function
                message = bytes(observation[message_index])
                if env._allow_all_yn_questions or any(word in message for word in SKIP_EXCEPTIONS):
                    break
                observation, done = self.nethack.step(ASCII_ESC)
            break
        return observation, done


def key_stepper(
    env: Any,
    step: Callable[[int], tuple],
    on_observation: Callable[[dict], None],
    on_page: Callable[[tuple], None] | None = None,
) -> KeyStep:
    """The fastest exact way to type one key into ``env``.

    ``step`` is the env's step to use when the lean one is not exact for it; its observation dict is
    handed to ``on_observation`` (the lean step keeps NLE's buffers, so there is nothing to hand).
    ``on_page`` sees the ``--More--`` pages the lean step's prompt handling dismisses.
    """
    if lean_step_supported(env):
        return LeanStep(env, on_page)

    def full_step(key: int) -> tuple[float, bool, int]:
        observation, reward, done, _truncated, info = step(key)
        on_observation(observation)
        return float(reward), bool(done), int(info["end_status"]) if done else 0

    return full_step
