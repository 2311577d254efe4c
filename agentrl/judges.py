"""Judges: decompose a task into subgoals, and say which subgoals a transition achieved.

Used by CALM (:class:`agentrl.rewards.CALMCredit`) and by envs whose reward is a judgment (the
bargaining game's goals variant).

A :class:`Judge` has two methods::

    decompose(task) -> list[str]
    judge(observation, action, next_observation, subgoals, *, task="", info=None) -> dict[str, bool]

CALM also passes two keywords: ``task`` (the task description, shown to language-model judges) and
``info`` (the env's step info for the transition, read by the rule judge). Backends:

* :class:`OracleJudge` -- reads the env's own subgoal checks (``info["subgoals"]``); exact and free.
* :class:`HFJudge` -- a local transformers causal LM (a model object, a hub name or a path).
* :class:`OpenAIJudge` -- any OpenAI-compatible chat endpoint through the ``openai`` client.

A judge that cannot answer raises :class:`JudgeError`; a reply that cannot be read raises
:class:`UnparseableReply` (a ``JudgeError`` carrying the raw reply). CALM counts both; neither is
ever turned into a silent "not achieved".

Prompts follow the CALM paper's structure -- role, symbols, task, subgoal decomposition,
transition, instruction, dictionary output -- as Markdown sections (see :func:`judge_prompt`).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

import torch

from agentrl.core.config import ConfigError
from agentrl.core.trajectory import observation_text
from agentrl.core.components import Configurable
from agentrl.models.loading import load_causal_lm, load_tokenizer, torch_device

#: Bump when the prompt text changes: it is part of every cache key.
PROMPT_VERSION = "calm-v1"

DEFAULT_ROLE = (
    "You are an expert evaluator of an agent that acts in a text environment. You decide whether a "
    "single action of the agent achieved subgoals of its task."
)
DEFAULT_SYMBOLS = "The observations are text. Any legend of symbols is given in the task description."

DECOMPOSE_INSTRUCTION = (
    "Break the task into the short, ordered list of subgoals an agent must achieve to complete it. "
    "Each subgoal must be something one can check by looking at a single transition."
)
DECOMPOSE_OUTPUT = (
    'A Python list of strings, for example ["pick up the key", "open the door"]. Reply with the list only.'
)
JUDGE_INSTRUCTION = (
    "For each subgoal, decide whether this transition achieved it: answer True only if the subgoal "
    "is not yet achieved in the observation and is achieved in the next observation as a result "
    "of the action."
)
JUDGE_OUTPUT = (
    "A Python dictionary that maps every subgoal, written exactly as above, to True or False, for "
    'example {"pick up the key": True, "open the door": False}. Reply with the dictionary only.'
)


class JudgeError(RuntimeError):
    """The judge could not give a verdict (unreachable, failed, or misconfigured)."""


class UnparseableReply(JudgeError):
    """The judge answered, but its reply could not be read; ``reply`` holds the raw text."""

    def __init__(self, message: str, reply: str = "") -> None:
        super().__init__(message)
        self.reply = reply


@runtime_checkable
class Judge(Protocol):
    """Decomposes tasks into subgoals and judges transitions against them."""

    def decompose(self, task: str) -> list[str]: ...

    def judge(
        self,
        observation: Any,
        action: str,
        next_observation: Any,
        subgoals: Sequence[str],
        *,
        task: str = "",
        info: Mapping | None = None,
    ) -> dict[str, bool]: ...


# --------------------------------------------------------------------------------- prompts
def _section(title: str, body: str) -> str:
    return f"## {title}\n{body.strip()}\n"


def decompose_prompt(task: str, role: str = DEFAULT_ROLE, symbols: str = DEFAULT_SYMBOLS) -> str:
    """Role, symbols, task, instruction, list output."""
    return "\n".join(
        [
            _section("Role", role),
            _section("Symbols", symbols),
            _section("Task", task),
            _section("Instruction", DECOMPOSE_INSTRUCTION),
            _section("Output format", DECOMPOSE_OUTPUT),
        ]
    )


def judge_prompt(
    task: str,
    subgoals: Sequence[str],
    observation: Any,
    action: str,
    next_observation: Any,
    role: str = DEFAULT_ROLE,
    symbols: str = DEFAULT_SYMBOLS,
) -> str:
    """Role, symbols, task, subgoals, transition, instruction, dictionary output."""
    listed = "\n".join(f"{i}. {goal}" for i, goal in enumerate(subgoals, 1))
    transition = (
        f"Observation:\n{observation_text(observation)}\n\nAction:\n{action}\n\n"
        f"Next observation:\n{observation_text(next_observation)}"
    )
    return "\n".join(
        [
            _section("Role", role),
            _section("Symbols", symbols),
            _section("Task", task),
            _section("Subgoals", listed),
            _section("Transition", transition),
            _section("Instruction", JUDGE_INSTRUCTION),
            _section("Output format", JUDGE_OUTPUT),
        ]
    )


# --------------------------------------------------------------------------------- parsing
_TRUE = {"true", "yes", "y", "1", "achieved", "done", "t"}
_FALSE = {"false", "no", "n", "0", "not achieved", "none", "f"}


def _strip_fences(text: str) -> str:
    return re.sub(r"```[a-zA-Z]*", "", text)


def _literal(text: str) -> Any:
    for load in (json.loads, ast.literal_eval):
        try:
            return load(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return None


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", str(text).lower()).split())


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = _normalise(value)
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return None


def _loose_pairs(text: str) -> dict[str, str]:
    """``key: value`` pairs from a dict-like or line-based reply that is not valid Python."""
    pairs = {}
    for match in re.finditer(r"['\"]?([^'\":{},\n]+?)['\"]?\s*[:=]\s*['\"]?([A-Za-z01]+)", text):
        pairs[match.group(1).strip()] = match.group(2)
    return pairs


def parse_judgment(reply: str, subgoals: Sequence[str]) -> dict[str, bool]:
    """Read ``{subgoal: bool}`` from a reply; every subgoal must get a clear yes or no.

    Accepts JSON or Python dicts (also inside code fences, or amid prose: the last readable one
    wins), ``key: yes/no`` lines, keys written loosely (case, punctuation) or as 1-based numbers, and
    values as booleans, 0/1 or yes/no words. Anything else raises :class:`UnparseableReply`.
    """
    text = _strip_fences(reply or "")
    mapping: Mapping[Any, Any] | None = None
    for candidate in reversed(re.findall(r"\{[^{}]*\}", text)):
        loaded = _literal(candidate)
        if isinstance(loaded, dict):
            mapping = loaded
            break
    if mapping is None:
        mapping = _loose_pairs(text)
    by_key = {_normalise(k): v for k, v in mapping.items()}
    result: dict[str, bool] = {}
    for index, goal in enumerate(subgoals, 1):
        value = by_key.get(_normalise(goal), by_key.get(str(index)))
        verdict = _as_bool(value)
        if verdict is None:
            raise UnparseableReply(f"no clear True/False for subgoal {goal!r} in the judge's reply", reply)
        result[goal] = verdict
    return result


def parse_subgoals(reply: str) -> list[str]:
    """Read a list of subgoals: a JSON/Python list, or numbered / bulleted lines."""
    text = _strip_fences(reply or "")
    for candidate in reversed(re.findall(r"\[[^\[\]]*\]", text)):
        loaded = _literal(candidate)
        if isinstance(loaded, list) and loaded and all(isinstance(x, str) and x.strip() for x in loaded):
            return [x.strip() for x in loaded]
    lines = [
        m.group(1).strip() for m in re.finditer(r"^\s*(?:\d+[.)]|[-*•])\s+(.+)$", text, flags=re.MULTILINE)
    ]
    if lines:
        return lines
    raise UnparseableReply("no list of subgoals in the judge's reply", reply)


# --------------------------------------------------------------------------------- backends
@dataclass
class LLMJudgeConfig:
    role: str = DEFAULT_ROLE
    """The judge's role, the first section of every prompt."""
    symbols: str = DEFAULT_SYMBOLS
    """How to read the observations (legend of symbols), the second section."""


class LLMJudge(Configurable):
    """Prompting and parsing shared by the language-model judges; subclasses implement ``complete``."""

    Config = LLMJudgeConfig

    def complete(self, prompt: str) -> str:
        """The model's reply to one user message."""
        raise NotImplementedError

    def model_id(self) -> str:
        raise NotImplementedError

    def cache_id(self) -> str:
        """What, besides the transition, decides the verdict: model, prompt version and prompt text."""
        prompt = hashlib.sha256((self.config.role + "\0" + self.config.symbols).encode()).hexdigest()[:12]
        return f"{type(self).__name__}:{self.model_id()}:{PROMPT_VERSION}:{prompt}"

    def decompose(self, task: str) -> list[str]:
        return parse_subgoals(self.complete(decompose_prompt(task, self.config.role, self.config.symbols)))

    def judge(
        self, observation, action, next_observation, subgoals, *, task: str = "", info=None
    ) -> dict[str, bool]:
        prompt = judge_prompt(
            task, subgoals, observation, action, next_observation, self.config.role, self.config.symbols
        )
        return parse_judgment(self.complete(prompt), subgoals)


@dataclass
class HFJudgeConfig(LLMJudgeConfig):
    model: Any = "tiny"
    """A transformers causal LM: a model object, a hub name or a local path (``tiny``: the built-in
    offline test model, which answers garbage -- useful to test error accounting only)."""
    tokenizer: Any = None
    """Its tokenizer (object or name); by default loaded from ``model`` when that is a name."""
    max_new_tokens: int = 96
    """Longest reply, in tokens (greedy decoding)."""
    device: str = "auto"
    """``auto`` (CUDA when present), ``cpu`` or ``cuda``."""


class HFJudge(LLMJudge):
    """A local transformers causal LM as the judge (greedy decoding, chat template when it has one)."""

    Config = HFJudgeConfig
    config: HFJudgeConfig

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._model = None
        self._tokenizer = None
        self._model_id: str | None = None

    def _load(self):
        if self._model is None:
            model = self.config.model
            self._model = load_causal_lm(model) if isinstance(model, str) else model
            tokenizer = self.config.tokenizer or (model if isinstance(model, str) else None)
            if tokenizer is None:
                raise ConfigError(
                    "HFJudge was given a model object: also pass tokenizer= (an object or a name)"
                )
            self._tokenizer = load_tokenizer(tokenizer) if isinstance(tokenizer, str) else tokenizer
            self._model.to(torch_device(self.config.device)).eval()
        return self._model, self._tokenizer

    def model_id(self) -> str:
        if self._model_id is None:
            model = self.config.model
            if isinstance(model, str):
                self._model_id = model
            else:  # an object: name it by its weights so a persistent cache never mixes models
                params = list(model.parameters())
                digest = (
                    sum(float(p.detach().double().sum()) for p in (params[0], params[-1])) if params else 0.0
                )
                self._model_id = f"{type(model).__name__}:{sum(p.numel() for p in params)}:{digest:.6e}"
        return self._model_id

    def complete(self, prompt: str) -> str:
        model, tokenizer = self._load()
        messages = [{"role": "user", "content": prompt}]
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            text = prompt + "\n"
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        room = getattr(model.config, "max_position_embeddings", 4096) - self.config.max_new_tokens
        ids = ids[-room:]  # keep the end: the transition and the output format matter most
        device = next(model.parameters()).device
        input_ids = torch.tensor([ids], device=device)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        with torch.no_grad():
            out = model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                do_sample=False,
                max_new_tokens=self.config.max_new_tokens,
                pad_token_id=pad,
            )
        return tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True)


@dataclass
class OpenAIJudgeConfig(LLMJudgeConfig):
    model: str = ""
    """Model name at the endpoint (required)."""
    base_url: str | None = None
    """Endpoint, e.g. ``http://127.0.0.1:8000/v1``; default: ``OPENAI_BASE_URL`` or OpenAI's."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable that holds the API key (the key itself is never stored in configs);
    local servers that need none get ``EMPTY``."""
    timeout: float = 30.0
    """Seconds per request."""
    max_retries: int = 2
    """Retries on connection errors, timeouts and 5xx replies (the client's backoff)."""
    temperature: float = 0.0
    max_tokens: int = 256

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("OpenAIJudge needs model=NAME (the model served at the endpoint)")


class OpenAIJudge(LLMJudge):
    """Any OpenAI-compatible chat-completions endpoint as the judge."""

    Config = OpenAIJudgeConfig
    config: OpenAIJudgeConfig

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._client = None

    def model_id(self) -> str:
        return f"{self.config.model}@{self.config.base_url or os.environ.get('OPENAI_BASE_URL', 'openai')}"

    def client(self):
        if self._client is None:
            import openai

            self._client = openai.OpenAI(
                base_url=self.config.base_url,
                api_key=os.environ.get(self.config.api_key_env) or "EMPTY",
                timeout=self.config.timeout,
                max_retries=self.config.max_retries,
            )
        return self._client

    def complete(self, prompt: str) -> str:
        import openai

        try:
            response = self.client().chat.completions.create(
                model=self.config.model,
                messages=[{"role": "user", "content": prompt}],
                temperature=self.config.temperature,
                max_tokens=self.config.max_tokens,
            )
        except openai.OpenAIError as exc:
            raise JudgeError(f"{type(exc).__name__} from {self.model_id()}: {exc}") from exc
        content = response.choices[0].message.content if response.choices else None
        if not content:
            raise UnparseableReply(f"empty reply from {self.model_id()}", "")
        return content

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


@dataclass
class OracleJudgeConfig:
    pass


class OracleJudge(Configurable):
    """The env's own subgoal checks as the judge: ``info["subgoals"]`` of each step.

    Envs list their subgoals in ``env.subgoals()`` (the rollout stores them in
    ``trajectory.info["subgoals"]``) and report, in every step info, ``{name: achieved by this
    transition}``. This judge cannot decompose free text: CALM uses the env's list instead.
    """

    Config = OracleJudgeConfig

    def cache_id(self) -> None:
        """Never cached: the verdict comes from the step info, which the cache key does not hold."""
        return None

    def decompose(self, task: str) -> list[str]:
        raise JudgeError(
            "OracleJudge cannot decompose a task description: it needs env-provided subgoals "
            "(env.subgoals(), stored by the rollout in trajectory.info['subgoals'])"
        )

    def judge(
        self, observation, action, next_observation, subgoals, *, task: str = "", info=None
    ) -> dict[str, bool]:
        checks = info.get("subgoals") if isinstance(info, Mapping) else None
        if not isinstance(checks, Mapping):
            raise JudgeError(
                "OracleJudge needs the env's subgoal checks in the step info (info['subgoals'] dict)"
            )
        unknown = [goal for goal in subgoals if goal not in checks]
        if unknown:
            raise JudgeError(f"the env reported no check for subgoals {unknown}; it checks {sorted(checks)}")
        return {goal: bool(checks[goal]) for goal in subgoals}


JUDGES: dict[str, type] = {"OracleJudge": OracleJudge, "HFJudge": HFJudge, "OpenAIJudge": OpenAIJudge}
_ALIASES = {"oracle": "OracleJudge", "hf": "HFJudge", "openai": "OpenAIJudge"}


def make_judge(spec: Any) -> Judge:
    """A judge from an object, a name (``oracle``, ``hf``, ``openai``) or ``{"type": ..., **config}``."""
    if isinstance(spec, Judge):
        return spec
    if isinstance(spec, str):
        spec = {"type": spec}
    if isinstance(spec, Mapping):
        config = dict(spec)
        name = str(config.pop("type", ""))
        cls = JUDGES.get(_ALIASES.get(name, name))
        if cls is not None:
            return cls(config)
        choices = sorted(JUDGES) + sorted(_ALIASES)
        raise ConfigError(f"unknown judge type {name!r}; choose one of {', '.join(choices)}")
    raise ConfigError(f"a judge must be a Judge object, a name or a mapping, got {type(spec).__name__}")
