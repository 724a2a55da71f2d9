"""Representational similarity analysis: RDMs, their Spearman comparison over random word
subsets, its time course and noise ceiling.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st
from scipy.spatial.distance import pdist

from .._utils import DataError, check_array, zscore

__all__ = ["rsa_ceiling_text", "zscore_words", "rdm", "rdm_spearman", "random_word_subset",
           "rsa_timecourse", "rsa_noise_ceiling"]


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
