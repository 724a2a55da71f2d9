"""Multiple-choice data of the fine-tuning tasks: :class:`MCItem`, the Social IQa, PIQA,
demo-set and Hugging Face loaders, and :func:`task_data` (the file formats are described
in :mod:`analysis.finetune`)."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._utils import DataError, shared_data_path

__all__ = ["TASKS", "CHANCE", "PIQA_VALID_SPLIT", "MCItem", "load_siqa", "load_piqa",
           "demo_dir", "load_demo", "load_hf", "check_task", "default_data_path", "task_data"]

#: Tasks and the number of options of each.
TASKS = {"siqa": 3, "piqa": 2}
#: Chance accuracy of each task.
CHANCE = {task: 1.0 / n for task, n in TASKS.items()}
#: Seeded split of the PIQA validation file when no official training file exists.
PIQA_VALID_SPLIT = (1338, 500)

_REPO = Path(__file__).resolve().parents[2]
_ENV = {"siqa": "SIQA_PATH", "piqa": "PIQA_PATH"}
_SHARED_FILES = {"siqa": "socialiqa/socialiqa-train-dev.zip", "piqa": "piqa"}


@dataclass(frozen=True)
class MCItem:
    """One multiple-choice question.

    Attributes
    ----------
    question : str
        The text every option continues (Social IQa: context + " " + question; PIQA: the
        goal).
    options : tuple of str
        The candidate answers.
    label : int
        Index of the correct option (0-based, whatever the file's convention).
    source : str
        ``file:line`` (or dataset name and row) the item came from.
    """

    question: str
    options: tuple
    label: int
    source: str = ""


def _siqa_record(obj, where):
    for key in ("context", "question", "answerA", "answerB", "answerC"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise DataError(f"{where}: Social IQa record has no usable field {key!r} "
                            "(expected a non-empty string).")
    question = obj["context"].strip() + " " + obj["question"].strip()
    return question, tuple(obj[k].strip() for k in ("answerA", "answerB", "answerC"))


def _piqa_record(obj, where):
    for key in ("goal", "sol1", "sol2"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise DataError(f"{where}: PIQA record has no usable field {key!r} "
                            "(expected a non-empty string).")
    return obj["goal"].strip(), (obj["sol1"].strip(), obj["sol2"].strip())


# task -> (record parser, smallest label in the files)
_FORMATS = {"siqa": (_siqa_record, 1), "piqa": (_piqa_record, 0)}


def _parse(task, jsonl_text, labels_text, jsonl_name, labels_name):
    """Items from the text of a JSON-lines file and its label file."""
    parse, first_label = _FORMATS[task]
    n_opt = TASKS[task]
    records = [(i + 1, line) for i, line in enumerate(jsonl_text.splitlines()) if line.strip()]
    labels = [(i + 1, line.strip()) for i, line in enumerate(labels_text.splitlines())
              if line.strip()]
    if len(records) != len(labels):
        raise DataError(f"{labels_name}: {len(labels)} labels for {len(records)} items in "
                        f"{jsonl_name}; expected one label per item.")
    items = []
    for (line_no, line), (lab_no, lab) in zip(records, labels):
        where = f"{jsonl_name}, line {line_no}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{where}: not valid JSON ({err.msg}).") from None
        if not isinstance(obj, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}.")
        question, options = parse(obj, where)
        try:
            value = int(lab)
        except ValueError:
            value = None
        if value is None or not first_label <= value < first_label + n_opt:
            raise DataError(f"{labels_name}, line {lab_no}: label {lab!r}; expected an "
                            f"integer from {first_label} to {first_label + n_opt - 1}.")
        items.append(MCItem(question, options, value - first_label, f"{jsonl_name}:{line_no}"))
    return items


def _read_pair(folder, split):
    folder = Path(folder)
    jsonl, labels = folder / f"{split}.jsonl", folder / f"{split}-labels.lst"
    for p in (jsonl, labels):
        if not p.is_file():
            raise DataError(f"{p}: file not found (expected {split}.jsonl and "
                            f"{split}-labels.lst in {folder}).")
    return (jsonl.read_text(encoding="utf-8"), labels.read_text(encoding="utf-8"),
            str(jsonl), str(labels))


def load_siqa(path, split="dev"):
    """Social IQa items from the official release.

    Parameters
    ----------
    path : str | Path
        ``socialiqa-train-dev.zip`` as distributed, the extracted folder
        ``socialiqa-train-dev/`` or a folder that contains it.
    split : {"train", "dev"}

    Returns
    -------
    list of MCItem
        Labels converted from 1-3 to 0-2.
    """
    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.startswith("__MACOSX/")]
            found = {}
            for suffix in (f"{split}.jsonl", f"{split}-labels.lst"):
                hits = [n for n in names if n == suffix or n.endswith("/" + suffix)]
                if not hits:
                    raise DataError(f"{path}: no {suffix} in the zip (expected the official "
                                    "Social IQa release).")
                found[suffix] = hits[0]
            texts = [io.TextIOWrapper(zf.open(found[s]), encoding="utf-8").read()
                     for s in (f"{split}.jsonl", f"{split}-labels.lst")]
        return _parse("siqa", texts[0], texts[1], f"{path}!{found[f'{split}.jsonl']}",
                      f"{path}!{found[f'{split}-labels.lst']}")
    if path.is_dir() and not (path / f"{split}.jsonl").exists() \
            and (path / "socialiqa-train-dev").is_dir():
        path = path / "socialiqa-train-dev"
    if not path.exists():
        raise DataError(f"{path}: Social IQa data not found (give the official zip or its "
                        "extracted folder).")
    return _parse("siqa", *_read_pair(path, split))


def load_piqa(path, split="valid"):
    """PIQA items from the official files.

    Parameters
    ----------
    path : str | Path
        Folder holding ``<split>.jsonl`` and ``<split>-labels.lst``.
    split : {"train", "valid"}

    Returns
    -------
    list of MCItem
    """
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"{path}: PIQA folder not found (expected valid.jsonl and "
                        "valid-labels.lst, optionally train.jsonl and train-labels.lst).")
    return _parse("piqa", *_read_pair(path, split))


def demo_dir():
    """Folder of the project's demo items."""
    return _REPO / "analysis" / "resources" / "commonsense"


def load_demo(task, folder=None):
    """The demo items written for the project (official layouts).

    Parameters
    ----------
    task : {"siqa", "piqa"}
    folder : str | Path | None
        Default :func:`demo_dir`.

    Returns
    -------
    list of MCItem
    """
    check_task(task)
    folder = Path(folder) if folder is not None else demo_dir()
    return _parse(task, *_read_pair(folder, f"{task}_demo"))


def load_hf(task, split):
    """Items from the Hugging Face hub (needs ``datasets`` and network access).

    Parameters
    ----------
    task : {"siqa", "piqa"}
    split : str
        ``"train"`` or ``"validation"``.

    Returns
    -------
    list of MCItem
    """
    check_task(task)
    try:
        import datasets
    except ImportError:
        raise ImportError("source='hf' needs the 'datasets' package, which is not part of "
                          "the project's requirements: `pip install datasets`, or give "
                          "the official files' path instead.") from None
    name = {"siqa": "allenai/social_i_qa", "piqa": "ybisk/piqa"}[task]
    rows = datasets.load_dataset(name, split=split)
    parse, first_label = _FORMATS[task]
    items = []
    for i, row in enumerate(rows):
        where = f"{name} ({split}), row {i}"
        question, options = parse(row, where)
        label = int(row["label"]) - first_label
        if not 0 <= label < TASKS[task]:
            raise DataError(f"{where}: label {row['label']!r} out of range.")
        items.append(MCItem(question, options, label, where))
    return items


def check_task(task):
    """Check a task's name.

    Parameters
    ----------
    task : str
        ``"siqa"`` or ``"piqa"`` (the keys of :data:`TASKS`).

    Raises
    ------
    ValueError
        If ``task`` is not one of them.
    """
    if task not in TASKS:
        raise ValueError(f"task {task!r}; expected one of {sorted(TASKS)}.")


def default_data_path(task):
    """The official files' location: ``$SIQA_PATH``/``$PIQA_PATH`` or ``../shared/data``.

    Returns
    -------
    Path | None
        ``None`` when neither exists.
    """
    check_task(task)
    return shared_data_path(_SHARED_FILES[task], _ENV[task])


def _subset(items, n, rng):
    if not n or n >= len(items):
        return list(items)
    return [items[i] for i in np.sort(rng.choice(len(items), size=n, replace=False))]


def task_data(task, source="auto", path=None, n_train=0, n_eval=0, seed=0):
    """Training and held-out items of a task.

    Parameters
    ----------
    task : {"siqa", "piqa"}
    source : {"auto", "official", "demo", "hf"}
        ``auto``: the official files when :func:`default_data_path` (or ``path``) finds
        them, else the demo set.
    path : str | Path | None
        Official files (see :func:`load_siqa`, :func:`load_piqa`).
    n_train, n_eval : int
        Seeded random subsets (0 = all).
    seed : int
        Seed of the subsets and of the splits below.

    Returns
    -------
    train, held_out : list of MCItem
    info : dict
        ``source``, ``path``, ``split`` (how the held-out items were obtained),
        ``n_train``, ``n_eval`` and ``chance``.

    Notes
    -----
    Social IQa: official train / dev. PIQA: official train / valid when ``train.jsonl``
    exists, otherwise a seeded 1,338 / 500 split of ``valid.jsonl``. Demo set: a seeded
    split with ``n_eval`` (default a third of the items) held out.
    """
    check_task(task)
    rng = np.random.default_rng(seed)
    if source == "auto":
        path = path or default_data_path(task)
        source = "official" if path is not None and Path(path).exists() else "demo"
    if source == "official":
        path = Path(path or default_data_path(task) or "")
        if task == "siqa":
            train, held = load_siqa(path, "train"), load_siqa(path, "dev")
            split = "official train / dev"
        elif (path / "train.jsonl").exists():
            train, held = load_piqa(path, "train"), load_piqa(path, "valid")
            split = "official train / valid"
        else:
            items = load_piqa(path, "valid")
            order = np.random.default_rng(seed).permutation(len(items))
            n_tr = int(round(len(items) * PIQA_VALID_SPLIT[0] / sum(PIQA_VALID_SPLIT)))
            train = [items[i] for i in np.sort(order[:n_tr])]
            held = [items[i] for i in np.sort(order[n_tr:])]
            split = (f"seeded split of the official valid.jsonl ({len(train)} train / "
                     f"{len(held)} held out; the official training file is not available)")
    elif source == "demo":
        items = load_demo(task)
        n_held = n_eval or max(1, len(items) // 3)
        if n_held >= len(items):
            raise ValueError(f"n_eval={n_eval} leaves no demo {task} item for training "
                             f"({len(items)} items).")
        order = rng.permutation(len(items))
        held = [items[i] for i in np.sort(order[:n_held])]
        train = [items[i] for i in np.sort(order[n_held:])]
        split = f"seeded split of the demo set ({len(train)} train / {len(held)} held out)"
        path = demo_dir()
    elif source == "hf":
        train, held = load_hf(task, "train"), load_hf(task, "validation")
        split = "Hugging Face train / validation"
    else:
        raise ValueError(f"source {source!r}; expected auto, official, demo or hf.")
    train, held = _subset(train, n_train, rng), _subset(held, n_eval, rng)
    info = {"task": task, "source": source, "path": None if path is None else str(path),
            "split": split, "n_train": len(train), "n_eval": len(held),
            "chance": CHANCE[task]}
    return train, held, info


