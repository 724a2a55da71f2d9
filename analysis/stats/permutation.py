"""Permutation tests under nulls that keep serial dependence: significant counts under the
null, the difference of two models' r (numpy and torch), and word-category comparisons
(Welch t with a permutation p, variance ratio).
"""

from __future__ import annotations

import warnings

import numpy as np

from .._utils import DataError, check_array, welch_ttest
from .correlation import r_and_pvalue, r_pvalue
from .dependence import (DEFAULT_BLOCK_LENGTH, dependence_preserving_permutations,
                         lag1_autocorrelation)

__all__ = ["variance_ratio", "null_significant_count", "permutation_r_difference",
           "category_ttest"]


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
                             scheme="blocks", groups=None, block_length=DEFAULT_BLOCK_LENGTH,
                             null_scale=1.0):
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
    null_scale : float
        Every permuted difference is multiplied by this factor (about zero, the mean of
        a permuted difference of centred responses) before it is compared with the
        observed one, and the null's mean and sd are reported scaled. 1: the plain
        test. Out-of-fold predictions held fixed give a null narrower than the refit
        one; :func:`analysis.finetune.brain_retest` passes the ratio of the two nulls'
        spreads measured on a subset of targets (Methods page, the two nulls of a
        model comparison).

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
    if not (np.isfinite(null_scale) and null_scale > 0):
        raise ValueError(f"null_scale={null_scale!r}; expected a positive number.")
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
    # observed delta through the same float32 arithmetic as the permuted ones; a
    # permuted value v counts against it as null_scale * v, i.e. v against delta / scale
    delta32 = np.concatenate([np.einsum("nc,nc->c", a, b) for a, b in zip(ys, ds)])
    delta32 = (delta32 / np.float32(null_scale)).astype(np.float32)
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
    null_mean, null_sd = null_scale * null_mean, null_scale * null_sd
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
                       "null_scale": float(null_scale),
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
