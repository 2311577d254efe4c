"""The Router-R1 text protocol: ``<think>``, ``<search> Model: query </search>``, ``<information>``,
``<answer>``, and its format rules.

The rules follow Router-R1's reward code (``format_reward`` in ``verl/trainer/main_ppo.py`` of
github.com/ulab-uiuc/Router-R1). They judge the *whole* router transcript of an episode (every
router turn plus the ``<information>`` blocks the env inserted); any violation scores -1:

==========================  ===================================================================
rule                        violated when
==========================  ===================================================================
``no_tags``                 no complete ``<tag>...</tag>`` block of the four tags at all
``unbalanced``              a tag's opening and closing counts differ
``empty_think``             a ``<think>`` block is empty or ``...``
``nested``                  a block contains one of the four tags
``answer_count``            not exactly one ``<answer>`` block
``missing_think``           no ``<think>`` block
``search_info_mismatch``    ``<search>`` and ``<information>`` counts differ
``not_starting_with_think`` the transcript does not start with ``<think>``
``not_ending_with_answer``  the transcript does not end with ``</answer>``
``bad_query``               a search is not ``Model: query`` (exactly one colon, a non-empty query,
                            no ``LLM-Name``/``Your-Query`` placeholder, model name not repeated in
                            the query)
``unknown_model``           a search names a model outside the pool
==========================  ===================================================================

Rules are checked in this order (Router-R1's), and :func:`check_format` reports the first one hit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

TAGS = ("think", "search", "information", "answer")
_BLOCK = re.compile(r"<(search|answer|think|information)>(.*?)</\1>", re.DOTALL)
_ANY_TAG = tuple(f"<{t}>" for t in TAGS) + tuple(f"</{t}>" for t in TAGS)
_PLACEHOLDERS = ("llm-name", "your-query")

FORMAT_RULES = (
    "no_tags", "unbalanced", "empty_think", "nested", "answer_count", "missing_think",
    "search_info_mismatch", "not_starting_with_think", "not_ending_with_answer", "bad_query",
    "unknown_model",
)


@dataclass(frozen=True)
class FormatCheck:
    """The verdict on a transcript: ``rule`` names the first violated rule (``None`` when valid)."""

    rule: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.rule is None

    @property
    def reward(self) -> float:
        """Router-R1's format reward: 0 when valid, -1 on any violation."""
        return 0.0 if self.ok else -1.0


@dataclass(frozen=True)
class SearchCall:
    """One ``<search> Model: query </search>``, split (the model is not yet resolved)."""

    model: str
    query: str


def normalize_model_name(name: str) -> str:
    """Router-R1 matching: lower case, spaces removed."""
    return name.strip().lower().replace(" ", "")


def split_search(content: str) -> tuple[SearchCall | None, str]:
    """Parse a search body into a call, or ``(None, reason)`` when it breaks the ``bad_query`` rule."""
    content = content.strip()
    lowered = content.lower()
    if content.count(":") != 1:
        return None, f"a search must be 'Model: query' with exactly one colon, got {content[:80]!r}"
    model, query = (part.strip() for part in content.split(":"))
    if not query:
        return None, "the query after the colon is empty"
    if any(p in lowered for p in _PLACEHOLDERS):
        return None, "replace the LLM-Name/Your-Query placeholders with a real model and query"
    if model.lower() in query.lower():
        return None, f"the query repeats the model name {model!r}"
    return SearchCall(model=model, query=query), ""


def blocks(text: str) -> list[tuple[str, str]]:
    """Every complete ``(tag, body)`` block in order (non-greedy, as Router-R1 matches them)."""
    return _BLOCK.findall(text)


def check_format(transcript: str, is_known_model: Callable[[str], bool]) -> FormatCheck:
    """Apply the format rules (module docstring) to a whole episode transcript."""
    found = blocks(transcript)
    if not found:
        return FormatCheck("no_tags", "no <think>/<search>/<information>/<answer> block found")
    for tag in TAGS:
        if transcript.count(f"<{tag}>") != transcript.count(f"</{tag}>"):
            return FormatCheck("unbalanced", f"<{tag}> and </{tag}> counts differ")
    counts = {tag: 0 for tag in TAGS}
    problems: dict[str, str] = {}  # rule -> first detail; judged in Router-R1's order below
    for tag, body in found:
        counts[tag] += 1
        stripped = body.strip()
        if tag == "think" and stripped in ("", "..."):
            problems.setdefault("empty_think", "a <think> block is empty")
        if any(marker in stripped for marker in _ANY_TAG):
            problems.setdefault("nested", f"a <{tag}> block contains another tag")
        if tag == "search":
            call, reason = split_search(stripped)
            if call is None:
                problems.setdefault("bad_query", reason)
            elif not is_known_model(call.model):
                problems.setdefault("unknown_model", f"model {call.model!r} is not in the pool")
    stripped = transcript.strip()
    ordered = [
        ("empty_think", None),
        ("nested", None),
        ("answer_count", counts["answer"] != 1
         and f"expected exactly one <answer> block, found {counts['answer']}"),
        ("missing_think", counts["think"] == 0 and "no <think> block"),
        ("search_info_mismatch", counts["search"] != counts["information"]
         and f"{counts['search']} <search> but {counts['information']} <information> blocks"),
        ("not_starting_with_think", not stripped.startswith("<think>")
         and "the response must start with <think>"),
        ("not_ending_with_answer", not stripped.endswith("</answer>")
         and "the response must end with </answer>"),
        ("bad_query", None),
        ("unknown_model", None),
    ]
    for rule, violated in ordered:
        detail = problems.get(rule) if violated is None else violated
        if detail:
            return FormatCheck(rule, detail)
    return FormatCheck()


def cut_turn(text: str) -> str:
    """What Router-R1 keeps of one generation: up to the first ``</answer>``, else up to the last
    ``</search>`` (generation stops there), else everything."""
    if "</answer>" in text:
        return text[: text.index("</answer>") + len("</answer>")]
    if "</search>" in text:
        return text[: text.rindex("</search>") + len("</search>")]
    return text


def information_block(content: str | None) -> str:
    """The text the env appends after a search: ``<information>...</information>``, ``None`` on failure."""
    body = "None" if content is None else content.strip()
    return f"\n\n<information>{body}</information>\n\n"


def final_answer_text(text: str) -> str:
    """A candidate model's reply reduced to its final answer: the text after the last ``Answer:``
    when there is one, else the whole reply (used by baseline routers that copy an answer)."""
    marker = text.rfind("Answer:")
    body = text[marker + len("Answer:"):] if marker >= 0 else text
    return body.strip().splitlines()[0].strip() if body.strip() else ""
