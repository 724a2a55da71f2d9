"""The power of every null: the smallest effect a test detects, on data like the dataset's.

A result that comes out null says little unless the test could have seen an effect of
interest. For each test family the book reports, this module plants an effect of a
given size into simulated data calibrated to the dataset (its number of words, its
sentence or story grouping, the measured lag-1 autocorrelation of its responses and,
where known, the noise ceiling that caps the attainable r), runs the SAME test the
chapter runs (with the dataset's dependence-preserving null) on many simulated draws,
and finds the smallest effect rejected in at least 80 % of the draws: the minimum
detectable effect (MDE) at 80 % power (Cohen, 1988, *Statistical Power Analysis for
the Behavioral Sciences*, ch. 1, for the term and the conventional 80 %).

The dependent noise is that of :mod:`analysis.calibration` (:func:`ar1_targets`: AR(1)
series restarted in each sentence or story), so the MDE and the measured false-positive
rates come from one simulation. Each family's approximations are in its docstring:

* :func:`mde_r_difference` -- Delta r of one prediction over another
  (:func:`analysis.stats.permutation_r_difference`: the gain over a baseline, the
  fine-tuned re-test, an instruction over plain text);
* :func:`mde_refit` -- Delta r against a refit null already drawn
  (:func:`analysis.finetune.refit_r_difference`, both models fitted again on every
  permuted response): no simulation, the null's own sd in a normal model whose
  spread grows with the effect, as measured on planted effects;
* :func:`mde_category` -- the mean per-word error change of category words against
  the rest (:func:`analysis.stats.category_ttest`), in the units of the values
  (percent of the base model's error in the book);
* :func:`mde_validity` -- the validity V of a hypothesis (Welch's t-test of verifier
  scores, :func:`analysis.hypotheses.validity`).

The search (:func:`search_effect`) uses the same random draws at every effect size
(common random numbers), so the estimated power rises with the effect and a coarse grid
followed by bisection finds the 80 % crossing. :func:`null_power_sentence` writes the
sentence a chapter shows beside a null result.
"""

from __future__ import annotations

import numpy as np

from ._utils import DataError, welch_ttest
from .calibration import ar1_targets
from .stats import (DEFAULT_BLOCK_LENGTH, category_ttest, permutation_r_difference,
                    two_sided_p)

__all__ = ["dataset_design", "search_effect", "mde_r_difference", "mde_refit",
           "refit_power_at", "REFIT_SPREAD_GROWTH", "mde_category",
           "mde_validity", "minimum_detectable_effect", "r_difference_design",
           "null_power_sentence", "null_power",
           "retest_power", "chain_power", "instruction_power", "UNITS"]

#: What each family's effect is measured in (for :func:`null_power_sentence`).
UNITS = {"r_difference": ("Δr", ""), "category": ("a category difference", " % of the base error"),
         "validity": ("V", "")}


def dataset_design(ds, values=None, first=None):
    """The design a power simulation is calibrated to: a dataset's size, null and lag-1.

    Parameters
    ----------
    ds : analysis.data.WordDataset
    values : ndarray, shape (n_words, ...) | None
        The per-word quantity whose autocorrelation matters (default: the responses).
    first : int | None
        Use only the first ``first`` words (a study run on a prefix of the dataset).

    Returns
    -------
    dict
        ``n_words``, ``groups``, ``scheme``, ``block_length`` (the dataset's null,
        :func:`analysis.datasets.null_design`) and ``lag1``: the median over columns of
        the lag-1 autocorrelation within those groups
        (:func:`analysis.stats.lag1_autocorrelation`).
    """
    from .datasets import null_design
    from .stats import lag1_autocorrelation

    null = null_design(ds)
    x = np.asarray(ds.responses if values is None else values, dtype=np.float64)
    x = x.reshape(x.shape[0], -1)
    groups = null["groups"]
    if first:
        x = x[:int(first)]
        groups = None if groups is None else np.asarray(groups)[:int(first)]
    with np.errstate(invalid="ignore"):
        lag1 = float(np.nanmedian(lag1_autocorrelation(x, groups)))
    return {"n_words": int(x.shape[0]), "groups": groups, "scheme": null["scheme"],
            "block_length": null["block_length"], "lag1": lag1 if np.isfinite(lag1) else 0.0}


def search_effect(rejects_at, upper, power=0.8, n_grid=8, n_bisect=6):
    """Smallest effect whose rejection rate reaches ``power``: coarse grid, then bisection.

    Parameters
    ----------
    rejects_at : callable
        ``rejects_at(effect) -> float``, the share of simulated draws the test rejects
        with ``effect`` planted (the same draws at every effect, so the share rises
        with the effect).
    upper : float
        Largest effect searched (e.g. what the noise ceiling allows), > 0.
    power : float
        Target rejection rate.
    n_grid : int
        Points of the geometric grid from ``upper / 2**(n_grid - 1)`` to ``upper``.
    n_bisect : int
        Halvings of the bracketing interval after the grid.

    Returns
    -------
    dict
        ``mde`` (the upper end of the final bracket: its rate reached ``power``; inf
        when even ``upper`` does not) and ``power_at_mde`` (the rate there).
    """
    if not upper > 0:
        raise DataError(f"search_effect: upper={upper!r}; expected a positive effect.")
    grid = upper / 2.0 ** np.arange(n_grid - 1, -1, -1)
    lo, hi, rate_hi = 0.0, None, None
    for g in grid:
        rate = rejects_at(g)
        if rate >= power:
            hi, rate_hi = g, rate
            break
        lo = g
    if hi is None:
        return {"mde": float("inf"), "power_at_mde": float(rate)}
    for _ in range(int(n_bisect)):
        mid = 0.5 * (lo + hi)
        rate = rejects_at(mid)
        if rate >= power:
            hi, rate_hi = mid, rate
        else:
            lo = mid
    return {"mde": float(hi), "power_at_mde": float(rate_hi)}


def _check_design(n_words, groups, lag1):
    n = int(n_words)
    if n < 4:
        raise DataError(f"power: n_words={n_words!r}; expected at least 4 words.")
    if groups is not None and np.shape(groups) != (n,):
        raise DataError(f"power: groups of shape {np.shape(groups)}; expected ({n},), one "
                        "sentence or story label per word.")
    if not np.isfinite(lag1) or not -1 < lag1 < 1:
        raise DataError(f"power: lag1={lag1!r}; expected a lag-1 autocorrelation in (-1, 1).")
    # negative lag-1 values are rare in word-level responses; the AR(1) simulation of
    # analysis.calibration covers [0, 1), so they are taken as independent words
    return n, max(float(lag1), 0.0)


def _n_groups(groups):
    if groups is None:
        return 1
    g = np.asarray(groups)
    return int(1 + np.count_nonzero(g[1:] != g[:-1]))


def r_difference_design(y, pred_a, pred_b):
    """r of the reference prediction and the correlation of the two predictions.

    Parameters
    ----------
    y, pred_a, pred_b : ndarray, shape (n_words, ...)
        Responses, reference and tested predictions (any trailing columns).

    Returns
    -------
    dict
        ``r_reference`` (median r of ``pred_a`` with ``y`` over columns) and
        ``prediction_correlation`` (median r of the two predictions, clipped to [0, 0.99]),
        keywords of :func:`mde_r_difference`.
    """
    from .stats import pearson_columns

    n = np.shape(y)[0]
    cols = [np.asarray(v, dtype=np.float64).reshape(n, -1) for v in (y, pred_a, pred_b)]
    with np.errstate(invalid="ignore"):
        r_reference = float(np.nanmedian(pearson_columns(cols[1], cols[0])))
        c = float(np.nanmedian(pearson_columns(cols[1], cols[2])))
    return {"r_reference": r_reference if np.isfinite(r_reference) else 0.0,
            "prediction_correlation": float(np.clip(np.nan_to_num(c), 0.0, 0.99))}


def _group_name(scheme):
    return "sentences" if scheme == "sentences" else "stories"


def mde_r_difference(n_words, groups=None, lag1=0.0, r_reference=0.1, ceiling=None,
                     prediction_correlation=0.0,
                     alternative="two-sided", scheme="blocks", block_length=DEFAULT_BLOCK_LENGTH,
                     power=0.8, alpha=0.05, n_sim=100, n_permutations=200, seed=0, at=None,
                     null_scale=1.0):
    """Minimum detectable Delta r of a prediction over a reference prediction.

    Simulation (one column per draw): three independent AR(1) series of unit variance
    with lag-1 autocorrelation ``lag1``, restarted in each group
    (:func:`analysis.calibration.ar1_targets`): ``u_a`` (what the reference model
    predicts), ``u_b`` (what only the tested model carries) and ``e`` (noise). The
    reference prediction is ``u_a``; the tested one is ``c u_a + sqrt(1 - c^2) u_b``
    with ``c = prediction_correlation``, the correlation of the two predictions (a
    fine-tuned or instructed model predicts nearly what its base predicts, and the
    closer the two, the less noisy their difference in r). The response is
    ``y = b_a u_a + b_b u_b + sqrt(1 - b_a^2 - b_b^2) e`` with ``b_a = r_reference`` and
    ``b_b`` set so that in expectation ``r_b - r_a = delta``. The test is
    :func:`analysis.stats.permutation_r_difference` with the dataset's null
    (``scheme``, ``groups``, ``block_length``).

    Approximations: the responses, predictions and noise share one lag-1
    autocorrelation (real predictions are often smoother than the responses);
    predictions are exact components, not out-of-fold fits; the reliability enters as
    the cap ``r_reference + delta <= ceiling`` (and the variance of ``y`` caps ``b_b``).

    Parameters
    ----------
    n_words : int
    groups : array_like, shape (n_words,) | None
        Sentence or story labels (contiguous), as in the dataset's null.
    lag1 : float
        Measured lag-1 autocorrelation of the responses (within groups).
    r_reference : float
        r of the reference prediction (e.g. the base model's measured r).
    ceiling : float | None
        Noise ceiling (largest attainable r); None = 1.
    prediction_correlation : float
        Correlation of the two predictions, in [0, 1) (measured:
        :func:`r_difference_design`).
    alternative : {"two-sided", "greater"}
        Two-sided p (:func:`analysis.stats.two_sided_p`) or the one-sided "better" p.
    scheme, block_length
        The dataset's null (:func:`analysis.datasets.null_design`).
    power, alpha : float
    n_sim, n_permutations, seed : int
        Draws, permutations per draw, seed of both.
    at : float | None
        Return only the rejection rate (the power) with this effect planted, no search.
    null_scale : float
        The test's null widened by this factor (the scaled null of a re-test on many
        targets, :func:`analysis.encoding.refit_null_scale`); 1: the plain test.

    Returns
    -------
    dict
        ``mde`` (Delta r; inf when no effect below the ceiling reaches ``power``),
        ``power_at_mde``, ``family``, and the design (``n_words``, ``n_groups``,
        ``lag1``, ``r_reference``, ``ceiling``, ``alpha``, ``power``, ``n_sim``,
        ``n_permutations``, ``scheme``).
    """
    n, rho = _check_design(n_words, groups, lag1)
    cap = 1.0 if ceiling is None or not np.isfinite(ceiling) else float(min(ceiling, 1.0))
    r_reference = float(np.clip(r_reference if np.isfinite(r_reference) else 0.0, 0.0,
                                0.95 * cap))
    c = float(np.clip(prediction_correlation, 0.0, 0.99))
    sc = np.sqrt(1 - c ** 2)
    # the largest delta the variance of y allows: b_a^2 + b_b^2 <= 1
    upper = min(cap - r_reference,
                sc * np.sqrt(1 - r_reference ** 2) - (1 - c) * r_reference)
    draws = ar1_targets(n, 3 * int(n_sim), rho, groups, seed=seed)
    u_a, u_b, e = np.split(draws, 3, axis=1)
    pred_b = c * u_a + sc * u_b

    def rejects_at(delta):
        b_a = r_reference
        # r_b = c b_a + sc b_b = r_reference + delta
        b_b = (r_reference + delta - c * r_reference) / sc
        y = b_a * u_a + b_b * u_b + np.sqrt(max(1 - b_a ** 2 - b_b ** 2, 0.0)) * e
        res = permutation_r_difference(y, u_a, pred_b, n_permutations, seed=seed + 1,
                                       scheme=scheme, groups=groups,
                                       block_length=block_length, n_threads=1,
                                       null_scale=null_scale)
        p = res["p_greater"] if alternative == "greater" else two_sided_p(res["p_greater"],
                                                                          res["p_less"])
        return float(np.mean(np.nan_to_num(p, nan=1.0) < alpha))

    if alternative not in ("two-sided", "greater"):
        raise DataError(f"mde_r_difference: alternative={alternative!r}; expected "
                        "'two-sided' or 'greater'.")
    if at is not None:
        return rejects_at(float(at))
    out = search_effect(rejects_at, upper, power)
    out.update(family="r_difference", n_words=n, n_groups=_n_groups(groups), lag1=float(lag1),
               group_name=_group_name(scheme), prediction_correlation=c,
               r_reference=r_reference, ceiling=None if ceiling is None else float(ceiling),
               alpha=float(alpha), power=float(power), n_sim=int(n_sim),
               n_permutations=int(n_permutations), scheme=scheme,
               null_scale=float(null_scale))
    return out


def mde_category(in_category, groups=None, lag1=0.0, value_sd=1.0, scheme="blocks",
                 block_length=DEFAULT_BLOCK_LENGTH, power=0.8, alpha=0.05, n_sim=100,
                 n_permutations=200, seed=0, upper=None, n_words=None, at=None):
    """Minimum detectable mean difference of a per-word value, category words vs the rest.

    Simulation: the per-word values (e.g. the error change base - fine-tuned, in percent
    of the base model's error) are AR(1) noise of standard deviation ``value_sd`` and
    lag-1 autocorrelation ``lag1`` restarted in each group
    (:func:`analysis.calibration.ar1_targets`); the real category mask stays with its
    words (so category words clustered in passages stay clustered), and ``delta`` is
    added to the category words. The test is :func:`analysis.stats.category_ttest`
    (two-sided, permutation p under the dataset's null), as in
    :func:`analysis.finetune.brain_retest`. A draw rejects when p < ``alpha`` in its one
    window (the book's window-wise BH is left out: one window is the unit here).

    Approximations: the values are Gaussian (real squared-error differences are
    heavy-tailed, which lowers the power of a t statistic, so the MDE is a lower bound
    there) and their sd and autocorrelation are the same for both sets of words.

    Parameters
    ----------
    in_category : array_like of bool, shape (n_words,)
    groups : array_like, shape (n_words,) | None
    lag1 : float
        Measured lag-1 autocorrelation of the values (within groups).
    value_sd : float
        Standard deviation of the values over words, in the units of the result.
    scheme, block_length
        The dataset's null.
    power, alpha : float
    n_sim, n_permutations, seed : int
    upper : float | None
        Largest effect searched (default ``4 value_sd``).
    n_words : int | None
        If given, checked against the length of ``in_category``.
    at : float | None
        Return only the rejection rate (the power) with this effect planted, no search.

    Returns
    -------
    dict
        ``mde`` (in the units of ``value_sd``), ``power_at_mde``, ``family`` and the
        design (``n_words``, ``n_in``, ``n_groups``, ``lag1``, ``value_sd``, ...).
    """
    cat = np.asarray(in_category, dtype=bool)
    if n_words is not None and int(n_words) != cat.size:
        raise DataError(f"mde_category: in_category has {cat.size} words; expected {n_words}.")
    n, rho = _check_design(cat.size, groups, lag1)
    n_in = int(cat.sum())
    if n_in < 2 or n - n_in < 2:
        raise DataError(f"mde_category: {n_in} category words of {n}; expected at least 2 "
                        "in the category and 2 outside it.")
    if not value_sd > 0:
        raise DataError(f"mde_category: value_sd={value_sd!r}; expected a positive sd.")
    noise = float(value_sd) * ar1_targets(n, int(n_sim), rho, groups, seed=seed)

    def rejects_at(delta):
        res = category_ttest(noise + delta * cat[:, None], cat, n_permutations=n_permutations,
                             scheme=scheme, groups=groups, block_length=block_length,
                             seed=seed + 1)
        return float(np.mean(np.nan_to_num(res["p"], nan=1.0) < alpha))

    if at is not None:
        return rejects_at(float(at))
    out = search_effect(rejects_at, 4.0 * float(value_sd) if upper is None else upper, power)
    out.update(family="category", n_words=n, n_in=n_in, n_groups=_n_groups(groups),
               group_name=_group_name(scheme),
               lag1=float(lag1), value_sd=float(value_sd), alpha=float(alpha),
               power=float(power), n_sim=int(n_sim), n_permutations=int(n_permutations),
               scheme=scheme)
    return out


def mde_validity(n_divergent, n_convergent, score_sd, n_tests=1, power=0.8, alpha=0.05,
                 n_sim=1000, seed=0, at=None):
    """Minimum detectable validity V of one hypothesis (divergent minus convergent score).

    Simulation: verifier scores of ``n_divergent`` and ``n_convergent`` sentences,
    Gaussian with standard deviation ``score_sd``, V added to the divergent ones; the
    test is the one-sided Welch t-test of :func:`analysis.hypotheses.validity`. The
    chain corrects over ``n_tests`` hypotheses with Benjamini-Hochberg; when one
    hypothesis carries the effect, its BH threshold is ``alpha / n_tests``, which is
    used here (with several true hypotheses BH is more lenient, so the MDE is an upper
    bound there). Sentences are the unit: the groups are drawn from isolated sentences
    across the corpus, so no autocorrelation enters (the words' dependence is inside
    each sentence's score).

    Parameters
    ----------
    n_divergent, n_convergent : int
        Sentences per group in the tested role (the research sentences).
    score_sd : float
        Standard deviation of a hypothesis's scores over sentences (e.g. the median over
        hypotheses).
    n_tests : int
        Hypotheses corrected for.
    power, alpha : float
    n_sim, seed : int
    at : float | None
        Return only the rejection rate (the power) with this effect planted, no search.

    Returns
    -------
    dict
        ``mde`` (V, in score units), ``power_at_mde``, ``family`` and the design.
    """
    na, nb = int(n_divergent), int(n_convergent)
    if na < 2 or nb < 2:
        raise DataError(f"mde_validity: groups of {na} and {nb} sentences; expected at least 2 "
                        "each.")
    if not score_sd > 0:
        raise DataError(f"mde_validity: score_sd={score_sd!r}; expected a positive sd.")
    rng = np.random.default_rng(seed)
    a0 = score_sd * rng.standard_normal((int(n_sim), na))
    b = score_sd * rng.standard_normal((int(n_sim), nb))
    level = alpha / max(int(n_tests), 1)

    def rejects_at(v):
        _, p = welch_ttest(a0 + v, b, axis=1, alternative="greater")
        return float(np.mean(np.nan_to_num(p, nan=1.0) < level))

    if at is not None:
        return rejects_at(float(at))
    out = search_effect(rejects_at, 8.0 * float(score_sd), power, n_bisect=8)
    out.update(family="validity", n_divergent=na, n_convergent=nb, score_sd=float(score_sd),
               n_tests=int(n_tests), alpha=float(alpha), power=float(power),
               n_sim=int(n_sim))
    return out


#: Growth of the spread of the observed Delta r with a planted effect, in the refit
#: test's power model (:func:`refit_power_at`): its sd is ``null_sd * sqrt(1 + k d)``
#: at an effect ``d`` null sds from the null mean. Measured with
#: ``benchmarks/bench_refit_null.py`` (``benchmarks/results/refit_null.json``): two
#: encoding models of one width (layer 12 + a column of noise against layer 13 + a
#: column carrying a planted share of the variance), 600 story words, AR(1) noise with
#: lag-1 autocorrelation 0.8, 200 draws and 100 refits per planted share. The refit
#: test reached 80 % power (0.805) at d = 4.34 and 0.58 at d = 2.94, where a pure shift
#: of the null (k = 0) predicts 80 % at d = 2.80; k = 2 puts the model's 80 % crossing
#: at d = 4.35 (Methods page (book/methods.md), inference).
REFIT_SPREAD_GROWTH = 2.0


def refit_power_at(delta, null_sd, null_mean=0.0, alpha=0.05, spread_growth=None):
    """Power of the refit null's two-sided test at a true Delta r.

    The refit null (:func:`analysis.finetune.refit_r_difference`) is drawn by fitting
    both encoding models again on every permuted response, so its spread is measured
    on the data, not simulated. The model: the test rejects outside
    ``null_mean +- z_{1 - alpha/2} null_sd`` (normal quantiles of the null); with an
    effect ``d = (delta - null_mean) / null_sd`` null sds away, the observed Delta r is
    normal around ``delta`` with sd ``null_sd sqrt(1 + k |d|)``: a fitted model's r
    spreads more the more signal it fits (as a non-central chi-square's variance grows
    with its non-centrality), so a pure shift of the null (``k = 0``) overstates the
    power. ``k`` (:data:`REFIT_SPREAD_GROWTH`) was measured on planted effects
    (``benchmarks/bench_refit_null.py``).

    Parameters
    ----------
    delta : float or ndarray
        Expected difference in r of the tested model over the reference (the null
        mean is the offset that refitting both models on noise gives).
    null_sd, null_mean : float or ndarray
        The refit null's sd and mean (``null_sd``, ``null_mean`` of
        :func:`analysis.finetune.refit_r_difference`).
    alpha : float
        Two-sided level.
    spread_growth : float | None
        ``k``; None: :data:`REFIT_SPREAD_GROWTH`; 0: the normal shift model.

    Returns
    -------
    float or ndarray
        Rejection rate, in [alpha, 1] (both tails counted).
    """
    from scipy.stats import norm

    k = REFIT_SPREAD_GROWTH if spread_growth is None else float(spread_growth)
    z = norm.ppf(1 - alpha / 2)
    d = (np.asarray(delta, dtype=np.float64) - null_mean) / np.asarray(null_sd, np.float64)
    spread = np.sqrt(1 + k * np.abs(d))
    out = norm.cdf((d - z) / spread) + norm.cdf((-d - z) / spread)
    return float(out) if np.ndim(out) == 0 else out


def mde_refit(null_sd, null_mean=0.0, power=0.8, alpha=0.05, n_words=None,
              n_permutations=None, spread_growth=None):
    """Minimum detectable Delta r of a test whose refit null was drawn.

    ``mde = |null_mean| + d* null_sd``, where ``d*`` is the effect in null sds at which
    :func:`refit_power_at` reaches ``power`` (``z_{1 - alpha/2} + z_power`` = 2.80 for
    the pure shift, ``spread_growth=0``; 4.35 with :data:`REFIT_SPREAD_GROWTH` at
    alpha 0.05 and 80 %), so that an effect of ``mde`` in either direction reaches
    ``power`` even with a null offset. The growth factor was fitted at alpha 0.05 and
    80 % power; other levels extrapolate the model. Power and the 80 % convention: Cohen (1988),
    *Statistical Power Analysis for the Behavioral Sciences*, ch. 1.

    Parameters
    ----------
    null_sd : float
        sd of the refit null (> 0).
    null_mean : float
        Its mean.
    power, alpha : float
    n_words, n_permutations : int | None
        Recorded for the sentence (:func:`null_power_sentence`): the words tested and
        the permutations the null was drawn from.
    spread_growth : float | None
        As in :func:`refit_power_at`.

    Returns
    -------
    dict
        ``mde``, ``power_at_mde`` (:func:`refit_power_at` there, the weaker direction),
        ``family`` (``"r_difference"``), ``method`` (``"refit null"``), ``null_sd``,
        ``null_mean``, ``spread_growth``, ``alpha``, ``power``, ``n_words``,
        ``n_permutations``.

    Raises
    ------
    DataError
        A null sd that is not positive and finite, or ``power`` not in (alpha, 1).
    """
    from scipy.optimize import brentq

    sd, m = float(null_sd), float(null_mean)
    if not (np.isfinite(sd) and sd > 0) or not np.isfinite(m):
        raise DataError(f"mde_refit: null_sd={null_sd!r}, null_mean={null_mean!r}; expected "
                        "a positive sd and a finite mean of the refit null.")
    if not alpha < power < 1:
        raise DataError(f"mde_refit: power={power!r}; expected a power between alpha "
                        f"({alpha}) and 1.")
    k = REFIT_SPREAD_GROWTH if spread_growth is None else float(spread_growth)

    def gap(d):
        return refit_power_at(d, 1.0, 0.0, alpha, k) - power

    hi = 1.0
    while gap(hi) < 0:  # power rises with d without bound: bracket the crossing
        hi *= 2
    mde = abs(m) + brentq(gap, 0.0, hi, xtol=1e-10) * sd
    at = min(refit_power_at(mde, sd, m, alpha, k), refit_power_at(-mde, sd, m, alpha, k))
    return {"mde": float(mde), "power_at_mde": float(at), "family": "r_difference",
            "method": "refit null", "null_sd": sd, "null_mean": m, "spread_growth": k,
            "alpha": float(alpha), "power": float(power),
            "n_words": None if n_words is None else int(n_words),
            "n_permutations": None if n_permutations is None else int(n_permutations)}


_FAMILIES = {"r_difference": mde_r_difference, "r_difference_refit": mde_refit,
             "category": mde_category, "validity": mde_validity}


def minimum_detectable_effect(test, **design):
    """The MDE of one test family: ``"r_difference"``, ``"r_difference_refit"``,
    ``"category"`` or ``"validity"``.

    Parameters
    ----------
    test : str
    **design
        The keywords of :func:`mde_r_difference`, :func:`mde_refit` (Delta r against
        a refit null already drawn), :func:`mde_category` or :func:`mde_validity`.

    Returns
    -------
    dict
        That function's result.
    """
    if test not in _FAMILIES:
        raise DataError(f"minimum_detectable_effect: test={test!r}; expected one of "
                        f"{sorted(_FAMILIES)}.")
    return _FAMILIES[test](**design)


def _fmt(x):
    """A number for prose: three significant digits, no exponent for usual sizes."""
    if not np.isfinite(x):
        return "n/a"
    return f"{x:.2g}" if abs(x) < 0.01 else f"{x:.3g}" if abs(x) < 10 else f"{x:,.0f}"


def null_power_sentence(p, mde, alpha=0.05, label="p", units=None, suffix=None):
    """The sentence a chapter shows beside a result: null or not, and the test's MDE.

    Parameters
    ----------
    p : float
        The result's p- or q-value.
    mde : dict
        From one of the ``mde_*`` functions.
    alpha : float
    label : str
        ``"p"`` or ``"q"``.
    units, suffix : str | None
        Words before and after the number (default by family, :data:`UNITS`).

    Returns
    -------
    str
        E.g. "not significant (p = 0.33); with 1,487 words in 205 sentences and lag-1
        autocorrelation 0.41, this test detects Δr ≥ 0.021 with 80 % power".
    """
    fam = mde.get("family")
    d_units, d_suffix = UNITS.get(fam, ("an effect", ""))
    units = d_units if units is None else units
    suffix = d_suffix if suffix is None else suffix
    shown = f"{p:.2g}" if np.isfinite(p) else "n/a"  # p-values: two significant digits
    head = (f"not significant ({label} = {shown})" if not np.nan_to_num(p, nan=1.0) < alpha
            else f"significant ({label} = {shown})")
    if fam == "validity":
        design = (f"with {mde['n_divergent']} divergent and {mde['n_convergent']} convergent "
                  f"sentences and {mde['n_tests']} hypotheses corrected for")
    elif mde.get("method") == "refit null":
        words = "" if mde.get("n_words") is None else f"{mde['n_words']:,} words and "
        perms = ("" if mde.get("n_permutations") is None
                 else f"{mde['n_permutations']:,} permutations, ")
        design = (f"with {words}its refit null ({perms}both models fitted again on each; "
                  f"sd {_fmt(mde['null_sd'])})")
    else:
        where = (f" in {mde['n_groups']:,} {mde.get('group_name', 'groups')}"
                 if mde.get("n_groups", 1) > 1 else "")
        design = (f"with {mde['n_words']:,} words{where} and lag-1 autocorrelation "
                  f"{mde['lag1']:.2f}")
    pw = f"{100 * mde['power']:.0f} %"
    if not np.isfinite(mde["mde"]):
        tail = f"this test reaches {pw} power for no effect it could show"
    else:
        tail = f"this test detects {units} ≥ {_fmt(mde['mde'])}{suffix} with {pw} power"
    return f"{head}; {design}, {tail}"


def null_power(p, test, alpha=0.05, label="p", **design):
    """A result's p beside the MDE of its test: the record and the sentence for a page.

    The MDE is simulated only for a null result (``p`` or ``q`` not below ``alpha``);
    a significant result needs no power statement.

    Parameters
    ----------
    p : float
        The result's p- (or q-) value.
    test : {"r_difference", "r_difference_refit", "category", "validity"}
    alpha : float
    label : str
        ``"p"`` or ``"q"``, for the sentence.
    **design
        Keywords of the family's ``mde_*`` function (e.g. ``**dataset_design(ds)`` plus
        ``r_reference``, ``ceiling``, ``n_sim``); ``alpha`` is passed on.

    Returns
    -------
    dict
        ``p``, ``null`` (bool), ``sentence``, and for a null the MDE record
        (``mde``, ``power_at_mde``, the design) without the group labels.
    """
    p = float(np.nan_to_num(p, nan=1.0))
    if p < alpha:
        return {"p": p, "null": False, "mde": None,
                "sentence": f"significant ({label} = {p:.2g})"}
    res = minimum_detectable_effect(test, alpha=alpha, **design)
    return {"p": p, "null": True, **res, "sentence": null_power_sentence(p, res, alpha, label)}


def retest_power(retest, dataset, alpha=0.05, ceiling=None, n_sim=100, n_permutations=200,
                 seed=0):
    """The power of a fine-tuned re-test (:func:`analysis.finetune.brain_retest`).

    Two records, each from :func:`null_power`: ``r`` for Delta r of the fine-tuned model
    over the base (two-sided, per channel x window test; the result's p is the
    smallest Benjamini-Hochberg q over the tests of :func:`analysis.stats.better_worse_same`
    with both tails) and ``category`` for the category words' error change in percent of
    the base error (two-sided, per window; the smallest q over windows).

    The MDE of ``r`` belongs to the null the re-test ran. With the refit null
    (``retest["test"]["null"]["refit"]``: both models fitted again on every permuted
    response) it comes from that null's own spread, the median over tests of its sd and
    mean (:func:`mde_refit`); with predictions held fixed it is simulated for that test
    (:func:`mde_r_difference`), calibrated to the dataset's size, null and the measured
    lag-1 autocorrelation of the responses, the base model's median r and the median
    correlation of the base and fine-tuned predictions. ``category`` is simulated
    (:func:`mde_category`) with the lag-1 autocorrelation of the per-word error changes
    and the median sd of the error changes over windows.

    With several tests (channels x windows, or windows) the MDE is that of ONE test at
    ``alpha`` before the correction over the tests (recorded as ``n_tests``): a lower
    bound on what the corrected map detects.

    Parameters
    ----------
    retest : dict
        From :func:`analysis.finetune.brain_retest`.
    dataset : analysis.data.WordDataset
        The dataset it ran on.
    alpha : float
    ceiling : float | None
        Noise ceiling of the responses (r).
    n_sim, n_permutations, seed : int

    Returns
    -------
    dict
        ``r`` (with ``test_null``: ``"refit"`` or ``"fixed predictions"``, the null its
        MDE belongs to) and ``category`` (None without a category test).
    """
    from .stats import fdr_bh

    test = retest["test"]
    p2 = two_sided_p(np.asarray(test["p_greater"]), np.asarray(test["p_less"]))
    q = float(np.nanmin(fdr_bh(np.nan_to_num(p2, nan=1.0).ravel(), alpha)[1]))
    kw = dict(alpha=alpha, n_sim=n_sim, n_permutations=n_permutations, seed=seed)
    refit = bool((test.get("null") or {}).get("refit"))
    refit_sd = float(np.nanmedian(test["null_sd"])) if refit else float("nan")
    if refit and not (np.isfinite(refit_sd) and refit_sd > 0):
        # both models predicted alike on every permuted response: no difference to test
        out = {"r": {"p": q, "null": True, "mde": None,
                     "sentence": f"not significant (q = {q:.2g}); the two models predict "
                                 "alike on every permuted response, so this test can detect "
                                 "no difference"}}
    elif refit:
        out = {"r": null_power(q, "r_difference_refit", alpha=alpha, label="q",
                               null_sd=refit_sd,
                               null_mean=float(np.nanmedian(test["null_mean"])),
                               n_words=np.shape(dataset.responses)[0],
                               n_permutations=test["null"].get("n_permutations"))}
    else:
        design = dataset_design(dataset)
        design["lag1"] = float(np.nanmedian(test["lag1_y"]))
        base, tuned = retest["base"].predictions, retest["ft"].predictions
        design.update(r_difference_design(base, base, tuned))
        design["r_reference"] = float(np.nanmedian(retest["base"].r))
        # the scaled null (many targets) is simulated with its own scale
        design["null_scale"] = float((test.get("null") or {}).get("scale", 1.0))
        out = {"r": null_power(q, "r_difference", label="q", ceiling=ceiling, **design, **kw)}
    out["r"]["n_tests"] = int(np.isfinite(p2).sum())
    out["r"]["test_null"] = (test.get("null") or {}).get(
        "kind", "refit" if refit else "fixed predictions")
    cat = retest.get("category")
    out["category"] = None
    if cat is not None:
        mask = np.asarray(dataset.categories[cat["category"]], bool)
        sd = float(np.nanmedian(np.asarray(cat["se_out"]) * np.sqrt(cat["n_out"])))
        design = dataset_design(dataset, values=retest["delta_mse"])
        design.pop("n_words")
        out["category"] = null_power(float(np.nanmin(cat["q"])), "category", label="q",
                                     in_category=mask, value_sd=sd, **design, **kw)
        out["category"]["n_tests"] = int(np.isfinite(np.asarray(cat["p"])).sum())
    return out


def instruction_power(comparison, targets, alpha=0.05, n_sim=100, n_permutations=200, seed=0):
    """The power of the instruction test: Delta mean r of instruction over plain features.

    The result tested is the instruction with the largest absolute change of the mean r
    (:class:`analysis.instructions.InstructionComparison`), its smaller q of the two
    tails. When the comparison drew the refit null, the MDE is :func:`mde_refit` of that
    null's mean over targets (its sd over the permutations); otherwise it is that of
    :func:`mde_r_difference` (two-sided) calibrated to the
    words of the comparison, the targets' null and median lag-1 autocorrelation, the
    plain model's mean r and the median correlation of the plain and instruction
    predictions. The mean over targets is treated as one target: exact when
    the targets move together, an upper bound when averaging cancels some of their
    noise.

    Parameters
    ----------
    comparison : analysis.instructions.InstructionComparison
    targets : analysis.data.WordDataset
        The targets it was run on (its first ``comparison.params["n_words"]`` words).
    alpha : float
    n_sim, n_permutations, seed : int

    Returns
    -------
    dict
        From :func:`null_power`, plus ``instruction`` and ``test_null``.
    """
    s = comparison.summary
    best = s["mean_delta"].abs().idxmax()
    q = float(min(s.loc[best, "q_mean_better"], s.loc[best, "q_mean_worse"]))
    if comparison.params.get("null") == "refit":  # the MDE of the refit null it drew
        out = null_power(q, "r_difference_refit", alpha=alpha, label="q",
                         null_sd=float(s.loc[best, "null_sd_of_mean"]),
                         null_mean=float(s.loc[best, "null_mean_of_mean"]),
                         n_words=int(comparison.params["n_words"]),
                         n_permutations=int(comparison.params["n_refit"]))
        out.update(instruction=str(best), test_null="refit")
        return out
    design = dataset_design(targets, first=comparison.params.get("n_words"))
    plain = comparison.fits["plain"].predictions
    design.update(r_difference_design(plain, plain, comparison.fits[best].predictions))
    design["r_reference"] = float(s["mean_r_plain"].iloc[0])
    out = null_power(q, "r_difference", alpha=alpha, label="q", n_sim=n_sim,
                     n_permutations=n_permutations, seed=seed, **design)
    out.update(instruction=str(best), test_null="fixed predictions")
    return out


def chain_power(chain, scores, sentences, alpha=0.05, n_sim=1000, seed=0):
    """The power of the divergence chain's validity test on the research sentences.

    Parameters
    ----------
    chain : DataFrame
        From :func:`analysis.hypotheses.evaluate` (its ``q`` column).
    scores : ndarray, shape (n_hypotheses, n_sentences)
        The verifier scores it was evaluated on.
    sentences : DataFrame
        The sentences of :func:`analysis.hypotheses.select_sentence_sets` (``set``, ``role``),
        in the column order of ``scores``.
    alpha : float
        The chain's false discovery rate.
    n_sim, seed : int

    Returns
    -------
    dict
        From :func:`null_power` (family ``validity``): the smallest research q, and the
        MDE of V for one hypothesis with the research sets' sizes, the median
        within-set sd of the scores over hypotheses, and BH over all hypotheses.
    """
    scores = np.asarray(scores, dtype=np.float64)
    research = sentences["role"].to_numpy() == "research"
    which = sentences["set"].to_numpy()
    a = scores[:, research & (which == "divergent")]
    b = scores[:, research & (which == "convergent")]
    if a.shape[1] < 2 or b.shape[1] < 2:
        raise DataError(f"chain_power: {a.shape[1]} divergent and {b.shape[1]} convergent "
                        "research sentences; expected at least 2 each.")
    sd = float(np.median(np.sqrt(0.5 * (a.var(axis=1, ddof=1) + b.var(axis=1, ddof=1)))))
    return null_power(float(np.nanmin(chain["q"])), "validity", alpha=alpha, label="q",
                      n_divergent=a.shape[1], n_convergent=b.shape[1],
                      score_sd=max(sd, 1e-12), n_tests=len(chain), n_sim=n_sim, seed=seed)
