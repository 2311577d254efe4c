"""The NLE game under ``MiniHackEnv``: built from a MiniHack/NLE id, seeded, and typed into key by key.

Every key is one step of the real MiniHack/NLE env, through the task's own reward, step count and
end checks (:mod:`.nle_step`: the env's ``step``, or the same step without its array copies). The
env is created with every key code as its action set (action index == key) and with NLE's
automatic prompt handling switched off, because :class:`Engine` answers the game's prompts itself,
from the arguments of the action being run:

* "In what direction?" -> the action's direction;
* "What do you want to <verb>? [abc or ?*]" -> the inventory letter of the action's item;
* "There is <thing> here; <verb> it?", "Drink from the fountain?" -> yes when the action named no
  item, or named that thing;
* any other yes/no question (``Unlock it?``, ``Really attack?``) -> yes: the agent asked for the action;
* a menu (pick-up piles, spell lists) -> the entries that match the action's choice, else cancelled;
* ``--More--`` and text windows -> their text is kept as a game message, then dismissed;
* a request for typed text -> cancelled.

A prompt the action cannot answer is cancelled with Escape and reported as an error. Nothing is ever
left pending between two actions.

One action is MiniHack's own rather than NetHack's: in the KeyRoom family (``MiniHackKeyDoor``), the
task's ``apply`` is a script, "with the key, unlock the closed door next to you and open it"
(``MiniHackKeyDoor.step``). :meth:`Engine.execute` runs it for a ``GameAction`` with ``key_door``
set, key for key as MiniHack does and with MiniHack's own prompt handling (see
:meth:`Engine._key_door_apply`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from nle import nethack

from agentrl.envs.minihack.actions import ALL, GameAction
from agentrl.envs.minihack.nle_step import KeyStep, key_stepper
from agentrl.envs.minihack.tasks import StockSettings, build_engine_env, engine_creator

#: NLE observations the text view, the grid and the subgoal oracles read.
OBSERVATION_KEYS = (
    "glyphs",
    "chars",
    "blstats",
    "message",
    "inv_strs",
    "inv_letters",
    "screen_descriptions",
    "tty_chars",
    "tty_cursor",
)
#: The engine's action set: action index == key code, so any key can be typed.
KEYSTROKES = tuple(range(256))
ESC, SPACE, RETURN = 27, ord(" "), ord("\r")
SELECT_ALL = ord(".")
MAX_PROMPTS = 12
"""Prompts one action may go through before the engine gives up and cancels."""
MAX_KEYS_PER_ACTION = 4 * MAX_PROMPTS + 2
"""Most engine steps (keys through the task's step) one action can take: its own keys (at most 2),
at most 2 keys per prompt answered, and Escapes while something is still pending, which stop at
``4 * MAX_PROMPTS`` keys. (MiniHack's KeyRoom ``apply`` script types its keys below the step, as
MiniHack does, and takes one step.)"""
KEY_DOOR_TRIES = 50
"""Times MiniHack's KeyRoom ``apply`` script walks into the door to open it. MiniHack's own loop has
no limit (``while True``): it would never end on a door that stays locked (an unlock interrupted by
a monster, with ``spawn_monsters=True``). A door opens on most tries."""

_IN_YN, _IN_GETLIN, _WAIT_SPACE, _ON_STAIRS_DOWN = 1, 2, 3, 4  # indices into NLE's ``internal``
_ITEM_PROMPT = re.compile(r"\[[^\]]*\?\*\]|^What do you want to ")
_MENU_FOOTER = re.compile(r"\((?:end|\d+ of \d+)\)\s*$")
_MENU_ENTRY = re.compile(r"^([a-zA-Z]) - (.+)$")
#: Questions that offer a target other than the action's item ("There is an apple here; eat it?").
_TARGET_OFFER = re.compile(r" here; |^drink from |into the (?:fountain|pool|moat|water)\?", re.IGNORECASE)


@dataclass(slots=True)
class Outcome:
    """What typing one action into the game did."""

    messages: list[str] = field(default_factory=list)
    reward: float = 0.0
    """Sum of the engine's rewards over the keys typed."""
    keys: int = 0
    """Engine steps (keys) used."""
    error: str | None = None
    """Set when a prompt could not be answered from the action (the prompt was cancelled)."""

    def add_message(self, text: str) -> None:
        text = " ".join(text.split())
        if text and (not self.messages or self.messages[-1] != text):
            self.messages.append(text)


def decode(row: np.ndarray) -> str:
    """A NUL-padded byte row as text."""
    return row.tobytes().partition(b"\0")[0].decode("latin-1")


_MESSAGE_TEXT: dict[bytes, str] = {}
"""Raw ``message`` rows -> :meth:`Outcome.add_message`'s text (games repeat a few messages)."""
_MESSAGE_CACHE_LIMIT = 4096


def _add_raw_message(outcome: Outcome, raw: bytes) -> None:
    """``outcome.add_message(decode(message).strip())`` for the raw ``message`` row ``raw``."""
    text = _MESSAGE_TEXT.get(raw)
    if text is None:
        if len(_MESSAGE_TEXT) >= _MESSAGE_CACHE_LIMIT:
            _MESSAGE_TEXT.clear()
        text = _MESSAGE_TEXT[raw] = " ".join(raw.partition(b"\0")[0].decode("latin-1").split())
    messages = outcome.messages
    if text and (not messages or messages[-1] != text):
        messages.append(text)


class Engine:
    """One MiniHack/NLE game, driven one text action at a time."""

    def __init__(
        self,
        env_id: str,
        *,
        max_steps: int,
        penalty_step: float,
        options: Mapping[str, Any],
        stock: StockSettings | None = None,
        minihack_prompts: bool = False,
    ):
        self.env_id = env_id
        self.max_steps = max_steps
        """The engine's key limit: the game ends (aborted) at this many keys."""
        self.env = build_engine_env(env_id, {**_engine_kwargs(env_id, max_steps, penalty_step), **options})
        self.stock = stock
        """How MiniHack ships the task (its prompt handling runs KeyRoom's ``apply`` script)."""
        self.minihack_prompts = minihack_prompts and stock is not None
        """Type each action's keys with NLE's prompt handling set as MiniHack ships the task, so that
        an action is exactly the task's step (``--More--`` skipped inside it, questions MiniHack
        declines declined); the engine's own handling then answers whatever is left pending."""
        own = (self.env._allow_all_yn_questions, self.env._allow_all_modes)
        self._own_prompts = own
        """NLE's prompt handling while the engine answers prompts itself (all off)."""
        self._action_prompts = self._stock_prompts() if self.minihack_prompts else own
        """NLE's prompt handling while an action's own keys are typed."""
        self._set_prompts(self._action_prompts)
        self._outcome = Outcome()
        """The outcome of the action being run (``--More--`` pages skipped inside a step go to it)."""
        self._step: KeyStep = key_stepper(self.env, _raw_step(self.env), self._set_obs, self._page)
        self._success_status = getattr(self.env.StepStatus, "TASK_SUCCESSFUL", None)
        self._internal_index: int = self.env._internal_index
        self.obs: dict[str, np.ndarray] = {}
        self.done = False
        self.end_status = 0
        self.steps = 0
        self.version = 0
        """Counts every change of game state (keys, resets) over the engine's life: views derived
        from the state can be cached against it."""

    # ------------------------------------------------------------------ game state
    @property
    def internal(self) -> np.ndarray:
        return self.env.last_observation[self._internal_index]

    @property
    def success(self) -> bool:
        return self.done and self._success_status is not None and self.end_status == self._success_status

    @property
    def aborted(self) -> bool:
        """The engine's own step limit ended the game (a truncation, not a real ending)."""
        return self.done and self.end_status == int(self.env.StepStatus.ABORTED)

    @property
    def died(self) -> bool:
        return self.done and self.end_status == int(self.env.StepStatus.DEATH)

    def message(self) -> str:
        return decode(self.obs["message"]).strip()

    def inventory(self) -> list[tuple[str, str]]:
        """``(letter, description)`` of every inventory item."""
        letters, lines = self.obs["inv_letters"], self.obs["inv_strs"]
        return [(chr(letter), decode(line)) for letter, line in zip(letters, lines) if letter]

    def holds(self, item: str) -> bool:
        """An inventory item answers to ``item`` (as an action's item would pick it)."""
        return self._item_letter(item, set()) is not None

    def reward_rules(self) -> tuple[tuple[float, ...], float] | None:
        """``(what the game's end can pay, the time penalty a key can add)`` when the task's reward
        follows a known bounded rule: MiniHack's win/lose reward (no reward manager) or NLE's
        staircase reward, with a ``constant``/``always`` time penalty and ``penalty_time`` 0.
        ``None`` for any other reward (NLE's score, MiniHack reward managers, custom rewards)."""
        from minihack.base import MiniHack
        from nle.env.tasks import NetHackScore, NetHackStaircase

        env = self.env
        if not isinstance(env, NetHackScore):
            return None
        if env.penalty_mode not in ("constant", "always") or env.penalty_time:
            return None
        reward_fn = type(env)._reward_fn
        if isinstance(env, MiniHack) and reward_fn is MiniHack._reward_fn and env.reward_manager is None:
            return (float(env.reward_win), float(env.reward_lose)), float(env.penalty_step)
        if reward_fn is NetHackStaircase._reward_fn:
            return (1.0,), float(env.penalty_step)
        return None

    # ------------------------------------------------------------------ playing
    def reset(self, seeds: tuple[int, int, int]) -> Outcome:
        core, disp, lgen = seeds
        self.env.seed(core, disp, reseed=False, lgen=lgen)
        self.obs, _ = self.env.reset()
        self.done, self.end_status, self.steps = False, 0, 0
        self.version += 1
        outcome = Outcome()
        self._settle(None, outcome)
        return outcome

    def execute(self, action: GameAction) -> Outcome:
        if self.done:
            raise RuntimeError("the game is over; reset the engine first")
        outcome = self._outcome = Outcome()
        if action.key_door:
            self._key_door_apply(outcome)
            return outcome
        for key in action.keys:
            self._press(key, outcome)
            if self.done:
                return outcome
        self._settle(action, outcome)
        return outcome

    def _page(self, observation: tuple) -> None:
        """Keep the text of a ``--More--`` page that NLE's prompt handling dismisses."""
        rows = [decode(row).rstrip() for row in observation[self.env._observation_keys.index("tty_chars")]]
        self._outcome.add_message(_window_text(rows))

    def close(self) -> None:
        self.env.close()

    def _press(self, key: int, outcome: Outcome) -> None:
        reward, done, end_status = self._step(key)
        self.steps += 1
        self.version += 1
        outcome.keys += 1
        outcome.reward += reward
        if done:
            self.done = True
            self.end_status = end_status

    # ------------------------------------------------------------------ MiniHack's KeyRoom apply
    def key_door_ready(self) -> bool:
        """MiniHack's KeyRoom ``apply`` would unlock a door now: a key is held and a closed door is
        next to the agent (its own checks, ``key_in_inventory`` and ``get_object_direction``)."""
        env = self.env
        return env.key_in_inventory("key") is not None and env.get_object_direction("closed door") is not None

    def _key_door_apply(self, outcome: Outcome) -> None:
        """``MiniHackKeyDoor.step`` for its ``apply`` action, key for key.

        With a key held and a closed door next to the agent, MiniHack types, below the env's step
        (no step counted, no reward): apply, the key's letter, the door's direction, ``y`` to
        "Unlock it?", then walks into the door until it is no longer closed, running NLE's
        ``_perform_known_steps`` after each. Then, with or without the script, it takes one
        ordinary step with apply, whose item prompt MiniHack's prompt handling declines ("Never
        mind."). The script's messages are kept; the closing "Never mind." is not. The only
        difference from MiniHack: the walk into the door stops after :data:`KEY_DOOR_TRIES`.
        """
        env = self.env
        with self._prompts(self._stock_prompts()):
            letter, direction = env.key_in_inventory("key"), env.get_object_direction("closed door")
            if letter is not None and direction is not None:
                if not self._script(outcome, (nethack.Command.APPLY, ord(letter), direction, ord("y"))):
                    return
                for _ in range(KEY_DOOR_TRIES):
                    if not self._script(outcome, (direction,)):
                        return
                    if env.get_object_direction("closed door") is None:
                        break
            self._press(nethack.Command.APPLY, outcome)  # the counted step (its "Never mind." is not kept)
        if not self.done and any(self.internal[_IN_YN : _WAIT_SPACE + 1]):
            self._settle(None, outcome)  # nothing should be pending: cancel whatever is

    def _script(self, outcome: Outcome, keys: tuple[int, ...]) -> bool:
        """Type ``keys`` below the env's step, then NLE's known steps, as MiniHack's scripts do;
        keep the message. False when the game ended."""
        env = self.env
        observation, done = None, False
        for key in keys:
            observation, done = env.nethack.step(key)
            if done:
                break
        if not done:
            observation, done = env._perform_known_steps(observation, done, exceptions=True)
        self.version += 1
        if done:  # a script step cannot end a KeyRoom game; end it plainly if it ever does
            self.done, self.end_status = True, int(env._get_end_status(observation, done))
            return False
        message = self.obs["message"]
        if message.item(0):
            _add_raw_message(outcome, message.tobytes())
        return True

    # ------------------------------------------------------------------ NLE's prompt handling
    def _stock_prompts(self) -> tuple[bool, bool]:
        """NLE's ``(allow_all_yn_questions, allow_all_modes)`` as MiniHack ships the task (KeyRoom:
        questions declined, ``--More--`` skipped)."""
        stock = self.stock
        if stock is None:
            return self._own_prompts
        return stock.allow_all_yn_questions, stock.allow_all_modes

    def _set_prompts(self, flags: tuple[bool, bool]) -> None:
        self.env._allow_all_yn_questions, self.env._allow_all_modes = flags

    @contextmanager
    def _prompts(self, flags: tuple[bool, bool]) -> Iterator[None]:
        """NLE's prompt handling set to ``flags`` for a while (then back to the actions' setting)."""
        self._set_prompts(flags)
        try:
            yield
        finally:
            self._set_prompts(self._action_prompts)

    def _set_obs(self, obs: dict[str, np.ndarray]) -> None:
        self.obs = obs

    def _settle(self, action: GameAction | None, outcome: Outcome) -> None:
        """Answer prompts until the game waits for a new command (or ends)."""
        if self.done:
            return
        flags = self.env.last_observation[self._internal_index].tolist()  # self.internal, inlined: every action
        if not (flags[_IN_YN] or flags[_IN_GETLIN] or flags[_WAIT_SPACE]):  # usually nothing to answer
            message = self.obs["message"]
            if message.item(0):
                _add_raw_message(outcome, message.tobytes())
            return
        with self._prompts(self._own_prompts):  # the engine answers: NLE must not
            self._answer_prompts(action, outcome)

    def _answer_prompts(self, action: GameAction | None, outcome: Outcome) -> None:
        used: set[str] = set()
        for _ in range(MAX_PROMPTS):
            if self.done:
                return
            flags = self.internal.tolist()
            in_yn, in_getlin, waiting = flags[_IN_YN], flags[_IN_GETLIN], flags[_WAIT_SPACE]
            if waiting:
                self._window(action, outcome, used)
            elif in_getlin:
                self._cancel(outcome, f"the game asked for text ({self.message()!r}); actions cannot type it")
            elif in_yn:
                self._answer(action, outcome, used)
            else:
                message = self.obs["message"]
                if message.item(0):
                    _add_raw_message(outcome, message.tobytes())
                return
        self._cancel(outcome, "the game kept asking questions, so the action was cancelled")
        while (
            not self.done and any(self.internal[_IN_YN : _WAIT_SPACE + 1]) and outcome.keys < 4 * MAX_PROMPTS
        ):
            self._press(ESC, outcome)

    def _cancel(self, outcome: Outcome, reason: str) -> None:
        outcome.error = outcome.error or reason
        self._press(ESC, outcome)

    # ------------------------------------------------------------------ prompts
    def _answer(self, action: GameAction | None, outcome: Outcome, used: set[str]) -> None:
        question = self.message()
        lowered = question.lower()
        if action is None:
            self._cancel(outcome, f"unexpected question {question!r}")
        elif "direction" in lowered:
            if action.direction is None or "direction" in used:
                self._cancel(outcome, f"the game asked {question!r} but the action gives no direction")
            else:
                used.add("direction")
                self._press(action.direction, outcome)
        elif _ITEM_PROMPT.search(question):
            self._answer_item(action, question, outcome, used)
        elif _TARGET_OFFER.search(question):
            wanted = action.item is None or _mentions(lowered, action.item)
            self._press(ord("y" if wanted else "n"), outcome)
        elif "[yn" in lowered:
            self._press(ord("y"), outcome)
        else:
            self._cancel(outcome, f"the action cannot answer the question {question!r}")

    def _answer_item(self, action: GameAction, question: str, outcome: Outcome, used: set[str]) -> None:
        if action.item is None or "item" in used:
            self._cancel(outcome, f"the game asked {question!r} but the action names no item")
            return
        letter = self._item_letter(action.item, _offered_letters(question))
        if letter is None:
            held = ", ".join(f"{l} - {d}" for l, d in self.inventory()) or "nothing"
            self._cancel(outcome, f"no inventory item matches {action.item!r} (you have: {held})")
            return
        used.add("item")
        self._press(ord(letter), outcome)

    def _item_letter(self, item: str, offered: set[str]) -> str | None:
        inventory = self.inventory()
        if len(item) == 1 and item.isalpha():
            return item if item in offered or any(l == item for l, _ in inventory) else None
        matches = [letter for letter, line in inventory if _mentions(line.lower(), item)]
        preferred = [letter for letter in matches if letter in offered]
        return (preferred or matches or [None])[0]

    # ------------------------------------------------------------------ windows
    def _window(self, action: GameAction | None, outcome: Outcome, used: set[str]) -> None:
        rows = [decode(row).rstrip() for row in self.obs["tty_chars"]]
        footer = next((i for i, row in enumerate(rows) if _MENU_FOOTER.search(row)), None)
        if footer is not None:
            self._menu(rows, footer, action, outcome, used)
            return
        outcome.add_message(_window_text(rows))
        self._press(RETURN, outcome)

    def _menu(
        self, rows: list[str], footer: int, action: GameAction | None, outcome: Outcome, used: set[str]
    ) -> None:
        column = _MENU_FOOTER.search(rows[footer]).start()  # type: ignore[union-attr]
        lines = [row[column:].strip() for row in rows[:footer]]
        choice = action.select if action is not None else None
        if choice is None or "menu" in used:
            outcome.add_message(_join_lines([l for l in lines if l]))
            self._press(ESC, outcome)
            return
        used.add("menu")
        if choice == ALL:
            self._press(SELECT_ALL, outcome)
        else:
            entries = [m.groups() for m in map(_MENU_ENTRY.match, lines) if m]
            letters = [letter for letter, text in entries if _mentions(text.lower(), choice)]
            if not letters:
                listed = "; ".join(f"{l} - {t}" for l, t in entries)
                self._cancel(outcome, f"nothing in the menu matches {choice!r} (it lists: {listed})")
                return
            self._press(ord(letters[0]), outcome)
        if not self.done and self.internal[_WAIT_SPACE]:
            self._press(RETURN, outcome)  # multiple-choice menus need a confirmation


def _mentions(text: str, words: str) -> bool:
    """Every word of ``words`` starts a word in ``text`` (both lower-case)."""
    return all(re.search(rf"(?<![a-z]){re.escape(w)}", text) for w in words.lower().split())


def _offered_letters(question: str) -> set[str]:
    match = re.search(r"\[([^\]]*)\]", question)
    if not match:
        return set()
    spec = match.group(1).split(" or ")[0]
    letters: set[str] = set()
    for start, end in re.findall(r"([a-zA-Z])-([a-zA-Z])", spec):
        letters.update(chr(c) for c in range(ord(start), ord(end) + 1))
    letters.update(c for c in spec if c.isalpha())
    return letters


def _window_text(rows: list[str]) -> str:
    """The text of a ``--More--`` message or window ("" when no ``--More--`` is on screen)."""
    if "--More--" in rows[0]:
        return rows[0].replace("--More--", " ").strip()
    end = next((i for i, row in enumerate(rows) if "--More--" in row), None)
    if end is None:
        return ""
    column = rows[end].index("--More--")
    return _join_lines([row[column:].strip() for row in rows[:end] if row[column:].strip()])


def _join_lines(lines: list[str]) -> str:
    """A window as one line: ``Header: item, item`` for lists, else the wrapped prose rejoined."""
    if len(lines) > 1 and lines[0].endswith(":"):
        return f"{lines[0]} {', '.join(lines[1:])}"
    return " ".join(lines)


def _engine_kwargs(env_id: str, max_steps: int, penalty_step: float) -> dict[str, Any]:
    from nle.env.tasks import NetHackScore

    creator = engine_creator(env_id)
    kwargs: dict[str, Any] = {
        "observation_keys": OBSERVATION_KEYS,
        "actions": KEYSTROKES,
        "allow_all_yn_questions": True,
        "allow_all_modes": True,
        "max_episode_steps": max_steps,
        "fix_moon_phase": True,  # otherwise luck (and so door and combat rolls) follows the real moon
    }
    if isinstance(creator, type) and issubclass(creator, NetHackScore):
        kwargs["penalty_step"] = penalty_step
    return kwargs


def _raw_step(env) -> Callable[[int], tuple]:
    """The env's step, below MiniHack KeyRoom's apply macro.

    MiniHack's KeyRoom turns APPLY into a scripted "unlock and open the nearest door" for its 10-key
    action space. Text actions name the item and the direction themselves, so they use the plain
    MiniHack step, where APPLY is NetHack's own apply command.
    """
    from minihack.base import MiniHack
    from minihack.envs.keyroom import MiniHackKeyDoor

    if isinstance(env, MiniHackKeyDoor):
        return functools.partial(MiniHack.step, env)
    return env.step
