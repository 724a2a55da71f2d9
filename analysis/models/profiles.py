"""Where a model aligns: RSA per layer, the layer x window profile of the encoding model,
alignment against accuracy for the fine-tuned models, and the comparison tables.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._utils import DataError, check_array

__all__ = ["rsa_layers", "ModelProfile", "profile_model", "alignment_vs_accuracy",
           "comparison_table", "finetuned_alignment", "describe_row"]


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
    r : ndarray, shape (len(layers), n_channels, n_windows)
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
        li, ci, wi = np.unravel_index(int(np.nanargmax(self.r)), self.r.shape)
        where = f"{self.ch_names[ci]}, layer {self.layers[li]}"
        return where + (f", {self.times[wi]:g} ms" if self.r.shape[2] > 1 else "")

    def layer_time_map(self):
        """Mean r over channels per layer and window, shape (len(layers), n_windows)."""
        return np.nanmean(self.r, axis=1)

    def layer_channel_map(self, window=0):
        """r per layer and channel in one window (layer x component for ERP tables)."""
        return self.r[:, :, window]

    def relative_depth(self, layer):
        """``layer / (n_hidden - 1)``: 0 the embeddings, 1 the last block."""
        return float(layer) / max(1, self.n_hidden - 1)

    def peak_layer(self, channel=None):
        """Layer of the highest mean r (over all targets, or over the windows of one channel)."""
        if channel is None:
            return self.chosen_layer
        j = self.ch_names.index(channel) if isinstance(channel, str) else int(channel)
        return self.layers[int(np.nanargmax(np.nanmean(self.r[:, j, :], axis=1)))]

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
            channels, windows), ``mean_r_by_layer``, ``peak_window_ms`` (window of the
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
                            "max_r": float(np.nanmax(self.r[:, j, :]))}
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
