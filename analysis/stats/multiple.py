"""Multiple testing: Benjamini-Hochberg FDR, two-sided p from one-sided ones, and the
better / worse / same verdicts per test.
"""

from __future__ import annotations

import numpy as np

__all__ = ["two_sided_p", "fdr_bh", "better_worse_same"]


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
