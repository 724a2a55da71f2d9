"""Statistics shared by the chapters: correlations, p-values, FDR, RSA, noise ceilings.

Everything here is plain numpy/scipy on arrays; nothing fits a model (the encoding
models live in :mod:`analysis.encoding`). Conventions:

* Pearson r is computed per column (axis 0 = observations).
* p-values of encoding r are one-sided (H1: r > 0) from the t distribution with
  ``n_eff - 2`` degrees of freedom, ``n_eff`` Bartlett's effective number of words of
  two autocorrelated series (:func:`r_and_pvalue`); words read in order are not
  independent, and ``n - 2`` makes the test liberal.
* Permutation tests move the responses under a null that keeps their serial
  dependence (whole sentences, blocks, circular shifts within stories:
  :func:`dependence_preserving_permutations`; each dataset declares its scheme in
  :mod:`analysis.datasets`). The free word shuffle of the paper is kept only as
  ``scheme="words"`` for the calibration benchmark (:mod:`analysis.calibration`,
  ``benchmarks/bench_calibration.py``), which measures every test's false-positive
  rate on autocorrelated nulls.
* RDMs are condensed (upper triangle, ``scipy.spatial.distance.pdist`` order) and use
  correlation distance ``1 - r``; RSA compares RDMs with Spearman's rank correlation.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats as _st
from scipy.spatial.distance import pdist

from .._docs import fill_doc
from .._utils import DataError, check_array, welch_ttest, zscore

__all__ = [
    "ceiling_share",
    "variance_ratio",
    "rsa_ceiling_text",
    "zscore_words",
    "nanmean_rows",
    "pearson_columns",
    "r_pvalue",
    "r_and_pvalue",
    "NULL_SCHEMES",
    "dependence_preserving_permutations",
    "lag1_autocorrelation",
    "effective_n",
    "effective_n_bartlett",
    "autocorrelations",
    "null_significant_count",
    "two_sided_p",
    "significance_mask",
    "fdr_bh",
    "binomial_false_positive_bound",
    "spearman_brown",
    "split_half_reliability",
    "split_half_ceiling",
    "noise_ceiling",
    "rdm",
    "rdm_spearman",
    "random_word_subset",
    "rsa_timecourse",
    "rsa_noise_ceiling",
    "permutation_r_difference",
    "better_worse_same",
    "bootstrap_mean_r",
    "bootstrap_better_worse",
    "resample_weights",
    "wilson_interval",
    "paired_accuracy_gain",
    "category_ttest",
]


#: Permutation schemes of :func:`dependence_preserving_permutations`.
NULL_SCHEMES = ("sentences", "blocks", "circular", "words")

#: Default block length (words) of the ``"blocks"`` scheme: at a lag-1 autocorrelation of
#: 0.8 an AR(1) series keeps 0.8**20 ~ 0.01 of its correlation across a block edge.
DEFAULT_BLOCK_LENGTH = 20

#: Lags summed by :func:`r_and_pvalue` for the effective sample size.
DEFAULT_MAX_LAG = 10

def pearson_columns(a, b):
    """Pearson correlation between matching columns of two arrays.

    Parameters
    ----------
    a, b : ndarray, shape (n, ...)
        Observations on axis 0; the remaining axes are paired element-wise.

    Returns
    -------
    ndarray, shape a.shape[1:]
        r per column; NaN where either column is constant.
    """
    a = check_array(a, "pearson_columns: first array", dtype=np.float64)
    b = check_array(b, "pearson_columns: second array", dtype=np.float64)
    if a.shape != b.shape:
        raise DataError(f"pearson_columns: shapes {a.shape} and {b.shape} differ; "
                        "expected the same shape.")
    ac = a - a.mean(axis=0)
    bc = b - b.mean(axis=0)
    den = np.sqrt((ac ** 2).sum(axis=0) * (bc ** 2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (ac * bc).sum(axis=0) / den
    return np.where(den > 0, r, np.nan)


def r_pvalue(r, n, rho_x=None, rho_y=None, n_eff=None):
    """One-sided p-value of a Pearson r (H1: r > 0), optionally for autocorrelated series.

    Parameters
    ----------
    r : array_like
        Correlations.
    n : int
        Number of observations behind each r (> 2).
    rho_x, rho_y : array_like | None
        Lag-1 autocorrelations of the two series (:func:`lag1_autocorrelation`,
        broadcast with ``r``). Given, the degrees of freedom are ``n_eff - 2`` with the
        effective sample size of :func:`effective_n` (Bartlett 1935; Bayley & Hammersley
        1946) instead of ``n - 2``: words in order are not independent, and with
        ``n - 2`` a correlation of two independent AR(1) series with lag-1
        autocorrelation 0.8 passes a 5 % test about a quarter of the time (measured in
        :mod:`analysis.calibration`).
    n_eff : array_like | None
        An effective sample size computed elsewhere (e.g. :func:`effective_n_bartlett`,
        as :func:`r_and_pvalue` does); overrides ``rho_x`` and ``rho_y``.

    Returns
    -------
    ndarray
        ``P(T >= t)`` with ``t = r sqrt(df/(1-r^2))`` and T ~ Student(df); NaN where r is
        NaN.
    """
    if n <= 2:
        raise ValueError(f"r_pvalue: n={n}; expected more than 2 observations.")
    r = np.clip(np.asarray(r, dtype=np.float64), -1 + 1e-12, 1 - 1e-12)
    if n_eff is not None:
        df = np.asarray(n_eff, dtype=np.float64) - 2.0
    elif rho_x is None and rho_y is None:
        df = float(n - 2)
    else:
        df = effective_n(n, 0.0 if rho_x is None else rho_x,
                         0.0 if rho_y is None else rho_y) - 2.0
    t = r * np.sqrt(df / (1 - r ** 2))
    return _st.t.sf(t, df)


def r_and_pvalue(pred, y, groups=None, max_lag=None):
    """Pearson r per column and its p-value corrected for serial dependence.

    The degrees of freedom are ``n_eff - 2`` with Bartlett's (1935) effective sample
    size summed over the first ``max_lag`` lags of both series
    (:func:`effective_n_bartlett`), not the AR(1) closed form of the lag-1
    autocorrelations: ridge predictions from LM hidden states keep much of their
    autocorrelation over many words (measured on the default model's layer 12: 0.7 at
    lag 1, still 0.5 at lag 10), so the lag-1 form under-corrects: on null targets with
    lag-1 autocorrelation 0.8 and such predictions, a 5 % test rejected 9.3 % of 300
    draws with the lag-1 form and 5.0 % with 10 lags (``n - 2``: 25.7 %;
    ``benchmarks/results/calibration.json``).

    Parameters
    ----------
    pred, y : ndarray, shape (n, ...)
        Predictions and responses, words in order on axis 0.
    groups : array_like, shape (n,) | None
        Sentences or stories (lagged pairs stay inside one; see
        :func:`autocorrelations`).
    max_lag : int | None
        Lags summed (default :data:`DEFAULT_MAX_LAG`).

    Returns
    -------
    dict of ndarray, each of shape ``y.shape[1:]``
        ``r``, ``p`` (one-sided, :func:`r_pvalue` with ``n_eff``), ``lag1_prediction``,
        ``lag1_response``, ``n_eff``.
    """
    n = np.shape(y)[0]
    lags = DEFAULT_MAX_LAG if max_lag is None else int(max_lag)
    r = pearson_columns(pred, y)
    acf_p, acf_y = autocorrelations(pred, groups, lags), autocorrelations(y, groups, lags)
    n_eff = effective_n_bartlett(n, acf_p, acf_y)
    return {"r": r, "p": r_pvalue(r, n, n_eff=n_eff), "lag1_prediction": acf_p[0],
            "lag1_response": acf_y[0], "n_eff": n_eff}


def null_significant_count(pred, y, p_threshold=1e-3, scheme="blocks", groups=None,
                           block_length=DEFAULT_BLOCK_LENGTH, n_permutations=100, seed=0,
                           level=0.95, col_block=512):
    """How many targets the encoding test calls significant with permuted responses.

    Replaces a binomial "chance alone" bound, which assumes independent tests: the
    channels and windows of one recording are correlated, so the count of false
    positives varies far more than a binomial count. Here the responses are permuted
    as a whole (every column with the same permutation, keeping the dependence between
    channels, windows and neighbouring words; :func:`dependence_preserving_permutations`)
    and each target's p-value is recomputed as :func:`r_and_pvalue` computes it.

    Parameters
    ----------
    pred, y : ndarray, shape (n, ...)
        Out-of-fold predictions and responses (e.g. ``EncodingResult.predictions`` and
        ``WordDataset.responses``).
    p_threshold : float
        The per-target threshold of the encoding test.
    scheme, groups, block_length
        The null (:func:`analysis.datasets.null_design`).
    n_permutations : int
    seed : int
    level : float
        Quantile of the permuted counts reported as ``bound``.
    col_block : int
        Columns processed together.

    Returns
    -------
    dict
        ``counts`` (ndarray of int, one per permutation), ``bound`` (their ``level``
        quantile, rounded up), ``level``, ``scheme``, ``n_permutations``.

    Notes
    -----
    The predictions stay fixed: the count is that of a model whose predictions are
    unrelated to the responses. It ignores that the ridge model would be refitted on
    permuted responses (too costly for a page); out-of-fold predictions under a true
    null are slightly anti-correlated with the responses, so refitting would give
    fewer false positives, not more.
    """
    pred = np.asarray(pred)
    y = np.asarray(y)
    n = y.shape[0]
    zp = _unit_columns(pred.reshape(n, -1)).astype(np.float32)
    zy = _unit_columns(y.reshape(n, -1)).astype(np.float32)
    # the permutations keep the order inside each unit, so a permuted series has the
    # autocorrelations of the real one up to the few pairs at unit edges
    n_eff = r_and_pvalue(pred.reshape(n, -1), y.reshape(n, -1), groups)["n_eff"]
    counts = []
    for perms in dependence_preserving_permutations(n, scheme, groups, n_permutations, seed,
                                                    block_length):
        for perm in perms:
            hits = 0
            for s in range(0, zy.shape[1], col_block):
                yp = zy[perm, s:s + col_block]
                r = np.einsum("nc,nc->c", yp, zp[:, s:s + col_block], dtype=np.float64)
                p = r_pvalue(r, n, n_eff=n_eff[s:s + col_block])
                hits += int((np.nan_to_num(p, nan=1.0) < p_threshold).sum())
            counts.append(hits)
    counts = np.asarray(counts, dtype=np.int64)
    return {"counts": counts, "bound": int(np.ceil(np.quantile(counts, level))),
            "level": float(level), "scheme": scheme, "n_permutations": int(n_permutations)}


def significance_mask(p, alpha=1e-3):
    """Boolean mask of tests with ``p < alpha`` (NaN counts as not significant).

    Parameters
    ----------
    p : array_like
        p-values.
    alpha : float
        Threshold (the paper uses 0.001).

    Returns
    -------
    ndarray of bool, same shape as ``p``
        A *boolean* mask: index channels with it directly (the public code used a
        0/1 integer array as an index, which selects channels 0 and 1).
    """
    p = np.asarray(p, dtype=np.float64)
    return np.nan_to_num(p, nan=1.0) < alpha


def fdr_bh(p, q=0.05):
    """Benjamini–Hochberg false discovery rate control.

    Parameters
    ----------
    p : array_like
        p-values (any shape; NaN are ignored and never rejected).
    q : float
        Target false discovery rate.

    Returns
    -------
    reject : ndarray of bool, same shape as ``p``
    q_values : ndarray, same shape as ``p``
        BH-adjusted p-values (NaN where ``p`` is NaN).
    """
    p = np.asarray(p, dtype=np.float64)
    flat = p.ravel()
    ok = np.flatnonzero(~np.isnan(flat))
    qv = np.full(flat.shape, np.nan)
    m = ok.size
    if m:
        order = ok[np.argsort(flat[ok], kind="stable")]
        ranked = flat[order] * m / np.arange(1, m + 1)
        qv[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    reject = np.nan_to_num(qv, nan=np.inf) <= q
    return reject.reshape(p.shape), qv.reshape(p.shape)


def binomial_false_positive_bound(n_tests, alpha=1e-3, level=0.999):
    """Largest number of significant tests expected by chance under the null.

    Parameters
    ----------
    n_tests : int
        Independent tests.
    alpha : float
        Per-test significance threshold.
    level : float
        Quantile of Binomial(n_tests, alpha) returned.

    Returns
    -------
    int
    """
    return int(_st.binom.ppf(level, n_tests, alpha))


def spearman_brown(r, factor=2.0):
    """Spearman–Brown prophecy: reliability of a test ``factor`` times longer.

    Parameters
    ----------
    r : array_like
        Reliability of one part (e.g. the correlation between two halves).
    factor : float
        Length ratio (2 for split halves).

    Returns
    -------
    ndarray or float
        ``factor * r / (1 + (factor - 1) * r)``.
    """
    r = np.asarray(r, dtype=np.float64)
    return factor * r / (1 + (factor - 1) * r)


def split_half_reliability(r_half_a, r_half_b):
    """Reliability of an encoding-r map from two halves of the subjects.

    Parameters
    ----------
    r_half_a, r_half_b : ndarray, same shape
        r maps (e.g. windows x channels) fitted on the averages of two disjoint
        halves of the subjects.

    Returns
    -------
    dict
        ``half_r``: Pearson correlation of the two maps (NaN entries dropped);
        ``reliability``: its Spearman–Brown correction to the full set of subjects.
    """
    a = np.ravel(r_half_a)
    b = np.ravel(r_half_b)
    if a.shape != b.shape:
        raise ValueError(f"split_half_reliability: maps of {a.size} and {b.size} values; "
                         "expected the same shape.")
    ok = np.isfinite(a) & np.isfinite(b)
    half = float(np.corrcoef(a[ok], b[ok])[0, 1])
    return {"half_r": half, "reliability": float(spearman_brown(half))}


def nanmean_rows(values):
    """Mean over axis 0 ignoring NaN; NaN (and no warning) where a column has no value."""
    present = np.isfinite(values)
    count = present.sum(axis=0)
    total = np.where(present, values, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _pearson_pairwise(a, b):
    """Pearson r per column over the rows where both columns are finite; and their count."""
    ok = np.isfinite(a) & np.isfinite(b)
    n = ok.sum(axis=0)
    a0, b0 = np.where(ok, a, 0.0), np.where(ok, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ma, mb = a0.sum(0) / n, b0.sum(0) / n
        da, db = np.where(ok, a - ma, 0.0), np.where(ok, b - mb, 0.0)
        r = (da * db).sum(0) / np.sqrt((da ** 2).sum(0) * (db ** 2).sum(0))
    return r, n


_CEILING_METHODS = ("mean", "median", "fisher_z")


def split_half_ceiling(subject_values, n_splits=100, seed=0, method="mean"):
    """Split-half reliability of a per-item mean over participants (Spearman–Brown).

    Each split shuffles the participants (``numpy.random.default_rng(seed)``, one
    permutation per split, shared by every column), averages the first
    ``n_subjects // 2`` of them and the rest separately per item (NaN = no value,
    ignored), correlates the two half means over the items that have a value in both
    halves (Pearson), and corrects that correlation to the full set of participants
    with :func:`spearman_brown` (factor 2). This is the noise ceiling of the Methods page (real-data protocols) for
    measures averaged over participants; Brain-Score language's Futrell2018 ceiling is
    the same statistic summarised by the median of 10 splits (``method="median"``,
    though its own draws use ``numpy.random.RandomState(0)`` and so differ split by
    split).

    Reading the value: it estimates the correlation between the participant mean
    and a replication of it with as many new participants. A noiseless predictor
    of the true item values is expected to reach Pearson r = ``sqrt(ceiling)`` with
    the measured mean; Brain-Score divides r by the ceiling itself, not by its
    square root. Say which convention a chapter uses.

    Parameters
    ----------
    subject_values : array_like, shape (n_subjects, n_items, ...)
        One row per participant, one entry per item (e.g. word) on axis 1, any further
        axes (channels, windows) treated as separate columns; NaN where a participant
        has no value (not presented, artefact trial). At least two participants.
    n_splits : int
        Random splits (>= 1).
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same splits.
    method : {"mean", "median", "fisher_z"}
        Which summary is returned as ``"ceiling"``: the mean or the median of the
        corrected split values, or the Spearman–Brown correction of the half
        correlations averaged in Fisher-z space. All three are returned as well.

    Returns
    -------
    dict
        ``reliability`` (the summary chosen by ``method``: a split-half reliability,
        Spearman-Brown corrected); ``ceiling``, the same number under the name
        Brain-Score's Futrell2018 benchmark gives it (it divides r by it); ``method``; ``mean``,
        ``median``, ``fisher_z`` and ``sd`` (``ddof=1``; NaN with one split) of the
        corrected values; ``interval``: the 2.5th and 97.5th percentiles of the
        corrected values over splits (their spread, not a confidence interval of the
        mean); ``corrected`` and ``half_r`` (shape (n_splits, ...)): the corrected and
        uncorrected correlation of each split; ``n_items`` (shape (n_splits, ...)):
        items used by each split; ``n_subjects``, ``n_splits``, ``seed``. The summaries
        are floats for 2-D input and arrays of the trailing shape otherwise.

    Raises
    ------
    DataError
        Fewer than two axes, infinite values, fewer than two participants,
        ``n_splits`` below 1, an unknown ``method``, a split that leaves fewer than
        three items with a value in both halves, or constant half means (r
        undefined).

    Notes
    -----
    With an odd number of participants the halves differ by one participant and
    the factor-2 correction is approximate (Brain-Score splits the same way). A
    negative half correlation gives a negative corrected value (below -1 once the
    half r is below -1/3), which is not a reliability; it is returned as is so
    that the spread over splits stays visible. With few participants (the simulated
    study's four) few distinct splits exist; repeated splits repeat their values.

    On the Frank et al. (2015) single-trial N400 (24 participants, the 1,487 words
    of the published analyses, artefact trials as NaN) the defaults give a mean of
    0.352 (sd 0.025, 2.5-97.5 %: 0.310-0.401); computed here (see
    ``tests/test_reference.py``), no published value exists.
    """
    values = check_array(subject_values, "split_half_ceiling: subject values",
                         finite=False, dtype=np.float64)
    if values.ndim < 2:
        raise DataError(f"split_half_ceiling: subject values of shape {values.shape}; "
                        "expected (n_subjects, n_items, ...).")
    if np.isinf(values).any():
        s, i = (int(k) for k in np.argwhere(np.isinf(values))[0][:2])
        raise DataError(f"split_half_ceiling: subject values hold an infinite value (first at "
                        f"participant {s}, item {i}); expected finite numbers or NaN for a "
                        "missing value.")
    n_subjects, n_items = values.shape[:2]
    tail = values.shape[2:]
    if n_subjects < 2:
        raise DataError(f"split_half_ceiling: subject values of shape {values.shape} hold "
                        f"{n_subjects} participant(s); expected at least two rows "
                        "(n_subjects, n_items).")
    if int(n_splits) != n_splits or n_splits < 1:
        raise DataError(f"split_half_ceiling: n_splits={n_splits!r}; expected an integer >= 1.")
    if method not in _CEILING_METHODS:
        raise DataError(f"split_half_ceiling: method={method!r}; expected one of "
                        f"{', '.join(repr(m) for m in _CEILING_METHODS)}.")
    flat = values.reshape(n_subjects, n_items, -1)
    rng = np.random.default_rng(seed)
    half = n_subjects // 2
    half_r = np.empty((int(n_splits), flat.shape[2]))
    used = np.empty((int(n_splits), flat.shape[2]), dtype=int)
    for k in range(int(n_splits)):
        order = rng.permutation(n_subjects)
        a = nanmean_rows(flat[order[:half]])
        b = nanmean_rows(flat[order[half:]])
        half_r[k], used[k] = _pearson_pairwise(a, b)
        if used[k].min() < 3:
            raise DataError(f"split_half_ceiling: split {k} leaves {used[k].min()} of {n_items} "
                            "items with a value in both halves; expected at least 3. Too many "
                            "values are missing for a split-half estimate.")
        if not np.all(np.isfinite(half_r[k])):
            raise DataError(f"split_half_ceiling: split {k}: a half mean is constant over the "
                            "items, so its correlation is undefined; expected values that vary "
                            "over items.")
    corrected = spearman_brown(half_r)
    fisher = spearman_brown(np.tanh(np.mean(np.arctanh(np.clip(half_r, -1 + 1e-15,
                                                               1 - 1e-15)), axis=0)))
    lo, hi = np.percentile(corrected, [2.5, 97.5], axis=0)
    summary = {"mean": corrected.mean(0), "median": np.median(corrected, axis=0),
               "fisher_z": fisher,
               "sd": corrected.std(0, ddof=1) if n_splits > 1 else np.full(flat.shape[2], np.nan)}

    def shaped(v):
        v = np.asarray(v).reshape(tail) if tail else np.asarray(v).reshape(())
        return float(v) if not tail else v

    out = {k: shaped(v) for k, v in summary.items()}
    return {
        "reliability": out[method],
        "ceiling": out[method],
        "method": method,
        **out,
        "interval": (shaped(lo), shaped(hi)),
        "corrected": corrected.reshape((-1,) + tail) if tail else corrected[:, 0],
        "half_r": half_r.reshape((-1,) + tail) if tail else half_r[:, 0],
        "n_items": used.reshape((-1,) + tail) if tail else used[:, 0],
        "n_subjects": int(n_subjects),
        "n_splits": int(n_splits),
        "seed": seed,
    }


def noise_ceiling(subject_responses, n_splits=20, seed=0):
    """Noise ceiling of every channel and window from split halves of the subjects.

    Parameters
    ----------
    subject_responses : ndarray, shape (n_subjects, n_words, n_channels, n_windows)
        Per-subject responses (``WordDataset.subject_responses``; NaN = missing trial).
    n_splits, seed : int
        As in :func:`split_half_ceiling`.

    Returns
    -------
    dict
        ``reliability`` (n_windows, n_channels): Spearman–Brown corrected split-half
        reliability of the subject mean (mean over splits); ``ceiling_r``: its square
        root clipped to [0, 1], the largest Pearson r a noiseless model of the true
        responses can expect with the measured mean; ``n_subjects``, ``n_splits``.
    """
    sub = np.asarray(subject_responses)
    if sub.ndim != 4:
        raise DataError(f"noise_ceiling: subject responses of shape {sub.shape}; expected "
                        "(n_subjects, n_words, n_channels, n_windows).")
    res = split_half_ceiling(sub, n_splits=n_splits, seed=seed)
    rel = np.asarray(res["mean"]).T  # (n_windows, n_channels)
    return {"reliability": rel, "ceiling_r": np.sqrt(np.clip(rel, 0.0, 1.0)),
            "n_subjects": res["n_subjects"], "n_splits": res["n_splits"]}


def ceiling_share(r, ceiling_r, significant):
    """How much of the noise ceiling the model reaches on its significant tests.

    Parameters
    ----------
    r : ndarray, shape (n_windows, n_channels)
        Model r (``EncodingResult.r``).
    ceiling_r : ndarray, shape (n_windows, n_channels) | None
        Ceiling on r (:func:`noise_ceiling`); ``None`` when the data have no separate
        subjects (then every number is NaN and the text says why).
    significant : ndarray of bool, shape (n_windows, n_channels)

    Returns
    -------
    dict
        ``n_significant``; ``median_ceiling`` (median ceiling over the significant
        tests) and ``share_median`` (median of r / ceiling over them, tests with a
        ceiling of 0 left out), both NaN when nothing is significant; ``text``, the
        sentence the encoding chapter quotes.

    Raises
    ------
    ValueError
        When the three arrays differ in shape.
    """
    if ceiling_r is None:
        return {"n_significant": int(np.sum(significant)), "median_ceiling": float("nan"),
                "share_median": float("nan"),
                "text": "These data have no separate subjects, so no ceiling can be computed "
                        "here."}
    r, ceiling_r = np.asarray(r), np.asarray(ceiling_r)  # dtypes kept (float32 maps stay float32)
    sig = np.asarray(significant, bool)
    if not r.shape == ceiling_r.shape == sig.shape:
        raise ValueError(f"ceiling_share: r {r.shape}, ceiling_r {ceiling_r.shape} and "
                         f"significant {sig.shape} must have the same shape")
    if not sig.any():
        return {"n_significant": 0, "median_ceiling": float("nan"),
                "share_median": float("nan"),
                "text": "No channel is significant, so no share of the ceiling is reported."}
    cap = ceiling_r[sig]
    share = float(np.nanmedian(r[sig] / np.where(cap > 0, cap, np.nan)))
    median = float(np.nanmedian(cap))
    return {"n_significant": int(sig.sum()), "median_ceiling": median, "share_median": share,
            "text": f"Over the {int(sig.sum()):,} significant channels and windows, the median "
                    f"ceiling is {median:.2f} and the model reaches a median {share:.2f} of it."}


def variance_ratio(responses, in_group):
    """Variance over words of one group of words relative to the others.

    Parameters
    ----------
    responses : ndarray, shape (n_words, n_channels, n_windows)
    in_group : ndarray of bool, shape (n_words,)
        The words of the group (e.g. the planted categories of the simulated study).

    Returns
    -------
    ndarray, shape (n_channels, n_windows)
        ``var(group) / var(others)`` (population variances); above 1 where the group
        varies more, e.g. where a response of random sign was planted on it.

    Raises
    ------
    ValueError
        When the mask does not match the words or leaves fewer than two words on a side.
    """
    resp = np.asarray(responses)
    group = np.asarray(in_group, bool)
    if resp.ndim != 3 or group.shape != (resp.shape[0],):
        raise ValueError(f"variance_ratio: responses of shape {resp.shape} and a mask of "
                         f"shape {group.shape}; expected (n_words, n_channels, n_windows) "
                         "and (n_words,)")
    if min(group.sum(), (~group).sum()) < 2:
        raise ValueError(f"variance_ratio: {int(group.sum())} words in the group and "
                         f"{int((~group).sum())} outside; expected at least 2 on each side")
    return resp[group].var(axis=0) / resp[~group].var(axis=0)


# --------------------------------------------------------------------------- RSA
def rdm(patterns):
    """Condensed representational dissimilarity matrix (correlation distance).

    Parameters
    ----------
    patterns : ndarray, shape (n_items, n_features)
        One pattern per item (word).

    Returns
    -------
    ndarray, shape (n_items * (n_items - 1) / 2,)
        ``1 - Pearson r`` between every pair of rows (``pdist`` order).
    """
    patterns = check_array(patterns, "rdm patterns", ndim=2,
                           row_name=lambda i: f"item {i}", col_name=lambda j: f"feature {j}")
    return pdist(patterns, metric="correlation")


def rdm_spearman(a, b):
    """Spearman rank correlation between two condensed RDMs.

    Parameters
    ----------
    a, b : ndarray, shape (n_pairs,)

    Returns
    -------
    float
    """
    return float(_st.spearmanr(a, b).statistic)


def random_word_subset(n_words, n_subset, seed):
    """Seeded random subset of word indices, sorted.

    Parameters
    ----------
    n_words : int
        Words available.
    n_subset : int
        Words wanted (all of them when ``n_subset >= n_words``).
    seed : int
        Seed of the choice.

    Returns
    -------
    ndarray of int
    """
    if n_subset >= n_words:
        return np.arange(n_words)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_words, size=n_subset, replace=False))


def rsa_timecourse(features, responses, n_subset=1000, seed=0):
    """RSA between LM features and brain responses, per window (Methods page, beyond the paper).

    Parameters
    ----------
    features : ndarray, shape (n_words, d)
        One layer's word vectors.
    responses : ndarray, shape (n_words, n_channels, n_windows)
        Brain responses (e.g. ``WordDataset.responses``). Channels are z-scored over
        words first so that magnetometers and gradiometers weigh the same.
    n_subset : int
        Words used (a seeded random subset keeps the cost at ``n_subset^2``).
    seed : int
        Seed of the subset.

    Returns
    -------
    ndarray, shape (n_windows,)
        Spearman correlation between the feature RDM and each window's response RDM.
    """
    features = check_array(features, "rsa_timecourse features", ndim=2,
                           row_name=lambda i: f"word {i}", col_name=lambda j: f"column {j}")
    responses = check_array(responses, "rsa_timecourse responses", ndim=3,
                            row_name=lambda i: f"word {i}")
    if features.shape[0] != responses.shape[0]:
        raise DataError(f"rsa_timecourse: features cover {features.shape[0]} words but "
                        f"responses have {responses.shape[0]}; expected the same words.")
    idx = random_word_subset(features.shape[0], n_subset, seed)
    feat_rdm = rdm(features[idx])
    z = zscore_words(responses[idx])
    return np.array([rdm_spearman(feat_rdm, rdm(z[:, :, w])) for w in range(z.shape[2])])


def rsa_ceiling_text(rsa, lower):
    """The sentence the encoding chapter writes under its RSA time course.

    Parameters
    ----------
    rsa : ndarray, shape (n_windows,) | None
        Model RSA (:func:`rsa_timecourse`); ``None`` when it was not computed (fewer
        than three channels).
    lower : ndarray, shape (n_windows,) | None
        Lower bound of the RSA noise ceiling (:func:`rsa_noise_ceiling`); ``None``
        without separate subjects.

    Returns
    -------
    str
        Explains the lower bound, and why a model above it in any window is no better
        than the brain.
    """
    if rsa is None:
        return ("With fewer than three channels a pattern across channels has no "
                "correlation distance, so RSA is not computed for these data.")
    if lower is None:
        return "These data have no separate subjects, so no RSA ceiling is drawn."
    text = ("The dashed line is the lower bound of the noise ceiling: how well one subject's "
            "matrix matches the average of the others'.")
    if np.any(np.asarray(rsa) > np.asarray(lower)):
        text += (" It compares one noisy subject with a less noisy average, while the model "
                 "is compared with the average of all subjects and has no noise of its own, "
                 "so a model above the lower bound (as here in some windows) is not better "
                 "than the brain: it says the lower bound is a loose floor for what is "
                 "reachable, not a ceiling.")
    return text


def rsa_noise_ceiling(subject_responses, n_subset=1000, seed=0):
    """Noise ceiling of RSA from individual subjects' RDMs (Methods page, beyond the paper).

    Parameters
    ----------
    subject_responses : ndarray, shape (n_subjects, n_words, n_channels, n_windows)
        At least two subjects.
    n_subset, seed : int
        Word subset, as in :func:`rsa_timecourse` (use the same values to compare).

    Returns
    -------
    lower, upper : ndarray, shape (n_windows,)
        Mean Spearman correlation of each subject's RDM with the mean RDM of the
        other subjects (lower bound) and with the mean RDM of all subjects
        including itself (upper bound).
    """
    sub = np.asarray(subject_responses)
    if sub.ndim != 4 or sub.shape[0] < 2:
        raise ValueError(f"rsa_noise_ceiling: subject responses of shape {sub.shape}; "
                         "expected (n_subjects >= 2, n_words, n_channels, n_windows).")
    complete = np.flatnonzero(np.isfinite(sub).all(axis=(0, 2, 3)))  # no missing trial
    if complete.size < 3:
        raise DataError(f"rsa_noise_ceiling: {complete.size} words have a value for every "
                        "subject; expected at least 3.")
    idx = complete[random_word_subset(complete.size, n_subset, seed)]
    n_sub, n_win = sub.shape[0], sub.shape[3]
    lower, upper = np.empty(n_win), np.empty(n_win)
    for w in range(n_win):
        rdms = np.stack([rdm(zscore_words(sub[s][idx])[:, :, w]) for s in range(n_sub)])
        total = rdms.sum(axis=0)
        upper[w] = np.mean([rdm_spearman(rdms[s], total / n_sub) for s in range(n_sub)])
        lower[w] = np.mean([rdm_spearman(rdms[s], (total - rdms[s]) / (n_sub - 1))
                            for s in range(n_sub)])
    return lower, upper


def zscore_words(x):
    """z-score each channel (x window) over words; constant columns become 0."""
    return zscore(x, axis=0)


# ------------------------------------------------- nulls that keep serial dependence


def _runs(labels, n):
    """Start, length and run index per row of the contiguous runs of ``labels``."""
    if labels is None:
        labels = np.zeros(n, dtype=np.int64)
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise DataError(f"groups of shape {labels.shape}; expected ({n},), one label per word.")
    new = np.r_[True, labels[1:] != labels[:-1]] if n else np.zeros(0, bool)
    run = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    lengths = np.diff(np.r_[starts, n])
    return starts, lengths, run


def _unit_layout(n, scheme, groups, block_length):
    """Units a permutation moves, and which units may trade places (same stratum)."""
    g_start, g_len, g_run = _runs(groups, n)
    if scheme == "sentences":
        if groups is None:
            raise DataError("scheme 'sentences' needs groups: the sentence label of each word.")
        starts, lengths, unit = g_start, g_len, g_run
        strata = lengths  # sentences of equal length trade places
    else:  # blocks of block_length words inside each group
        b = int(block_length)
        if b < 1:
            raise DataError(f"block_length={block_length!r}; expected an integer >= 1.")
        pos = np.arange(n) - g_start[g_run]
        key = g_run * (n + 1) + pos // b
        starts, lengths, unit = _runs(key, n)
        strata = g_run[starts] * (n + 1) + lengths  # same group, same length
    return starts, lengths, unit, strata


def dependence_preserving_permutations(n_words, scheme="blocks", groups=None,
                                       n_permutations=1000, seed=0,
                                       block_length=DEFAULT_BLOCK_LENGTH, chunk=256):
    """Row permutations of word-level responses that keep their serial dependence.

    Neighbouring words are not independent (slow drift of EEG/MEG, spill-over of
    reading times, overlapping contexts of LM hidden states), so shuffling single
    words makes the null distribution of a correlation too narrow and a test too
    liberal (the calibration in :mod:`analysis.calibration`). These schemes move whole
    stretches of words instead, so that every permuted response series keeps the
    within-sentence or within-story dependence of the real one while its link to the
    words (their features, predictions) is broken.

    Parameters
    ----------
    n_words : int
        Rows (words, in presentation order).
    scheme : {"sentences", "blocks", "circular", "words"}
        ``"sentences"``: the responses of whole sentences trade places among
        sentences of the same length (``groups`` = sentence labels). In isolated-
        sentence designs (Frank et al. 2015: sentences in random order, each after a
        fixation) the responses of different sentences are independent, and within a
        sentence their dependence and their position effects (e.g. sentence-final
        wrap-up) are tied to word position. Under H0 (the responses do not depend on
        the words) the response vectors of two sentences of equal length are therefore
        exchangeable; sentences of different length are not (no one-to-one map of
        positions), and a sentence whose length no other shares stays in place.
        ``"blocks"``: each group (story; the whole series when ``groups`` is None) is
        cut into consecutive blocks of ``block_length`` words, and blocks of the same
        group and length trade places (a block permutation; the last, shorter block of
        a group stays in place unless another has its length). Exchangeable under H0
        when the dependence is short compared to a block (stationary series within a
        story). ``"circular"``: each group is rotated by its own uniform random offset
        (a circular shift; exact for stationary series up to the one wrap-around
        point; with few groups there are only ``prod(lengths)`` distinct draws).
        ``"words"``: single words shuffled freely, the classical test, which assumes
        independent words; kept only to show its failure (the calibration benchmark).
    groups : array_like, shape (n_words,) | None
        Contiguous labels: sentences (``"sentences"``) or stories (``"blocks"``,
        ``"circular"``); None = one series.
    n_permutations : int
    seed : int
        Seed of ``numpy.random.default_rng``; draws are made one permutation at a time,
        so they do not depend on ``chunk``.
    block_length : int
        Words per block (``"blocks"``).
    chunk : int
        Permutations per yielded array.

    Yields
    ------
    ndarray of int64, shape (count, n_words)
        Row indices: ``y[perm]`` is a permuted response series.

    Raises
    ------
    DataError
        An unknown scheme, groups of the wrong shape, or a layout that leaves every
        word in place (no two units can trade places).
    """
    n = int(n_words)
    if scheme not in NULL_SCHEMES:
        raise DataError(f"unknown null scheme {scheme!r}; expected one of {NULL_SCHEMES}.")
    if int(n_permutations) < 1:
        raise DataError(f"n_permutations={n_permutations!r}; expected at least 1.")
    rng = np.random.default_rng(seed)
    if scheme == "words":
        draw = lambda: rng.permutation(n)  # noqa: E731
    elif scheme == "circular":
        g_start, g_len, g_run = _runs(groups, n)
        if g_len.max(initial=0) < 2:
            raise DataError("scheme 'circular': every group has one word; nothing can move.")
        pos = np.arange(n) - g_start[g_run]

        def draw():
            shift = rng.integers(0, g_len)
            return g_start[g_run] + (pos + shift[g_run]) % g_len[g_run]
    else:
        starts, lengths, unit, strata = _unit_layout(n, scheme, groups, block_length)
        offset = np.arange(n) - starts[unit]
        classes = [np.flatnonzero(strata == s) for s in np.unique(strata)]
        classes = [c for c in classes if c.size > 1]
        if not classes:
            raise DataError(f"scheme {scheme!r}: no two units of equal length "
                            f"({len(starts)} units); every word would stay in place.")

        def draw():
            source = np.arange(len(starts))
            for c in classes:
                source[c] = c[rng.permutation(c.size)]
            return starts[source[unit]] + offset
    for b0 in range(0, int(n_permutations), int(chunk)):
        count = min(int(chunk), int(n_permutations) - b0)
        yield np.stack([draw() for _ in range(count)]).astype(np.int64)


def autocorrelations(x, groups=None, max_lag=1):
    """Autocorrelation of each column at lags 1..max_lag, over pairs in the same group.

    Parameters
    ----------
    x : ndarray, shape (n, ...)
        Series on axis 0 (words in order); any trailing shape of columns.
    groups : array_like, shape (n,) | None
        Contiguous labels (sentences, stories): only words ``k`` apart with the same
        label form a pair. None = one series.
    max_lag : int

    Returns
    -------
    ndarray, shape (max_lag,) + x.shape[1:]
        Correlation of ``x[t]`` with ``x[t+k]`` over the pairs of lag ``k`` (NaN for a
        constant column or fewer than three pairs). Columns are centred once, on their
        overall mean, not per group or per lag: group means of short sentences bias the
        estimate down (by about (1 + 4 rho) / length), while offsets between groups
        bias it up, which only makes an effective n smaller (conservative).
    """
    x = np.asarray(x)
    x = x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)
    n, tail = x.shape[0], x.shape[1:]
    flat = x.reshape(n, -1)
    _, _, run = _runs(groups, n)
    xc = flat - flat.mean(axis=0, dtype=np.float64).astype(flat.dtype)
    sq = xc * xc
    out = np.full((int(max_lag), flat.shape[1]), np.nan)
    for k in range(1, min(int(max_lag), n - 1) + 1):
        w = (run[k:] == run[:-k]).astype(flat.dtype)  # 1 for a pair inside one group
        if w.sum() < 3:
            continue
        # weighted sums instead of copies of the paired rows (fast at 5,000 x 6,000)
        num = np.einsum("n,nc,nc->c", w, xc[:-k], xc[k:]).astype(np.float64)
        den = np.sqrt((w @ sq[:-k]).astype(np.float64) * (w @ sq[k:]).astype(np.float64))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[k - 1] = np.where(den > 0, num / den, np.nan)
    return out.reshape((int(max_lag),) + tail)


def lag1_autocorrelation(x, groups=None):
    """Lag-1 autocorrelation of each column, over pairs of neighbours in the same group.

    Parameters
    ----------
    x : ndarray, shape (n, ...)
    groups : array_like, shape (n,) | None
        Contiguous labels (sentences, stories): only neighbours with the same label
        form a pair. None = one series.

    Returns
    -------
    ndarray, shape x.shape[1:]
        :func:`autocorrelations` at lag 1.
    """
    return autocorrelations(x, groups, 1)[0]


def effective_n_bartlett(n, acf_x, acf_y):
    """Effective number of observations behind the correlation of two series (Bartlett).

    ``n_eff = n / (1 + 2 sum_k acf_x(k) acf_y(k))`` (Bartlett 1935; the sum over the
    lags given): the variance of the sample correlation of two independent stationary
    series is about ``1 / n_eff``. For two AR(1) series the infinite sum gives
    :func:`effective_n`. A negative sum is set to 0 (``n_eff`` kept at ``n``,
    conservative), NaN autocorrelations count as 0, and ``n_eff`` is kept at least 3.

    Parameters
    ----------
    n : int
    acf_x, acf_y : ndarray, shape (max_lag, ...)
        From :func:`autocorrelations`.

    Returns
    -------
    ndarray, shape acf_x.shape[1:]
    """
    total = np.nansum(np.asarray(acf_x, float) * np.asarray(acf_y, float), axis=0)
    return np.clip(n / (1 + 2 * np.clip(total, 0.0, None)), 3.0, float(n))


def effective_n(n, rho_x, rho_y):
    """Effective number of observations behind a correlation of two AR(1) series.

    ``n_eff = n (1 - rho_x rho_y) / (1 + rho_x rho_y)`` (Bartlett 1935; Bayley &
    Hammersley 1946): the variance of the sample correlation of two independent
    AR(1) series with lag-1 autocorrelations ``rho_x`` and ``rho_y`` is about
    ``1 / n_eff``. A negative product would raise ``n_eff`` above ``n``; it is kept at
    ``n`` (conservative), and ``n_eff`` is kept at least 3.

    Parameters
    ----------
    n : int
    rho_x, rho_y : array_like
        Lag-1 autocorrelations (broadcast together); NaN counts as 0.

    Returns
    -------
    ndarray
    """
    prod = np.clip(np.nan_to_num(np.asarray(rho_x, float) * np.asarray(rho_y, float)), 0.0,
                   0.999)
    return np.clip(n * (1 - prod) / (1 + prod), 3.0, float(n))


# ------------------------------------------------------ comparing two encoding models
def _unit_columns(x):
    """Centre each column and scale it to unit norm (float64); constant columns -> NaN."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    norm = np.sqrt((x ** 2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, x / norm, np.nan)


def permutation_r_difference(y, pred_a, pred_b, n_permutations=10000, seed=0,
                             perm_block=256, col_block=128, n_threads=None, tol=1e-5,
                             backend="numpy", device=None, mean_over_columns=False,
                             scheme="blocks", groups=None, block_length=DEFAULT_BLOCK_LENGTH):
    """Permutation test of the difference in Pearson r of two predictions, per column.

    For each column (e.g. channel x window) the statistic is
    ``delta = r(y, pred_b) - r(y, pred_a)``. Each permutation moves the rows of ``y``
    and recomputes ``delta`` with the SAME permutation for both predictions and for
    every column (Methods page, fine-tuning and the brain re-test). The paper shuffles single words; here the permutations
    keep the serial dependence of the responses (``scheme``, see
    :func:`dependence_preserving_permutations`): with single words shuffled, two
    independent AR(1) series with lag-1 autocorrelation 0.8 differ "significantly"
    far more often than the nominal rate (:mod:`analysis.calibration`).

    Parameters
    ----------
    y : ndarray, shape (n, ...)
        Responses; observations on axis 0, any trailing shape.
    pred_a, pred_b : ndarray, same shape as ``y``
        Predictions of the reference model (a, e.g. the base LM) and of the model
        tested against it (b, e.g. the fine-tuned LM).
    n_permutations : int
        Number of random permutations (the paper: 10,000).
    seed : int
        Seed of the permutations; results do not depend on the block sizes or threads.
    perm_block : int
        Permutations drawn and held in memory at once (``perm_block x n`` integers).
    col_block : int
        Columns processed together (sized so that a column block of ``y`` stays in cache).
    n_threads : int | None
        Threads over column blocks (default: the CPUs available to the process).
    tol : float
        Permuted differences within ``tol`` of the observed one count as ties (as at
        least as extreme), so float32 rounding never makes a p-value smaller.
    backend : {"numpy", "torch"}
        ``"torch"`` runs the permuted products on ``device`` (default ``"cuda"``) in
        float32, with the same permutations (drawn by numpy from ``seed``); the counts
        equal the numpy backend's up to float32 rounding at the ``tol`` margin.
    device : str | None
        Torch device for ``backend="torch"``.
    mean_over_columns : bool
        Also test the mean of ``delta`` over all (finite) columns, with the same
        permutations: one p-value for a whole map (e.g. every channel of a window of
        interest), which the per-column tests cannot give.
    scheme : {"blocks", "sentences", "circular", "words"}
        Null scheme (the dataset's: :func:`analysis.datasets.null_design`); ``"words"``
        is the paper's free shuffle, kept for the calibration benchmark.
    groups : array_like, shape (n,) | None
        Sentence or story labels of the rows, for ``scheme`` and for the lag-1
        autocorrelations reported.
    block_length : int
        Words per block (``scheme="blocks"``).

    Returns
    -------
    dict of ndarray, each of shape ``y.shape[1:]``
        ``delta``: observed difference; ``r_a``, ``r_b``: the two correlations;
        ``p_greater``: ``(#{delta_perm >= delta} + 1) / (n + 1)`` (b better than a);
        ``p_less``: ``(#{delta_perm <= delta} + 1) / (n + 1)`` (b worse than a).
        ``null_mean``, ``null_sd``: mean and standard deviation of the permuted
        differences (what :func:`bootstrap_better_worse` needs to hold each test's
        threshold fixed). NaN for columns where ``y`` or a prediction is constant. With
        ``mean_over_columns`` also the floats ``mean_delta``, ``p_mean_greater`` and
        ``p_mean_less`` (the same counts for the mean over columns). ``lag1_y`` and
        ``lag1_difference``: lag-1 autocorrelation (within ``groups``) of the responses
        and of the difference of the two predictions, per column; ``null``: a dict
        with the ``scheme``, ``block_length``, ``n_permutations`` and the median of both
        lag-1 autocorrelations over columns (for the pages).

    The permutations depend only on ``seed``, ``n``, ``n_permutations`` and the scheme
    (with its groups and block length): calls with the same values (e.g. one per
    instruction, each against the same reference) use the same permutations.

    Notes
    -----
    Each column of ``y`` and of both predictions is centred and scaled to unit norm
    once, so ``r = z_y . z_pred``. A permutation does not change the mean or norm of
    ``y``, hence ``delta_perm = z_y[perm] . (z_b - z_a)``: one gather of ``y`` per
    permutation and column block serves both models. The products run in float32.
    """
    y = check_array(y, "permutation_r_difference: y", row_name=lambda i: f"word {i}")
    pred_a = check_array(pred_a, "permutation_r_difference: pred_a", row_name=lambda i: f"word {i}")
    pred_b = check_array(pred_b, "permutation_r_difference: pred_b", row_name=lambda i: f"word {i}")
    if pred_a.shape != y.shape or pred_b.shape != y.shape:
        raise DataError(f"permutation_r_difference: y {y.shape}, pred_a {pred_a.shape}, "
                        f"pred_b {pred_b.shape}; expected the same shape.")
    if n_permutations < 1:
        raise ValueError(f"n_permutations={n_permutations}; expected at least 1.")
    n, tail = y.shape[0], y.shape[1:]
    zy = _unit_columns(y.reshape(n, -1))
    za = _unit_columns(np.asarray(pred_a).reshape(n, -1))
    zb = _unit_columns(np.asarray(pred_b).reshape(n, -1))
    r_a, r_b = (zy * za).sum(axis=0), (zy * zb).sum(axis=0)
    d = zb - za
    bad = ~(np.isfinite(d).all(axis=0) & np.isfinite(zy).all(axis=0))
    zy[:, bad], d[:, bad] = 0.0, 0.0
    m = zy.shape[1]
    starts = list(range(0, m, col_block))
    ys = [np.ascontiguousarray(zy[:, s:s + col_block], dtype=np.float32) for s in starts]
    ds = [np.ascontiguousarray(d[:, s:s + col_block], dtype=np.float32) for s in starts]
    # observed delta through the same float32 arithmetic as the permuted ones
    delta32 = np.concatenate([np.einsum("nc,nc->c", a, b) for a, b in zip(ys, ds)])
    ge = np.zeros(m, dtype=np.int64)
    le = np.zeros(m, dtype=np.int64)
    n_valid = max(1, int((~bad).sum()))
    mean_obs = float(delta32.sum()) / n_valid  # bad columns hold zeros
    mean_counts = np.zeros(2, dtype=np.int64)
    perm_chunks = dependence_preserving_permutations(n, scheme, groups, n_permutations, seed,
                                                     block_length, chunk=perm_block)
    moments = np.zeros((2, m))  # sums of delta_perm and delta_perm**2 per column
    if backend == "torch":
        ge, le, mean_counts, moments = _permutation_counts_torch(zy, d, delta32, perm_chunks,
                                                                 tol, device, mean_obs=mean_obs,
                                                                 n_valid=n_valid)
    elif backend != "numpy":
        raise ValueError(f"backend={backend!r}; expected 'numpy' or 'torch'.")

    def work(j, perms):
        yb, db, s = ys[j], ds[j], starts[j]
        obs = delta32[s:s + yb.shape[1]]
        buf = np.empty_like(yb)
        g = np.zeros(yb.shape[1], dtype=np.int64)
        lo = np.zeros(yb.shape[1], dtype=np.int64)
        m1 = np.zeros(yb.shape[1])
        m2 = np.zeros(yb.shape[1])
        sums = np.zeros(len(perms))
        for i, perm in enumerate(perms):
            np.take(yb, perm, axis=0, out=buf)
            val = np.einsum("nc,nc->c", buf, db)
            g += val >= obs - tol
            lo += val <= obs + tol
            m1 += val
            m2 += np.square(val, dtype=np.float64)
            sums[i] = val.sum()
        return j, g, lo, sums, m1, m2

    from concurrent.futures import ThreadPoolExecutor

    from ..provenance import n_cpus

    threads = n_threads or max(1, n_cpus() or 1)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for perms in (perm_chunks if backend == "numpy" else ()):
            total = np.zeros(len(perms))
            for j, g, lo, sums, m1, m2 in pool.map(lambda j: work(j, perms),
                                                   range(len(starts))):
                s = starts[j]
                ge[s:s + len(g)] += g
                le[s:s + len(lo)] += lo
                moments[0, s:s + len(g)] += m1
                moments[1, s:s + len(g)] += m2
                total += sums
            mean_counts += _mean_counts(total / n_valid, mean_obs, tol)
    p_greater = (ge + 1) / (n_permutations + 1)
    p_less = (le + 1) / (n_permutations + 1)
    null_mean = moments[0] / n_permutations
    null_sd = np.sqrt(np.maximum(moments[1] / n_permutations - null_mean ** 2, 0.0))
    out = {"delta": r_b - r_a, "r_a": r_a, "r_b": r_b, "p_greater": p_greater,
           "p_less": p_less, "null_mean": null_mean, "null_sd": null_sd,
           "lag1_y": lag1_autocorrelation(zy, groups),
           "lag1_difference": lag1_autocorrelation(d, groups)}
    for k, v in out.items():
        v = np.asarray(v, dtype=np.float64)
        v[bad] = np.nan
        out[k] = v.reshape(tail)
    if mean_over_columns:
        out["mean_delta"] = float(np.nanmean(out["delta"])) if (~bad).any() else float("nan")
        out["p_mean_greater"] = float((mean_counts[0] + 1) / (n_permutations + 1))
        out["p_mean_less"] = float((mean_counts[1] + 1) / (n_permutations + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN maps
        out["null"] = {"scheme": scheme, "block_length": int(block_length) if scheme == "blocks"
                       else None, "n_permutations": int(n_permutations),
                       "median_lag1_y": float(np.nanmedian(out["lag1_y"])),
                       "median_lag1_difference": float(np.nanmedian(out["lag1_difference"]))}
    return out


def _mean_counts(values, observed, tol):
    """How many permuted means are >= and <= the observed one (ties count, see ``tol``)."""
    values = np.asarray(values, dtype=np.float64)
    return np.array([int((values >= observed - tol).sum()),
                     int((values <= observed + tol).sum())], dtype=np.int64)


def _permutation_counts_torch(zy, d, observed, perm_chunks, tol, device=None, col_block=512,
                              mean_obs=0.0, n_valid=1):
    """The counts of :func:`permutation_r_difference` with the products on a torch device.

    Returns the per-column counts ``ge``, ``le``, the two counts of the mean over
    columns and the per-column sums of the permuted differences and of their squares
    (shape (2, n_columns)).
    """
    import torch

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    n, m = zy.shape
    zy_t = torch.as_tensor(np.ascontiguousarray(zy, dtype=np.float32), device=dev)
    d_t = torch.as_tensor(np.ascontiguousarray(d, dtype=np.float32), device=dev)
    obs = torch.as_tensor(observed, device=dev)
    ge = torch.zeros(m, dtype=torch.int64, device=dev)
    le = torch.zeros(m, dtype=torch.int64, device=dev)
    mean_counts = np.zeros(2, dtype=np.int64)
    moments = torch.zeros((2, m), dtype=torch.float64, device=dev)
    for perms in perm_chunks:
        idx = torch.as_tensor(perms, device=dev)
        total = torch.zeros(len(perms), dtype=torch.float64, device=dev)
        for s in range(0, m, col_block):
            gathered = zy_t[:, s:s + col_block][idx]  # (count, n, cols)
            val = torch.einsum("pnc,nc->pc", gathered, d_t[:, s:s + col_block])
            ge[s:s + col_block] += (val >= obs[s:s + col_block] - tol).sum(0)
            le[s:s + col_block] += (val <= obs[s:s + col_block] + tol).sum(0)
            moments[0, s:s + col_block] += val.double().sum(0)
            moments[1, s:s + col_block] += val.double().square().sum(0)
            total += val.double().sum(1)
        mean_counts += _mean_counts(total.cpu().numpy() / n_valid, mean_obs, tol)
    return ge.cpu().numpy(), le.cpu().numpy(), mean_counts, moments.cpu().numpy()


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
                           level=0.95, col_block=512):
    """Intervals for the percentages of tests "better" and "worse", by bootstrap.

    The share of channel x window tests that :func:`better_worse_same` calls better
    (or worse) is a count of discoveries; this gives its sampling interval over the
    words read. Each resample draws whole sentences (``groups``) with replacement,
    recomputes every column's ``delta = r(y, pred_b) - r(y, pred_a)`` on the drawn
    words, and calls a column better when its ``delta`` passes the threshold the
    original test used: the permutation null's mean plus ``z`` of its standard
    deviations, where ``z`` is the normal quantile of the Benjamini-Hochberg
    two-sided threshold of the original family (the largest rejected two-sided p, or
    ``q / m`` when nothing was rejected); "worse" in the mirror. The thresholds are
    held fixed, so the interval shows how the share moves with the sample of
    sentences, not a new test. The interval is the percentile interval of the change
    in the count from the full sample to each resample, less its mean (the bootstrap
    estimate of bias: counts of discoveries grow under resampling), placed on the
    share the permutation test reported (the normal thresholds and the permutation
    p-values need not call exactly the same columns; Efron & Tibshirani 1993, ch. 10
    and 13), clipped to 0-100 %.

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

    Returns
    -------
    dict
        ``percent_better_ci``, ``percent_worse_ci`` (percent of all tests,
        ``[low, high]``), ``z`` (the threshold in null standard deviations),
        ``n_boot`` and ``units`` ("sentences" or "words").

    Raises
    ------
    DataError
        Shapes that differ from ``y``, a test without the null moments, or fewer than
        two resampling units.
    """
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
    better = np.zeros(len(w))
    worse = np.zeros(len(w))
    for s, rs in _weighted_r_blocks(w, yc, preds, col_block):
        delta = rs["b"] - rs["a"]
        cols = slice(s, s + delta.shape[1])
        ok = finite[cols][None, :]
        better += ((delta >= upper[cols]) & ok).sum(1)
        worse += ((delta <= lower[cols]) & ok).sum(1)
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
            "units": "words" if groups is None else "sentences"}


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


def two_sided_p(p_greater, p_less):
    """Two-sided p-value from the two one-sided ones of the same test.

    Parameters
    ----------
    p_greater, p_less : array_like, same shape

    Returns
    -------
    ndarray
        ``min(1, 2 min(p_greater, p_less))`` (NaN where either is NaN).
    """
    pg, pl = np.asarray(p_greater, dtype=np.float64), np.asarray(p_less, dtype=np.float64)
    return np.minimum(1.0, 2.0 * np.minimum(pg, pl))


def better_worse_same(p_greater, p_less, q=0.05):
    """Classify paired comparisons: one two-sided test per target, one BH family.

    Each target gets the two-sided p-value :func:`two_sided_p`; Benjamini–Hochberg
    runs once over all targets, and a target it rejects is "better" or "worse" by the
    direction of its smaller one-sided p-value. Why one family: a page reports the
    better and the worse targets together as the findings of one comparison, so the
    false discovery rate must hold over both kinds of claim. Correcting each direction
    in a family of its own lets each spend the whole rate ``q``, about twice the rate
    over both (a single target with ``p_greater = 0.04`` is "better" at q = 0.05 in
    its own family but not here, where its two-sided p is 0.08). BH over the
    ``2 x n_targets`` one-sided p-values would be the other choice; since at most one
    of the two is small per target it calls almost the same targets.

    Parameters
    ----------
    p_greater, p_less : ndarray, same shape
        One-sided p-values of "b better than a" and "b worse than a" (from
        :func:`permutation_r_difference`).
    q : float
        False discovery rate over all targets and both directions.

    Returns
    -------
    ndarray of int8, same shape
        ``1`` better, ``-1`` worse, ``0`` same. NaN p-values count as "same".
    """
    pg = np.asarray(p_greater, dtype=np.float64)
    pl = np.asarray(p_less, dtype=np.float64)
    reject, qv = fdr_bh(two_sided_p(pg, pl), q)
    reject &= np.nan_to_num(qv, nan=1.0) < q
    out = np.zeros(pg.shape, dtype=np.int8)
    out[reject & (pg < pl)] = 1
    out[reject & (pl < pg)] = -1
    return out


def _welch_t_columns(values, cat):
    """Welch t per column of category rows against the rest, NaN left out (vectorised)."""
    out = []
    for rows in (values[cat], values[~cat]):
        ok = np.isfinite(rows)
        k = ok.sum(0)
        x = np.where(ok, rows, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = x.sum(0) / k
            var = (np.where(ok, rows - mean, 0.0) ** 2).sum(0) / (k - 1)
        out.append((mean, var / k))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (out[0][0] - out[1][0]) / np.sqrt(out[0][1] + out[1][1])


def _category_permutation_p(values, cat, t_obs, alternative, n_permutations, scheme, groups,
                            block_length, seed):
    """p of :func:`category_ttest` from permutations of the values' rows."""
    ge = np.zeros(values.shape[1])
    for perms in dependence_preserving_permutations(values.shape[0], scheme, groups,
                                                    n_permutations, seed, block_length):
        for perm in perms:
            t = _welch_t_columns(values[perm], cat)
            if alternative == "two-sided":
                ge += np.abs(t) >= np.abs(t_obs) - 1e-12
            elif alternative == "greater":
                ge += t >= t_obs - 1e-12
            else:
                ge += t <= t_obs + 1e-12
    return np.where(np.isfinite(t_obs), (ge + 1) / (n_permutations + 1), np.nan)


def category_ttest(values, in_category, alternative="two-sided", n_permutations=0,
                   scheme="blocks", groups=None, block_length=DEFAULT_BLOCK_LENGTH, seed=0):
    """Welch t-test per column: category words against the other words.

    Parameters
    ----------
    values : ndarray, shape (n_words, n_windows)
        A per-word quantity (e.g. the error reduction base - fine-tuned); NaN entries
        are left out.
    in_category : ndarray of bool, shape (n_words,)
    alternative : {"two-sided", "greater", "less"}
        H1. Two-sided by default: a category can gain or lose from a change of model
        (the null control of the book makes the planted words worse), and a one-sided
        test calls no window for an effect in the other direction however large.
    n_permutations : int
        0: p from Welch's t distribution (independent words). Otherwise p from the
        permutation distribution of the same t when the values move under a null that
        keeps their serial dependence (``scheme``, ``groups``, ``block_length`` as in
        :func:`dependence_preserving_permutations`; the category labels stay with the
        words): per-word errors of neighbouring words are correlated, and category
        words cluster in passages, so the t distribution is too narrow (measured in
        :mod:`analysis.calibration`). ``p = (#{|t_perm| >= |t|} + 1) / (N + 1)`` for
        two-sided tests, one tail otherwise.
    scheme, groups, block_length, seed
        The permutation null (with ``n_permutations``).

    Returns
    -------
    dict of ndarray, each (n_windows,)
        ``mean_in``, ``se_in``, ``mean_out``, ``se_out``, ``t`` (positive: the
        category's mean is greater), ``p`` (for ``alternative``), ``n_in``, ``n_out``.
    """
    values = check_array(values, "category_ttest values", ndim=2, finite=False)
    if np.isinf(values).any():
        raise DataError("category_ttest: values hold infinite entries; expected finite numbers "
                        "(NaN marks a missing value).")
    cat = np.asarray(in_category, dtype=bool)
    if cat.shape != (values.shape[0],):
        raise DataError(f"category_ttest: values {values.shape} and mask {cat.shape}; "
                        "expected (n_words, n_windows) and (n_words,).")
    a, b = values[cat].T, values[~cat].T  # (n_windows, n)
    t, p = welch_ttest(a, b, axis=1, alternative=alternative)
    if n_permutations:
        p = _category_permutation_p(values, cat, t, alternative, n_permutations, scheme,
                                    groups, block_length, seed)
    n_in, n_out = np.isfinite(a).sum(1), np.isfinite(b).sum(1)
    ok = (n_in >= 2) & (n_out >= 2)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # empty slices -> NaN, masked below
        stats_in = (np.nanmean(a, axis=1), np.nanstd(a, axis=1, ddof=1) / np.sqrt(n_in))
        stats_out = (np.nanmean(b, axis=1), np.nanstd(b, axis=1, ddof=1) / np.sqrt(n_out))
    out = {"mean_in": stats_in[0], "se_in": stats_in[1], "mean_out": stats_out[0],
           "se_out": stats_out[1], "t": t, "p": p}
    out = {k: np.where(ok, v, np.nan) for k, v in out.items()}
    out.update(n_in=n_in.astype(float), n_out=n_out.astype(float))
    return out
