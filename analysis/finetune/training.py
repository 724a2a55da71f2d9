"""Fine-tuning on social and physical commonsense, and the model after it (Methods page, fine-tuning and the brain re-test).

Data
----
Multiple-choice items (:class:`MCItem`) come from

* the official **Social IQa** files (``socialiqa-train-dev.zip`` as distributed, or the
  extracted folder): one JSON object per line with ``context, question, answerA,
  answerB, answerC`` and a label file with 1, 2 or 3 per line. The question is
  ``context + " " + question``; ``__MACOSX/`` entries of the zip are ignored;
* the official **PIQA** files: ``goal, sol1, sol2`` per line and labels 0 or 1. Only
  ``valid.jsonl`` may be at hand (the training labels were not obtainable for this
  project): then the items are split, seeded, into 1,338 for training and 500 held out,
  and :func:`task_data` says so in its ``info``. An official ``train.jsonl`` +
  ``train-labels.lst`` beside it is used when present;
* Hugging Face ``datasets`` (``source="hf"``; needs network access and the package,
  which is not a requirement of the project);
* the **demo set** written for the project (``analysis/resources/commonsense/``), in
  the same layouts, so that everything runs without the official files.

A bad record (bad JSON, a missing or empty option, a label out of range, label and item
counts that differ) raises :class:`~analysis.data.DataError` naming the file and line.

Objective
---------
Each option is scored by the SUM of the log-probabilities of its tokens given the
question: for the sequence ``[BOS] question option`` the logits at position ``t``
predict token ``t + 1``, so the option token at position ``t`` is scored with the
log-softmax of the logits at ``t - 1`` (the public code used unshifted raw logits).
The option's tokens are identified by tokenising the question alone and the question
followed by ``" " + option``: the tokens after their common prefix are the option's
(normally exactly the option; if a tokenizer merges across the boundary, the merged
token is scored too). If the tokenizer has a BOS token it is prepended, as for the
features. Cross-entropy over the options' scores is the loss. Sequences longer than
``max_length`` lose tokens from the start of the question.

Held-out accuracy is reported with the summed score and, beside it, with the
length-normalised score (mean log-probability per token), since a sum favours short
options; the "pick the shorter option" baseline is reported with them
(:func:`choice_correctness`, :func:`shorter_option_correct`).

Training uses the Hugging Face :class:`transformers.Trainer` (AdamW, linear schedule,
bf16 autocast on GPUs, gradient accumulation, a checkpoint per epoch) with a custom loss
and evaluation, so the same code runs on one CPU or, through an ``accelerate`` config
(DeepSpeed, FSDP, several GPUs), at the paper's scale::

    accelerate launch --config_file configs/accelerate_multi_gpu_ddp.yaml \\
        -m analysis.finetune --task siqa --model gpt2-xl --lr 1e-5 \\
        --batch-size 1 --epochs 3 --n-train 0 --n-eval 0 --bf16

(``configs/`` also holds FSDP, DeepSpeed ZeRO-3 and two-CPU-process configs; the last is
what ``tests/test_distributed.py`` runs.) With ``n`` processes every step trains on
``n x batch_size x grad_accum`` items: the processes' gradients are averaged, and every
process evaluates the whole held-out set, so all of them agree on the accuracy and on the
best epoch. Only the main process writes files.

Held-out accuracy is measured before training (epoch 0) and after each epoch; the
checkpoint of the best epoch is kept in Hugging Face format (``save_pretrained`` of
model and tokenizer; a LoRA adapter is merged first), so that
``analysis.features.extract_features(..., model=<dir>)`` loads it directly.

Cache and resumption
--------------------
A run lives in ``<cache_dir>/<task>-<model>-<key[:16]>/`` where ``key`` hashes the model
identity, the items, every hyper-parameter and :data:`FINETUNE_VERSION`. ``run/`` holds
the Trainer's epoch checkpoints (with optimizer state): an interrupted run resumes from
the last one. When the run finishes, the best model is written to ``model/`` and the
record to ``result.json`` (both atomically), and ``run/`` is removed; a later call with
the same key returns the record without training. A multi-process run's key also holds
its number of processes (a single-process key does not). Default ``cache_dir``:
``$LIVING_PAPER_CACHE/finetune``, else ``<repo>/cache/finetune``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import sys
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ._utils import DataError, atomic_write, shared_data_path
from ._docs import fill_doc
from .display import percent_text
from .lm import forward_padded, pad_right
from .provenance import cache_dir

__all__ = [
    "FINETUNE_VERSION", "TASKS", "CHANCE", "MCItem", "FinetuneResult",
    "load_siqa", "load_piqa", "load_demo", "load_hf", "default_data_path", "task_data",
    "encode_item", "collate", "option_scores", "accuracy", "finetune", "lm_loss",
    "SCORING_RULES", "choice_correctness", "shorter_option_correct",
    "default_cache_dir", "demo_dir", "reopen_encoding_study", "brain_retest",
    "retest_summary", "retest_texts", "accuracy_table", "finetuned_for_later",
    "CATEGORY_OF_TASK", "TASK_NAMES", "RETEST_DTYPE", "retest_features", "fit_base",
    "SHUFFLED_CONTROL", "shuffle_labels", "VERDICTS", "RetestVerdict",
    "retest_verdict", "retest_verdicts", "verdict_table", "task_table", "example_markdown",
    "train_all", "training_texts", "retest_table", "power_note",
]

#: Version of the fine-tuning code; part of every cache key.
FINETUNE_VERSION = "3"  # 3: records hold the per-token (length-normalised) correctness
#: Tasks and the number of options of each.
TASKS = {"siqa": 3, "piqa": 2}
#: Chance accuracy of each task.
CHANCE = {task: 1.0 / n for task, n in TASKS.items()}
#: Seeded split of the PIQA validation file when no official training file exists.
PIQA_VALID_SPLIT = (1338, 500)

_REPO = Path(__file__).resolve().parents[1]
_ENV = {"siqa": "SIQA_PATH", "piqa": "PIQA_PATH"}
_SHARED_FILES = {"siqa": "socialiqa/socialiqa-train-dev.zip", "piqa": "piqa"}


# ------------------------------------------------------------------------------ data
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
    parse, base = _FORMATS[task]
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
        if value is None or not base <= value < base + n_opt:
            raise DataError(f"{labels_name}, line {lab_no}: label {lab!r}; expected an "
                            f"integer from {base} to {base + n_opt - 1}.")
        items.append(MCItem(question, options, value - base, f"{jsonl_name}:{line_no}"))
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
    _check_task(task)
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
    _check_task(task)
    try:
        import datasets
    except ImportError:
        raise ImportError("source='hf' needs the 'datasets' package, which is not part of "
                          "the project's requirements: `pip install datasets`, or give "
                          "the official files' path instead.") from None
    name = {"siqa": "allenai/social_i_qa", "piqa": "ybisk/piqa"}[task]
    rows = datasets.load_dataset(name, split=split)
    parse, base = _FORMATS[task]
    items = []
    for i, row in enumerate(rows):
        where = f"{name} ({split}), row {i}"
        question, options = parse(row, where)
        label = int(row["label"]) - base
        if not 0 <= label < TASKS[task]:
            raise DataError(f"{where}: label {row['label']!r} out of range.")
        items.append(MCItem(question, options, label, where))
    return items


def _check_task(task):
    if task not in TASKS:
        raise ValueError(f"task {task!r}; expected one of {sorted(TASKS)}.")


def default_data_path(task):
    """The official files' location: ``$SIQA_PATH``/``$PIQA_PATH`` or ``../shared/data``.

    Returns
    -------
    Path | None
        ``None`` when neither exists.
    """
    _check_task(task)
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
    _check_task(task)
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


# --------------------------------------------------------------------------- scoring
def _bos(tokenizer):
    return [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []


def encode_item(tokenizer, item, max_length=256):
    """Token ids of every option's sequence and where the option starts.

    Parameters
    ----------
    tokenizer : transformers tokenizer
    item : MCItem
    max_length : int
        Longest sequence; longer ones lose question tokens from the start (after BOS).

    Returns
    -------
    dict
        ``rows``: list (one per option) of ``(ids, start)``, where ``ids[start:]`` are the
        option's tokens; ``label``.
    """
    bos = _bos(tokenizer)
    q_ids = tokenizer(item.question, add_special_tokens=False)["input_ids"]
    rows = []
    for option in item.options:
        full = tokenizer(item.question + " " + option, add_special_tokens=False)["input_ids"]
        common = 0
        for a, b in zip(q_ids, full):
            if a != b:
                break
            common += 1
        ids = bos + full
        start = len(bos) + common
        if start >= len(ids):
            raise DataError(f"{item.source}: option {option!r} adds no token to the question.")
        excess = len(ids) - max_length
        if excess > 0:
            cut = min(excess, start - len(bos) - 1)  # keep at least one question token
            if cut < excess:
                raise _TooLong(f"{item.source}: option of {len(ids) - start} tokens does not "
                                f"fit in max_length={max_length}.")
            ids = bos + ids[len(bos) + cut:]
            start -= cut
        if start == 0:
            raise DataError(f"{item.source}: nothing precedes the option's first token (no "
                            "BOS token and an empty question).")
        rows.append((ids, start))
    return {"rows": rows, "label": item.label}


def collate(encoded, pad_id=0):
    """Pad a batch of encoded items into tensors (one row per option).

    Parameters
    ----------
    encoded : list of dict
        From :func:`encode_item`; all with the same number of options.
    pad_id : int

    Returns
    -------
    dict of torch.Tensor
        ``input_ids``, ``attention_mask``, ``position_ids`` (rows, length; from
        :func:`analysis.lm.pad_right`), ``target_mask`` (rows, length: True on the
        option's tokens), ``mc_labels`` (items,), ``n_options`` (scalar).
    """
    import torch

    rows = [r for e in encoded for r in e["rows"]]
    n_opt = {len(e["rows"]) for e in encoded}
    if len(n_opt) != 1:
        raise ValueError(f"collate: items with {sorted(n_opt)} options in one batch.")
    input_ids, mask, positions = pad_right([ids for ids, _ in rows], pad_id)
    target = torch.zeros(input_ids.shape, dtype=torch.bool)
    for i, (ids, start) in enumerate(rows):
        target[i, start:len(ids)] = True
    return {"input_ids": input_ids, "attention_mask": mask, "position_ids": positions,
            "target_mask": target,
            "mc_labels": torch.tensor([e["label"] for e in encoded], dtype=torch.long),
            "n_options": torch.tensor(n_opt.pop())}


class _WrappedLM:
    """A causal LM inside a data-parallel wrapper, seen as the causal LM itself.

    DistributedDataParallel, FSDP (version 1) and DeepSpeed engines hold the model in
    ``.module`` and lack its methods (``get_input_embeddings``), which
    :func:`analysis.lm.forward_padded` needs; but the forward pass must go through the
    wrapper (DDP prepares the gradient all-reduce there, FSDP and ZeRO-3 gather the
    sharded weights). This view calls the wrapper and answers the rest from the model.
    """

    def __init__(self, wrapper, inner):
        import functools

        self._wrapper, self._inner = wrapper, inner
        # same signature as the model's forward (analysis.lm.accepts_logits_to_keep
        # reads it), but through the wrapper
        self.forward = functools.wraps(inner.forward)(lambda *a, **kw: wrapper(*a, **kw))

    def __call__(self, *args, **kwargs):
        return self._wrapper(*args, **kwargs)

    def get_input_embeddings(self):
        return self._inner.get_input_embeddings()


def _as_causal_lm(model):
    """``model`` itself, or a :class:`_WrappedLM` view of the LM inside a wrapper."""
    inner = model
    while not hasattr(inner, "get_input_embeddings") and hasattr(inner, "module"):
        inner = inner.module
    return model if inner is model else _WrappedLM(model, inner)


def option_scores(model, batch, per_token=False):
    """Sum (or mean) of the option tokens' log-probabilities, per item and option.

    Parameters
    ----------
    model : transformers causal LM
        Or the same model inside a data-parallel wrapper (the Trainer's
        ``model_wrapped``: DistributedDataParallel, FSDP, a DeepSpeed engine), which is
        called as it is so that gradients are synchronised and shards gathered.
    batch : dict
        From :func:`collate` (tensors on the model's device).
    per_token : bool
        Divide each option's sum by its number of tokens (the length-normalised score;
        see :func:`choice_correctness`).

    Returns
    -------
    torch.Tensor, shape (items, options), float32
        Differentiable when gradients are on.
    """
    total, n_tokens = _option_logprob_sums(model, batch)
    return total / n_tokens if per_token else total


def _option_logprob_sums(model, batch):
    """Summed log-probability of each option and its number of tokens, (items, options)."""
    import torch

    model = _as_causal_lm(model)
    ids, target = batch["input_ids"], batch["target_mask"]
    # logits at position t predict token t + 1: the option token at position t (t >= 1)
    # is scored by the log-softmax of the logits at t - 1. Only those positions go
    # through the output layer (analysis.lm.forward_padded), which saves most of the
    # (rows x length x vocabulary) logits of a full pass.
    pred = target[:, 1:]
    width = max(1, int(pred.sum(1).max()))
    keep = torch.zeros((ids.shape[0], width), dtype=torch.long, device=ids.device)
    valid = torch.zeros((ids.shape[0], width), dtype=torch.bool, device=ids.device)
    for r in range(ids.shape[0]):
        pos = pred[r].nonzero(as_tuple=True)[0]
        keep[r, :len(pos)] = pos
        valid[r, :len(pos)] = True
    logits, _ = forward_padded(model, ids, batch["attention_mask"],
                               batch.get("position_ids"), keep=keep)
    logp = torch.log_softmax(logits, dim=-1)
    next_ids = torch.take_along_dim(ids, (keep + 1).clamp(max=ids.shape[1] - 1), dim=1)
    token_logp = torch.take_along_dim(logp, next_ids.to(logp.device)[..., None], dim=2)[..., 0]
    per_row = torch.where(valid.to(logp.device), token_logp, 0.0).sum(dim=1)
    count = valid.sum(dim=1).clamp(min=1).to(per_row.device, per_row.dtype)
    n_opt = int(batch["n_options"])
    return per_row.view(-1, n_opt), count.view(-1, n_opt)


#: How an option's score is made from its tokens' log-probabilities: the sum (the
#: training objective, and the accuracy the paper reports) or the mean per token.
SCORING_RULES = ("sum", "per_token")


def choice_correctness(model, encoded, batch_size=8, pad_id=0):
    """0/1 correctness of every item under each scoring rule (:data:`SCORING_RULES`).

    The summed log-probability of an option falls with every token it has, so it favours
    short options (each PIQA item has two solutions of often very different length).
    The length-normalised rule divides the sum by the option's number of tokens: the
    mean log-probability per token. The lm-evaluation-harness (Gao et al., 2021/2024,
    "acc_norm") normalises by the option's length in characters (bytes in its first
    versions) instead; per token is chosen here because the scores compared are of one
    model and one tokenizer, the options' token counts are what is summed, and it needs
    no text beyond the encoded items.

    Parameters
    ----------
    model : transformers causal LM
        Or the same model inside a data-parallel wrapper (see :func:`option_scores`).
        Every process of a multi-process run scores ALL the items (the same items in the
        same order, so the wrappers' collective calls match).
    encoded : list of dict
        From :func:`encode_item`.
    batch_size : int
    pad_id : int

    Returns
    -------
    dict of str to list of int
        ``"sum"`` and ``"per_token"``: 1 where the correct option has the highest score,
        in the order of ``encoded``. Both come from one forward pass per batch.
    """
    import torch

    device = _as_causal_lm(model).get_input_embeddings().weight.device
    was_training = model.training
    model.eval()
    # score items in order of length (less padding), then put the answers back in order
    order = sorted(range(len(encoded)), key=lambda i: max(len(r[0]) for r in encoded[i]["rows"]))
    correct = {rule: [0] * len(encoded) for rule in SCORING_RULES}
    with torch.no_grad():
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            batch = collate([encoded[i] for i in idx], pad_id)
            batch = {k: v.to(device) for k, v in batch.items()}
            total, n_tokens = _option_logprob_sums(model, batch)
            labels = batch["mc_labels"].to(total.device)
            for rule, scores in (("sum", total), ("per_token", total / n_tokens)):
                for i, ok in zip(idx, (scores.argmax(1) == labels).tolist()):
                    correct[rule][i] = int(ok)
    model.train(was_training)
    return correct


def shorter_option_correct(encoded, seed=0):
    """The "pick the shorter option" baseline: 0/1 correctness of every item.

    Each item's answer is its option with the fewest tokens (the tokens its score sums;
    ties broken at random, seeded). A model whose summed-score accuracy is near this
    baseline may be doing little more than preferring short options.

    Parameters
    ----------
    encoded : list of dict
        From :func:`encode_item`.
    seed : int
        Seed of the tie-breaks.

    Returns
    -------
    list of int
    """
    rng = np.random.default_rng(seed)
    out = []
    for e in encoded:
        n_tokens = np.array([len(ids) - start for ids, start in e["rows"]])
        shortest = np.flatnonzero(n_tokens == n_tokens.min())
        pick = shortest[0] if len(shortest) == 1 else rng.choice(shortest)
        out.append(int(pick == e["label"]))
    return out


def accuracy(model, encoded, batch_size=8, pad_id=0, per_item=False, rule="sum"):
    """Share of items whose correct option has the highest score.

    Parameters
    ----------
    model : transformers causal LM
        Or the same model inside a data-parallel wrapper (see :func:`option_scores`).
        Every process of a multi-process run scores ALL the items (the same items in the
        same order, so the wrappers' collective calls match): each process gets the
        accuracy of the whole held-out set, never of a shard, and all agree on it.
    encoded : list of dict
        From :func:`encode_item`.
    batch_size : int
    pad_id : int
    per_item : bool
        Return the 0/1 correctness of every item instead of the share.
    rule : {"sum", "per_token"}
        Scoring rule (:func:`choice_correctness`).

    Returns
    -------
    float, or list of int (``per_item``)
    """
    if rule not in SCORING_RULES:
        raise ValueError(f"rule={rule!r}; expected one of {SCORING_RULES}.")
    correct = choice_correctness(model, encoded, batch_size, pad_id)[rule]
    return correct if per_item else sum(correct) / max(1, len(encoded))


def lm_loss(model, tokenizer, text, max_length=256, stride=None):
    """Mean per-token negative log-likelihood of a text (nats per token).

    Parameters
    ----------
    model : transformers causal LM
    tokenizer : transformers tokenizer
    text : str
        Held-out narrative.
    max_length : int
        Tokens per window (BOS included).
    stride : int | None
        New tokens per window (default ``max_length // 2``): every token after the
        first window is predicted with at least ``max_length - stride`` tokens of context.

    Returns
    -------
    dict
        ``nll`` (mean over tokens), ``perplexity``, ``n_tokens``.
    """
    import torch

    bos = _bos(tokenizer)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    width = max_length - len(bos)
    stride = stride or width // 2
    device = model.get_input_embeddings().weight.device
    was_training = model.training
    model.eval()
    total, count, done = 0.0, 0, 0  # ``done``: tokens already scored
    with torch.no_grad():
        start = 0
        while done < len(ids):
            window = ids[start:start + width]
            seq = torch.tensor([bos + window], device=device)
            logp = torch.log_softmax(model(input_ids=seq, use_cache=False).logits[0].float(), -1)
            first = max(done - start, 0) + len(bos)  # first position scored in ``seq``
            first = max(first, 1)
            targets = seq[0, first:]
            total -= float(logp[first - 1:-1].gather(1, targets[:, None]).sum())
            count += len(targets)
            done = start + len(window)
            start += stride
    model.train(was_training)
    nll = total / max(count, 1)
    return {"nll": nll, "perplexity": float(np.exp(nll)), "n_tokens": count}


# -------------------------------------------------------------------------- training
@dataclass
class FinetuneResult:
    """Record of a finished fine-tuning run.

    Attributes
    ----------
    task : str
    model_dir : str
        The kept model in Hugging Face format (model + tokenizer): the last one, or
        the best evaluation's with ``keep="best"``.
    accuracy : list of dict
        The learning curve: ``{"epoch", "step", "items", "accuracy"}`` before training
        (step 0) and at every evaluation (each epoch, or every ``eval_every`` items).
    best_epoch : float
        Epoch of the kept model.
    chance : float
    params : dict
        Model, data summary, hyper-parameters, cache key.
    seconds : float
        Training time (of the run that produced the record).
    best_step : int
        Optimizer step of the kept checkpoint.
    correct_base, correct_final : list of int
        0/1 correctness of every held-out item before training and for the kept
        checkpoint (paired: the same items), for confidence intervals.
    correct_base_per_token, correct_final_per_token : list of int
        The same with the length-normalised score (mean log-probability per token; see
        :func:`choice_correctness`).
    correct_shorter : list of int
        The "pick the shorter option" baseline on the same items
        (:func:`shorter_option_correct`).
    reused : bool
        True when the record was read from the cache (no training in this call).
    """

    task: str
    model_dir: str
    accuracy: list
    best_epoch: float
    chance: float
    params: dict = field(default_factory=dict)
    seconds: float = 0.0
    best_step: int | None = None
    correct_base: list = field(default_factory=list)
    correct_final: list = field(default_factory=list)
    correct_base_per_token: list = field(default_factory=list)
    correct_final_per_token: list = field(default_factory=list)
    correct_shorter: list = field(default_factory=list)
    reused: bool = False

    @property
    def final_accuracy(self):
        """Held-out accuracy of the kept model."""
        if self.best_step is not None:
            return next(a["accuracy"] for a in self.accuracy if a.get("step") == self.best_step)
        return next(a["accuracy"] for a in self.accuracy if a["epoch"] == self.best_epoch)

    def accuracy_interval(self, level=0.95, n_boot=10000, seed=0):
        """Accuracies with intervals, and the gain over the base model.

        Returns
        -------
        dict
            ``base`` and ``fine_tuned`` (accuracy with the summed score), their Wilson
            score intervals (``base_ci``, ``ci``), ``gain`` (fine-tuned minus base, the
            same items) with a paired bootstrap interval over items (``gain_ci``), ``n``,
            ``chance``; ``per_token``: the same keys for the length-normalised score, and
            ``shorter``: ``{"accuracy", "ci"}`` of the pick-the-shorter-option baseline
            (both None for a record without them).
        """
        from .stats import wilson_interval

        out = _paired_accuracies(self.correct_base, self.correct_final, level, n_boot, seed)
        out.update(chance=self.chance, per_token=None, shorter=None)
        if len(self.correct_final_per_token) == out["n"] > 0:
            out["per_token"] = _paired_accuracies(self.correct_base_per_token,
                                                  self.correct_final_per_token, level,
                                                  n_boot, seed)
        if len(self.correct_shorter) == out["n"] > 0:
            k = int(np.sum(self.correct_shorter))
            out["shorter"] = {"accuracy": k / out["n"],
                              "ci": wilson_interval(k, out["n"], level)}
        return out


def _paired_accuracies(correct_base, correct_final, level, n_boot, seed):
    """Accuracies with Wilson intervals and the paired-bootstrap gain of two 0/1 lists."""
    from .stats import paired_accuracy_gain, wilson_interval

    n = len(correct_final)
    base, final = np.asarray(correct_base), np.asarray(correct_final)
    gain = paired_accuracy_gain(base, final, level=level, n_boot=n_boot, seed=seed)
    return {"base": float(base.mean()), "fine_tuned": float(final.mean()),
            "base_ci": wilson_interval(int(base.sum()), n, level),
            "ci": wilson_interval(int(final.sum()), n, level), "gain": gain["gain"],
            "gain_ci": gain["ci"], "n": n}


def default_cache_dir():
    """``$LIVING_PAPER_CACHE/finetune`` if set, else ``<repo>/cache/finetune``."""
    return cache_dir("finetune")


def _items_digest(items):
    h = hashlib.sha256()
    for it in items:
        h.update(json.dumps([it.question, list(it.options), it.label]).encode())
    return h.hexdigest()


def _run_key(identity, task, train, held, hyper):
    payload = {"model": identity, "task": task, "train": _items_digest(train),
               "held_out": _items_digest(held), "hyper": hyper, "version": FINETUNE_VERSION}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class _TooLong(DataError):
    """An option that does not fit in ``max_length`` tokens."""


def _encode_fitting(tokenizer, items, max_length, what):
    """Encode items; those whose option alone exceeds ``max_length`` are left out, loudly."""
    import warnings

    out, skipped = [], []
    for it in items:
        try:
            out.append(encode_item(tokenizer, it, max_length))
        except _TooLong:
            skipped.append(it.source)
    if skipped:
        warnings.warn(f"{len(skipped)} of {len(items)} {what} items left out: an option is "
                      f"longer than max_length={max_length} tokens (first: {skipped[0]}). "
                      "Raise max_length to keep them.", RuntimeWarning, stacklevel=3)
    if not out:
        raise DataError(f"no {what} item fits in max_length={max_length} tokens.")
    return out


class _EncodedItems:
    """A torch-style dataset of encoded items (kept as dicts for the collator)."""

    def __init__(self, encoded):
        self.encoded = encoded

    def __len__(self):
        return len(self.encoded)

    def __getitem__(self, i):
        return self.encoded[i]


def _make_trainer_class():
    from transformers import Trainer

    class MCTrainer(Trainer):
        """Trainer with the multiple-choice loss and held-out accuracy as evaluation."""

        def __init__(self, *args, pad_id=0, **kwargs):
            super().__init__(*args, **kwargs)
            self.pad_id = pad_id
            self.per_item = {}  # global step -> 0/1 correctness of each held-out item
            # The loss is a mean over items, so gradient accumulation must divide it.
            self.model_accepts_loss_kwargs = False

        def _get_train_sampler(self, train_dataset=None):
            # batches of items of similar length (little padding), in a seeded random
            # order of such batches: the Trainer's own length grouping needs token ids
            # under one key, and an item here holds several option sequences
            from transformers.trainer_pt_utils import LengthGroupedSampler

            data = train_dataset if train_dataset is not None else self.train_dataset
            lengths = [sum(len(ids) for ids, _ in e["rows"]) for e in data.encoded]
            return LengthGroupedSampler(
                self.args.train_batch_size * self.args.gradient_accumulation_steps,
                lengths=lengths)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            import torch

            scores = option_scores(model, inputs)
            loss = torch.nn.functional.cross_entropy(scores, inputs["mc_labels"])
            return (loss, {"scores": scores}) if return_outputs else loss

        def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval"):
            data = eval_dataset if eval_dataset is not None else self.eval_dataset
            correct = choice_correctness(self.model_wrapped, data.encoded,
                                         self.args.per_device_eval_batch_size, self.pad_id)
            self.per_item[self.state.global_step] = correct
            n = max(1, len(data.encoded))
            metrics = {f"{metric_key_prefix}_accuracy": sum(correct["sum"]) / n,
                       f"{metric_key_prefix}_accuracy_per_token": sum(correct["per_token"]) / n}
            self.log(metrics)
            self.control = self.callback_handler.on_evaluate(self.args, self.state,
                                                             self.control, metrics)
            return metrics

    return MCTrainer


def _drop_gguf_marker(net):
    """Make a GGUF-loaded model a plain trainable one.

    transformers dequantises every GGUF tensor to a torch tensor at load time but keeps a
    GGUF "quantizer" on the model, which makes the Trainer refuse to train it and would
    write a ``quantization_config`` into the saved checkpoint. Both are removed; the
    weights are untouched.
    """
    quantizer = getattr(net, "hf_quantizer", None)
    if quantizer is None:
        return
    method = str(getattr(quantizer.quantization_config, "quant_method", ""))
    if "gguf" not in method.lower():
        raise ValueError(f"the model is quantized with {method}; full fine-tuning needs "
                         "a float model (use lora=True with a quantization that supports it).")
    from transformers import PreTrainedModel

    for module in net.modules():
        if isinstance(module, PreTrainedModel):
            module.hf_quantizer = None
            module.is_quantized = False
            module.config._is_quantized = False
            if hasattr(module.config, "quantization_config"):
                del module.config.quantization_config


def _top_block_targets(net, n_top):
    """LoRA targets: the linear layers of the last ``n_top`` transformer blocks."""
    import torch

    depth = int(net.config.num_hidden_layers)
    blocks = None
    for _, module in net.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == depth:
            blocks = module
            break
    if blocks is None:
        raise ValueError("lora_layers: cannot find the model's list of blocks; use "
                         "lora_layers=None (adapters on every block).")
    names = sorted({n.split(".")[-1] for n, m in blocks[0].named_modules()
                    if isinstance(m, torch.nn.Linear)})
    return {"target_modules": names,
            "layers_to_transform": list(range(max(0, depth - n_top), depth))}


def _launch_world():
    """Number of processes of this run and this process's rank, from the launcher.

    ``accelerate launch`` (torchrun), the DeepSpeed launcher and MPI set these variables
    before the script starts, so they are known before the Trainer sets up the process
    group (the cache key needs them first).

    Returns
    -------
    n_processes : int
        1 for a plain ``python`` run.
    rank : int
        0 for the main process.
    """
    def first(names, default):
        for name in names:
            if os.environ.get(name, "").strip().isdigit():
                return int(os.environ[name])
        return default

    n = first(("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE"), 1)
    rank = first(("RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "MV2_COMM_WORLD_RANK"), 0)
    return max(n, 1), rank


def _read_result(path):
    try:
        data = json.loads(Path(path).read_text())
        return FinetuneResult(**data)
    except (OSError, ValueError, TypeError):
        return None


def shuffle_labels(items, seed=0):
    """The same items with their answers permuted across items (seeded).

    Item ``i`` gets the label of item ``perm[i]``: the questions and options (the text a
    model is trained on) and the share of each answer position stay the same, but which
    option is called right no longer depends on the question. Training on such items
    follows the recipe without teaching the task's knowledge (the shuffled-answer
    control of the fine-tuning chapter; cf. the random-label training of Zhang et al.,
    2017, "Understanding deep learning requires rethinking generalization").

    Parameters
    ----------
    items : list of MCItem
        All with the same number of options.
    seed : int

    Returns
    -------
    list of MCItem
        ``source`` gains ``" (answer shuffled)"``.
    """
    from dataclasses import replace

    n_opt = {len(it.options) for it in items}
    if len(n_opt) > 1:
        raise ValueError(f"shuffle_labels: items with {sorted(n_opt)} options; a label of "
                         "one item may not exist in another.")
    perm = np.random.default_rng([int(seed), 101]).permutation(len(items))
    return [replace(it, label=int(items[j].label), source=f"{it.source} (answer shuffled)")
            for it, j in zip(items, perm)]


def finetune(task, train, held_out, model="default", epochs=1, lr=1e-5, batch_size=4,
             grad_accum=1, lora=False, lora_rank=8, max_length=256, seed=0, device="auto",
             bf16=None, cache_dir=None, eval_batch_size=16, progress=True, data_info=None,
             eval_every=None, lora_layers=None, keep="last", label_shuffle=False):
    """Fine-tune a causal LM on multiple-choice items; keep the last (or best) model.

    Parameters
    ----------
    task : {"siqa", "piqa"}
    train, held_out : list of MCItem
    model : str | Path | analysis.features.LoadedModel
        Anything :func:`analysis.features.resolve_model` accepts (GGUF files are
        dequantised to a trainable float32 model), or an already loaded float32 model,
        which is copied (never modified).
    epochs : int
    lr : float
        AdamW learning rate (the paper: 1e-5).
    batch_size : int
        Items per device and step (per step in all: ``batch_size x grad_accum x`` the
        number of processes).
    grad_accum : int
        Gradient accumulation steps.
    lora : bool
        Train a LoRA adapter (``peft``, all linear layers, rank ``lora_rank``, alpha
        ``2 * lora_rank``) instead of all weights; it is merged before saving.
    lora_rank : int
    lora_layers : int | None
        With ``lora``: put adapters on the linear layers of the last ``lora_layers``
        blocks only (``None``: every block). The backward pass then stops at the first
        adapted block: on a 2-core CPU with SmolLM2-135M a Social IQa item costs 0.33 s
        with the last 6 of 30 blocks adapted, 0.63 s with all of them and 0.85 s for full
        fine-tuning (measured; see the chapter).
    max_length : int
        Longest sequence in tokens.
    seed : int
        Seed of initialisation (LoRA), data order and dropout.
    device : {"auto", "cpu", "cuda"}
        Single-process runs; under ``accelerate launch`` the launcher decides.
    bf16 : bool | None
        bf16 mixed precision; default: on for CUDA GPUs that support it.
    cache_dir : str | Path | None
        Default :func:`default_cache_dir`.
    eval_batch_size : int
    progress : bool
        Trainer progress bars.
    data_info : dict | None
        Stored with the record (where the items came from).
    eval_every : int | None
        Evaluate (and keep a checkpoint) every this many training items, for a learning
        curve; ``None`` evaluates after each epoch.
    keep : {"last", "best"}
        The model kept and reported: the one at the end of training (default), or the
        evaluation with the best held-out accuracy. Choosing the best on the same held-out
        items makes its accuracy optimistic: measured on Social IQa (1,200 items, three
        evaluations), the kept model's gain over the base was +5.0 points at 400 items
        while the last was +2.7.
    label_shuffle : bool
        Train on ``train`` with its answers permuted across items
        (:func:`shuffle_labels`, seeded by ``seed``): the shuffled-answer control, which
        sees the same text with the same budget but learns no knowledge of the task. The
        held-out items keep their true answers. Part of the cache key.

    Returns
    -------
    FinetuneResult | None
        ``None`` on processes other than the main one of a multi-process run.
        ``params["label_shuffle"]`` says whether the answers were shuffled.
    """
    import torch
    from transformers import TrainingArguments, set_seed
    from transformers.trainer_utils import get_last_checkpoint

    from analysis.lm import LoadedModel, load_model, resolve_model
    from analysis.provenance import resolve_device

    _check_task(task)
    if not train or not held_out:
        raise ValueError(f"finetune: {len(train)} training and {len(held_out)} held-out "
                         "items; both must be non-empty.")
    loaded = model if isinstance(model, LoadedModel) else None
    spec = loaded.spec if loaded else resolve_model(model)
    device = resolve_device(device)
    if bf16 is None:
        bf16 = device.startswith("cuda") and torch.cuda.is_bf16_supported()
    hyper = {"epochs": int(epochs), "lr": float(lr), "batch_size": int(batch_size),
             "grad_accum": int(grad_accum), "lora": bool(lora),
             "lora_rank": int(lora_rank) if lora else None,
             "lora_layers": int(lora_layers) if lora and lora_layers else None,
             "max_length": int(max_length),
             "seed": int(seed), "bf16": bool(bf16),
             "eval_every": None if eval_every is None else int(eval_every)}
    if keep not in ("last", "best"):
        raise ValueError(f"keep={keep!r}; expected 'last' or 'best'.")
    if keep == "best":  # left out for "last", so that earlier cache keys stay valid
        hyper["keep"] = "best"
    if label_shuffle:  # left out when off, like "keep"
        hyper["label_shuffle"] = True
    n_proc, rank = _launch_world()
    if n_proc > 1:
        # Several data-parallel processes train with a global batch of n_proc x
        # batch_size items per step: a different run from one process with the same
        # batch_size, so the number of processes is part of the cache key. It is left out
        # for one process, so that single-process keys (and caches) stay as they were.
        hyper["n_processes"] = n_proc
    key = _run_key(spec.identity, task, train, held_out, hyper)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    slug = "".join(c if c.isalnum() or c in "._-" else "-" for c in spec.name)[:40]
    root = folder / f"{task}{'-shuffled' if label_shuffle else ''}-{slug}-{key[:16]}"
    record = root / "result.json"
    done = _read_result(record)
    if done is not None and Path(done.model_dir, "config.json").is_file():
        done.reused = True
        return done if rank == 0 else None

    t0 = time.time()
    set_seed(seed)
    if loaded is not None and loaded.dtype == "float32" and loaded.device != "auto":
        import copy

        tokenizer, net = loaded.tokenizer, copy.deepcopy(loaded.model).to("cpu")
    else:
        lm = load_model(spec, device="cpu", dtype="float32")  # the Trainer places it
        tokenizer, net = lm.tokenizer, lm.model
    _drop_gguf_marker(net)
    net.train()
    if lora:
        from peft import LoraConfig, get_peft_model

        where = {"target_modules": "all-linear"}
        if lora_layers:
            where = _top_block_targets(net, int(lora_layers))
        net = get_peft_model(net, LoraConfig(r=lora_rank, lora_alpha=2 * lora_rank,
                                             lora_dropout=0.0, task_type="CAUSAL_LM",
                                             **where))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    if label_shuffle:
        train = shuffle_labels(train, seed)
    enc_train = _EncodedItems(_encode_fitting(tokenizer, train, max_length, "training"))
    enc_held = _EncodedItems(_encode_fitting(tokenizer, held_out, max_length, "held-out"))

    run_dir = root / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    items_per_step = batch_size * grad_accum * n_proc
    if eval_every:
        every = dict(eval_strategy="steps", save_strategy="steps", logging_strategy="steps",
                     eval_steps=max(1, int(eval_every) // items_per_step),
                     save_steps=max(1, int(eval_every) // items_per_step),
                     logging_steps=max(1, int(eval_every) // items_per_step))
    else:
        every = dict(eval_strategy="epoch", save_strategy="epoch", logging_strategy="epoch")
    args = TrainingArguments(
        output_dir=str(run_dir), num_train_epochs=epochs, learning_rate=lr,
        per_device_train_batch_size=batch_size, per_device_eval_batch_size=eval_batch_size,
        gradient_accumulation_steps=grad_accum, weight_decay=0.0, warmup_steps=0,
        lr_scheduler_type="linear", save_total_limit=1, load_best_model_at_end=keep == "best",
        metric_for_best_model="accuracy", greater_is_better=True, seed=seed, data_seed=seed,
        bf16=bool(bf16), use_cpu=device == "cpu", report_to="none",
        remove_unused_columns=False, disable_tqdm=not progress, dataloader_num_workers=0,
        **every,
    )
    # Accuracy before training, on the device the Trainer trains on: under
    # ``accelerate launch`` ``args.device`` is this process's own GPU (``device`` alone,
    # "cuda", put every process's copy on the first GPU); for one process it is the CPU
    # or the first GPU, as before. Every process scores all held-out items (see
    # ``accuracy``); only the main one writes the file.
    epoch0_file = run_dir / "epoch0.json"
    if epoch0_file.exists():
        correct0 = json.loads(epoch0_file.read_text())["correct"]
    else:
        correct0 = choice_correctness(net.to(args.device), enc_held.encoded, eval_batch_size,
                                      pad_id)
        if args.process_index == 0:
            atomic_write(epoch0_file, lambda p: p.write_text(json.dumps({"correct": correct0})))
    acc0 = sum(correct0["sum"]) / len(correct0["sum"])
    trainer = _make_trainer_class()(
        model=net, args=args, train_dataset=enc_train, eval_dataset=enc_held,
        data_collator=lambda batch: collate(batch, pad_id), pad_id=pad_id,
    )
    if not progress:  # the log history is kept in ``trainer.state``; no printed dicts
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    last = get_last_checkpoint(str(run_dir)) if run_dir.exists() else None
    trainer.train(resume_from_checkpoint=last)

    history = [{"epoch": 0.0, "step": 0, "items": 0, "accuracy": acc0,
                "accuracy_per_token": sum(correct0["per_token"]) / len(correct0["per_token"])}]
    for entry in trainer.state.log_history:
        if "eval_accuracy" in entry:
            history.append({"epoch": round(float(entry["epoch"]), 3), "step": int(entry["step"]),
                            "items": int(entry["step"]) * items_per_step,
                            "accuracy": float(entry["eval_accuracy"]),
                            "accuracy_per_token": float(entry["eval_accuracy_per_token"])})
    if keep == "best":
        best_entry = max(history[1:], key=lambda h: (h["accuracy"], -h["step"]))
    else:
        last_step = int(trainer.state.global_step)
        if history[-1]["step"] != last_step:  # no evaluation at the very end: add one
            correct = choice_correctness(trainer.model_wrapped, enc_held.encoded,
                                         eval_batch_size, pad_id)
            trainer.per_item[last_step] = correct
            history.append({"epoch": round(float(trainer.state.epoch or epochs), 3),
                            "step": last_step, "items": last_step * items_per_step,
                            "accuracy": sum(correct["sum"]) / len(correct["sum"]),
                            "accuracy_per_token": (sum(correct["per_token"])
                                                   / len(correct["per_token"]))})
        best_entry = history[-1]
    best, best_step = best_entry["epoch"], best_entry["step"]
    correct_best = trainer.per_item.get(best_step)
    if correct_best is None:  # resumed after that evaluation: score the kept model again
        correct_best = choice_correctness(trainer.model_wrapped, enc_held.encoded,
                                          eval_batch_size, pad_id)

    model_dir = root / "model"
    tmp = root / ".model.tmp"
    main_process = trainer.is_world_process_zero()
    if main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    if lora:
        final = trainer.model.merge_and_unload()
        if main_process:
            final.save_pretrained(tmp)
    else:
        # every process calls save_model: under DeepSpeed ZeRO-3 or FSDP it gathers the
        # sharded weights; only the main process writes.
        trainer.save_model(str(tmp))
    trainer.accelerator.wait_for_everyone()
    if not main_process:
        return None
    tokenizer.save_pretrained(tmp)
    (tmp / "training_args.bin").unlink(missing_ok=True)
    shutil.rmtree(model_dir, ignore_errors=True)
    os.replace(tmp, model_dir)
    result = FinetuneResult(
        task=task, model_dir=str(model_dir), accuracy=history, best_epoch=best,
        best_step=best_step, correct_base=list(correct0["sum"]),
        correct_final=list(correct_best["sum"]),
        correct_base_per_token=list(correct0["per_token"]),
        correct_final_per_token=list(correct_best["per_token"]),
        correct_shorter=shorter_option_correct(enc_held.encoded, seed=seed),
        chance=CHANCE[task],
        params={"model": spec.name, "model_identity": spec.identity, "key": key,
                "n_train": len(enc_train), "n_eval": len(enc_held), "data": data_info,
                "label_shuffle": bool(label_shuffle), **hyper},
        seconds=round(time.time() - t0, 1))
    atomic_write(record, lambda p: p.write_text(json.dumps(asdict(result), indent=2)))
    shutil.rmtree(run_dir, ignore_errors=True)
    return result


# ------------------------------------------------------------------- brain re-test
#: Name of the shuffled-answer control run: Social IQa's items, recipe and budget with
#: the answers permuted across items (``finetune("siqa", ..., label_shuffle=True)``).
SHUFFLED_CONTROL = "siqa_shuffled"
#: Word category whose errors each task's fine-tuning should reduce (Methods page, fine-tuning and the brain re-test); the
#: control is tested on its task's category.
CATEGORY_OF_TASK = {"siqa": "emotion", "piqa": "physical", SHUFFLED_CONTROL: "emotion"}
#: Display names of the tasks (and of the control run).
TASK_NAMES = {"siqa": "Social IQa", "piqa": "PIQA",
              SHUFFLED_CONTROL: "Social IQa, shuffled answers"}
#: Compute dtype of every model's features in the brain re-test, on every device: the
#: default of :func:`analysis.features.extract_features` is bfloat16 on GPUs, while the
#: fine-tuned checkpoints are float32, and a re-test must not compare precisions.
RETEST_DTYPE = "float32"


def retest_features(dataset, model, layer, device="auto", dtype=RETEST_DTYPE,
                    cache_dir=None, progress=False):
    """One layer's features for the brain re-test, computed in ``dtype`` on every device.

    Parameters
    ----------
    dataset : WordDataset
    model : str | Path | analysis.lm.LoadedModel
        The base model or a fine-tuned checkpoint; a loaded model must have been loaded
        in ``dtype``.
    layer : int
        Hidden state to keep.
    device : str
        Used when the model has to be loaded.
    dtype : str
        Compute dtype (:data:`RETEST_DTYPE`).
    cache_dir, progress
        Passed to :func:`analysis.features.extract_features`.

    Returns
    -------
    analysis.features.Features
        Float32 arrays of the one layer (surprisal not computed); ``params["dtype"]``
        is the compute dtype.

    Raises
    ------
    ValueError
        A loaded model in another dtype.
    """
    from .features import extract_features
    from .lm import LoadedModel

    if isinstance(model, LoadedModel) and model.dtype != dtype:
        raise ValueError(f"retest_features: {model.spec.name} was loaded in {model.dtype}; "
                         f"the brain re-test computes every model in {dtype} (load it with "
                         f"dtype={dtype!r}).")
    return extract_features(dataset, model=model, layers=[int(layer)], surprisal=False,
                            device=device, dtype=dtype, cache_dir=cache_dir,
                            progress=progress)


def _features_dtype(features):
    """Compute dtype recorded with features or a fitted result; None for a plain array."""
    params = getattr(features, "params", None) or {}
    return params.get("dtype") or params.get("features_dtype")


def fit_base(features, dataset, layer, **fit_kw):
    """The base model's encoding fit for :func:`brain_retest`, remembering its dtype.

    Parameters
    ----------
    features : analysis.features.Features
        The base model's features (e.g. from :func:`retest_features`).
    dataset : WordDataset
    layer : int
    **fit_kw
        Passed to :func:`analysis.encoding.fit_encoding`.

    Returns
    -------
    analysis.encoding.EncodingResult
        With ``params["features_dtype"]``, which :func:`brain_retest` checks against
        the fine-tuned model's.
    """
    from .encoding import fit_encoding

    fit = fit_encoding(features.layer(layer), dataset, layer=layer, **fit_kw)
    fit.params["features_dtype"] = _features_dtype(features)
    return fit


def reopen_encoding_study(results_dir, device="auto", progress=False):
    """The encoding chapter's outputs and the very dataset it fitted.

    Parameters
    ----------
    results_dir : str | Path
        Folder holding the encoding chapter's :class:`~analysis.contracts.EncodingOutputs`.
    device : str
        Device for the simulated study's features (read from the cache when present).
    progress : bool

    Returns
    -------
    outputs : analysis.contracts.EncodingOutputs
        Chosen layer, model, fit settings, per-word errors.
    dataset : WordDataset
        Reopened from the record by value (an error if the data changed since).

    Raises
    ------
    ContractError
        When the encoding chapter has not run (or wrote an older layout).
    """
    from .contracts import EncodingOutputs

    outputs = EncodingOutputs.read(results_dir)
    return outputs, outputs.reopen_dataset(device=device, progress=progress)


@fill_doc
def brain_retest(dataset, base_features, ft_features, n_permutations=10000, seed=0,
                 category=None, q=0.05, layer=None, n_boot=200, **fit_kw):
    """Compare the encoding models of a base and a fine-tuned LM (Methods page, fine-tuning and the brain re-test).

    Parameters
    ----------
    dataset : WordDataset
    base_features : ndarray, shape (n_words, d) | Features | EncodingResult
        The base model's features at the chosen layer, or its encoding result already
        fitted with the same settings (to fit it once for several fine-tuned models;
        :func:`fit_base` records the features' dtype in it).
    ft_features : ndarray, shape (n_words, d) | Features
        The same layer of the fine-tuned model (or of a control).
    layer : int | None
        The layer taken from :class:`~analysis.features.Features` arguments.
    %(n_permutations)s
        The same permutations serve both models.
    %(seed)s
    category : str | None
        Word category (key of ``dataset.categories``) for the error analysis.
    q : float
        False discovery rate (Benjamini–Hochberg over all channel x window tests).
    %(n_boot)s
        Sentences are resampled for the intervals of the percentages better and worse
        (:func:`analysis.stats.bootstrap_better_worse`; 200 took 3.2 s on one thread
        with 5,000 words and 6,120 tests).
    **fit_kw
        Passed to :func:`analysis.encoding.fit_encoding` for both models.

    Returns
    -------
    dict
        ``base``, ``ft`` (:class:`~analysis.encoding.EncodingResult`); ``test`` (from
        :func:`analysis.stats.permutation_r_difference`, arrays (n_windows, n_channels));
        ``classes`` (1 better, -1 worse, 0 same; (n_windows, n_channels)); ``shares``
        (percent better / worse / same per window); ``shares_ci`` (from
        :func:`analysis.stats.bootstrap_better_worse`: intervals of the percentages
        better and worse over all tests, by resampling sentences); ``delta_mse`` ((n_words, n_windows):
        base minus fine-tuned error, both over the BASE model's significant channels, so
        the two errors average the same channels); ``category`` (from
        :func:`analysis.stats.category_ttest` of ``delta_mse`` in percent of the base
        model's mean error in each window, two-sided, its p from the same permutation
        null as the r test, plus ``q``, Benjamini–Hochberg over the windows,
        ``direction`` (+1 the category gains more, -1 it loses more, 0 neither) and
        ``units``; or None).

    Raises
    ------
    ValueError
        When both feature sets record their compute dtype and the dtypes differ (the
        re-test would compare numerical precisions, not models), or a
        :class:`~analysis.features.Features` comes without ``layer``.
    """
    from analysis import encoding, stats

    dtypes = (_features_dtype(base_features), _features_dtype(ft_features))
    if None not in dtypes and dtypes[0] != dtypes[1]:
        raise ValueError(f"brain_retest: the base model's features were computed in "
                         f"{dtypes[0]} and the other model's in {dtypes[1]}; compute both "
                         f"in one dtype (retest_features, dtype={RETEST_DTYPE!r}).")

    def values(features):
        if hasattr(features, "layer") and callable(features.layer):
            if layer is None:
                raise ValueError("brain_retest: Features given without layer=.")
            return features.layer(layer)
        return features

    base = (base_features if isinstance(base_features, encoding.EncodingResult)
            else encoding.fit_encoding(values(base_features), dataset, **fit_kw))
    tuned = encoding.fit_encoding(values(ft_features), dataset, **fit_kw)
    tuned.params["features_dtype"] = dtypes[1]  # a later re-test against this model checks it
    from analysis.datasets import null_design

    null = null_design(dataset)  # permutations that keep the serial dependence
    # Both models predicted each outer fold from the other folds; centring the responses
    # and both predictions within each test fold removes the between-fold term of pooled
    # out-of-fold r (encoding.centre_within_folds), as the encoding chapter's r does.
    # Measured on AR(1) noise targets, 1,000 story words, layer 12 against 13, 200 draws,
    # block null, alpha 0.05 (99 % range 0.015-0.095): false-positive rate 0.18 pooled,
    # 0.095 centred at rho 0; 0.275 and 0.165 at rho 0.8 (still liberal there: the
    # Methods page says so).
    splits = encoding.cv_splits(dataset.n_words, fit_kw.get("n_folds", 10),
                                fit_kw.get("groups"), fit_kw.get("cv"))
    y_c, base_c, tuned_c = (encoding.centre_within_folds(v, splits) for v in
                            (dataset.responses, base.predictions, tuned.predictions))
    test = stats.permutation_r_difference(y_c, base_c, tuned_c, n_permutations, seed=seed,
                                          **null)
    shares_ci = stats.bootstrap_better_worse(y_c, base_c, tuned_c, test, q=q,
                                             groups=dataset.sentence, n_boot=n_boot, seed=seed)
    # (n_windows, n_channels) like EncodingResult; "null" (the scheme used) stays a dict
    test = {k: (v.T if isinstance(v, np.ndarray) else v) for k, v in test.items()}
    classes = stats.better_worse_same(test["p_greater"], test["p_less"], q)
    shares = {name: 100.0 * (classes == v).mean(axis=1)
              for name, v in (("better", 1), ("worse", -1), ("same", 0))}
    mse_base, _ = encoding.word_errors(base.predictions, dataset.responses, base.significant)
    mse_ft, _ = encoding.word_errors(tuned.predictions, dataset.responses, base.significant)
    delta = mse_base - mse_ft
    # in percent of the base model's mean error in each window: a per-window scale, so
    # the t-test per window is unchanged and windows of different error become comparable
    with np.errstate(invalid="ignore", divide="ignore"):
        delta_pct = 100.0 * delta / np.nanmean(mse_base, axis=0)[None, :]
    cat = None
    if category and category in dataset.categories and dataset.categories[category].any():
        cat = stats.category_ttest(delta_pct, dataset.categories[category],
                                   n_permutations=n_permutations, seed=seed, **null)
        cat["units"] = "% of the base model's mean error"
        cat["q"] = stats.fdr_bh(cat["p"], q)[1]  # Benjamini-Hochberg over the windows
        # two-sided: +1 category words gain more than the rest, -1 they lose more
        cat["direction"] = np.where(np.nan_to_num(cat["q"], nan=1) < q, np.sign(cat["t"]), 0)
        cat["category"] = category
    return {"base": base, "ft": tuned, "test": test, "classes": classes, "shares": shares,
            "shares_ci": shares_ci, "delta_mse": delta, "category": cat}


def retest_summary(retest, times):
    """The numbers a chapter reports from one :func:`brain_retest`.

    Parameters
    ----------
    retest : dict
        From :func:`brain_retest`.
    times : ndarray, shape (n_windows,)
        Window starts (ms).

    Returns
    -------
    dict
        ``percent_better``, ``percent_worse`` (over all channel x window tests),
        ``percent_better_ci``, ``percent_worse_ci`` (their 95 % intervals over
        resampled sentences, or None when the re-test has none),
        ``percent_better_per_window``, ``percent_worse_per_window``, ``mean_r_base``,
        ``mean_r_finetuned``, ``category_effect`` (the t-test per window as lists, or
        None), ``category_windows_ms`` (windows where its two-sided q over windows is
        below 0.05 and the category words gain more than the rest),
        ``category_worse_windows_ms`` (q < 0.05, the category words lose more) and
        ``null`` (the permutation scheme and lag-1 autocorrelations of the test).
    """
    classes = retest["classes"]
    cat = retest["category"]
    category, sig_windows, worse_windows = None, [], []
    if cat is not None:
        category = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in cat.items()}
        sig = np.nan_to_num(cat["q"], nan=1) < 0.05
        sig_windows = [float(times[w]) for w in np.flatnonzero(sig & (cat["t"] > 0))]
        worse_windows = [float(times[w]) for w in np.flatnonzero(sig & (cat["t"] < 0))]
    ci = retest.get("shares_ci") or {}
    return {
        "percent_better": float(100 * (classes == 1).mean()),
        "percent_worse": float(100 * (classes == -1).mean()),
        "percent_better_ci": ci.get("percent_better_ci"),
        "percent_worse_ci": ci.get("percent_worse_ci"),
        "percent_better_per_window": retest["shares"]["better"].tolist(),
        "percent_worse_per_window": retest["shares"]["worse"].tolist(),
        "mean_r_base": float(np.nanmean(retest["base"].r)),
        "mean_r_finetuned": float(np.nanmean(retest["ft"].r)),
        "category_effect": category,
        "category_windows_ms": sig_windows,
        "category_worse_windows_ms": worse_windows,
        "null": retest["test"].get("null"),
    }


#: The answers :func:`retest_verdict` gives.
VERDICTS = ("uninformative at this budget", "closer to the brain", "further from the brain",
            "mixed", "no different from the controls", "control")


@dataclass(frozen=True)
class RetestVerdict:
    """What one model's brain re-test says, given what its training did.

    Attributes
    ----------
    model : str
        Display name.
    answer : str
        One of :data:`VERDICTS`.
    learnt : bool
        The held-out accuracy gain's interval lies above 0.
    gain : float
        Held-out accuracy gain over the base model (proportion).
    gain_ci : tuple of float
        Its paired bootstrap interval.
    percent_better, percent_worse : float
        Channel x window tests where the model predicts better / worse than the base.
    percent_better_ci, percent_worse_ci : tuple of float | None
        Their 95 % intervals over resampled sentences.
    null_better, null_worse : float | None
        The same for the null control (the test's rate with extra columns and no
        knowledge); None when it was not run.
    vs_shuffled_better, vs_shuffled_worse : float | None
        Tests where the model predicts better / worse than the shuffled-answer control
        (a direct re-test against it); None when there is no control.
    reason : str
        One sentence that says why.
    """

    model: str
    answer: str
    learnt: bool
    gain: float
    gain_ci: tuple
    percent_better: float
    percent_worse: float
    null_better: float | None = None
    null_worse: float | None = None
    vs_shuffled_better: float | None = None
    vs_shuffled_worse: float | None = None
    reason: str = ""
    percent_better_ci: tuple | None = None
    percent_worse_ci: tuple | None = None

    @property
    def informative(self):
        """Whether the re-test answers the question for this model."""
        return self.answer not in ("uninformative at this budget", "control")


def retest_verdict(model, accuracy, vs_base, null=None, vs_shuffled=None, control=False):
    """The verdict of one model's brain re-test, following the evidence.

    A re-test can only say whether knowledge of a task brings a model closer to the brain
    if the model learnt the task: when the held-out accuracy gain's interval includes 0,
    the answer is "uninformative at this budget", whatever the brain test shows. A model
    that learnt is "closer to the brain" only when it predicts better than the base in
    more channel x window tests than the null control does (a model with extra columns
    and no knowledge) AND better than the shuffled-answer control in at least one test (a
    direct re-test against it: the same training without the knowledge); "further from
    the brain" in the mirror case; "mixed" when both hold; else "no different from the
    controls". Each "better"/"worse" is a test at the false discovery rate of
    :func:`brain_retest` (q < 0.05, Benjamini-Hochberg over all channel x window tests).

    Parameters
    ----------
    model : str
        Display name.
    accuracy : dict
        :meth:`FinetuneResult.accuracy_interval` of the model (``gain``, ``gain_ci``).
    vs_base : dict
        :func:`retest_summary` of the model against the base model.
    null : dict | None
        :func:`retest_summary` of the null control (None: not run; the reference rate is
        then 0 %).
    vs_shuffled : dict | None
        :func:`retest_summary` of the model against the shuffled-answer control (its fit
        as the reference of :func:`brain_retest`); None when there is no control, and
        the verdict then rests on the null control alone (said in ``reason``).
    control : bool
        The model IS the shuffled-answer control: answer "control" (it is a reference).

    Returns
    -------
    RetestVerdict
    """
    lo, hi = (float(v) for v in accuracy["gain_ci"])
    gain = float(accuracy["gain"])
    pb, pw = float(vs_base["percent_better"]), float(vs_base["percent_worse"])
    nb = None if null is None else float(null["percent_better"])
    nw = None if null is None else float(null["percent_worse"])
    sb = None if vs_shuffled is None else float(vs_shuffled["percent_better"])
    sw = None if vs_shuffled is None else float(vs_shuffled["percent_worse"])
    learnt = lo > 0
    gain_txt = f"{100 * gain:+.1f} points (95 % CI {100 * lo:+.1f} to {100 * hi:+.1f})"
    common = dict(model=model, learnt=learnt, gain=gain, gain_ci=(lo, hi),
                  percent_better=pb, percent_worse=pw, null_better=nb, null_worse=nw,
                  vs_shuffled_better=sb, vs_shuffled_worse=sw,
                  percent_better_ci=_ci_tuple(vs_base.get("percent_better_ci")),
                  percent_worse_ci=_ci_tuple(vs_base.get("percent_worse_ci")))
    if control:
        return RetestVerdict(answer="control", reason=(
            f"the shuffled-answer control (accuracy gain {gain_txt}): what the recipe "
            "changes without the task's knowledge"), **common)
    if not learnt:
        return RetestVerdict(answer="uninformative at this budget", reason=(
            f"its held-out accuracy gain, {gain_txt}, does not exclude 0: the training did "
            "not measurably teach the task, so the brain re-test cannot say whether the "
            "task's knowledge helps"), **common)
    closer = pb > (nb or 0.0) and (sb is None or sb > 0)
    further = pw > (nw or 0.0) and (sw is None or sw > 0)
    answer = ("mixed" if closer and further else "closer to the brain" if closer
              else "further from the brain" if further else "no different from the controls")
    refs = (f"better / worse than the base in {percent_text(pb, common['percent_better_ci'])}"
            f" / {percent_text(pw, common['percent_worse_ci'])} of the tests (null "
            + ("control not run" if nb is None else f"control {nb:.1f} / {nw:.1f} %") + ")")
    refs += ("; no shuffled-answer control was run" if sb is None else
             f"; better / worse than the shuffled-answer control in {sb:.1f} / {sw:.1f} %")
    return RetestVerdict(answer=answer, reason=f"it learnt the task (gain {gain_txt}); {refs}",
                         **common)


def _ci_tuple(ci):
    return None if ci is None else tuple(float(v) for v in ci)


def retest_verdicts(dataset, retests, features, accuracy, summaries, layer=None,
                    n_permutations=10000, seed=0, **fit_kw):
    """Verdicts of every fine-tuned model, with its direct re-test against the control.

    Parameters
    ----------
    dataset : WordDataset
    retests : dict of str to dict
        :func:`brain_retest` against the base model, per run (task or
        :data:`SHUFFLED_CONTROL`).
    features : dict of str to Features | ndarray
        Each run's features (as given to :func:`brain_retest`).
    accuracy : dict of str to dict
        :meth:`FinetuneResult.accuracy_interval` per run.
    summaries : dict of str to dict
        :func:`retest_summary` by test name; ``"null control"`` is used when present.
    layer, n_permutations, seed, **fit_kw
        For the re-tests against the shuffled-answer control (:func:`brain_retest`,
        with the control's fit as the reference).

    Returns
    -------
    dict of str to RetestVerdict
    """
    control = retests.get(SHUFFLED_CONTROL)
    out = {}
    for run, rt in retests.items():
        vs_shuffled = None
        if control is not None and run != SHUFFLED_CONTROL:
            direct = brain_retest(dataset, control["ft"], features[run], layer=layer,
                                  n_permutations=n_permutations, seed=seed, **fit_kw)
            vs_shuffled = retest_summary(direct, dataset.times)
        out[run] = retest_verdict(TASK_NAMES.get(run, run), accuracy[run],
                                  retest_summary(rt, dataset.times),
                                  null=summaries.get("null control"), vs_shuffled=vs_shuffled,
                                  control=run == SHUFFLED_CONTROL)
    return out


def verdict_table(verdicts):
    """The verdicts as a table, one row per model.

    Parameters
    ----------
    verdicts : dict of str to RetestVerdict

    Returns
    -------
    pandas.DataFrame
        Verdict, learnt, gain with interval, % better / worse than the base, the null
        control and the shuffled-answer control, and the reason.
    """
    import pandas as pd

    def pair(b, w):
        return "n/a" if b is None else f"{b:.1f} / {w:.1f}"

    return pd.DataFrame({v.model: {
        "verdict": v.answer, "learnt (gain CI > 0)": v.learnt,
        "gain (points)": f"{100 * v.gain:+.1f} [{100 * v.gain_ci[0]:+.1f}, "
                         f"{100 * v.gain_ci[1]:+.1f}]",
        "% better than base [95 % CI]": _bracket(v.percent_better, v.percent_better_ci),
        "% worse than base [95 % CI]": _bracket(v.percent_worse, v.percent_worse_ci),
        "null control vs base": pair(v.null_better, v.null_worse),
        "% better / worse than shuffled control": pair(v.vs_shuffled_better,
                                                       v.vs_shuffled_worse),
        "why": v.reason} for v in verdicts.values()}).T


def _bracket(value, ci):
    """``"1.2 [0.8, 1.9]"`` (a table cell), or the value alone without an interval."""
    return f"{value:.1f}" if ci is None else f"{value:.1f} [{ci[0]:.1f}, {ci[1]:.1f}]"


def _windows_text(summary, none="no window"):
    """Windows of a category effect: gains as "300, 325 ms", losses marked "(... worse)"."""
    parts = [", ".join(f"{t:g}" for t in wins) + " ms" + label
             for wins, label in ((summary["category_windows_ms"], ""),
                                 (summary.get("category_worse_windows_ms", []),
                                  " (category words worse)")) if wins]
    return "; ".join(parts) or none


def retest_texts(summaries, tasks=tuple(TASK_NAMES)):
    """The short texts a chapter shows for the controls and the fine-tuned models.

    Parameters
    ----------
    summaries : dict of str to dict
        :func:`retest_summary` per test, keyed ``"positive control"``, ``"null control"``
        and ``"fine-tuned on <task name>"`` (:data:`TASK_NAMES`); missing tests give
        ``"n/a"``.
    tasks : sequence of str

    Returns
    -------
    dict of str to str
        ``pos_better``, ``pos_worse``, ``pos_cat``, ``null_*`` (percent of channel x
        window tests with its interval, as :func:`analysis.display.percent_text`
        writes it; category windows) and ``better_<task>``, ``worse_<task>``, ``cat_sig_<task>``.
    """
    out = {}
    rows = [("pos", "positive control"), ("null", "null control")]
    rows += [((t, "task"), f"fine-tuned on {TASK_NAMES[t]}") for t in tasks]
    for key, name in rows:
        v = summaries.get(name)
        if isinstance(key, tuple):
            names = (f"better_{key[0]}", f"worse_{key[0]}", f"cat_sig_{key[0]}")
            none = "none"
        else:
            names = (f"{key}_better", f"{key}_worse", f"{key}_cat")
            none = "no window"
        if v is None:
            out.update(dict.fromkeys(names, "n/a"))
        else:
            out.update(zip(names, (percent_text(v["percent_better"], v.get("percent_better_ci")),
                                   percent_text(v["percent_worse"], v.get("percent_worse_ci")),
                                   _windows_text(v, none))))
    return out


def accuracy_table(accuracy, runs):
    """Held-out accuracy before and after fine-tuning, one row per task.

    Parameters
    ----------
    accuracy : dict of str to dict
        :meth:`FinetuneResult.accuracy_interval` per task.
    runs : dict of str to FinetuneResult

    Returns
    -------
    pandas.DataFrame
        Items, chance, base and fine-tuned accuracy with 95 % Wilson intervals and the
        paired-bootstrap gain interval (in percentage points), for the summed score and (``per token``
        columns) the length-normalised one; the pick-the-shorter-option baseline with its
        Wilson interval; the training time (s). "n/a" where a record lacks a score.
    """
    import pandas as pd

    def ci(v, lo, hi, sign=""):
        return f"{v:{sign}.3f} [{lo:{sign}.3f}, {hi:{sign}.3f}]"

    def points(v, lo, hi):  # accuracy gains in percentage points, as everywhere in the book
        return f"{100 * v:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"

    def row(t, a):
        out = {"held-out items": a["n"], "chance": round(a["chance"], 3)}
        for suffix, s in (("", a), (" (per token)", a.get("per_token"))):
            out.update({f"base{suffix}": ci(s["base"], *s["base_ci"]) if s else "n/a",
                        f"fine-tuned{suffix}": ci(s["fine_tuned"], *s["ci"]) if s else "n/a",
                        f"gain, points{suffix}": points(s["gain"], *s["gain_ci"]) if s else "n/a"})
        short = a.get("shorter")
        out["shorter option"] = ci(short["accuracy"], *short["ci"]) if short else "n/a"
        out["training (s)"] = round(runs[t].seconds, 1)
        return out

    return pd.DataFrame({TASK_NAMES.get(t, t): row(t, a) for t, a in accuracy.items()}).T


def task_table(data):
    """The fine-tuning data of each task, one row per task.

    Parameters
    ----------
    data : dict of str to tuple
        :func:`task_data` per task: ``(train, held_out, info)``.

    Returns
    -------
    pandas.DataFrame
        Source, split, training and held-out items and chance accuracy, by task name.
    """
    import pandas as pd

    return pd.DataFrame([{"task": TASK_NAMES.get(t, t), "source": info["source"],
                          "split": info["split"], "train items": info["n_train"],
                          "held-out items": info["n_eval"], "chance": f"{info['chance']:.2f}"}
                         for t, (_, _, info) in data.items()]).set_index("task")


def example_markdown(task, item):
    """One item as markdown, the correct option in bold; item text is escaped.

    Parameters
    ----------
    task : str
    item : MCItem

    Returns
    -------
    str
    """
    from .display import escape_markdown

    options = "; ".join(f"**{escape_markdown(o)}**" if i == item.label else escape_markdown(o)
                        for i, o in enumerate(item.options))
    return (f"Example ({TASK_NAMES.get(task, task)}): *{escape_markdown(item.question)}* — "
            f"options: {options}")


def train_all(data, recipe, control=False):
    """Fine-tune one model per task, and the shuffled-answer control when asked.

    Parameters
    ----------
    data : dict of str to tuple
        :func:`task_data` per task.
    recipe : dict
        Keyword arguments of :func:`finetune` shared by every run (model, epochs, lr, ...).
    control : bool
        Also train on the Social IQa items with their answers shuffled (same items and
        budget): the reference a knowledge model must beat (:data:`SHUFFLED_CONTROL`).

    Returns
    -------
    dict of str to FinetuneResult
        By task, and :data:`SHUFFLED_CONTROL` for the control.
    """
    runs = {task: finetune(task, train, held, data_info=info, **recipe)
            for task, (train, held, info) in data.items()}
    if control and "siqa" in data:
        train, held, info = data["siqa"]
        runs[SHUFFLED_CONTROL] = finetune("siqa", train, held, data_info=info,
                                          label_shuffle=True, **recipe)
    return runs


def training_texts(data, runs, accuracy, lr, epochs, batch_size, eval_every, lora, lora_rank):
    """The texts the fine-tuning chapter glues into its prose about training.

    Parameters
    ----------
    data : dict of str to tuple
        :func:`task_data` per task.
    runs : dict of str to FinetuneResult
    accuracy : dict of str to dict
        :meth:`FinetuneResult.accuracy_interval` per run.
    lr, epochs, batch_size, eval_every, lora, lora_rank
        The recipe's settings.

    Returns
    -------
    dict of str to str
        ``lr``, ``epochs``, ``n_train_txt``, ``batch``, ``eval_every_txt``, ``mode``,
        ``reused_txt``; ``acc0_<run>``, ``acc_<run>``, ``gain_<run>`` (gain in percentage
        points with its interval) for Social IQa, PIQA and the control, ``"n/a (not run)"``
        for those not run.
    """
    out = {"lr": f"{lr:g}", "epochs": str(epochs),
           "n_train_txt": ", ".join(f"{info['n_train']:,} ({TASK_NAMES.get(t, t)})"
                                    for t, (_, _, info) in data.items()),
           "batch": str(batch_size),
           "eval_every_txt": f"{eval_every:,}" if eval_every else "epoch's",
           "mode": (f"LoRA adapters of rank {lora_rank} on every linear layer (merged before "
                    "saving)" if lora else "all weights trained"),
           "reused_txt": ("The checkpoints were read from the cache (no training in this run)."
                          if runs and all(r.reused for r in runs.values()) else "")}
    for run in ("siqa", "piqa", SHUFFLED_CONTROL):
        a = accuracy.get(run)
        if a is None:
            out.update({f"{k}_{run}": "n/a (not run)" for k in ("acc0", "acc", "gain")})
            continue
        out[f"acc0_{run}"] = f"{a['base']:.3f}"
        out[f"acc_{run}"] = f"{a['fine_tuned']:.3f}"
        out[f"gain_{run}"] = (f"{100 * a['gain']:+.1f} points ({100 * a['gain_ci'][0]:+.1f} "
                              f"to {100 * a['gain_ci'][1]:+.1f})")
    return out


def retest_table(summaries):
    """The re-tests side by side, one row per test.

    Parameters
    ----------
    summaries : dict of str to dict
        :func:`retest_summary` by test name.

    Returns
    -------
    pandas.DataFrame
        Percent better and worse (with intervals), mean r of both models, and the windows
        where the category words gain or lose more (q < 0.05).
    """
    import pandas as pd

    from .display import percent_text

    def windows(ms):
        return ", ".join(f"{t:g}" for t in ms) or "none"

    return pd.DataFrame({name: {
        "better (of all tests)": percent_text(v["percent_better"], v["percent_better_ci"]),
        "worse (of all tests)": percent_text(v["percent_worse"], v["percent_worse_ci"]),
        "mean r base": v["mean_r_base"], "mean r model": v["mean_r_finetuned"],
        "category better (q < 0.05)": windows(v["category_windows_ms"]),
        "category worse (q < 0.05)": windows(v["category_worse_windows_ms"])}
        for name, v in summaries.items()}).T


def power_note(powers):
    """One sentence per re-test on what it could detect (for a chapter's prose).

    Parameters
    ----------
    powers : dict of str to dict
        :func:`analysis.power.retest_power` by task.

    Returns
    -------
    str
        ``"n/a"`` when there is none.
    """
    parts = []
    for task, p in powers.items():
        name = TASK_NAMES.get(task, task)
        text = f"{name}, Δr per test: {p['r']['sentence']}"
        if p["category"] is not None:
            text += f"; {name}, category effect per window: {p['category']['sentence']}"
        parts.append(text)
    return "; ".join(parts) or "n/a"


def finetuned_for_later(runs, base_model, layer):
    """The :class:`~analysis.contracts.FinetunedModels` later chapters read.

    Parameters
    ----------
    runs : dict of str to FinetuneResult
        Keyed by task, or :data:`SHUFFLED_CONTROL` for the shuffled-answer control.
    base_model : str
    layer : int

    Returns
    -------
    analysis.contracts.FinetunedModels
        One entry per run, with ``task`` (the task trained on), ``name`` (for display)
        and ``control`` (``"shuffled answers"`` for the control, else None).
    """
    from .contracts import FinetunedModels

    models = {}
    for run, res in runs.items():
        shuffled = bool(res.params.get("label_shuffle"))
        models[run] = {"model_dir": res.model_dir, "accuracy": res.final_accuracy,
                       "accuracy_base": res.accuracy[0]["accuracy"],
                       "n_eval": int(res.params["n_eval"]), "chance": res.chance,
                       "category": CATEGORY_OF_TASK[run], "params": res.params,
                       "task": res.task, "name": TASK_NAMES.get(run, run),
                       "control": "shuffled answers" if shuffled else None}
    return FinetunedModels(str(base_model), int(layer), models)


# ------------------------------------------------------------------------------- CLI
def main(argv=None):
    """``python -m analysis.finetune`` (or ``accelerate launch -m analysis.finetune``)."""
    ap = argparse.ArgumentParser(prog="python -m analysis.finetune",
                                 description="Multiple-choice fine-tuning (Methods page, fine-tuning and the brain re-test).")
    ap.add_argument("--task", choices=sorted(TASKS), required=True)
    ap.add_argument("--model", default="default")
    ap.add_argument("--source", default="auto", choices=["auto", "official", "demo", "hf"])
    ap.add_argument("--data", default=None, help="official files (zip or folder)")
    ap.add_argument("--n-train", type=int, default=0, help="0 = all")
    ap.add_argument("--n-eval", type=int, default=0, help="0 = all")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--grad-accum", type=int, default=1)
    ap.add_argument("--lora", action="store_true")
    ap.add_argument("--lora-rank", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--bf16", action="store_true", default=None)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--label-shuffle", action="store_true",
                    help="the shuffled-answer control (answers permuted across items)")
    a = ap.parse_args(argv)
    train, held, info = task_data(a.task, a.source, a.data, a.n_train, a.n_eval, a.seed)
    print(f"{a.task}: {info['split']}; training on {len(train)}, evaluating on {len(held)}",
          file=sys.stderr)
    res = finetune(a.task, train, held, model=a.model, epochs=a.epochs, lr=a.lr,
                   batch_size=a.batch_size, grad_accum=a.grad_accum, lora=a.lora,
                   lora_rank=a.lora_rank, max_length=a.max_length, seed=a.seed,
                   device=a.device, bf16=a.bf16, cache_dir=a.cache_dir, data_info=info,
                   label_shuffle=a.label_shuffle)
    if res is not None:
        print(json.dumps(asdict(res), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
