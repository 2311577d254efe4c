"""The Router-R1 text protocol: how a generation becomes a turn, which action it takes, and the
format rules that judge a whole response.

Each function re-writes one function of github.com/ulab-uiuc/Router-R1 (commit 801a240) and names
it; ``tests/envs/test_router_r1_upstream.py`` diffs them against a port of upstream's code.

**A turn** (``router_r1/llm_agent/generation.py``):

* :func:`cut_generation` -- ``_postprocess_responses``: a generation is kept up to its first
  ``</search>``; only a generation without one is kept up to its first ``</answer>``.
* :func:`first_action` -- ``postprocess_predictions``: the *first* ``<search>`` or ``<answer>``
  block of the kept text is the turn's one action, so at most one search runs per turn. A search
  with a placeholder (``LLM-Name``/``Your-Query``), without a colon, or with nothing after its last
  colon is not routed.
* :func:`route_parts` -- ``access_routing_pool``: the model is the text before the first colon, the
  query the text between the first and the second colon.

**The format rules** (``format_reward`` in ``verl/trainer/main_ppo.py``) judge the *whole* response
of an episode -- every kept generation plus the ``<information>`` blocks inserted after them; any
violation scores -1:

==========================  ===================================================================
rule                        violated when
==========================  ===================================================================
``no_tags``                 no complete ``<tag>...</tag>`` block of the four tags at all
``unbalanced``              a tag's opening and closing counts differ
``empty_think``             a ``<think>`` block is empty or ``...``
``nested``                  a block contains one of the four tags
``answer_count``            not exactly one ``<answer>`` block
``missing_think``           no ``<think>`` block
``search_info_mismatch``    ``<search>`` and ``<information>`` counts differ (so an
                            ``<information>`` block the router writes itself always fails)
``not_starting_with_think`` the response does not start with ``<think>``
``not_ending_with_answer``  the response does not end with ``</answer>``
``bad_query``               a search is not ``Model: query`` (exactly one colon, a non-empty query,
                            no ``LLM-Name``/``Your-Query`` placeholder, model name not repeated in
                            the query)
``unknown_model``           a search names a model that is not valid (``is_valid_llm_name``)
==========================  ===================================================================

Rules are checked in upstream's order, and :func:`check_format` reports the first one hit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

TAGS = ("think", "search", "information", "answer")
_BLOCK = re.compile(r"<(search|answer|think|information)>(.*?)</\1>", re.DOTALL)
_ACTION = re.compile(r"<(search|answer)>(.*?)</\1>", re.DOTALL)
_ANY_TAG = tuple(f"<{t}>" for t in TAGS) + tuple(f"</{t}>" for t in TAGS)
_PLACEHOLDERS = ("llm-name", "your-query")

FORMAT_RULES = (
    "no_tags", "unbalanced", "empty_think", "nested", "answer_count", "missing_think",
    "search_info_mismatch", "not_starting_with_think", "not_ending_with_answer", "bad_query",
    "unknown_model",
)


@dataclass(frozen=True)
class FormatCheck:
    """The verdict on a response: ``rule`` names the first violated rule (``None`` when valid)."""

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
    """One ``<search> Model: query </search>`` that passes the ``bad_query`` rule (model unresolved)."""

    model: str
    query: str


@dataclass(frozen=True)
class TurnAction:
    """The action of one kept generation (:func:`first_action`)."""

    kind: str | None
    """``"answer"``, ``"search"`` (routed), ``"bad-search"`` (not routed) or ``None`` (no block)."""
    content: str = ""
    """The block's body, stripped."""
    reason: str = ""
    """Why a search is not routed, or why there is no action."""


def normalize_model_name(name: str) -> str:
    """Exact matching (``name_matching="exact"``): lower case, spaces removed."""
    return name.strip().lower().replace(" ", "")


def split_search(content: str) -> tuple[SearchCall | None, str]:
    """A search body judged by the format's query rule, or ``(None, reason)`` when it breaks it
    (``format_reward``'s ``query_format_punish``)."""
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


def check_format(response: str, is_valid_name: Callable[[str], bool]) -> FormatCheck:
    """Apply the format rules (module docstring) to a whole episode response (``format_reward``)."""
    found = blocks(response)
    if not found:
        return FormatCheck("no_tags", "no <think>/<search>/<information>/<answer> block found")
    for tag in TAGS:
        if response.count(f"<{tag}>") != response.count(f"</{tag}>"):
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
            _judge_search(stripped, is_valid_name, problems)
    stripped = response.strip()
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


def _judge_search(content: str, is_valid_name: Callable[[str], bool], problems: dict[str, str]) -> None:
    """Upstream checks the name of every one-colon search, even one whose query is bad."""
    call, reason = split_search(content)
    if call is None:
        problems.setdefault("bad_query", reason)
    if content.count(":") == 1 and not is_valid_name(content.split(":")[0]):
        problems.setdefault("unknown_model", f"model {content.split(':')[0].strip()!r} is not valid")


def cut_generation(text: str) -> str:
    """What Router-R1 keeps of one generation (``_postprocess_responses``): up to the first
    ``</search>``, else up to the first ``</answer>``, else everything."""
    for tag in ("</search>", "</answer>"):
        if tag in text:
            return text[: text.index(tag) + len(tag)]
    return text


def first_action(kept: str) -> TurnAction:
    """The one action of a kept generation (``postprocess_predictions``)."""
    found = _ACTION.search(kept)
    if found is None:
        return TurnAction(None, reason="the turn has neither a <search> nor an <answer> block")
    kind, content = found.group(1), found.group(2).strip()
    if kind == "answer":
        return TurnAction("answer", content)
    lowered = content.lower()
    if any(p in lowered for p in _PLACEHOLDERS):
        reason = "replace the LLM-Name/Your-Query placeholders with a real model and query"
    elif ":" not in content:
        reason = "a search must be 'Model: query' with a colon"
    elif not lowered.split(":")[-1].strip():
        reason = "the query after the colon is empty"
    else:
        return TurnAction("search", content)
    return TurnAction("bad-search", content, reason)


def route_parts(content: str) -> tuple[str, str]:
    """``(model as written, query)`` of a routed search (``access_routing_pool``): the text before
    the first colon and the text between the first and the second colon (not stripped)."""
    parts = content.split(":")
    return parts[0].strip(), parts[1]


def route_count(response: str, is_valid_name: Callable[[str], bool]) -> int:
    """Upstream's ``route_count`` metric: searches with a valid query and name. Its two flags are
    never reset, so no search counts after the first invalid one (kept: it is the reported metric)."""
    count, bad_query, bad_name = 0, False, False
    for tag, body in _ACTION.findall(response):
        if tag != "search":
            continue
        content = body.strip()
        if content.count(":") == 1:
            lowered = content.lower()
            if not content.split(":")[-1].strip() or any(p in lowered for p in _PLACEHOLDERS):
                bad_query = True
            if not is_valid_name(content.split(":")[0]):
                bad_name = True
        else:
            bad_query = True
        if not bad_query and not bad_name:
            count += 1
    return count


def information_block(content: str | None) -> str:
    """The text inserted after a routed search: ``\\n\\n<information>...</information>\\n\\n``, with
    ``None`` for a failed call or an unknown model (``execute_predictions``)."""
    body = "None" if content is None else content.strip()
    return f"\n\n<information>{body}</information>\n\n"


def final_answer_text(text: str) -> str:
    """A candidate model's reply reduced to its final answer: the text after the last ``Answer:``
    when there is one, else the reply's first line (used by baseline routers that copy an answer)."""
    marker = text.rfind("Answer:")
    body = text[marker + len("Answer:"):] if marker >= 0 else text
    return body.strip().splitlines()[0].strip() if body.strip() else ""
