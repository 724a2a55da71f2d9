"""The refit null of a difference in out-of-fold r (Methods page, the two nulls of a model comparison).

Out-of-fold predictions are functions of the other folds' responses, so a test that
permutes the responses while holding two models' predictions fixed misses part of the
variance of their difference in r and rejects too often. The refit null moves the
responses first and then fits every model again, penalties chosen again in the inner
folds, exactly as for the observed responses. The permuted copies of a chunk of
permutations are fitted together, as columns of one target matrix, so each model's
decompositions are shared by all of them.

:func:`refit_null_r` returns each model's r on every permutation; :func:`refit_p_values`
turns the differences of two models into p-values per target and for the mean over
targets. The brain re-test of the fine-tuned models
(:func:`analysis.finetune.refit_r_difference`) and the instruction comparison
(:func:`analysis.instructions.compare_instructions`) both call them.
"""

from __future__ import annotations

import numpy as np

from .._utils import DataError
from ..stats import dependence_preserving_permutations, pearson_columns
from .cv import centre_within_folds
from .result import fit_encoding

#: Most target fits per model (targets x permutations) a chapter runs the refit null
#: with by default; beyond it the chapters hold the predictions fixed and say so.
REFIT_MAX_FITS = 20_000


def refit_null_r(y, models, splits, n_permutations=1000, seed=0, null=None, chunk=250,
                 **fit_kw):
    """Out-of-fold r of several encoding models, each refitted on permuted responses.

    Every model sees the same permutations (``seed``), so differences between models
    are paired permutation by permutation.

    Parameters
    ----------
    y : ndarray, shape (n_words, n_targets)
        Responses.
    models : dict of str to (ndarray, dict)
        Each model's features, shape (n_words, d), and the keyword arguments that are
        its own (e.g. ``second_band`` and ``band_scales`` of a two-band model), added to
        ``fit_kw``.
    splits : list of (train, test)
        The outer splits of the observed fits (:func:`analysis.encoding.cv_splits`);
        responses and predictions are centred within their test folds before r, as
        :class:`~analysis.encoding.EncodingResult` computes r.
    n_permutations : int
        Permutations of the responses.
    seed : int
        Seed of the permutations.
    null : dict | None
        ``scheme``, ``groups`` and ``block_length`` of the permutations
        (:func:`analysis.datasets.null_design`; see
        :func:`analysis.stats.dependence_preserving_permutations`); None: 20-word blocks.
    chunk : int
        Permutations fitted together (memory grows with ``chunk x n_targets``).
    **fit_kw
        Passed to :func:`analysis.encoding.fit_encoding` for every model (folds, groups,
        nuisance ``baseline``, penalty grid).

    Returns
    -------
    dict of str to ndarray, each (n_permutations, n_targets)
        Each model's within-fold-centred out-of-fold r on every permuted response.

    Raises
    ------
    DataError
        ``y`` not 2-D, features whose rows differ from ``y``'s, or no model.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2:
        raise DataError(f"refit_null_r: responses of shape {y.shape}; expected "
                        "(n_words, n_targets).")
    if not models:
        raise DataError("refit_null_r: no model given; expected a dict of name to "
                        "(features, keyword arguments).")
    n, t = y.shape
    for name, (features, _) in models.items():
        if np.shape(features)[0] != n:
            raise DataError(f"refit_null_r: model {name!r} has {np.shape(features)[0]} rows "
                            f"of features; expected {n} (one per word of the responses).")
    null = dict(null or {})
    draws = {name: [] for name in models}
    for perms in dependence_preserving_permutations(
            n, null.get("scheme", "blocks"), null.get("groups"), n_permutations, seed,
            null.get("block_length", 20), chunk=chunk):
        k = len(perms)
        yp = y[np.asarray(perms).T].reshape(n, k * t)  # column j*t + i: permutation j, target i
        yc = centre_within_folds(yp, splits)
        for name, (features, own) in models.items():
            pred = fit_encoding(features, yp[:, :, None], **fit_kw, **own).predictions[:, :, 0]
            draws[name].append(pearson_columns(centre_within_folds(pred, splits), yc)
                               .reshape(k, t))
    return {name: np.concatenate(v) for name, v in draws.items()}


def refit_p_values(observed, draws, tol=1e-9):
    """P-values of an observed difference in r against its refit null draws.

    Parameters
    ----------
    observed : ndarray, shape (n_targets,)
        Observed difference ``r_b - r_a`` per target (within-fold-centred r).
    draws : ndarray, shape (n_permutations, n_targets)
        The same difference on each permuted response (:func:`refit_null_r`).
    tol : float
        Null differences within ``tol`` of the observed one count as ties.

    Returns
    -------
    dict
        ``p_greater``, ``p_less`` per target (``(#{null >= observed} + 1) / (n + 1)``
        and the reverse), ``null_mean``, ``null_sd`` per target, and ``p_mean_greater``,
        ``p_mean_less``, ``null_mean_of_mean``, ``null_sd_of_mean`` (floats) for the mean
        over targets, whose null is the mean of each permutation's differences (one
        permutation moves every target, so their dependence is kept).

    Raises
    ------
    DataError
        ``observed`` whose length differs from the draws' targets.
    """
    draws = np.asarray(draws, dtype=np.float64)
    observed = np.asarray(observed, dtype=np.float64).ravel()
    if draws.ndim != 2 or observed.shape != draws.shape[1:]:
        raise DataError(f"refit_p_values: observed of shape {observed.shape} and draws of "
                        f"shape {draws.shape}; expected (n_targets,) and "
                        "(n_permutations, n_targets).")
    m = len(draws) + 1
    mean_obs, mean_null = np.nanmean(observed), np.nanmean(draws, axis=1)
    return {"p_greater": ((draws >= observed - tol).sum(0) + 1) / m,
            "p_less": ((draws <= observed + tol).sum(0) + 1) / m,
            "null_mean": draws.mean(0), "null_sd": draws.std(0),
            "p_mean_greater": float(((mean_null >= mean_obs - tol).sum() + 1) / m),
            "p_mean_less": float(((mean_null <= mean_obs + tol).sum() + 1) / m),
            "null_mean_of_mean": float(mean_null.mean()),
            "null_sd_of_mean": float(mean_null.std())}


#: Targets refitted to measure the scale of the scaled null (:func:`refit_null_scale`).
SCALE_TARGETS = 16
#: Most permutations of the scaled null's refit subset.
SCALE_PERMUTATIONS = 100


def refit_null_scale(y, pred_a, pred_b, features_a, features_b, splits, n_permutations=100,
                     seed=0, null=None, n_targets=SCALE_TARGETS, **fit_kw):
    """How much wider the refit null is than the fixed-prediction null, on a subset of targets.

    Where refitting every target on every permutation is beyond the budget (the
    simulated study's 306 x 20 targets), the fixed-prediction null can be widened by
    the ratio of the two nulls' spreads: both are drawn, with the same permutations, on
    ``n_targets`` targets chosen at random (``seed``), and the ratio of their mean
    standard deviations is the scale (at least 1, so the null is never narrowed). Pass
    it as ``null_scale`` to :func:`analysis.stats.permutation_r_difference`. Its
    calibration is measured in ``benchmarks/bench_scaled_null.py`` (Methods page, the
    two nulls of a model comparison).

    Parameters
    ----------
    y, pred_a, pred_b : ndarray, shape (n_words, n_targets_all)
        Responses and the two models' out-of-fold predictions, centred within the
        outer test folds.
    features_a, features_b : ndarray, shape (n_words, d_a) and (n_words, d_b)
        The two models' features.
    splits : list of (train, test)
        The outer splits of the fits.
    n_permutations, seed : int
        Permutations of both nulls on the subset, and the seed of the permutations and
        of the subset.
    null : dict | None
        The permutation scheme (:func:`analysis.datasets.null_design`).
    n_targets : int
        Targets in the subset (all when there are fewer).
    **fit_kw
        Passed to :func:`analysis.encoding.fit_encoding`.

    Returns
    -------
    dict
        ``scale`` (float, >= 1), ``scale_targets``, ``scale_permutations``, and the mean
        null sd of both nulls on the subset (``refit_null_sd``, ``fixed_null_sd``).

    Raises
    ------
    DataError
        Predictions whose shape differs from the responses'.
    """
    from ..stats import permutation_r_difference

    y = np.asarray(y, dtype=np.float64)
    if np.shape(pred_a) != y.shape or np.shape(pred_b) != y.shape or y.ndim != 2:
        raise DataError(f"refit_null_scale: responses {y.shape}, predictions "
                        f"{np.shape(pred_a)} and {np.shape(pred_b)}; expected the same "
                        "shape (n_words, n_targets).")
    ok = np.flatnonzero(np.isfinite(y).all(0) & (y.std(0) > 0)
                        & (np.std(pred_a, axis=0) > 0) & (np.std(pred_b, axis=0) > 0))
    rng = np.random.default_rng(seed)
    if len(ok) == 0:  # no target where both models predict anything: nothing to measure
        return {"scale": 1.0, "scale_targets": 0, "scale_permutations": int(n_permutations),
                "refit_null_sd": float("nan"), "fixed_null_sd": float("nan")}
    idx = np.sort(rng.choice(ok, size=min(n_targets, len(ok)), replace=False))
    null = dict(null or {})
    fixed = permutation_r_difference(y[:, idx], np.asarray(pred_a)[:, idx],
                                     np.asarray(pred_b)[:, idx], n_permutations, seed=seed,
                                     **null)
    draws = refit_null_r(y[:, idx], {"a": (features_a, {}), "b": (features_b, {})}, splits,
                         n_permutations, seed=seed, null=null, **fit_kw)
    refit_sd = float(np.mean((draws["b"] - draws["a"]).std(0)))
    fixed_sd = float(np.nan_to_num(np.nanmean(fixed["null_sd"])))
    # two models that predict alike on every drawn target give a fixed null without
    # spread: there is nothing to widen (and such a test can never reject)
    ratio = refit_sd / fixed_sd if fixed_sd > 0 and np.isfinite(refit_sd) else 1.0
    return {"scale": max(1.0, ratio), "scale_targets": int(len(idx)),
            "scale_permutations": int(n_permutations), "refit_null_sd": refit_sd,
            "fixed_null_sd": fixed_sd}
