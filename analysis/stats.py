"""Statistics shared by the chapters: correlations, p-values, FDR, RSA, noise ceilings.

Everything here is plain numpy/scipy on arrays; nothing fits a model (the encoding
models live in :mod:`analysis.encoding`). Conventions:

* Pearson r is computed per column (axis 0 = observations).
* p-values of encoding r are one-sided (H1: r > 0) from the t distribution with
  ``n - 2`` degrees of freedom. Out-of-fold predictions are not strictly independent
  of each other, so these p-values are the usual approximation used in the field; the
  null-simulation test in ``tests/test_encoding.py`` checks that the false-positive
  rate stays within the binomial range expected by chance.
* RDMs are condensed (upper triangle, ``scipy.spatial.distance.pdist`` order) and use
  correlation distance ``1 - r``; RSA compares RDMs with Spearman's rank correlation.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st
from scipy.spatial.distance import pdist

__all__ = [
    "pearson_columns",
    "r_pvalue",
    "significance_mask",
    "fdr_bh",
    "binomial_false_positive_bound",
    "spearman_brown",
    "split_half_reliability",
    "rdm",
    "rdm_spearman",
    "random_word_subset",
    "rsa_timecourse",
    "rsa_noise_ceiling",
]


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
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"pearson_columns: shapes {a.shape} and {b.shape} differ; "
                         "expected the same shape.")
    ac = a - a.mean(axis=0)
    bc = b - b.mean(axis=0)
    den = np.sqrt((ac ** 2).sum(axis=0) * (bc ** 2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (ac * bc).sum(axis=0) / den
    return np.where(den > 0, r, np.nan)


def r_pvalue(r, n):
    """One-sided p-value of a Pearson r (H1: r > 0).

    Parameters
    ----------
    r : array_like
        Correlations.
    n : int
        Number of observations behind each r (> 2).

    Returns
    -------
    ndarray
        ``P(T >= t)`` with ``t = r sqrt((n-2)/(1-r^2))`` and T ~ Student(n-2);
        NaN where r is NaN.
    """
    if n <= 2:
        raise ValueError(f"r_pvalue: n={n}; expected more than 2 observations.")
    r = np.clip(np.asarray(r, dtype=np.float64), -1 + 1e-12, 1 - 1e-12)
    t = r * np.sqrt((n - 2) / (1 - r ** 2))
    return _st.t.sf(t, n - 2)


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
    patterns = np.asarray(patterns, dtype=np.float64)
    if patterns.ndim != 2:
        raise ValueError(f"rdm: patterns of shape {patterns.shape}; expected (n_items, "
                         "n_features).")
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
    """RSA between LM features and brain responses, per window (SPEC §7).

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
    features = np.asarray(features)
    responses = np.asarray(responses)
    if features.shape[0] != responses.shape[0]:
        raise ValueError(f"rsa_timecourse: features cover {features.shape[0]} words but "
                         f"responses have {responses.shape[0]}; expected the same words.")
    idx = random_word_subset(features.shape[0], n_subset, seed)
    feat_rdm = rdm(features[idx])
    z = _zscore_words(responses[idx])
    return np.array([rdm_spearman(feat_rdm, rdm(z[:, :, w])) for w in range(z.shape[2])])


def rsa_noise_ceiling(subject_responses, n_subset=1000, seed=0):
    """Noise ceiling of RSA from individual subjects' RDMs (SPEC §7).

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
    idx = random_word_subset(sub.shape[1], n_subset, seed)
    n_sub, n_win = sub.shape[0], sub.shape[3]
    lower, upper = np.empty(n_win), np.empty(n_win)
    for w in range(n_win):
        rdms = np.stack([rdm(_zscore_words(sub[s][idx])[:, :, w]) for s in range(n_sub)])
        total = rdms.sum(axis=0)
        upper[w] = np.mean([rdm_spearman(rdms[s], total / n_sub) for s in range(n_sub)])
        lower[w] = np.mean([rdm_spearman(rdms[s], (total - rdms[s]) / (n_sub - 1))
                            for s in range(n_sub)])
    return lower, upper


def _zscore_words(x):
    """z-score each channel (x window) over words; constant columns become 0."""
    x = np.asarray(x, dtype=np.float64)
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
