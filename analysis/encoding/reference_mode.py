"""Reference mode (:func:`fit_encoding_reference`): the public code's choices, for
comparison only (never the default).
"""

from __future__ import annotations

import numpy as np

from ..stats import pearson_columns, r_pvalue, significance_mask
from .cv import contiguous_folds
from ._ridge import _plain_cv_error
from ._common import _responses_of
from .errors import word_errors
from .result import EncodingResult

__all__ = ["fit_encoding_reference"]


def fit_encoding_reference(features, data, n_folds=10, p_threshold=1e-3):
    """The public code's choices, to show what they change (never the default).

    Reproduced quirks (Methods page, encoding models): features and responses z-scored over ALL words
    before the split; per window, one penalty shared by all channels chosen from
    {0.1, 100} by inner contiguous CV; and the significant-channel mask is a 0/1
    integer array used as an index, so the per-word "MSE over significant
    channels" is really over channels 0 and 1 (or 0 only).

    Parameters
    ----------
    features : ndarray, shape (n_words, d)
    data : WordDataset | ndarray
    n_folds : int
    p_threshold : float

    Returns
    -------
    EncodingResult
        ``params["mode"] == "reference"``; ``best_alphas_`` holds the shared penalties.
    """
    resp, times, ch_names, _ = _responses_of(data)
    n, n_ch, n_win = resp.shape
    grid = np.array([0.1, 100.0])
    x = (features - features.mean(0)) / np.where(features.std(0) > 0, features.std(0), 1)
    z = (resp - resp.mean(0)) / np.where(resp.std(0) > 0, resp.std(0), 1)
    pred = np.empty_like(z, dtype=np.float64)
    chosen = np.empty((n_folds, n_ch, n_win))
    for k, test in enumerate(contiguous_folds(n, n_folds)):
        train = np.setdiff1d(np.arange(n), test)
        for w in range(n_win):
            err = [_plain_cv_error(x[train], z[train, :, w], a) for a in grid]
            a = grid[int(np.argmin(err))]
            chosen[k, :, w] = a
            coef = np.linalg.solve(x[train].T @ x[train] + a * np.eye(x.shape[1]),
                                   x[train].T @ z[train, :, w])
            pred[test, :, w] = x[test] @ coef
    r = pearson_columns(pred, z)  # (n_channels, n_windows)
    p = r_pvalue(r, n)
    int_mask = significance_mask(p, p_threshold).astype(int)  # the quirk: 0/1 ints
    mse = np.stack([((pred[:, int_mask[:, w], w] - z[:, int_mask[:, w], w]) ** 2).mean(axis=1)
                    for w in range(n_win)], axis=1)
    _, cosine = word_errors(pred, z, int_mask.astype(bool))
    return EncodingResult(predictions=pred.astype(np.float32), r=r, p=p,
                          significant=int_mask.astype(bool), best_alphas_=chosen, alphas=grid,
                          mse=mse, cosine=cosine, times=times, ch_names=ch_names,
                          params={"mode": "reference", "n_folds": n_folds,
                                  "p_threshold": p_threshold})
