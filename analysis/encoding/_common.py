"""Private helpers shared by the fits: checks of responses, features and layers, the
scores of out-of-fold predictions (r, p, significance, per-word errors) and the
per-fold layer choice.
"""

from __future__ import annotations

import numpy as np

from .._utils import check_array
from ..stats import pearson_columns, r_and_pvalue, significance_mask
from .cv import centre_within_folds
from .errors import word_errors


def _responses_of(data):
    """(responses, times, ch_names, words) from a WordDataset or a 3-D array, checked."""
    if hasattr(data, "responses"):
        return (data.responses, np.asarray(data.times), list(data.ch_names), list(data.words))
    resp = check_array(data, "responses", ndim=3)
    return (resp, np.arange(resp.shape[2], dtype=float),
            [f"ch{i}" for i in range(resp.shape[1])], None)


def _checked_features(features, n, words, name="features"):
    def row(i):
        return f"word {i}" + (f" ({words[i]!r})" if words is not None else "")

    return check_array(features, name, ndim=2, shape=(n, None), row_name=row,
                       col_name=lambda j: f"column {j}")


def _scores(pred, resp, p_threshold, error_channels, splits, groups=None):
    """r, p, significance, per-word errors, per-fold r of out-of-fold predictions, and the
    dependence measures behind p (:func:`analysis.stats.r_and_pvalue`)."""
    # r within folds: each test fold's mean removed from predictions and responses, so that
    # r has no between-fold term (:func:`centre_within_folds`; with slow drifts across
    # words the pooled r of a good model is pulled below zero)
    pc, rc = centre_within_folds(pred, splits), centre_within_folds(resp, splits)
    r = pearson_columns(pc, rc)  # (n_channels, n_windows)
    # p with the effective n of two autocorrelated series (lags within the CV groups)
    dep = r_and_pvalue(pc, rc, groups)
    p = dep["p"]
    sig = significance_mask(p, p_threshold)
    use = sig if error_channels is None else sig & np.asarray(error_channels, bool)[:, None]
    mse, cosine = word_errors(pred, resp, use)
    fold_r = np.stack([pearson_columns(pred[test], resp[test]) for _, test in splits])
    return r, p, sig, mse, cosine, fold_r, dep


def _choose_and_stitch(inner_error, layer_predictions, splits, per_target=True):
    """Pick a layer per outer fold (and target) by inner error; stitch its test predictions.

    Parameters
    ----------
    inner_error : ndarray, shape (n_layers, n_splits, n_targets)
    layer_predictions : ndarray, shape (n_layers, n_samples, n_targets)
        Out-of-fold predictions of every layer, made with ``splits``.
    splits : list of (train, test)
    per_target : bool
        One layer per target (else one per fold, by the error summed over targets).

    Returns
    -------
    predictions : ndarray, shape (n_samples, n_targets)
    index : ndarray of int, shape (n_splits, n_targets)
        Index into the layer axis of the layer used.
    """
    err = np.asarray(inner_error, dtype=np.float64)
    if not np.all(np.isfinite(err)):
        raise ValueError("nested layer choice: an inner cross-validation error is missing "
                         "(two-band or feature-less fits give none); expected one-band fits.")
    if not per_target:
        err = err.sum(axis=2, keepdims=True)
    index = np.broadcast_to(np.argmin(err, axis=0), inner_error.shape[1:]).copy()
    pred = np.empty(layer_predictions.shape[1:], dtype=layer_predictions.dtype)
    for k, (_, test) in enumerate(splits):
        pred[test] = np.take_along_axis(layer_predictions[:, test, :], index[k][None, None, :],
                                        axis=0)[0]
    return pred, index


def _check_layers(hidden, layers):
    if np.ndim(hidden) != 3:
        raise ValueError(f"hidden of shape {np.shape(hidden)}; expected (n_layers, n_words, d).")
    n_layers = np.shape(hidden)[0]
    layers = list(range(n_layers)) if layers is None else [int(l) for l in layers]
    bad = [l for l in layers if not 0 <= l < n_layers]
    if bad or not layers:
        raise ValueError(f"layers {bad or layers} outside 0..{n_layers - 1}; hidden has "
                         f"{n_layers} layers (expected indices in that range).")
    return layers
