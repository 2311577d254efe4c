"""The offline default: generated QA tasks over five domains, answered by simulated stand-ins for
Router-R1's six candidate models.

Every question is generated from a template, so its answer can be computed from the text alone
(:func:`solve`). A simulated model recognises the question, then answers correctly with its
per-domain accuracy; whether it is right is a deterministic function of (model, question, seed),
so runs are reproducible and an oracle can be computed. Its reply is ``<filler> Answer: <answer>``
where the filler's length is the model's verbosity, so bigger models also spend more tokens.

The pool is Router-R1's (names, ids and prices from :mod:`agentrl.envs.router.router_r1`), so the
offline env speaks exactly the protocol a Router-R1 checkpoint was trained on. Only the skills are
invented, so that routing matters: each of the four cheaper models is strong in one or two domains
and weak elsewhere; LLaMA-3.1-70B and Mixtral-8x22B are good everywhere but write far longer replies
at a higher price. An oracle (per question, the cheapest model that is right) beats every single
model on both axes.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Callable

from agentrl.envs.router.backends import CallResult
from agentrl.envs.router.data import QATask
from agentrl.envs.router.pool import ModelSpec
from agentrl.envs.router.reward import normalize_answer
from agentrl.envs.router.router_r1 import router_r1_pool
from agentrl.serving.openai_server import approximate_token_count

CAPITALS = {
    "France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid", "Portugal": "Lisbon",
    "Norway": "Oslo", "Sweden": "Stockholm", "Finland": "Helsinki", "Denmark": "Copenhagen",
    "Poland": "Warsaw", "Austria": "Vienna", "Greece": "Athens", "Ireland": "Dublin", "Hungary": "Budapest",
    "Egypt": "Cairo", "Kenya": "Nairobi", "Ghana": "Accra", "Peru": "Lima", "Chile": "Santiago",
    "Argentina": "Buenos Aires", "Canada": "Ottawa", "Mexico": "Mexico City", "Japan": "Tokyo",
    "China": "Beijing", "India": "New Delhi", "Thailand": "Bangkok", "Vietnam": "Hanoi",
    "Australia": "Canberra", "Turkey": "Ankara", "Iran": "Tehran", "Cuba": "Havana", "Nepal": "Kathmandu",
}
ELEMENTS = {
    "hydrogen": "H", "helium": "He", "lithium": "Li", "carbon": "C", "nitrogen": "N", "oxygen": "O",
    "fluorine": "F", "neon": "Ne", "sodium": "Na", "magnesium": "Mg", "aluminium": "Al", "silicon": "Si",
    "phosphorus": "P", "sulfur": "S", "chlorine": "Cl", "argon": "Ar", "potassium": "K", "calcium": "Ca",
    "iron": "Fe", "copper": "Cu", "zinc": "Zn", "silver": "Ag", "tin": "Sn", "iodine": "I", "gold": "Au",
    "mercury": "Hg", "lead": "Pb", "uranium": "U", "nickel": "Ni", "cobalt": "Co",
}
WORDS = [
    "planet", "window", "garden", "silver", "rocket", "kitten", "marble", "forest", "pencil", "bridge",
    "candle", "dragon", "harbor", "island", "jungle", "lantern", "meadow", "orange", "puzzle", "river",
    "saddle", "thunder", "violet", "whisper", "yellow", "zephyr", "anchor", "basket", "castle", "desert",
]
UNITS = [  # (small unit, big unit, factor)
    ("seconds", "minute", 60), ("minutes", "hour", 60), ("hours", "day", 24), ("days", "week", 7),
    ("months", "year", 12), ("centimeters", "meter", 100), ("grams", "kilogram", 1000),
    ("millimeters", "centimeter", 10), ("meters", "kilometer", 1000),
]


@dataclass(frozen=True)
class Domain:
    """One generated QA domain: a question generator, a solver and a plausible-wrong-answer maker."""

    name: str
    generate: Callable[[random.Random], str]
    solve: Callable[[str], str | None]
    wrong: Callable[[str, random.Random], str]


def _gen_arithmetic(rng: random.Random) -> str:
    a, b = rng.randint(12, 99), rng.randint(12, 99)
    template = rng.choice(["What is {a} plus {b}?", "What is {a} times {b}?", "Compute {a} plus {b}.",
                           "Compute {a} times {b}."])
    return template.format(a=a, b=b)


def _solve_arithmetic(question: str) -> str | None:
    found = re.fullmatch(r"(?:What is|Compute) (\d+) (plus|times) (\d+)[?.]", question.strip())
    if not found:
        return None
    a, op, b = int(found.group(1)), found.group(2), int(found.group(3))
    return str(a + b if op == "plus" else a * b)


def _wrong_number(answer: str, rng: random.Random) -> str:
    return str(int(answer) + rng.choice([-10, -2, -1, 1, 2, 10]))


def _gen_capital(rng: random.Random) -> str:
    country = rng.choice(sorted(CAPITALS))
    return rng.choice(["What is the capital of {c}?", "Which city is the capital of {c}?"]).format(c=country)


def _solve_capital(question: str) -> str | None:
    found = re.fullmatch(r"(?:What is|Which city is) the capital of (.+)\?", question.strip())
    return CAPITALS.get(found.group(1)) if found else None


def _gen_element(rng: random.Random) -> str:
    element = rng.choice(sorted(ELEMENTS))
    templates = ["What is the chemical symbol for {e}?", "Which element symbol stands for {e}?"]
    return rng.choice(templates).format(e=element)


def _solve_element(question: str) -> str | None:
    pattern = r"(?:What is the chemical symbol for|Which element symbol stands for) (\w+)\?"
    found = re.fullmatch(pattern, question.strip())
    return ELEMENTS.get(found.group(1)) if found else None


def _gen_spelling(rng: random.Random) -> str:
    word = rng.choice(WORDS)
    templates = ["How is the word '{w}' spelled backwards?", "Reverse the letters of '{w}'."]
    return rng.choice(templates).format(w=word)


def _solve_spelling(question: str) -> str | None:
    pattern = r"(?:How is the word|Reverse the letters of) '(\w+)'(?: spelled backwards\?|\.)"
    found = re.fullmatch(pattern, question.strip())
    return found.group(1)[::-1] if found else None


def _wrong_spelling(answer: str, rng: random.Random) -> str:
    i = rng.randrange(len(answer) - 1)
    swapped = answer[:i] + answer[i + 1] + answer[i] + answer[i + 2:]
    return swapped if swapped != answer else answer[1:] + answer[0]


def _gen_units(rng: random.Random) -> str:
    small, big, _ = rng.choice(UNITS)
    n = rng.randint(2, 19)
    templates = ["How many {s} are in {n} {b}s?", "Convert {n} {b}s to {s}."]
    return rng.choice(templates).format(s=small, b=big, n=n)


def _solve_units(question: str) -> str | None:
    found = (re.fullmatch(r"How many (\w+) are in (\d+) (\w+)s\?", question.strip())
             or re.fullmatch(r"Convert (\d+) (\w+)s to (\w+)\.", question.strip()))
    if not found:
        return None
    if question.startswith("How"):
        small, n, big = found.group(1), int(found.group(2)), found.group(3)
    else:
        n, big, small = int(found.group(1)), found.group(2), found.group(3)
    factor = next((f for s, b, f in UNITS if s == small and b == big), None)
    return None if factor is None else str(n * factor)


def _pick_other(table: dict[str, str]) -> Callable[[str, random.Random], str]:
    values = sorted(set(table.values()))
    return lambda answer, rng: rng.choice([v for v in values if v != answer])


DOMAINS: dict[str, Domain] = {
    d.name: d for d in (
        Domain("arithmetic", _gen_arithmetic, _solve_arithmetic, _wrong_number),
        Domain("geography", _gen_capital, _solve_capital, _pick_other(CAPITALS)),
        Domain("chemistry", _gen_element, _solve_element, _pick_other(ELEMENTS)),
        Domain("spelling", _gen_spelling, _solve_spelling, _wrong_spelling),
        Domain("units", _gen_units, _solve_units, _wrong_number),
    )
}


def solve(question: str) -> tuple[str, str] | None:
    """``(domain, answer)`` for a generated question, or ``None`` for any other text (a routed query
    may carry the spaces around it, as Router-R1 routes it)."""
    question = question.strip()
    for domain in DOMAINS.values():
        answer = domain.solve(question)
        if answer is not None:
            return domain.name, answer
    return None


def generate_task(seed: int, domains: list[str] | None = None) -> QATask:
    """The generated task for ``seed`` (deterministic; domains are drawn uniformly)."""
    names = list(domains or DOMAINS)
    unknown = [n for n in names if n not in DOMAINS]
    if unknown:
        raise ValueError(f"unknown generated domain(s) {unknown}; domains: {', '.join(DOMAINS)}")
    rng = random.Random(f"agentrl-router-task-{seed}")
    domain = DOMAINS[rng.choice(names)]
    question = domain.generate(rng)
    answer = domain.solve(question)
    assert answer is not None, question  # every template is solvable by construction
    return QATask(id=f"gen-{domain.name}-{seed}", question=question, golden_answers=[answer],
                  domain=domain.name, data_source="generated")


@dataclass(frozen=True)
class SimulatedModel:
    """A simulated model's skill (per-domain accuracy) and verbosity (filler words per reply)."""

    accuracy: dict[str, float]
    verbosity: int


def _skills(arithmetic: float, units: float, geography: float, chemistry: float,
            spelling: float) -> dict[str, float]:
    return {"arithmetic": arithmetic, "units": units, "geography": geography, "chemistry": chemistry,
            "spelling": spelling}


SIMULATED_MODELS: dict[str, SimulatedModel] = {
    "LLaMA-3.1-8B-Instruct": SimulatedModel(_skills(0.95, 0.9, 0.1, 0.1, 0.2), verbosity=6),
    "Mistral-7B-Instruct": SimulatedModel(_skills(0.25, 0.2, 0.3, 0.25, 0.95), verbosity=8),
    "Qwen2.5-7B-Instruct": SimulatedModel(_skills(0.3, 0.2, 0.2, 0.95, 0.15), verbosity=8),
    "Gemma-2-27B-Instruct": SimulatedModel(_skills(0.2, 0.2, 0.95, 0.2, 0.15), verbosity=10),
    "LLaMA-3.1-70B-Instruct": SimulatedModel(_skills(0.8, 0.75, 0.8, 0.75, 0.7), verbosity=30),
    "Mixtral-8x22B-Instruct": SimulatedModel(_skills(0.75, 0.7, 0.75, 0.7, 0.65), verbosity=26),
}


def simulated_pool() -> list[ModelSpec]:
    """The default pool's public face: Router-R1's six candidates (what the router is told)."""
    return router_r1_pool()


_FILLER = ("Let me work through this question step by step and check the result carefully before I "
           "commit to a final answer here").split()


def _unit_draw(*parts: object) -> float:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class SimulatedBackend:
    """Answers generated questions with the skills in :data:`SIMULATED_MODELS`."""

    def __init__(self, models: dict[str, SimulatedModel] | None = None, seed: int = 0) -> None:
        self.models = dict(SIMULATED_MODELS if models is None else models)
        self.seed = seed

    def reply(self, model_name: str, query: str) -> str:
        """The simulated reply text (deterministic)."""
        skill = self.models[model_name]
        solved = solve(query)
        filler = " ".join((_FILLER * 4)[: skill.verbosity])
        if solved is None:
            return f"{filler} I do not recognise this question, so I cannot help; ask another model."
        domain, answer = solved
        key = normalize_answer(query)
        if _unit_draw(self.seed, model_name, key, "correct") >= skill.accuracy.get(domain, 0.0):
            answer = DOMAINS[domain].wrong(answer, random.Random(f"{self.seed}|{model_name}|{key}"))
        return f"{filler} Answer: {answer}"

    def call(self, model: ModelSpec, query: str) -> CallResult:
        if model.name not in self.models:
            known = ", ".join(self.models)
            return CallResult.failed(f"{model.name!r} is not a simulated model; simulated: {known}")
        text = self.reply(model.name, query)
        return CallResult(text=text, completion_tokens=approximate_token_count(text),
                          prompt_tokens=approximate_token_count(query), latency_s=model.latency_s)

    def close(self) -> None:
        pass
