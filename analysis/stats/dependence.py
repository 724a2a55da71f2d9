"""Serial dependence of word series: runs (stories, sentences), autocorrelations, effective
sample sizes, and the permutations that keep that dependence (the nulls of every test).
"""

from __future__ import annotations

import numpy as np

from .._utils import DataError

__all__ = ["NULL_SCHEMES", "dependence_preserving_permutations", "lag1_autocorrelation",
           "effective_n", "effective_n_bartlett", "autocorrelations"]


#: Permutation schemes of :func:`dependence_preserving_permutations`.
NULL_SCHEMES = ("sentences", "blocks", "circular", "words")


#: Default block length (words) of the ``"blocks"`` scheme: at a lag-1 autocorrelation of
#: 0.8 an AR(1) series keeps 0.8**20 ~ 0.01 of its correlation across a block edge.
DEFAULT_BLOCK_LENGTH = 20


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
