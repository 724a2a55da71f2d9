"""Intervals: bootstrap weights and intervals on mean r and on r differences (block
resampling), Wilson intervals, paired accuracy gains.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st

from .._docs import fill_doc
from .._utils import DataError, check_array
from .correlation import pearson_columns
from .multiple import better_worse_same, two_sided_p

__all__ = ["bootstrap_mean_r", "bootstrap_better_worse", "resample_weights", "wilson_interval",
           "paired_accuracy_gain", "r_interval"]


@fill_doc
def resample_weights(n, groups=None, n_boot=1000, seed=0, where="bootstrap"):
    """Bootstrap resamples of rows, as weights: how often each row was drawn.

    Parameters
    ----------
    n : int
        Rows (words).
    %(resample_groups)s
    %(n_boot)s
    %(seed)s
    where : str
        Name of the caller, for error messages.

    Returns
    -------
    ndarray, shape (n_boot, n), float64

    Raises
    ------
    DataError
        ``groups`` of another length, or fewer than two resampling units.
    """
    if groups is not None and np.shape(groups) != (n,):
        raise DataError(f"{where}: groups of shape {np.shape(groups)}; expected ({n},).")
    units = np.arange(n) if groups is None else np.unique(np.asarray(groups),
                                                          return_inverse=True)[1]
    n_units = int(units.max()) + 1 if n else 0
    if n_units < 2:
        raise DataError(f"{where}: {n_units} resampling unit(s); expected at least 2.")
    rng = np.random.default_rng(seed)
    counts = np.stack([np.bincount(rng.integers(0, n_units, n_units), minlength=n_units)
                       for _ in range(int(n_boot))]).astype(np.float64)
    return counts[:, units]


@fill_doc
def bootstrap_mean_r(y, predictions, reference=None, n_boot=1000, seed=0, groups=None,
                     level=0.95, col_block=512):
    """Mean Pearson r over columns of several predictions, with bootstrap intervals.

    Words (or whole groups of words, e.g. sentences, when ``groups`` is given) are
    resampled with replacement; in each resample every prediction's r is recomputed per
    column on the resampled rows and averaged over the columns. All predictions share
    the same resamples, so differences between them are paired.

    Parameters
    ----------
    y : ndarray, shape (n, ...)
        Responses (observations on axis 0, any trailing shape of columns).
    predictions : dict of str to ndarray, each of the shape of ``y``
        Out-of-fold predictions of each model.
    reference : str | None
        A key of ``predictions``: also report every model's difference from it.
    %(n_boot)s
    %(seed)s
    %(resample_groups)s
    %(level)s
    col_block : int
        Columns processed together (memory ``n_boot x col_block`` per sum).

    Returns
    -------
    dict
        Per prediction name: ``mean_r`` (on all rows), ``ci`` (percentile interval),
        ``se`` (bootstrap standard deviation); with ``reference`` also ``diff``,
        ``diff_ci`` and ``diff_se`` of ``mean_r(name) - mean_r(reference)``.

    Raises
    ------
    DataError
        Shapes that differ, non-finite values, fewer than two resampling units.

    Notes
    -----
    Each resample is a weight vector ``w`` (how often each row was drawn) and the r of
    a column is the weighted Pearson correlation, from the weighted sums of ``y``,
    ``p``, ``y^2``, ``p^2`` and ``y p`` (five products of the weights with the data;
    the data are centred first, in float64). Columns constant within a resample give
    NaN and are left out of that resample's mean.
    """
    y = check_array(y, "bootstrap_mean_r: y", row_name=lambda i: f"word {i}",
                    dtype=np.float64)
    n = y.shape[0]
    yc = y.reshape(n, -1)
    yc = yc - yc.mean(0)
    preds = {}
    for name, pred in predictions.items():
        pred = check_array(pred, f"bootstrap_mean_r: prediction {name!r}",
                           row_name=lambda i: f"word {i}", dtype=np.float64)
        if pred.shape != y.shape:
            raise DataError(f"bootstrap_mean_r: prediction {name!r} has shape {pred.shape}; "
                            f"expected {y.shape} (the shape of y).")
        pc = pred.reshape(n, -1)
        preds[name] = pc - pc.mean(0)
    if reference is not None and reference not in preds:
        raise DataError(f"bootstrap_mean_r: reference {reference!r} is not one of "
                        f"{list(preds)}.")
    w = resample_weights(n, groups, n_boot, seed, where="bootstrap_mean_r")
    boot = {k: np.zeros(int(n_boot)) for k in preds}
    valid = {k: np.zeros(int(n_boot)) for k in preds}
    for s, rs in _weighted_r_blocks(w, yc, preds, col_block):
        for k, r in rs.items():
            ok = np.isfinite(r)
            boot[k] += np.where(ok, r, 0.0).sum(1)
            valid[k] += ok.sum(1)
    boot = {k: boot[k] / np.maximum(valid[k], 1) for k in preds}
    lo, hi = 50 - 50 * level, 50 + 50 * level
    out = {}
    for k, pc in preds.items():
        full = pearson_columns(pc, yc)
        entry = {"mean_r": float(np.nanmean(full)),
                 "ci": [float(v) for v in np.percentile(boot[k], [lo, hi])],
                 "se": float(boot[k].std(ddof=1)) if n_boot > 1 else float("nan")}
        if reference is not None:
            d = boot[k] - boot[reference]
            entry["diff"] = entry["mean_r"] - float(np.nanmean(pearson_columns(preds[reference],
                                                                               yc)))
            entry["diff_ci"] = [float(v) for v in np.percentile(d, [lo, hi])]
            entry["diff_se"] = float(d.std(ddof=1)) if n_boot > 1 else float("nan")
        out[k] = entry
    return out


def _weighted_r_blocks(w, yc, preds, col_block):
    """Weighted Pearson r per resample and column, a block of columns at a time.

    Yields ``(start, {name: r})`` with each ``r`` of shape (n_resamples, block): the
    correlation of the columns of ``yc`` and of each prediction under the weights ``w``
    (n_resamples, n), from five weighted sums (both inputs centred, float64).
    """
    total = w.sum(1)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        for s in range(0, yc.shape[1], col_block):
            yb = yc[:, s:s + col_block]
            sy, syy = w @ yb, w @ (yb * yb)
            vy = total * syy - sy * sy
            out = {}
            for k, pc in preds.items():
                pb = pc[:, s:s + col_block]
                sp, spp, syp = w @ pb, w @ (pb * pb), w @ (yb * pb)
                out[k] = (total * syp - sy * sp) / np.sqrt(vy * (total * spp - sp * sp))
            yield s, out


@fill_doc
def bootstrap_better_worse(y, pred_a, pred_b, test, q=0.05, groups=None, n_boot=200, seed=0,
                           level=0.95, col_block=512, thresholds="rerun"):
    """Intervals for the percentages of tests "better" and "worse", by bootstrap.

    The share of channel x window tests that :func:`better_worse_same` calls better
    (or worse) is a count of discoveries; this gives its sampling interval over the
    words read. Each resample draws whole sentences (``groups``) with replacement and
    recomputes every column's ``delta = r(y, pred_b) - r(y, pred_a)`` on the drawn
    words. The null moments of each test (the permutation null's mean and standard
    deviation) are held fixed; with ``thresholds="rerun"`` (the default) the decision
    rule is run again in every resample: each column's
    ``t = (delta - null_mean) / null_sd`` gives a two-sided normal p-value (no smaller
    than the permutation test's smallest, ``2 / (n_permutations + 1)``, when the test
    records its ``n_permutations``), Benjamini-Hochberg runs over the family at ``q``,
    and a rejected column is better when ``t > 0``, worse when ``t < 0``. The
    discoveries' threshold thus moves with the data as it does between samples: more
    columns past it lowers it and calls yet more. ``thresholds="fixed"`` (the rule
    before) holds the threshold itself fixed at ``z`` null standard deviations, ``z``
    the normal quantile of the original family's BH two-sided threshold (the largest
    rejected two-sided p, or ``q / m`` when nothing was rejected); it leaves out that
    feedback and is too narrow where the columns' deltas move together: on simulated
    data (:func:`analysis.calibration.coverage_better_worse`, AR(1) noise of lag-1
    autocorrelation 0.8) its 95 % interval covered the expected share in 0.86 of the
    datasets, the rerun rule inside the binomial 99 % range of 0.95 (the Methods page,
    book/methods.md). The interval is the percentile interval of the change in the
    count from the full sample (the same rule on all words once) to each resample,
    less its mean (the bootstrap estimate of bias: counts of discoveries grow under
    resampling), placed on the share the permutation test reported (the normal
    p-values and the permutation p-values need not call exactly the same columns;
    Efron & Tibshirani 1993, ch. 10 and 13), clipped to 0-100 %.

    Parameters
    ----------
    y, pred_a, pred_b : ndarray, shape (n, ...)
        Responses and the two models' out-of-fold predictions (as given to
        :func:`permutation_r_difference`).
    test : dict
        :func:`permutation_r_difference` of the same arrays (``p_greater``,
        ``p_less``, ``null_mean``, ``null_sd``, each of shape ``y.shape[1:]``).
    q : float
        The false discovery rate of the test.
    %(resample_groups)s
    %(n_boot)s
    %(seed)s
    %(level)s
    col_block : int
        Columns processed together.
    thresholds : {"rerun", "fixed"}
        Run the BH rule again in each resample (default) or hold the original
        threshold fixed (the earlier rule, kept for the coverage benchmark).

    Returns
    -------
    dict
        ``percent_better_ci``, ``percent_worse_ci`` (percent of all tests,
        ``[low, high]``), ``z`` (the original family's threshold in null standard
        deviations), ``n_boot``, ``units`` ("sentences" or "words") and
        ``thresholds``.

    Raises
    ------
    DataError
        Shapes that differ from ``y``, a test without the null moments, or fewer than
        two resampling units.
    ValueError
        ``thresholds`` other than "rerun" or "fixed".
    """
    if thresholds not in ("rerun", "fixed"):
        raise ValueError(f"bootstrap_better_worse: thresholds={thresholds!r}; expected "
                         "'rerun' or 'fixed'.")
    y = check_array(y, "bootstrap_better_worse: y", row_name=lambda i: f"word {i}",
                    dtype=np.float64)
    n = y.shape[0]
    preds = {}
    for name, pred in (("a", pred_a), ("b", pred_b)):
        pred = np.asarray(pred, dtype=np.float64)
        if pred.shape != y.shape:
            raise DataError(f"bootstrap_better_worse: pred_{name} has shape {pred.shape}; "
                            f"expected {y.shape} (the shape of y).")
        pc = pred.reshape(n, -1)
        preds[name] = pc - pc.mean(0)
    missing = [k for k in ("p_greater", "p_less", "null_mean", "null_sd") if k not in test]
    if missing:
        raise DataError(f"bootstrap_better_worse: the test lacks {missing}; pass the dict "
                        "returned by permutation_r_difference.")
    tail = y.shape[1:]
    arr = {k: np.asarray(test[k], dtype=np.float64) for k in
           ("p_greater", "p_less", "null_mean", "null_sd")}
    for k, v in arr.items():
        if v.shape != tail:
            raise DataError(f"bootstrap_better_worse: test[{k!r}] has shape {v.shape}; "
                            f"expected {tail} (y without its word axis).")
    p2 = two_sided_p(arr["p_greater"], arr["p_less"]).ravel()
    classes = better_worse_same(arr["p_greater"], arr["p_less"], q).ravel()
    finite = np.isfinite(p2)
    m_tests = max(1, int(finite.sum()))
    p_thr = float(p2[classes != 0].max()) if (classes != 0).any() else q / m_tests
    z = float(_st.norm.isf(p_thr / 2))
    centre, sd = arr["null_mean"].ravel(), arr["null_sd"].ravel()
    # a column whose two predictions agree has no null spread and can never be called
    spread = np.nan_to_num(sd) > 0
    upper = np.where(spread, centre + z * sd, np.inf)
    lower = np.where(spread, centre - z * sd, -np.inf)
    yc = y.reshape(n, -1)
    yc = yc - yc.mean(0)
    # row 0: all words once (the thresholds' own count); then the resamples
    w = np.vstack([np.ones((1, n)),
                   resample_weights(n, groups, n_boot, seed, where="bootstrap_better_worse")])
    if thresholds == "fixed":
        better = np.zeros(len(w))
        worse = np.zeros(len(w))
        for s, rs in _weighted_r_blocks(w, yc, preds, col_block):
            delta = rs["b"] - rs["a"]
            cols = slice(s, s + delta.shape[1])
            ok = finite[cols][None, :]
            better += ((delta >= upper[cols]) & ok).sum(1)
            worse += ((delta <= lower[cols]) & ok).sum(1)
    else:
        # each resample's statistics, (n_boot + 1) x columns; a column without null
        # spread gets t = 0 (never called)
        t = np.empty((len(w), p2.size))
        scale = np.where(spread, sd, np.inf)
        with np.errstate(invalid="ignore"):
            for s, rs in _weighted_r_blocks(w, yc, preds, col_block):
                cols = slice(s, s + rs["b"].shape[1])
                t[:, cols] = (rs["b"] - rs["a"] - centre[cols]) / scale[cols]
        better, worse = _bh_directions(t, finite, q, _p_floor(test))
    lo, hi = 50 - 50 * level, 50 + 50 * level
    total = classes.size
    out = {}
    for name, counts, value in (("better", better, 1), ("worse", worse, -1)):
        reported = 100.0 * (classes == value).mean()
        shift = 100.0 * (counts[1:] - counts[0]) / total
        # bias-corrected: counts of discoveries grow under resampling (words drawn twice
        # widen every delta's spread), so the mean shift is removed
        ci = np.clip(reported + np.percentile(shift, [lo, hi]) - shift.mean(), 0.0, 100.0)
        out[f"percent_{name}_ci"] = [float(v) for v in ci]
    return {**out, "z": z, "n_boot": int(n_boot),
            "units": "words" if groups is None else "sentences", "thresholds": thresholds}


def _p_floor(test):
    """Smallest two-sided p-value the permutation test can give (0 when unknown)."""
    null = test.get("null")
    n_perm = null.get("n_permutations") if isinstance(null, dict) else None
    return 2.0 / (int(n_perm) + 1) if n_perm else 0.0


def _bh_directions(t, family, q, p_floor):
    """Counts of "better" and "worse" columns per row of normal statistics ``t``.

    ``t`` has shape (n_rows, m); ``family`` (m,) marks the columns in the BH family
    (those with a finite permutation p-value). A non-finite ``t`` (a column that can
    never be called) keeps two-sided p = 1 in the family, as in the permutation test.
    Benjamini-Hochberg (``scipy.stats.false_discovery_control``, each row one
    family) rejects an adjusted p below ``q``, as :func:`better_worse_same` does.
    """
    tf = t[:, family]
    with np.errstate(invalid="ignore"):
        p = np.where(np.isfinite(tf), np.maximum(2.0 * _st.norm.sf(np.abs(tf)), p_floor), 1.0)
    if not p.size:
        return np.zeros(len(t)), np.zeros(len(t))
    reject = _st.false_discovery_control(p, axis=1) < q
    return ((reject & (tf > 0)).sum(1).astype(np.float64),
            (reject & (tf < 0)).sum(1).astype(np.float64))


def wilson_interval(k, n, level=0.95):
    """Wilson score interval of a proportion (an accuracy of ``k`` correct out of ``n``).

    Parameters
    ----------
    k, n : int
    level : float

    Returns
    -------
    list of float
        ``[low, high]`` (Wilson 1927; better coverage than the normal approximation for
        small ``n`` or proportions near 0 or 1).
    """
    if n <= 0:
        return [float("nan"), float("nan")]
    z = _st.norm.ppf(0.5 + level / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [float(centre - half), float(centre + half)]


def paired_accuracy_gain(correct_a, correct_b, level=0.95, n_boot=10000, seed=0):
    """Difference of two accuracies on the same items, with a paired bootstrap interval.

    Parameters
    ----------
    correct_a, correct_b : array_like of 0/1, shape (n_items,)
        Correctness of each item under two models (e.g. before and after fine-tuning).
    level : float
    n_boot : int
        Bootstrap resamples of the items (seeded).
    seed : int

    Returns
    -------
    dict
        ``gain`` (mean of b minus mean of a), ``ci`` (percentile interval), ``p`` (exact
        two-sided McNemar test on the discordant items), ``n``.
    """
    a = np.asarray(correct_a, dtype=float)
    b = np.asarray(correct_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise DataError(f"paired_accuracy_gain: correctness vectors of shapes {a.shape} and "
                        f"{b.shape}; expected two equal, non-empty 1-D vectors (same items).")
    diff = b - a
    rng = np.random.default_rng(seed)
    boots = diff[rng.integers(0, diff.size, size=(n_boot, diff.size))].mean(axis=1)
    lo, hi = np.percentile(boots, [50 - 50 * level, 50 + 50 * level])
    up, down = int((diff > 0).sum()), int((diff < 0).sum())
    p = float(_st.binomtest(up, up + down).pvalue) if up + down else 1.0
    return {"gain": float(diff.mean()), "ci": [float(lo), float(hi)], "p": p, "n": int(diff.size)}


def r_interval(x, y, groups=None, n_boot=1000, seed=0, level=0.95):
    """Pearson r of two word-level series with a bootstrap interval over groups of words.

    Words of one sentence (or story) are not independent, so whole groups are resampled
    (:func:`analysis.stats.bootstrap_mean_r`). Rows where either value is not finite are
    left out.

    Parameters
    ----------
    x, y : array_like of float, shape (n_words,)
    groups : array_like, shape (n_words,) | None
        Resampling units (sentences, stories); ``None`` resamples words.
    n_boot, seed : int
    level : float

    Returns
    -------
    dict
        ``r``, ``ci`` ([low, high], percentile), ``se``, ``n_words``, ``n_groups``.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    g = None if groups is None else np.asarray(groups)[ok]
    b = bootstrap_mean_r(y[ok, None], {"x": x[ok, None]}, n_boot=n_boot, seed=seed,
                         groups=g, level=level)["x"]
    return {"r": b["mean_r"], "ci": b["ci"], "se": b["se"], "n_words": int(ok.sum()),
            "n_groups": int(ok.sum() if g is None else len(np.unique(g)))}
