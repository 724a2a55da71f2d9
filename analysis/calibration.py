"""Calibration of the book's tests on realistic nulls: measured false-positive rates.

Words read in order are not independent observations: neighbouring hidden states
share most of their context, EEG/MEG drift slowly, reading times spill over to the
next word. A test that treats words as exchangeable then rejects a true null more
often than its nominal rate. This module measures that rate for each test the book
reports, on null targets with the serial dependence of real data:

* the targets are AR(1) noise (lag-1 autocorrelation ``rho``) restarted in each
  sentence or story (:func:`ar1_targets`), independent of the words, so every
  rejection is a false positive;
* the predictions come from the same encoding models as in the chapters
  (:func:`analysis.encoding.fit_encoding`, out of fold) fitted to those targets on
  features of the user's choice (the benchmark uses real hidden states of the
  project's default model), or from any arrays given;
* each column of the targets is one null draw; the rate of rejections over the
  draws is compared with the binomial range of the nominal rate
  (:func:`binomial_range`).

A test is calibrated here when its rate lies inside the 99 % binomial range of its
nominal alpha over the draws (at least 200). A positive control (:func:`plant`) adds a
real effect so that the power of the same tests is measured beside their
false-positive rate.

``benchmarks/bench_calibration.py`` runs the whole grid (every test, rho in
{0, 0.5, 0.8}, the dependence-preserving null beside the paper's word shuffle) and
writes ``benchmarks/results/calibration.json``; ``tests/test_calibration.py`` runs a
small version.

The same holds for intervals: :func:`coverage_r_intervals` measures how often the
book's bootstrap intervals on r and on a gain in r contain the true value on simulated
word series whose population values are known, with sentences (the book) or words
resampled, and :func:`interval_coverage` compares the share with the binomial range of
the nominal level. ``benchmarks/bench_coverage.py`` runs the grid and writes
``benchmarks/results/coverage.json``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st

from ._utils import DataError
from .stats import (category_ttest, permutation_r_difference, r_pvalue, two_sided_p,
                    DEFAULT_BLOCK_LENGTH)

__all__ = ["ar1_targets", "binomial_range", "rate_entry", "fpr_r_difference",
           "fpr_encoding", "fpr_category", "word_errors_difference", "plant",
           "interval_coverage", "sentence_labels", "coverage_r_intervals",
           "coverage_better_worse"]


def ar1_targets(n_words, n_draws, rho, groups=None, seed=0):
    """Independent AR(1) series of unit variance, restarted in each group.

    Parameters
    ----------
    n_words, n_draws : int
        Rows (words in order) and columns (null draws).
    rho : float
        Lag-1 autocorrelation, in [0, 1).
    groups : array_like, shape (n_words,) | None
        Contiguous sentence or story labels: the series starts afresh (from its
        stationary distribution) at each new label. None = one series.
    seed : int

    Returns
    -------
    ndarray of float64, shape (n_words, n_draws)
    """
    if not 0 <= rho < 1:
        raise DataError(f"ar1_targets: rho={rho!r}; expected 0 <= rho < 1.")
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((n_words, n_draws))
    new = np.ones(n_words, bool) if n_words == 0 else np.r_[True, np.diff(
        np.zeros(n_words) if groups is None else np.asarray(groups)) != 0]
    out = np.empty_like(e)
    c = np.sqrt(1 - rho ** 2)
    for t in range(n_words):
        out[t] = e[t] if new[t] else rho * out[t - 1] + c * e[t]
    return out


def binomial_range(n_draws, alpha, level=0.99):
    """Range of false-positive rates a calibrated test shows over ``n_draws`` draws.

    Parameters
    ----------
    n_draws : int
    alpha : float
        Nominal rate.
    level : float
        Central probability of Binomial(n_draws, alpha) covered.

    Returns
    -------
    tuple of float
        ``(low, high)`` rates (counts from ``scipy.stats.binom.ppf`` divided by
        ``n_draws``).
    """
    lo = _st.binom.ppf((1 - level) / 2, n_draws, alpha)
    hi = _st.binom.ppf(1 - (1 - level) / 2, n_draws, alpha)
    return float(lo / n_draws), float(hi / n_draws)


def rate_entry(reject, alpha, level=0.99):
    """Rejection rate of a set of null draws and whether it is inside the binomial range.

    Parameters
    ----------
    reject : array_like of bool
        One entry per draw (NaN-free).
    alpha : float
    level : float

    Returns
    -------
    dict
        ``rate``, ``count``, ``n_draws``, ``alpha``, ``range`` ([low, high]) and
        ``inside`` (bool).
    """
    reject = np.asarray(reject, dtype=bool).ravel()
    n = int(reject.size)
    lo, hi = binomial_range(n, alpha, level)
    rate = float(reject.mean()) if n else float("nan")
    return {"rate": rate, "count": int(reject.sum()), "n_draws": n, "alpha": float(alpha),
            "range": [lo, hi], "inside": bool(lo <= rate <= hi)}


def fpr_r_difference(y, pred_a, pred_b, alpha=0.05, scheme="blocks", groups=None,
                     block_length=DEFAULT_BLOCK_LENGTH, n_permutations=1000, seed=0,
                     level=0.99):
    """Rejection rate of the permutation test of an r difference, one draw per column.

    The test is :func:`analysis.stats.permutation_r_difference` (the component gain,
    the base vs fine-tuned re-test and the instruction vs plain comparison all use it);
    a draw rejects when its two-sided p-value (:func:`analysis.stats.two_sided_p`,
    the p that :func:`analysis.stats.better_worse_same` corrects) is below ``alpha``.

    Parameters
    ----------
    y, pred_a, pred_b : ndarray, shape (n_words, n_draws)
    alpha : float
    scheme, groups, block_length
        The null of the permutations (``"words"``: the paper's free shuffle).
    n_permutations, seed : int
    level : float
        Coverage of the binomial range.

    Returns
    -------
    dict
        :func:`rate_entry` plus ``scheme``, the rate of the one-sided "better" test
        (``rate_better``), and the median lag-1 autocorrelation of the targets and of
        the prediction differences.
    """
    res = permutation_r_difference(y, pred_a, pred_b, n_permutations, seed=seed,
                                   scheme=scheme, groups=groups, block_length=block_length)
    p2 = two_sided_p(res["p_greater"], res["p_less"])
    out = rate_entry(np.nan_to_num(p2, nan=1.0) < alpha, alpha, level)
    out.update(scheme=scheme, rate_better=float(np.mean(res["p_greater"] < alpha)),
               lag1_y=res["null"]["median_lag1_y"],
               lag1_difference=res["null"]["median_lag1_difference"])
    return out


def fpr_encoding(y, pred, alpha=0.05, groups=None, corrected=True, level=0.99):
    """Rejection rate of the encoding test (one-sided p of r), one draw per column.

    Parameters
    ----------
    y, pred : ndarray, shape (n_words, n_draws)
        Targets and out-of-fold predictions.
    alpha : float
    groups : array_like | None
        Sentences or stories (for the lag-1 autocorrelations).
    corrected : bool
        True: :func:`analysis.stats.r_and_pvalue` (Bartlett's effective n from the
        autocorrelations of both series); False: ``n - 2`` degrees of freedom
        (independent words).
    level : float

    Returns
    -------
    dict
        :func:`rate_entry` plus ``method``.
    """
    from .stats import r_and_pvalue

    if corrected:
        p = r_and_pvalue(pred, y, groups)["p"]
    else:
        from .stats import pearson_columns

        p = r_pvalue(pearson_columns(pred, y), y.shape[0])
    out = rate_entry(np.nan_to_num(p, nan=1.0) < alpha, alpha, level)
    out["method"] = "effective n (Bartlett)" if corrected else "n - 2"
    return out


def word_errors_difference(y, pred_a, pred_b):
    """Per-word squared error of model a minus that of model b (each column a draw).

    Parameters
    ----------
    y, pred_a, pred_b : ndarray, shape (n_words, n_draws)

    Returns
    -------
    ndarray, shape (n_words, n_draws)
        ``(y - a)^2 - (y - b)^2`` on columns z-scored with the targets' mean and sd
        (the error of the brain re-test, one channel per draw).
    """
    mu, sd = y.mean(0), y.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    z = (y - mu) / sd
    return ((pred_a - mu) / sd - z) ** 2 - ((pred_b - mu) / sd - z) ** 2


def fpr_category(values, in_category, alpha=0.05, level=0.99, n_permutations=0, **null):
    """Rejection rate of the two-sided category t-test, one draw per column.

    Parameters
    ----------
    values : ndarray, shape (n_words, n_draws)
        E.g. :func:`word_errors_difference`.
    in_category : ndarray of bool, shape (n_words,)
    alpha : float
    level : float
    n_permutations : int
        0: Welch's t distribution; otherwise the permutation p of
        :func:`analysis.stats.category_ttest` under ``null`` (``scheme``, ``groups``,
        ``block_length``, ``seed``).

    Returns
    -------
    dict
        :func:`rate_entry` plus ``n_in``.
    """
    res = category_ttest(values, in_category, n_permutations=n_permutations, **null)
    out = rate_entry(np.nan_to_num(res["p"], nan=1.0) < alpha, alpha, level)
    out["n_in"] = int(np.asarray(in_category, bool).sum())
    return out


def plant(y, signal, share):
    """Targets with a planted effect: ``sqrt(1 - share) y + sqrt(share) z(signal)``.

    Parameters
    ----------
    y : ndarray, shape (n_words, n_draws)
        Null targets (unit variance).
    signal : ndarray, shape (n_words,) or (n_words, n_draws)
        What the effect adds (e.g. a projection of the features); z-scored per column.
    share : float
        Variance share of the signal, in [0, 1].

    Returns
    -------
    ndarray, shape (n_words, n_draws)
    """
    s = np.asarray(signal, dtype=np.float64)
    s = s[:, None] if s.ndim == 1 else s
    s = (s - s.mean(0)) / np.where(s.std(0) > 0, s.std(0), 1.0)
    return np.sqrt(1 - share) * y + np.sqrt(share) * np.broadcast_to(s, y.shape)


# --------------------------------------------------------------------------- coverage
def interval_coverage(intervals, truth, level=0.95, range_level=0.99):
    """Share of intervals that contain the true value, with its binomial range.

    Parameters
    ----------
    intervals : array_like, shape (n_draws, 2)
        ``[low, high]`` of one interval per simulated dataset.
    truth : float | array_like, shape (n_draws,)
        The population value each interval should contain.
    level : float
        Nominal coverage of the intervals (e.g. 0.95).
    range_level : float
        Central probability of Binomial(n_draws, level) that the range covers
        (:func:`binomial_range`).

    Returns
    -------
    dict
        ``coverage``, ``count``, ``n_draws``, ``level``, ``range`` ([low, high]) and
        ``inside`` (bool), as in :func:`rate_entry`; ``below`` and ``above``, the shares
        of intervals lying wholly below or above the truth; ``median_width``.

    Raises
    ------
    DataError
        Intervals not of shape (n_draws, 2), or non-finite bounds.
    """
    iv = np.asarray(intervals, dtype=np.float64)
    if iv.ndim != 2 or iv.shape[1] != 2 or not np.isfinite(iv).all():
        raise DataError(f"interval_coverage: intervals of shape {iv.shape} (or non-finite); "
                        "expected finite [low, high] rows, shape (n_draws, 2).")
    truth = np.broadcast_to(np.asarray(truth, dtype=np.float64), iv.shape[:1])
    below, above = iv[:, 1] < truth, iv[:, 0] > truth
    entry = rate_entry(~(below | above), level, range_level)
    out = {"coverage": entry.pop("rate"), "level": entry.pop("alpha"), **entry}
    out.update(below=float(below.mean()), above=float(above.mean()),
               median_width=float(np.median(iv[:, 1] - iv[:, 0])))
    return out


def sentence_labels(n_words, low, high, seed=0):
    """Contiguous sentence labels with lengths drawn uniformly from ``low`` to ``high``.

    Parameters
    ----------
    n_words, low, high, seed : int
        Words, shortest and longest sentence (inclusive), seed.

    Returns
    -------
    ndarray of int, shape (n_words,)
        0, 0, ..., 1, 1, ...: the last sentence is cut at ``n_words``.
    """
    lengths = np.random.default_rng(seed).integers(low, high + 1, n_words)
    return np.repeat(np.arange(n_words), lengths)[:n_words]


def coverage_r_intervals(groups, rho, rho_x=0.5, coefs=(0.2, 0.15), restart=True,
                         n_draws=200, n_boot=1000, seed=0, level=0.95, range_level=0.99,
                         units=("sentences", "words")):
    """Coverage of the book's bootstrap intervals on r and on a gain in r, simulated.

    Each dataset has two predictors ``x1``, ``x2`` (AR(1), lag-1 autocorrelation
    ``rho_x``) and a response ``y = c1 x1 + c2 x2 + e`` with AR(1) noise ``e`` (lag-1
    autocorrelation ``rho``), all of unit variance and independent of each other
    (:func:`ar1_targets`), so the population values are known:
    ``r(y, x1) = c1 / sqrt(1 + c1^2 + c2^2)`` and, for the prediction
    ``c1 x1 + c2 x2`` against the "baseline" ``x1``, the gain
    ``(sqrt(c1^2 + c2^2) - c1) / sqrt(1 + c1^2 + c2^2)``. The intervals are computed
    as the book computes them: the r of a word series by
    :func:`analysis.stats.r_interval` (e.g. surprisal and the N400), the gain by
    :func:`analysis.stats.bootstrap_mean_r` with ``reference="baseline"`` (as
    :func:`analysis.real_data.component_encoding` does), each once with whole
    sentences resampled (``groups``) and once with words resampled (``groups=None``).

    Parameters
    ----------
    groups : array_like, shape (n_words,)
        Contiguous sentence labels (the resampling units).
    rho, rho_x : float
        Lag-1 autocorrelation of the noise and of the predictors, in [0, 1).
    coefs : tuple of float
        ``(c1, c2)``.
    restart : bool
        True: every series starts afresh in each sentence (isolated sentences, as in
        the Frank et al. 2015 EEG data); False: the series run on across sentences (a
        story read in order, as in Natural Stories), so neighbouring sentences are
        dependent too.
    n_draws, n_boot, seed : int
        Simulated datasets, bootstrap resamples per interval, seed.
    level, range_level : float
        Nominal level of the intervals; coverage of the binomial range.
    units : tuple of str
        Resampling units to measure: ``"sentences"`` and/or ``"words"``.

    Returns
    -------
    dict
        ``truth`` (``r``, ``gain``) and, for ``r`` and ``gain``, per resampling unit
        of ``units`` the :func:`interval_coverage` entry.

    Raises
    ------
    DataError
        Fewer than two sentences, ``rho`` or ``rho_x`` outside [0, 1), an unknown unit.
    """
    from .stats import bootstrap_mean_r, r_interval

    g = np.asarray(groups)
    n = g.size
    c1, c2 = (float(v) for v in coefs)
    scale = np.sqrt(1 + c1 ** 2 + c2 ** 2)
    truth = {"r": c1 / scale, "gain": (np.hypot(c1, c2) - c1) / scale}
    known = {"sentences": g, "words": None}
    if not units or set(units) - set(known):
        raise DataError(f"coverage_r_intervals: units={units!r}; expected some of "
                        f"{list(known)}.")
    units = {u: known[u] for u in units}
    found = {k: {u: [] for u in units} for k in truth}
    series_groups = g if restart else None
    rng = np.random.default_rng(seed)
    for _ in range(int(n_draws)):
        s_x, s_e, s_boot = (int(v) for v in rng.integers(0, 2 ** 31, 3))
        x = ar1_targets(n, 2, rho_x, series_groups, s_x)
        y = c1 * x[:, 0] + c2 * x[:, 1] + ar1_targets(n, 1, rho, series_groups, s_e)[:, 0]
        preds = {"baseline": x[:, :1], "nested": x @ np.array([[c1], [c2]])}
        for u, ug in units.items():
            found["r"][u].append(r_interval(x[:, 0], y, ug, n_boot, s_boot, level)["ci"])
            b = bootstrap_mean_r(y[:, None], preds, reference="baseline", n_boot=n_boot,
                                 seed=s_boot, groups=ug, level=level)
            found["gain"][u].append(b["nested"]["diff_ci"])
    out = {"truth": {k: float(v) for k, v in truth.items()}}
    for k in truth:
        out[k] = {u: interval_coverage(found[k][u], truth[k], level, range_level)
                  for u in units}
    return out


def coverage_better_worse(groups, rho, rho_x=0.5, n_tests=100, c2_max=0.3, noise=0.1,
                          q=0.05, n_draws=200, n_permutations=1000, n_boot=200, seed=0,
                          level=0.95, range_level=0.99, units=("sentences", "words"),
                          thresholds=("rerun",)):
    """Coverage of the interval on the percentage of tests "better", simulated.

    Each dataset has ``n_tests`` columns (channels x windows) over isolated sentences:
    a shared baseline predictor ``x1`` and signal ``x2`` (AR(1), lag-1 autocorrelation
    ``rho_x``), responses ``y_j = 0.2 x1 + c_j x2 + e_j`` with AR(1) noise ``e_j`` (lag-1
    autocorrelation ``rho``) and ``c_j`` evenly from 0 to ``c2_max``, and two
    predictions, ``a_j = 0.2 x1 + noise u_j`` and ``b_j = 0.2 x1 + c_j x2 + noise v_j``
    (``u``, ``v`` white noise of unit variance), so the share of tests called better
    grows with ``c_j``. Every series restarts in each sentence. The test is
    :func:`analysis.stats.permutation_r_difference` with the sentence null and the
    interval :func:`analysis.stats.bootstrap_better_worse`, as the brain re-test calls
    them. The interval describes the sampling variation of the share reported, so its
    target is the expected share at this design: estimated here as the mean of the
    shares reported over the ``n_draws`` datasets.

    Parameters
    ----------
    groups : array_like, shape (n_words,)
        Contiguous sentence labels.
    rho, rho_x : float
        Lag-1 autocorrelation of the noise and of the predictors.
    n_tests : int
        Columns per dataset.
    c2_max, noise : float
        Largest weight of the signal; standard deviation of the predictions' own noise.
    q : float
        False discovery rate of the test.
    n_draws, n_permutations, n_boot, seed : int
    level, range_level : float
    units : tuple of str
        Resampling units of the interval: ``"sentences"`` and/or ``"words"``.
    thresholds : tuple of str
        Rules of the interval (``thresholds`` of
        :func:`analysis.stats.bootstrap_better_worse`): ``"rerun"`` and/or
        ``"fixed"`` (the earlier rule).

    Returns
    -------
    dict
        ``truth`` (mean percent better reported), ``sd_reported`` (its spread over the
        datasets) and per unit and rule the :func:`interval_coverage` entry, keyed by
        the unit (``"sentences"``) for the rule ``"rerun"`` and by the unit and
        ``", thresholds fixed"`` for ``"fixed"``; each entry also has ``sd_interval``,
        the median over the datasets of the interval's width divided by 2 x 1.96.

    Raises
    ------
    DataError
        An unknown unit or rule, ``rho`` or ``rho_x`` outside [0, 1).
    """
    from .stats import bootstrap_better_worse, better_worse_same

    g = np.asarray(groups)
    n = g.size
    known = {"sentences": g, "words": None}
    if not units or set(units) - set(known):
        raise DataError(f"coverage_better_worse: units={units!r}; expected some of "
                        f"{list(known)}.")
    if not thresholds or set(thresholds) - {"rerun", "fixed"}:
        raise DataError(f"coverage_better_worse: thresholds={thresholds!r}; expected "
                        "some of ['rerun', 'fixed'].")
    cells = {(u if rule == "rerun" else f"{u}, thresholds fixed"): (u, rule)
             for u in units for rule in thresholds}
    weights = np.linspace(0.0, c2_max, int(n_tests))[None, :]
    rng = np.random.default_rng(seed)
    reported, found = [], {c: [] for c in cells}
    for _ in range(int(n_draws)):
        s_x, s_e, s_test = (int(v) for v in rng.integers(0, 2 ** 31, 3))
        x = ar1_targets(n, 2, rho_x, g, s_x)
        base = 0.2 * x[:, :1]
        y = base + weights * x[:, 1:] + ar1_targets(n, int(n_tests), rho, g, s_e)
        u, v = noise * rng.standard_normal((2, n, int(n_tests)))
        a, b = base + u, base + weights * x[:, 1:] + v
        test = permutation_r_difference(y, a, b, n_permutations, seed=s_test,
                                        scheme="sentences", groups=g)
        reported.append(100.0 * np.mean(better_worse_same(test["p_greater"], test["p_less"],
                                                          q) == 1))
        for cell, (unit, rule) in cells.items():
            found[cell].append(bootstrap_better_worse(
                y, a, b, test, q=q, groups=known[unit], n_boot=n_boot,
                seed=s_test, thresholds=rule)["percent_better_ci"])
    truth = float(np.mean(reported))
    out = {"truth": truth, "sd_reported": float(np.std(reported, ddof=1))}
    z = _st.norm.isf((1 - level) / 2)
    for cell in cells:
        out[cell] = interval_coverage(found[cell], truth, level, range_level)
        out[cell]["sd_interval"] = out[cell]["median_width"] / (2 * z)
    return out
