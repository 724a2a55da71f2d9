"""One encoding model: :class:`EncodingResult`, :func:`fit_encoding` (the procedure of
the package docstring), the baseline-only fit, the split-half reliability of the r map
and the record later chapters start from (:func:`encoding_outputs`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .._docs import fill_doc
from ..stats import split_half_reliability
from .cv import cv_splits
from ._ridge import DEFAULT_ALPHAS, DEFAULT_BAND_SCALES, ridge_oof
from ._common import _checked_features, _responses_of, _scores

__all__ = ["EncodingResult", "encoding_outputs", "fit_encoding", "fit_baseline",
           "split_half_encoding"]


@dataclass
class EncodingResult:
    """Everything later chapters need from one encoding model.

    Attributes
    ----------
    predictions : ndarray of float32, shape (n_words, n_channels, n_windows)
        Out-of-fold predictions in the responses' units.
    r, p : ndarray, shape (n_channels, n_windows)
        Pearson r and its one-sided p-value.
    significant : ndarray of bool, shape (n_channels, n_windows)
        ``p < p_threshold``.
    best_alphas_ : ndarray, shape (n_folds, n_channels, n_windows)
        Penalty chosen in each outer fold (himalaya's name for the chosen penalties).
    alphas : ndarray, shape (n_alphas,)
        The grid of penalties searched (himalaya's ``alphas``).
    mse, cosine : ndarray, shape (n_words, n_windows)
        Per-word error over significant channels (NaN in windows without any) and
        cosine similarity over all channels, on z-scored responses.
    times : ndarray, shape (n_windows,)
    ch_names : list of str
    layer : int | None
    params : dict
        Settings and timing.
    fold_r : ndarray, shape (n_folds, n_channels, n_windows) | None
        r within each outer test fold (for intervals over folds).
    band_scales : ndarray, shape (n_folds, n_channels, n_windows) | None
        Scale of the second band chosen in each outer fold (two-band models only; see
        ``band_scales`` in :func:`ridge_oof`).
    inner_error : ndarray, shape (n_folds, n_channels, n_windows) | None
        Inner cross-validation error of the chosen penalty in each outer training fold
        (``return_inner_error`` of :func:`ridge_oof`; one-band models only): what
        :func:`nested_layer_choice` compares between layers.
    chosen_layers : ndarray of int, shape (n_folds, n_channels, n_windows) | None
        Only for a model whose layer was chosen inside each outer fold
        (:func:`nested_layer_choice`): the layer that predicted each fold.
    """

    predictions: np.ndarray
    r: np.ndarray
    p: np.ndarray
    significant: np.ndarray
    best_alphas_: np.ndarray
    alphas: np.ndarray
    mse: np.ndarray
    cosine: np.ndarray
    times: np.ndarray
    ch_names: list
    layer: int | None = None
    params: dict = field(default_factory=dict)
    fold_r: np.ndarray | None = None
    band_scales: np.ndarray | None = None
    inner_error: np.ndarray | None = None
    chosen_layers: np.ndarray | None = None

    def alpha_edge_share(self):
        """Share of chosen penalties at the lowest and highest grid value.

        Returns
        -------
        dict with keys ``"low"`` and ``"high"`` (fractions of fold x target choices)
        """
        return {"low": float(np.mean(self.best_alphas_ == self.alphas[0])),
                "high": float(np.mean(self.best_alphas_ == self.alphas[-1]))}

    def peak_window(self):
        """Window with the highest mean r over channels."""
        return int(np.nanargmax(np.nanmean(self.r, axis=0)))

    def summary(self):
        """JSON-serialisable summary (no per-word arrays)."""
        return {
            "layer": self.layer,
            "mean_r": float(np.nanmean(self.r)),
            "max_r": float(np.nanmax(self.r)),
            "n_significant": int(self.significant.sum()),
            "n_tests": int(self.significant.size),
            "peak_window": self.peak_window(),
            "peak_ms": float(self.times[self.peak_window()]),
            "alpha_edge_share": self.alpha_edge_share(),
            "params": self.params,
        }


@fill_doc
def fit_encoding(features, data, alphas=None, n_folds=10, n_inner=5, p_threshold=1e-3,
                 backend="numpy", device=None, layer=None, groups=None, cv=None,
                 error_channels=None, baseline=None, second_band=None, band_scales=None):
    """Fit the encoding model of one feature set to every channel and window.

    Parameters
    ----------
    features : ndarray, shape (n_words, d)
        One layer's word features (finite values).
    data : WordDataset | ndarray, shape (n_words, n_channels, n_windows)
        The responses.
    alphas : array_like | None
        Penalty grid (:data:`DEFAULT_ALPHAS`).
    n_folds, n_inner : int
        Contiguous outer folds (10) and inner chunks (5).
    p_threshold : float
        Significance threshold on the one-sided p-value (0.001).
    backend, device : str, str | None
        See :func:`ridge_oof`.
    layer : int | None
        Recorded in the result.
    %(cv_groups)s
    cv : None | int | splitter | iterable
        Outer splits (:func:`cv_splits`); default ``n_folds`` contiguous folds.
    error_channels : ndarray of bool, shape (n_channels,) | None
        Channels the per-word MSE may use (with the significant ones); default all.
    baseline : ndarray, shape (n_words, d_b) | None
        Nuisance predictors fitted without penalty beside the ridge features (the
        nested model "baseline + features"; see ``unpenalized`` in :func:`ridge_oof`).
        With ``features`` of zero columns this is the baseline model alone
        (:func:`fit_baseline`).
    second_band : ndarray, shape (n_words, d2) | None
        A second band of ridge features beside ``features`` (e.g. the same layer read
        under an instruction), with its own penalty: the ratio of the two penalties is
        chosen per target from ``band_scales`` by the inner cross-validation
        (:func:`ridge_oof`).
    band_scales : array_like | None
        Relative scales of the second band searched (default
        :data:`DEFAULT_BAND_SCALES` when ``second_band`` is given).

    Returns
    -------
    EncodingResult

    Raises
    ------
    DataError
        Features of the wrong shape or with NaN/inf (the first bad word and column are
        named), a response column that is constant in a training fold.
    """
    resp, times, ch_names, words = _responses_of(data)
    n, n_ch, n_win = resp.shape
    features = _checked_features(features, n, words)

    def target_name(j):
        c, w = divmod(j, n_win)
        return f"channel '{ch_names[c]}' (index {c}) in window {w} ({times[w]:g} ms)"

    grid = np.asarray(DEFAULT_ALPHAS if alphas is None else alphas, dtype=np.float64)
    t0 = time.perf_counter()
    if baseline is not None:
        baseline = _checked_features(baseline, n, words, name="baseline")
    band_kw, chosen_scales = {}, None
    if second_band is not None:
        second_band = _checked_features(second_band, n, words, name="second band")
        band_kw = dict(second_band=features.shape[1],
                       band_scales=DEFAULT_BAND_SCALES if band_scales is None else band_scales)
        features = np.concatenate([features, second_band], axis=1)
    elif band_scales is not None:
        raise ValueError("fit_encoding: band_scales needs a second_band.")
    one_band = not band_kw and features.shape[1] > 0
    fitted = ridge_oof(features, resp.reshape(n, n_ch * n_win), grid, n_folds, n_inner,
                       backend, device, target_name, groups=groups, cv=cv,
                       unpenalized=baseline, return_inner_error=one_band, **band_kw)
    pred, choice = fitted[:2]
    inner_error = fitted[2].reshape(choice.shape[0], n_ch, n_win) if one_band else None
    if band_kw:
        scale_grid = np.asarray(band_kw["band_scales"], dtype=np.float64).ravel()
        chosen_scales = scale_grid[fitted[2]].reshape(choice.shape[0], n_ch, n_win)
    seconds = time.perf_counter() - t0
    pred = pred.reshape(n, n_ch, n_win)
    r, p, sig, mse, cosine, fold_r, dep = _scores(pred, resp, p_threshold, error_channels,
                                                  cv_splits(n, n_folds, groups, cv), groups)
    return EncodingResult(
        fold_r=fold_r, band_scales=chosen_scales, inner_error=inner_error,
        predictions=pred, r=r, p=p, significant=sig,
        best_alphas_=grid[choice].reshape(choice.shape[0], n_ch, n_win),
        alphas=grid, mse=mse, cosine=cosine, times=times, ch_names=ch_names,
        layer=layer,
        params={"n_folds": int(choice.shape[0]), "n_inner": n_inner,
                "p_threshold": p_threshold, "backend": backend, "device": device,
                "n_words": n, "d": features.shape[1], "seconds": round(seconds, 3),
                "grouped_cv": groups is not None,
                "p_value": "one-sided t, Bartlett effective n (autocorrelations, 10 lags)",
                "median_lag1_response": float(np.nanmedian(dep["lag1_response"])),
                "median_lag1_prediction": float(np.nanmedian(dep["lag1_prediction"])),
                "baseline_columns": 0 if baseline is None else int(baseline.shape[1]),
                "mode": "default" if baseline is None else "nested",
                **({"second_band_columns": int(second_band.shape[1]),
                    "band_scales": [float(v) for v in np.ravel(band_kw["band_scales"])]}
                   if band_kw else {})},
    )


def fit_baseline(baseline, data, **fit_kw):
    """The baseline model alone: ordinary least squares on nuisance predictors, out of fold.

    Parameters
    ----------
    baseline : ndarray, shape (n_words, d_b)
        E.g. :func:`analysis.predictors.nuisance_predictors`.
    data : WordDataset | ndarray
    **fit_kw
        As for :func:`fit_encoding` (folds, groups, threshold).

    Returns
    -------
    EncodingResult
        ``params["mode"] == "nested"`` with ``d == 0``: compare it with
        ``fit_encoding(features, data, baseline=baseline)`` (the same folds).
    """
    resp = data.responses if hasattr(data, "responses") else np.asarray(data)
    return fit_encoding(np.zeros((resp.shape[0], 0)), data, baseline=baseline, **fit_kw)


def split_half_encoding(features, dataset, seed=0, **fit_kw):
    """Split-half reliability of the encoding r map (noise ceiling, the Methods page (beyond the paper)).

    The subjects are split at random into two halves; one encoding model is
    fitted on each half's average response and the two r maps (channels x
    windows) are correlated; Spearman–Brown corrects the correlation to the
    full set of subjects.

    Parameters
    ----------
    features : ndarray, shape (n_words, d)
    dataset : WordDataset
        Must have ``subject_responses`` with at least 2 subjects.
    seed : int
        Seed of the split.
    **fit_kw
        Passed to :func:`fit_encoding`.

    Returns
    -------
    dict
        ``half_r``, ``reliability``, ``halves`` (subject indices) and the two r
        maps ``r_a``, ``r_b``.
    """
    if dataset.n_subjects < 2:
        raise ValueError(f"split_half_encoding: {dataset.source or 'dataset'} has "
                         f"{dataset.n_subjects} separate subjects; expected at least 2.")
    order = np.random.default_rng(seed).permutation(dataset.n_subjects)
    halves = [np.sort(order[: len(order) // 2]), np.sort(order[len(order) // 2:])]
    from ..stats import nanmean_rows

    means = [nanmean_rows(dataset.subject_responses[h]) for h in halves]
    ok = np.all([np.isfinite(m).all(axis=(1, 2)) for m in means], axis=0)
    features = np.asarray(features)[ok]  # words missing in a half are left out of both
    kw = dict(fit_kw)
    if kw.get("groups") is not None:
        kw["groups"] = np.asarray(kw["groups"])[ok]
    maps = [fit_encoding(features, m[ok], **kw).r for m in means]
    out = split_half_reliability(*maps)
    out.update({"halves": [h.tolist() for h in halves], "r_a": maps[0], "r_b": maps[1]})
    return out


def encoding_outputs(result, dataset, model, model_identity, fit, window, channels, mse,
                     layer_decision=None):
    """The :class:`~analysis.contracts.EncodingOutputs` later chapters start from.

    Parameters
    ----------
    result : EncodingResult
        The chosen layer's model.
    dataset : WordDataset
        The dataset it was fitted on (opened through :mod:`analysis.datasets`).
    model, model_identity : str
        The language model's name and identity.
    fit : dict
        ``n_folds``, ``n_inner``, ``p_threshold``, ``cv_groups``, ``alphas``.
    window : tuple of float | None
        Window of interest used (ms).
    channels : ndarray of bool, shape (n_channels,)
        Channels of interest.
    mse : ndarray, shape (n_words, n_windows)
        Per-word errors over them (:func:`errors_of_interest`).
    layer_decision : dict | None
        How ``result.layer`` was decided (:meth:`LayerSweep.layer_decision`); ``None``
        records a layer given by the caller, not chosen here.

    Returns
    -------
    analysis.contracts.EncodingOutputs
    """
    from ..contracts import EncodingOutputs
    from ..datasets import dataset_record

    fit = dict(fit, alphas=[float(a) for a in np.asarray(fit["alphas"])])
    return EncodingOutputs(
        dataset=dataset_record(dataset).to_dict(), model=str(model),
        model_identity=str(model_identity), layer=int(result.layer), fit=fit,
        window=None if window is None else [float(w) for w in window],
        channels=[c for c, k in zip(dataset.ch_names, channels) if k],
        words=list(dataset.words), sentence=dataset.sentence, times=result.times,
        ch_names=list(result.ch_names), mse=mse, cosine=result.cosine, r=result.r,
        p=result.p, significant=result.significant,
        layer_decision=layer_decision or {"layer": int(result.layer), "fold_layers": None,
                                          "rule": "given by the caller (not chosen here)",
                                          "sweep_argmax": None})
