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
:class:`RealDataLayer`    ``real_data_layer.json``              real data -> models
========================  ====================================  =========================

A layer is decided once per chain, by a selection-aware rule (the layer chosen inside the
outer folds, :func:`analysis.encoding.nested_layer_choice`), and handed on with how it was
made (``layer_decision`` of :class:`EncodingOutputs`, :class:`RealDataLayer`); a later
chapter uses it rather than choosing again.

The dataset a later chapter reopens is the one the encoding chapter used, recorded by
value (:class:`analysis.datasets.DatasetRecord`), never re-derived from parameter names.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from ._utils import ContractError, atomic_savez, atomic_write, atomic_write_json, json_default

__all__ = ["EncodingOutputs", "HypothesisResults", "FinetunedModels", "RealDataLayer",
           "ContractError", "ENCODING_FILE", "HYPOTHESIS_FILES", "FINETUNED_FILE",
           "REAL_DATA_LAYER_FILE", "ENCODING_TARGET_AXES"]

ENCODING_FILE = "encoding_outputs.npz"
HYPOTHESIS_FILES = {"sentences": "hypotheses_sentences.csv", "table": "hypotheses_table.csv",
                    "scores": "hypotheses_scores.csv", "meta": "hypotheses_contract.json"}
FINETUNED_FILE = "finetuned_models.json"
REAL_DATA_LAYER_FILE = "real_data_layer.json"
#: Axis order of the per-target arrays (``r``, ``p``, ``significant``) in
#: ``encoding_outputs.npz``: the responses' target axes. A file without this field was
#: written with (n_windows, n_channels) and is read transposed.
ENCODING_TARGET_AXES = "n_channels, n_windows"


def _missing(path, chapter):
    return ContractError(f"{path} not found: run the {chapter} chapter first "
                         f"(python -m analysis.run --only {chapter} with the same profile "
                         "and results_dir).")


def _read_json(results_dir, name, keys, chapter):
    """``(path, data)`` of a JSON record, with a missing file or field named."""
    path = Path(results_dir) / name
    if not path.is_file():
        raise _missing(path, chapter)
    data = _load_json_object(path, chapter)
    _require(data, keys, path, chapter)
    return path, data


def _write_json(record, results_dir, name):
    """Write a dataclass record as JSON atomically; returns its path."""
    path = Path(results_dir) / name
    atomic_write_json(path, asdict(record))
    return path


def _require(mapping, keys, path, chapter):
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise ContractError(f"{path}: field(s) {missing} missing; expected the file written by "
                            f"the {chapter} chapter of this version. Re-run that chapter.")


def _load_json_object(path, chapter):
    """A JSON object file handed between chapters; a damaged one names the file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ContractError(f"{path}: not valid JSON ({err}); expected the file written by the "
                            f"{chapter} chapter. Re-run that chapter.") from None
    if not isinstance(data, dict):
        raise ContractError(f"{path}: holds a JSON {type(data).__name__}; expected an object "
                            f"written by the {chapter} chapter. Re-run that chapter.")
    return data


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
        Chosen layer (hidden-state index): the chain's one layer decision.
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
    r, p : ndarray, shape (n_channels, n_windows)
    significant : ndarray of bool, shape (n_channels, n_windows)
    layer_decision : dict
        How ``layer`` was decided (:meth:`analysis.encoding.LayerSweep.layer_decision`):
        ``layer`` (equal to the attribute), ``rule`` in words, ``fold_layers`` (the
        layer chosen in each outer fold, or None) and ``sweep_argmax`` (the sweep's
        peak, a description only).
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
    layer_decision: dict = field(default_factory=dict)

    _ARRAYS = ("sentence", "times", "mse", "cosine", "r", "p", "significant")
    _META = ("dataset", "model", "model_identity", "layer", "fit", "window", "channels",
             "words", "ch_names", "layer_decision")
    _DECISION = ("layer", "rule", "fold_layers", "sweep_argmax")
    _FIT = ("n_folds", "n_inner", "p_threshold", "cv_groups", "alphas")

    def __post_init__(self):
        n, w, c = len(self.words), len(self.times), len(self.ch_names)
        self.sentence = np.asarray(self.sentence, dtype=np.int64)
        self.significant = np.asarray(self.significant, dtype=bool)
        for name, shape in (("sentence", (n,)), ("mse", (n, w)), ("cosine", (n, w)),
                            ("r", (c, w)), ("p", (c, w)), ("significant", (c, w))):
            if np.shape(getattr(self, name)) != shape:
                raise ContractError(f"encoding outputs: '{name}' has shape "
                                    f"{np.shape(getattr(self, name))}; expected {shape}.")
        _require(self.fit, self._FIT, "encoding outputs 'fit'", "encoding")
        _require(self.layer_decision, self._DECISION, "encoding outputs 'layer_decision'",
                 "encoding")
        if int(self.layer_decision["layer"]) != int(self.layer):
            raise ContractError(f"encoding outputs: layer {self.layer} but layer_decision "
                                f"says {self.layer_decision['layer']}; expected the same layer.")

    def write(self, results_dir):
        """Write ``encoding_outputs.npz`` atomically; returns its path."""
        path = Path(results_dir) / ENCODING_FILE
        meta = {k: getattr(self, k) for k in self._META}
        arrays = {k: np.asarray(getattr(self, k)) for k in self._ARRAYS}
        atomic_savez(path, meta=np.array(json.dumps(meta, default=json_default)),
                     target_axes=np.array(ENCODING_TARGET_AXES), **arrays)
        return path

    @classmethod
    def read(cls, results_dir):
        """Read what :meth:`write` wrote.

        A file written before the per-target arrays took the responses' axis order (no
        ``target_axes`` field; ``r``, ``p``, ``significant`` as (n_windows, n_channels))
        is read with those arrays transposed.

        Raises
        ------
        ContractError
            Missing file or field (run the encoding chapter), or a ``target_axes`` other
            than :data:`ENCODING_TARGET_AXES`.
        """
        path = Path(results_dir) / ENCODING_FILE
        if not path.is_file():
            raise _missing(path, "encoding")
        key = None
        try:
            with np.load(path, allow_pickle=False) as npz:
                files = set(npz.files)
                _require(files, ("meta",) + cls._ARRAYS, path, "encoding")
                key = "meta"
                meta = json.loads(str(npz["meta"]))
                arrays = {}
                for key in cls._ARRAYS:
                    arrays[key] = npz[key]
                key = "target_axes"
                axes = str(npz[key]) if key in files else None
        except ContractError:
            raise
        except Exception as err:  # zip, CRC, truncation, JSON: any read failure is a bad file
            field_ = f" field '{key}'" if key else ""
            raise ContractError(f"{path}:{field_} unreadable ({type(err).__name__}: {err}); "
                                "expected the file written by the encoding chapter. Re-run "
                                "that chapter.") from None
        if not isinstance(meta, dict):
            raise ContractError(f"{path}: field 'meta' is {type(meta).__name__}; expected a "
                                "JSON object written by the encoding chapter. Re-run that "
                                "chapter.")
        _require(meta, cls._META, path, "encoding")
        if axes is None:  # the earlier layout: (n_windows, n_channels)
            arrays.update({k: np.asarray(arrays[k]).T for k in ("r", "p", "significant")})
        elif axes != ENCODING_TARGET_AXES:
            raise ContractError(f"{path}: field 'target_axes' is {axes!r}; expected "
                                f"{ENCODING_TARGET_AXES!r} (the file written by the encoding "
                                "chapter of this version). Re-run that chapter.")
        try:
            return cls(**{k: meta[k] for k in cls._META}, **arrays)
        except ContractError as err:
            raise ContractError(f"{path}: {err} Re-run the encoding chapter.") from None

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
        ``sentence_id, text, score, set, role`` (set: divergent | convergent; role:
        proposal | research | validation).
    table : pandas.DataFrame
        ``rank, hypothesis, proposer, domain, V, t, p, q, significant, V_validation,
        p_validation, q_validation``; sorted by rank.
    scores : pandas.DataFrame
        Long format ``hypothesis, sentence_id, score``.
    meta : dict
        ``dataset`` (record), ``window``, ``n_per_set``, ``proposer``, ``verifier``,
        ``development_fixture`` (True only for test fixtures).
    """

    sentences: object
    table: object
    scores: object
    meta: dict = field(default_factory=dict)

    COLUMNS = {
        "sentences": ["sentence_id", "text", "score", "set", "role"],
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
        bad = sorted(set(self.sentences["set"]) - {"divergent", "convergent"})
        if bad:
            raise ContractError(f"hypothesis results: column 'set' holds {bad}; expected "
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
            try:
                frames[key] = pd.read_csv(path)
            except (ValueError, UnicodeDecodeError) as err:  # empty or malformed CSV
                raise ContractError(f"{path}: unreadable ({type(err).__name__}: {err}); "
                                    "expected the CSV written by the hypotheses chapter. "
                                    "Re-run that chapter.") from None
        meta_path = results_dir / HYPOTHESIS_FILES["meta"]
        if not meta_path.is_file():
            raise _missing(meta_path, "hypotheses")
        meta = _load_json_object(meta_path, "hypotheses")
        # files written before the sentence sets' column was renamed call it "group"; the
        # survey of the human-validation chapter may be analysed against such files
        sentences = frames["sentences"]
        if "group" in sentences.columns and "set" not in sentences.columns:
            frames["sentences"] = sentences.rename(columns={"group": "set"})
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
        return _write_json(self, results_dir, FINETUNED_FILE)

    @classmethod
    def read(cls, results_dir):
        """Read what :meth:`write` wrote.

        Raises
        ------
        ContractError
            Missing file or field, or a checkpoint folder that no longer exists.
        """
        path, data = _read_json(results_dir, FINETUNED_FILE, ("base_model", "layer", "models"),
                                "finetuning")
        if not isinstance(data["models"], dict) or not all(
                isinstance(rec, dict) for rec in data["models"].values()):
            raise ContractError(f"{path}: field 'models' is not a mapping of task to record; "
                                "expected the file written by the finetuning chapter. Re-run "
                                "that chapter.")
        try:
            layer = int(data["layer"])
        except (TypeError, ValueError):
            raise ContractError(f"{path}: field 'layer' is {data['layer']!r}; expected an "
                                "integer. Re-run the finetuning chapter.") from None
        out = cls(data["base_model"], layer, dict(data["models"]))
        for task, rec in out.models.items():
            if not (Path(rec["model_dir"]) / "config.json").is_file():
                raise ContractError(f"{path}: the {task} checkpoint {rec['model_dir']} is gone "
                                    "(cache cleared?); re-run the finetuning chapter.")
        return out


# --------------------------------------------------------------------------- real data
@dataclass
class RealDataLayer:
    """The real-data chapter's layer decision for one component, for the models chapter.

    Attributes
    ----------
    model : str
        Language model (as named in the chapter's parameters).
    component : str
        The response it was decided on (``"N400"``).
    layer : int
        The decision: the modal layer over the outer folds of the nested procedure.
    rule : str
        How it was made, in words.
    fold_layers : list of int
        The layer chosen inside each outer fold (training words only).
    best_layer_description : int
        The layer sweep's peak on all words (a description, never tested).
    n_words : int
    """

    model: str
    component: str
    layer: int
    rule: str
    fold_layers: list
    best_layer_description: int
    n_words: int

    def __post_init__(self):
        if not self.fold_layers or int(self.layer) not in [int(v) for v in self.fold_layers]:
            raise ContractError(f"real-data layer: layer {self.layer} is not among the fold "
                                f"layers {self.fold_layers}; expected the modal fold layer.")

    def write(self, results_dir):
        """Write ``real_data_layer.json`` atomically; returns its path."""
        return _write_json(self, results_dir, REAL_DATA_LAYER_FILE)

    @classmethod
    def read(cls, results_dir):
        """Read what :meth:`write` wrote.

        Raises
        ------
        ContractError
            Missing file or field (run the real-data chapter).
        """
        names = [f.name for f in fields(cls)]
        _, data = _read_json(results_dir, REAL_DATA_LAYER_FILE, names, "real_data")
        return cls(**{k: data[k] for k in names})
