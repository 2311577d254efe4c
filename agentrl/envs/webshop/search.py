"""BM25 product search, built once and cached on disk.

WebShop searches a Lucene index (pyserini, BM25 with k1=0.9, b=0.4) whose documents are the
lowercased ``title + description + first bullet point + options`` of each product, and shows the
top 50 hits. This module reproduces that with **bm25s**: it computes the Lucene BM25 variant
eagerly into a sparse matrix (numpy/scipy only, no Java, no server), saves it as plain ``.npy``
files, and a query is a sum of a few sparse columns, well under a millisecond per thousand
products. tantivy would also work, but needs a Rust wheel and its own on-disk format; bm25s is
already a dependency of the extra, pure Python, and fast enough (see ``benchmarks/webshop.py``).

Text analysis follows Lucene's English analyser where it matters: lowercase alphanumeric tokens,
possessive ``'s`` removed, Lucene's 33 English stop words dropped, and plurals folded with
Harman's S-stemmer (pyserini uses Porter; plural folding covers what shoppers type).

The index lives in ``<cache_dir>/bm25-<hash>/``; the hash covers the documents and parameters, so
a changed catalog gets a new index. ``cache_dir`` defaults to ``$AGENTRL_WEBSHOP_CACHE`` or
``~/.cache/agentrl/webshop``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Lucene's default English stop words.
STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with".split()
)
SEARCH_RETURN_N = 50
INDEX_VERSION = "1"
_VOCAB_FILE = "vocab.index.json"
_PARAMS_FILE = "params.index.json"
_TOKEN = re.compile(r"[a-z0-9]+")
_POSSESSIVE = re.compile(r"'s\b")


def s_stem(word: str) -> str:
    """Harman's S-stemmer: ``batteries -> battery``, ``shoes -> shoe``, ``glass`` unchanged."""
    if len(word) > 3 and word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if len(word) > 2 and word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if len(word) > 1 and word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Index and query analysis (see the module docstring)."""
    text = _POSSESSIVE.sub("", text.lower())
    return [s_stem(token) for token in _TOKEN.findall(text) if token not in STOPWORDS]


def product_document(product: Mapping[str, Any]) -> str:
    """The searchable text of a product, built as WebShop builds its Lucene documents."""
    options = ", and ".join(
        f"{name}: {', '.join(values)}" for name, values in product.get("options", {}).items()
    )
    bullets = product.get("BulletPoints") or [""]
    return " ".join([product["Title"], product["Description"], bullets[0], options]).lower()


def default_cache_dir() -> Path:
    return Path(os.environ.get("AGENTRL_WEBSHOP_CACHE") or Path.home() / ".cache" / "agentrl" / "webshop")


class BM25Index:
    """Top-k BM25 search over a fixed list of documents (ids are positions in that list).

    The index is bm25s's eager sparse matrix (CSC: one column of precomputed term scores per
    token), stored in bm25s's on-disk layout so ``bm25s.BM25.load`` can read it too. Loading it
    needs only numpy.
    """

    def __init__(
        self,
        data: np.ndarray,
        indices: np.ndarray,
        indptr: np.ndarray,
        vocab: dict[str, int],
        num_docs: int,
        params: dict[str, Any],
    ):
        self._data, self._indices, self._indptr = data, indices, indptr
        self._vocab = vocab
        self.num_docs = num_docs
        self.params = params

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, documents: Sequence[str], *, k1: float = 0.9, b: float = 0.4) -> BM25Index:
        import bm25s

        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(token, len(vocab)) for token in tokenize(doc)] for doc in documents]
        retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
        retriever.index((ids, vocab), show_progress=False)
        scores = retriever.scores
        params = {
            "k1": k1,
            "b": b,
            "delta": retriever.delta,
            "method": "lucene",
            "idf_method": "lucene",
            "dtype": retriever.dtype,
            "int_dtype": retriever.int_dtype,
            "num_docs": int(scores["num_docs"]),
            "version": bm25s.__version__,
            "backend": "numpy",
        }
        return cls(
            np.asarray(scores["data"], dtype=np.float32),
            np.asarray(scores["indices"]),
            np.asarray(scores["indptr"]),
            dict(retriever.vocab_dict),
            int(scores["num_docs"]),
            params,
        )

    @classmethod
    def load(cls, path: str | Path) -> BM25Index:
        path = Path(path)
        arrays = {name: np.load(path / f"{name}.csc.index.npy") for name in ("data", "indices", "indptr")}
        vocab = json.loads((path / _VOCAB_FILE).read_text(encoding="utf-8"))
        params = json.loads((path / _PARAMS_FILE).read_text(encoding="utf-8"))
        return cls(
            arrays["data"], arrays["indices"], arrays["indptr"], vocab, int(params["num_docs"]), params
        )

    @classmethod
    def cached(
        cls, documents: Sequence[str], cache_dir: str | Path | None = None, **params: float
    ) -> BM25Index:
        """Load the index of ``documents`` from the cache, building and saving it on a miss."""
        root = Path(cache_dir) if cache_dir else default_cache_dir()
        path = root / f"bm25-{_fingerprint(documents, params)}"
        if (path / _PARAMS_FILE).exists():
            return cls.load(path)
        index = cls.build(documents, **params)
        index.save(path)
        return index

    def save(self, path: str | Path) -> None:
        """Write the index to ``path`` atomically (concurrent writers never expose half an index)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".building-", dir=path.parent))
        try:
            for name, array in (("data", self._data), ("indices", self._indices), ("indptr", self._indptr)):
                np.save(staging / f"{name}.csc.index.npy", array)
            (staging / _VOCAB_FILE).write_text(json.dumps(self._vocab), encoding="utf-8")
            (staging / _PARAMS_FILE).write_text(json.dumps(self.params, indent=4), encoding="utf-8")
            os.replace(staging, path)
        except OSError:
            if not (path / _PARAMS_FILE).exists():  # another process may have won the race
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    # ------------------------------------------------------------------ querying
    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for ``query`` (repeated terms count again, as in Lucene)."""
        ids = [self._vocab[token] for token in tokenize(query) if token in self._vocab]
        if not ids:
            return np.zeros(self.num_docs, dtype=np.float32)
        spans = [np.arange(self._indptr[i], self._indptr[i + 1]) for i in ids]
        postings = np.concatenate(spans)
        return np.bincount(self._indices[postings], weights=self._data[postings], minlength=self.num_docs)

    def search(self, query: str, k: int = SEARCH_RETURN_N) -> list[int]:
        """Ids of the top ``k`` matching documents, best first; ties go to the lower id."""
        scores = self.scores(query)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            threshold = np.partition(scores[hits], len(hits) - k)[len(hits) - k]
            hits = hits[scores[hits] >= threshold]
        order = np.lexsort((hits, -scores[hits]))
        return hits[order[:k]].tolist()


def _fingerprint(documents: Iterable[str], params: Mapping[str, float]) -> str:
    digest = hashlib.sha256(f"v{INDEX_VERSION}|{sorted(params.items())}".encode())
    for doc in documents:
        digest.update(doc.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()[:20]
