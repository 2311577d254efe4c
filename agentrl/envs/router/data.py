"""QA tasks for the router env: plain QA JSONL, FlashRAG JSONL, and Router-R1's processed files.

Accepted records (one JSON object per line, or rows of a parquet file):

* **QA JSONL** -- ``{"question": ..., "golden_answers": [...]}``; ``answers`` or ``answer`` (a string or
  a list) may stand in for ``golden_answers``; ``id``, ``domain`` and ``data_source`` are optional.
* **FlashRAG** (the ``RUC-NLPIR/FlashRAG_datasets`` files Router-R1 samples from) --
  ``{"id": ..., "question": ..., "golden_answers": [...], "metadata": {...}}``: the same reader.
* **Router-R1 processed** (``data_process/qa_*_merge.py`` output, verl style) --
  ``{"data_source": ..., "prompt": [{"role": "user", "content": "...Question: Q"}],
  "reward_model": {"ground_truth": {"target": [...]}}, "extra_info": {"index": i}}``; the question
  is the text after the last ``Question:`` of the prompt, and the prompt itself is kept
  (``QATask.prompt``): in the ``router-r1`` protocol it is the router's first message, verbatim.

:func:`load_benchmark` reads one of the seven QA test sets the way Router-R1's
``data_process/qa_test_gen.py`` prepares it: a FlashRAG folder's ``test`` split (else ``dev``, else
``train``), 500 questions drawn with seed 42, each stripped and ended with ``?``; a Router-R1
parquet file is already drawn and is read as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from agentrl.core.jsonl import read_jsonl
from agentrl.envs.router.router_r1 import prepare_question, sampled

#: Router-R1's seven QA test sets, in the column order of its main table (FlashRAG names).
QA_BENCHMARKS = ("nq", "triviaqa", "popqa", "hotpotqa", "2wikimultihopqa", "musique", "bamboogle")
#: The split ``qa_test_gen.py`` evaluates: the first of these a dataset has.
SPLIT_PREFERENCE = ("test", "dev", "train")


@dataclass(frozen=True)
class QATask:
    """One question with its accepted answers."""

    id: str
    question: str
    golden_answers: list[str] = field(default_factory=list)
    domain: str = ""
    data_source: str = ""
    prompt: str = ""
    """The router's whole first message when the file gave one (Router-R1 parquet); empty otherwise."""


class DataFormatError(ValueError):
    """A record is not in any accepted format; the message names the file, line and field."""


def task_from_record(record: Mapping[str, Any], where: str, default_id: str) -> QATask:
    """Read one record in any accepted format (module docstring)."""
    if not isinstance(record, Mapping):
        raise DataFormatError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if "reward_model" in record:
        return _router_r1_task(record, where, default_id)
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DataFormatError(f"{where}: missing 'question' (a non-empty string)")
    answers = next((record[k] for k in ("golden_answers", "answers", "answer") if k in record), None)
    golden = _answer_list(answers, where)
    return QATask(id=str(record.get("id", default_id)), question=question.strip(), golden_answers=golden,
                  domain=str(record.get("domain", "")), data_source=str(record.get("data_source", "")),
                  prompt=str(record.get("prompt") or ""))


def _router_r1_task(record: Mapping[str, Any], where: str, default_id: str) -> QATask:
    try:
        target = record["reward_model"]["ground_truth"]["target"]
        prompt = record["prompt"][0]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise DataFormatError(f"{where}: a Router-R1 record needs prompt[0].content and "
                              f"reward_model.ground_truth.target ({exc!r} missing)") from exc
    marker = prompt.rfind("Question:")
    question = (prompt[marker + len("Question:"):] if marker >= 0 else prompt).strip()
    extra = record.get("extra_info") or {}
    source = str(record.get("data_source", ""))
    index = extra.get("index") if isinstance(extra, Mapping) else None
    task_id = f"{source}-{index}" if source and index is not None else default_id
    return QATask(id=task_id, question=question, golden_answers=_answer_list(target, where),
                  domain=source, data_source=source, prompt=prompt)


def _answer_list(answers: Any, where: str) -> list[str]:
    if hasattr(answers, "tolist"):  # numpy arrays from parquet
        answers = answers.tolist()
    if isinstance(answers, str):
        answers = [answers]
    scalars = isinstance(answers, (list, tuple)) and all(isinstance(a, (str, int, float)) for a in answers)
    if not scalars or not answers:
        raise DataFormatError(f"{where}: golden answers must be a non-empty string or list of strings, "
                              f"got {answers!r}")
    return [str(a) for a in answers]


def _records(path: Path) -> Iterable[tuple[str, Any]]:
    if path.suffix == ".parquet":
        try:
            import pandas as pd
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(f"reading {path} needs pandas and pyarrow: pip install pandas pyarrow",
                                      name=exc.name) from exc

        for index, row in enumerate(pd.read_parquet(path).to_dict(orient="records"), start=1):
            yield f"{path}:row {index}", row
        return
    for number, record in read_jsonl(path, error=DataFormatError):
        yield f"{path}:{number}", record


def load_tasks(*paths: str | Path) -> list[QATask]:
    """Every task in the given JSONL or parquet files, in order (ids default to ``FILE-LINE``)."""
    tasks: list[QATask] = []
    for path in map(Path, paths):
        if not path.exists():
            raise FileNotFoundError(f"task file {path} does not exist")
        for where, record in _records(path):
            tasks.append(task_from_record(record, where, default_id=f"{path.stem}-{len(tasks)}"))
    if paths and not tasks:
        raise DataFormatError(f"no tasks found in {', '.join(map(str, paths))}")
    return tasks


def save_tasks(tasks: Iterable[QATask], path: str | Path) -> None:
    """Write tasks as QA JSONL (the format :func:`load_tasks` reads back)."""
    with open(path, "w", encoding="utf-8") as handle:
        for task in tasks:
            record = {"id": task.id, "question": task.question, "golden_answers": task.golden_answers}
            optional = (("domain", task.domain), ("data_source", task.data_source), ("prompt", task.prompt))
            record.update({key: value for key, value in optional if value})
            handle.write(json.dumps(record) + "\n")


def find_benchmark(data_dir: str | Path, name: str) -> Path:
    """Where ``name`` lives under ``data_dir``: a FlashRAG folder ``NAME/`` (holding
    ``test.jsonl``, ``dev.jsonl`` or ``train.jsonl``), a FlashRAG file ``NAME.jsonl``, or Router-R1's
    ``test_NAME_*.parquet``."""
    root = Path(data_dir)
    candidates = [root / name, root / f"{name}.jsonl", *sorted(root.glob(f"test_{name}_*.parquet"))]
    for path in candidates:
        if path.is_dir() and any((path / f"{split}.jsonl").exists() for split in SPLIT_PREFERENCE):
            return path
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"no {name} data under {root}: expected a FlashRAG folder {root / name}/ with test.jsonl, dev.jsonl "
        f"or train.jsonl, a file {root / (name + '.jsonl')}, or Router-R1's "
        f"{root}/test_{name}_<model>.parquet")


def load_benchmark(name: str, path: str | Path, *, size: int = 500, seed: int = 42) -> list[QATask]:
    """The questions of one test set as Router-R1 evaluates them (module docstring), each tagged
    with ``data_source=name``."""
    path = Path(path)
    if path.suffix == ".parquet":
        rows = [task for task in load_tasks(path) if task.data_source in ("", name)]
        if not rows:
            raise DataFormatError(f"{path}: no rows with data_source {name!r}")
        return [QATask(t.id, t.question, t.golden_answers, name, name, t.prompt) for t in rows]
    split = _flashrag_split(path) if path.is_dir() else path
    drawn = sampled(load_tasks(split), size, seed)
    return [QATask(f"{name}-{t.id}", prepare_question(t.question), t.golden_answers, name, name)
            for t in drawn]


def _flashrag_split(folder: Path) -> Path:
    for split in SPLIT_PREFERENCE:
        if (folder / f"{split}.jsonl").exists():
            return folder / f"{split}.jsonl"
    raise FileNotFoundError(f"{folder} holds none of {', '.join(s + '.jsonl' for s in SPLIT_PREFERENCE)}")
