"""Reliability and noise ceilings: Spearman-Brown, split-half reliability and ceilings, and
the share of the ceiling a model reaches.
"""

from __future__ import annotations

import numpy as np

from .._utils import DataError, check_array

__all__ = ["ceiling_share", "nanmean_rows", "spearman_brown", "split_half_reliability",
           "split_half_ceiling", "noise_ceiling"]


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
        r maps (e.g. channels x windows) fitted on the averages of two disjoint
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
        ``reliability`` (n_channels, n_windows): Spearman–Brown corrected split-half
        reliability of the subject mean (mean over splits); ``ceiling_r``: its square
        root clipped to [0, 1], the largest Pearson r a noiseless model of the true
        responses can expect with the measured mean; ``n_subjects``, ``n_splits``.
    """
    sub = np.asarray(subject_responses)
    if sub.ndim != 4:
        raise DataError(f"noise_ceiling: subject responses of shape {sub.shape}; expected "
                        "(n_subjects, n_words, n_channels, n_windows).")
    res = split_half_ceiling(sub, n_splits=n_splits, seed=seed)
    rel = np.asarray(res["mean"])  # (n_channels, n_windows), as EncodingResult.r
    return {"reliability": rel, "ceiling_r": np.sqrt(np.clip(rel, 0.0, 1.0)),
            "n_subjects": res["n_subjects"], "n_splits": res["n_splits"]}


def ceiling_share(r, ceiling_r, significant):
    """How much of the noise ceiling the model reaches on its significant tests.

    Parameters
    ----------
    r : ndarray, shape (n_channels, n_windows)
        Model r (``EncodingResult.r``).
    ceiling_r : ndarray, shape (n_channels, n_windows) | None
        Ceiling on r (:func:`noise_ceiling`); ``None`` when the data have no separate
        subjects (then every number is NaN and the text says why).
    significant : ndarray of bool, shape (n_channels, n_windows)

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
