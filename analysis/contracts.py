"""What one chapter hands to the next: one typed reader/writer pair per file.

A later chapter never guesses a file name or another chapter's parameter: it reads one
of these records, and a missing file or field is a clear error that says which chapter
to run.

========================  ====================================  =========================
record                    file(s) in ``results_dir``            written by -> read by
========================  ====================================  =========================
:class:`EncodingOutputs`  ``encoding_outputs.npz``              encoding -> hypotheses,
                                                                fine-tuning, real data,
                                                                models
:class:`HypothesisResults` ``hypotheses_sentences.csv``,         hypotheses -> human
                          ``hypotheses_table.csv``,             validation
                          ``hypotheses_scores.csv``,
                          ``hypotheses_contract.json``
:class:`FinetunedModels`  ``finetuned_models.json``             fine-tuning -> real data,
                                                                models
========================  ====================================  =========================

The dataset a later chapter reopens is the one the encoding chapter used, recorded by
value (:class:`analysis.datasets.DatasetRecord`), never re-derived from parameter names.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ._utils import DataError, atomic_savez, atomic_write, atomic_write_json, json_default

__all__ = ["EncodingOutputs", "HypothesisResults", "FinetunedModels", "ContractError",
           "ENCODING_FILE", "HYPOTHESIS_FILES", "FINETUNED_FILE"]

ENCODING_FILE = "encoding_outputs.npz"
HYPOTHESIS_FILES = {"sentences": "hypotheses_sentences.csv", "table": "hypotheses_table.csv",
                    "scores": "hypotheses_scores.csv", "meta": "hypotheses_contract.json"}
FINETUNED_FILE = "finetuned_models.json"


class ContractError(DataError, FileNotFoundError):
    """A file handed between chapters is missing or lacks a field.

    It is both a :class:`~analysis._utils.DataError` and a ``FileNotFoundError`` so that
    callers may catch either.
    """


def _missing(path, chapter):
    return ContractError(f"{path} not found: run the {chapter} chapter first "
                         f"(python -m analysis.run --only {chapter} with the same profile "
                         "and results_dir).")


def _require(mapping, keys, path, chapter):
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise ContractError(f"{path}: field(s) {missing} missing; expected the file written by "
                            f"the {chapter} chapter of this version. Re-run that chapter.")


# --------------------------------------------------------------------------- encoding
@dataclass
class EncodingOutputs:
    """The encoding chapter's chosen model, its per-word errors and how to redo it.

    Attributes
    ----------
    dataset : dict
        :meth:`analysis.datasets.DatasetRecord.to_dict` of the data fitted.
    model : str
        Language model (as named in the chapter's parameters).
    model_identity : str
        :attr:`analysis.lm.ModelSpec.identity` of that model.
    layer : int
        Chosen layer (hidden-state index).
    fit : dict
        Settings every later fit must reuse: ``n_folds``, ``n_inner``, ``p_threshold``,
        ``cv_groups`` (None or a grouping name), ``alphas`` (the grid).
    window : list of float | None
        Window of interest in ms (``None``: every window).
    channels : list of str
        Channels of interest for the per-word errors.
    words : list of str
    sentence : ndarray of int, shape (n_words,)
    times : ndarray, shape (n_windows,)
    ch_names : list of str
    mse, cosine : ndarray, shape (n_words, n_windows)
        Per-word errors: MSE over the significant channels of interest of each window
        (NaN where none), cosine similarity over all channels.
    r, p : ndarray, shape (n_windows, n_channels)
    significant : ndarray of bool, shape (n_windows, n_channels)
    """

    dataset: dict
    model: str
    model_identity: str
    layer: int
    fit: dict
    window: list | None
    channels: list
    words: list
    sentence: np.ndarray
    times: np.ndarray
    ch_names: list
    mse: np.ndarray
    cosine: np.ndarray
    r: np.ndarray
    p: np.ndarray
    significant: np.ndarray

    _ARRAYS = ("sentence", "times", "mse", "cosine", "r", "p", "significant")
    _META = ("dataset", "model", "model_identity", "layer", "fit", "window", "channels",
             "words", "ch_names")
    _FIT = ("n_folds", "n_inner", "p_threshold", "cv_groups", "alphas")

    def __post_init__(self):
        n, w, c = len(self.words), len(self.times), len(self.ch_names)
        self.sentence = np.asarray(self.sentence, dtype=np.int64)
        self.significant = np.asarray(self.significant, dtype=bool)
        for name, shape in (("sentence", (n,)), ("mse", (n, w)), ("cosine", (n, w)),
                            ("r", (w, c)), ("p", (w, c)), ("significant", (w, c))):
            if np.shape(getattr(self, name)) != shape:
                raise ContractError(f"encoding outputs: '{name}' has shape "
                                    f"{np.shape(getattr(self, name))}; expected {shape}.")
        _require(self.fit, self._FIT, "encoding outputs 'fit'", "encoding")

    def write(self, results_dir):
        """Write ``encoding_outputs.npz`` atomically; returns its path."""
        path = Path(results_dir) / ENCODING_FILE
        meta = {k: getattr(self, k) for k in self._META}
        arrays = {k: np.asarray(getattr(self, k)) for k in self._ARRAYS}
        atomic_savez(path, meta=np.array(json.dumps(meta, default=json_default)), **arrays)
        return path

    @classmethod
    def read(cls, results_dir):
        """Read what :meth:`write` wrote.

        Raises
        ------
        ContractError
            Missing file or field (run the encoding chapter).
        """
        path = Path(results_dir) / ENCODING_FILE
        if not path.is_file():
            raise _missing(path, "encoding")
        try:
            with np.load(path, allow_pickle=False) as npz:
                files = set(npz.files)
                _require(files, ("meta",) + cls._ARRAYS, path, "encoding")
                meta = json.loads(str(npz["meta"]))
                arrays = {k: npz[k] for k in cls._ARRAYS}
        except (OSError, ValueError) as err:
            raise ContractError(f"{path}: unreadable ({err}); re-run the encoding chapter.") from None
        _require(meta, cls._META, path, "encoding")
        return cls(**meta, **arrays)

    def reopen_dataset(self, **runtime):
        """The very dataset that was fitted (:meth:`analysis.datasets.DatasetRecord.reopen`)."""
        from .datasets import DatasetRecord

        return DatasetRecord.from_dict(self.dataset, "encoding outputs").reopen(**runtime)

    def fit_kwargs(self, dataset=None, backend="numpy"):
        """Keyword arguments for :func:`analysis.encoding.fit_encoding` that repeat this fit.

        Parameters
        ----------
        dataset : WordDataset | None
            Supplies the CV groups when ``fit["cv_groups"]`` names one.
        backend : str
        """
        kw = {"n_folds": self.fit["n_folds"], "n_inner": self.fit["n_inner"],
              "p_threshold": self.fit["p_threshold"], "backend": backend,
              "alphas": np.asarray(self.fit["alphas"])}
        if self.fit["cv_groups"] and dataset is not None:
            kw["groups"] = dataset.group_labels(self.fit["cv_groups"])
        return kw


# --------------------------------------------------------------------------- hypotheses
@dataclass
class HypothesisResults:
    """The hypothesis chapter's sentences, hypothesis table and verifier scores.

    Attributes
    ----------
    sentences : pandas.DataFrame
        ``sentence_id, text, score, group, role`` (group: divergent | convergent; role:
        proposal | research | validation).
    table : pandas.DataFrame
        ``rank, hypothesis, proposer, domain, V, t, p, q, significant, V_validation,
        p_validation, q_validation``; sorted by rank.
    scores : pandas.DataFrame
        Long format ``hypothesis, sentence_id, score``.
    meta : dict
        ``dataset`` (record), ``window``, ``n_group``, ``proposer``, ``verifier``,
        ``development_fixture`` (True only for test fixtures).
    """

    sentences: object
    table: object
    scores: object
    meta: dict = field(default_factory=dict)

    COLUMNS = {
        "sentences": ["sentence_id", "text", "score", "group", "role"],
        "table": ["rank", "hypothesis", "proposer", "domain", "V", "p", "q", "significant",
                  "V_validation", "p_validation", "q_validation"],
        "scores": ["hypothesis", "sentence_id", "score"],
    }

    def __post_init__(self):
        for key, cols in self.COLUMNS.items():
            frame = getattr(self, key)
            missing = [c for c in cols if c not in frame.columns]
            if missing:
                raise ContractError(f"hypothesis results: {key} lack column(s) {missing}; "
                                    f"expected at least {cols}.")
        bad = sorted(set(self.sentences["group"]) - {"divergent", "convergent"})
        if bad:
            raise ContractError(f"hypothesis results: column 'group' holds {bad}; expected "
                                "'divergent' or 'convergent'.")
        bad = sorted(set(self.sentences["role"]) - {"proposal", "research", "validation"})
        if bad:
            raise ContractError(f"hypothesis results: column 'role' holds {bad}; expected "
                                "'proposal', 'research' or 'validation'.")

    def __iter__(self):
        """``sentences, table, scores = results`` unpacks the three tables."""
        return iter((self.sentences, self.table, self.scores))

    def write(self, results_dir):
        """Write the three CSVs and the JSON atomically; returns their paths."""
        results_dir = Path(results_dir)
        paths = {}
        for key in ("sentences", "table", "scores"):
            paths[key] = results_dir / HYPOTHESIS_FILES[key]
            frame = getattr(self, key)
            atomic_write(paths[key], lambda tmp, f=frame: f.to_csv(tmp, index=False))
        paths["meta"] = results_dir / HYPOTHESIS_FILES["meta"]
        atomic_write_json(paths["meta"], self.meta)
        return paths

    @classmethod
    def read(cls, results_dir):
        """Read what :meth:`write` wrote.

        Raises
        ------
        ContractError
            Naming the missing file or column (run the hypothesis chapter).
        """
        import pandas as pd

        results_dir = Path(results_dir)
        frames = {}
        for key in ("sentences", "table", "scores"):
            path = results_dir / HYPOTHESIS_FILES[key]
            if not path.is_file():
                raise _missing(path, "hypotheses")
            frames[key] = pd.read_csv(path)
        meta_path = results_dir / HYPOTHESIS_FILES["meta"]
        if not meta_path.is_file():
            raise _missing(meta_path, "hypotheses")
        meta = json.loads(meta_path.read_text())
        table = frames["table"]
        if "significant" in table.columns:
            table["significant"] = table["significant"].astype(bool)
        if "rank" in table.columns:
            frames["table"] = table.sort_values("rank").reset_index(drop=True)
        return cls(frames["sentences"], frames["table"], frames["scores"], meta)


# --------------------------------------------------------------------------- fine-tuning
@dataclass
class FinetunedModels:
    """The fine-tuned checkpoints of the fine-tuning chapter and what they scored.

    Attributes
    ----------
    base_model : str
        The model that was fine-tuned (as named in the parameters).
    layer : int
        The encoding chapter's layer used for the brain re-test.
    models : dict of str to dict
        Per run: ``model_dir`` (a Hugging Face folder), ``accuracy`` (held-out, of the
        kept checkpoint), ``accuracy_base``, ``n_eval``, ``chance``, ``category`` (the
        word category the task targets), ``params``; written since the shuffled-answer
        control also ``task`` (the task trained on), ``name`` (for display) and
        ``control`` (None, or ``"shuffled answers"``). Runs are keyed by task
        (``"siqa"``, ``"piqa"``) and ``"siqa_shuffled"`` for the control: Social IQa's
        items, recipe and budget with the answers permuted across items
        (:data:`analysis.finetune.SHUFFLED_CONTROL`).
    """

    base_model: str
    layer: int
    models: dict

    _TASK_FIELDS = ("model_dir", "accuracy", "accuracy_base", "n_eval", "chance", "category")

    def __post_init__(self):
        for task, rec in self.models.items():
            _require(rec, self._TASK_FIELDS, f"fine-tuned model {task!r}", "finetuning")

    def write(self, results_dir):
        """Write ``finetuned_models.json`` atomically; returns its path."""
        path = Path(results_dir) / FINETUNED_FILE
        atomic_write_json(path, asdict(self))
        return path

    @classmethod
    def read(cls, results_dir):
        """Read what :meth:`write` wrote.

        Raises
        ------
        ContractError
            Missing file or field, or a checkpoint folder that no longer exists.
        """
        path = Path(results_dir) / FINETUNED_FILE
        if not path.is_file():
            raise _missing(path, "finetuning")
        data = json.loads(path.read_text())
        _require(data, ("base_model", "layer", "models"), path, "finetuning")
        out = cls(data["base_model"], int(data["layer"]), dict(data["models"]))
        for task, rec in out.models.items():
            if not (Path(rec["model_dir"]) / "config.json").is_file():
                raise ContractError(f"{path}: the {task} checkpoint {rec['model_dir']} is gone "
                                    "(cache cleared?); re-run the finetuning chapter.")
        return out
