"""Pearson r per column and its p-value: Bartlett's effective n of two autocorrelated series,
the significance mask and the binomial bound on false positives.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st

from .._utils import DataError, check_array
from .dependence import autocorrelations, effective_n, effective_n_bartlett

__all__ = ["pearson_columns", "r_pvalue", "r_and_pvalue", "significance_mask",
           "binomial_false_positive_bound"]


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


#: Lags summed by :func:`r_and_pvalue` for the effective sample size.
DEFAULT_MAX_LAG = 10


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
