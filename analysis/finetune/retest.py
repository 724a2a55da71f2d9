"""The brain re-test of the fine-tuned models and its verdicts: features, the base fit,
:func:`brain_retest`, its summary, :class:`RetestVerdict` and the texts that report it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._docs import fill_doc
from ..display import percent_text
from ..encoding.refit import (REFIT_MAX_FITS, SCALE_PERMUTATIONS, SCALE_TARGETS,
                             refit_null_scale)
from ..provenance import cache_dir

__all__ = ["SHUFFLED_CONTROL", "CATEGORY_OF_TASK", "TASK_NAMES", "RETEST_DTYPE",
           "retest_features", "fit_base", "reopen_encoding_study", "brain_retest",
           "REFIT_MAX_FITS", "refit_r_difference",
           "retest_summary", "retest_null_text", "VERDICTS", "RetestVerdict", "retest_verdict",
           "retest_verdicts",
           "verdict_table", "retest_texts"]

#: Name of the shuffled-answer control run: Social IQa's items, recipe and budget with
#: the answers permuted across items (``finetune("siqa", ..., label_shuffle=True)``).
SHUFFLED_CONTROL = "siqa_shuffled"
#: Word category whose errors each task's fine-tuning should reduce (Methods page, fine-tuning and the brain re-test); the
#: control is tested on its task's category.
CATEGORY_OF_TASK = {"siqa": "emotion", "piqa": "physical", SHUFFLED_CONTROL: "emotion"}
#: Display names of the tasks (and of the control run).
TASK_NAMES = {"siqa": "Social IQa", "piqa": "PIQA",
              SHUFFLED_CONTROL: "Social IQa, shuffled answers"}
#: Compute dtype of every model's features in the brain re-test, on every device: the
#: default of :func:`analysis.features.extract_features` is bfloat16 on GPUs, while the
#: fine-tuned checkpoints are float32, and a re-test must not compare precisions.
RETEST_DTYPE = "float32"


def retest_features(dataset, model, layer, device="auto", dtype=RETEST_DTYPE,
                    cache_dir=None, progress=False):
    """One layer's features for the brain re-test, computed in ``dtype`` on every device.

    Parameters
    ----------
    dataset : WordDataset
    model : str | Path | analysis.lm.LoadedModel
        The base model or a fine-tuned checkpoint; a loaded model must have been loaded
        in ``dtype``.
    layer : int
        Hidden state to keep.
    device : str
        Used when the model has to be loaded.
    dtype : str
        Compute dtype (:data:`RETEST_DTYPE`).
    cache_dir, progress
        Passed to :func:`analysis.features.extract_features`.

    Returns
    -------
    analysis.features.Features
        Float32 arrays of the one layer (surprisal not computed); ``params["dtype"]``
        is the compute dtype.

    Raises
    ------
    ValueError
        A loaded model in another dtype.
    """
    from ..features import extract_features
    from ..lm import LoadedModel

    if isinstance(model, LoadedModel) and model.dtype != dtype:
        raise ValueError(f"retest_features: {model.spec.name} was loaded in {model.dtype}; "
                         f"the brain re-test computes every model in {dtype} (load it with "
                         f"dtype={dtype!r}).")
    return extract_features(dataset, model=model, layers=[int(layer)], surprisal=False,
                            device=device, dtype=dtype, cache_dir=cache_dir,
                            progress=progress)


def _features_dtype(features):
    """Compute dtype recorded with features or a fitted result; None for a plain array."""
    params = getattr(features, "params", None) or {}
    return params.get("dtype") or params.get("features_dtype")


def fit_base(features, dataset, layer, **fit_kw):
    """The base model's encoding fit for :func:`brain_retest`, remembering its dtype.

    Parameters
    ----------
    features : analysis.features.Features
        The base model's features (e.g. from :func:`retest_features`).
    dataset : WordDataset
    layer : int
    **fit_kw
        Passed to :func:`analysis.encoding.fit_encoding`.

    Returns
    -------
    analysis.encoding.EncodingResult
        With ``params["features_dtype"]``, which :func:`brain_retest` checks against
        the fine-tuned model's.
    """
    from ..encoding import fit_encoding

    fit = fit_encoding(features.layer(layer), dataset, layer=layer, **fit_kw)
    fit.params["features_dtype"] = _features_dtype(features)
    return fit


def reopen_encoding_study(results_dir, device="auto", progress=False):
    """The encoding chapter's outputs and the very dataset it fitted.

    Parameters
    ----------
    results_dir : str | Path
        Folder holding the encoding chapter's :class:`~analysis.contracts.EncodingOutputs`.
    device : str
        Device for the simulated study's features (read from the cache when present).
    progress : bool

    Returns
    -------
    outputs : analysis.contracts.EncodingOutputs
        Chosen layer, model, fit settings, per-word errors.
    dataset : WordDataset
        Reopened from the record by value (an error if the data changed since).

    Raises
    ------
    ContractError
        When the encoding chapter has not run (or wrote an older layout).
    """
    from ..contracts import EncodingOutputs

    outputs = EncodingOutputs.read(results_dir)
    return outputs, outputs.reopen_dataset(device=device, progress=progress)


# REFIT_MAX_FITS (analysis.encoding.refit) caps the refit null's fits (targets x
# permutations per model), shared with the instruction comparison: one ERP component
# with 1,000 permutations is 1,000 fits (about 10 s per model on one CPU thread, 1,487
# words, 576 features); 306 x 20 targets would be 6 million.


@fill_doc
def refit_r_difference(y, features_a, features_b, observed, splits, n_permutations=1000,
                       seed=0, null=None, chunk=250, tol=1e-9, **fit_kw):
    """Null of a difference in out-of-fold r that refits both encoding models per permutation.

    Out-of-fold predictions are functions of the other folds' responses, so a test that
    permutes the responses while holding the predictions fixed misses part of the
    variance of the difference and rejects too often (Methods page, calibration). Here
    each permutation moves the responses first and both models are then fitted again,
    penalties chosen again in the inner folds, exactly as for the observed responses;
    the permuted responses of a chunk of permutations are fitted together, as columns of
    one target matrix.

    Parameters
    ----------
    y : ndarray, shape (n_words, n_targets)
        Responses.
    features_a, features_b : ndarray, shape (n_words, d_a) and (n_words, d_b)
        The reference model's features (e.g. the base LM's layer) and the tested one's.
    observed : ndarray, shape (n_targets,)
        The observed difference ``r_b - r_a`` (within-fold centred r), as the caller
        computed it.
    splits : list of (train, test)
        The outer splits of the observed fits (:func:`analysis.encoding.cv_splits`);
        responses and predictions are centred within their test folds before r.
    %(n_permutations)s
    %(seed)s
    null : dict | None
        ``scheme``, ``groups`` and ``block_length`` of the permutations
        (:func:`analysis.datasets.null_design`; see
        :func:`analysis.stats.dependence_preserving_permutations`); None: 20-word blocks.
    chunk : int
        Permutations fitted together.
    tol : float
        Permuted differences within ``tol`` of the observed one count as ties.
    **fit_kw
        Passed to :func:`analysis.encoding.fit_encoding` for both models (folds, groups,
        nuisance ``baseline``, penalty grid).

    Returns
    -------
    dict of ndarray, each (n_targets,)
        ``p_greater``, ``p_less`` (``(#{null >= observed} + 1) / (n + 1)`` and the
        reverse), ``null_mean`` and ``null_sd``.

    Raises
    ------
    ValueError
        More than :data:`REFIT_MAX_FITS` target fits per model.
    """
    from ..encoding.refit import refit_null_r, refit_p_values

    y = np.asarray(y, dtype=np.float64)
    n, t = y.shape
    if t * n_permutations > REFIT_MAX_FITS:
        raise ValueError(f"refit_r_difference: {t} targets x {n_permutations} permutations "
                         f"= {t * n_permutations:,} fits per model; at most "
                         f"{REFIT_MAX_FITS:,} (use analysis.stats.permutation_r_difference).")
    draws = refit_null_r(y, {"a": (features_a, {}), "b": (features_b, {})}, splits,
                         n_permutations, seed=seed, null=null, chunk=chunk, **fit_kw)
    res = refit_p_values(np.asarray(observed).reshape(t), draws["b"] - draws["a"], tol=tol)
    return {k: res[k] for k in ("p_greater", "p_less", "null_mean", "null_sd")}


@fill_doc
def brain_retest(dataset, base_features, ft_features, n_permutations=10000, seed=0,
                 category=None, q=0.05, layer=None, n_boot=200, null="auto",
                 base_values=None, n_refit=None, n_scale_targets=SCALE_TARGETS, ft_fit=None,
                 **fit_kw):
    """Compare the encoding models of a base and a fine-tuned LM (Methods page, fine-tuning and the brain re-test).

    Parameters
    ----------
    dataset : WordDataset
    base_features : ndarray, shape (n_words, d) | Features | EncodingResult
        The base model's features at the chosen layer, or its encoding result already
        fitted with the same settings (to fit it once for several fine-tuned models;
        :func:`fit_base` records the features' dtype in it).
    ft_features : ndarray, shape (n_words, d) | Features
        The same layer of the fine-tuned model (or of a control).
    layer : int | None
        The layer taken from :class:`~analysis.features.Features` arguments.
    %(n_permutations)s
        The same permutations serve both models.
    %(seed)s
    category : str | None
        Word category (key of ``dataset.categories``) for the error analysis.
    q : float
        False discovery rate (Benjamini–Hochberg over all channel x window tests).
    null : {"auto", "refit", "scaled", "fixed"}
        ``"refit"``: both models are fitted again on every permuted response
        (:func:`refit_r_difference`, a valid null for out-of-fold predictions);
        ``"fixed"``: the predictions are held and only the responses move
        (:func:`analysis.stats.permutation_r_difference`, liberal on out-of-fold
        predictions: Methods page); ``"scaled"``: the fixed null, its permuted
        differences widened by the ratio of the refit null's spread to the fixed
        null's, both measured on ``n_scale_targets`` targets drawn with ``seed`` (at
        least 1: the null is never narrowed); ``"auto"``: refit when targets x
        permutations is at most :data:`REFIT_MAX_FITS`, otherwise scaled, when the base
        model's features are at hand; fixed without them.
    base_values : ndarray, shape (n_words, d) | None
        The base model's features when ``base_features`` is an already fitted
        :class:`~analysis.encoding.EncodingResult` (the refit null needs them).
    n_refit : int | None
        Permutations of the refit null (each fits both models again; default
        ``n_permutations``); the scaled null's refit subset uses at most
        :data:`SCALE_PERMUTATIONS` of them.
    n_scale_targets : int
        Targets refitted to measure the scale of the scaled null.
    ft_fit : EncodingResult | None
        The other model's encoding result, already fitted to ``dataset`` with the same
        ``fit_kw`` (e.g. by its own re-test against the base model), reused instead of
        fitting it again; ``ft_features`` still serve the refit null.
    %(n_boot)s
        Sentences are resampled for the intervals of the percentages better and worse
        (:func:`analysis.stats.bootstrap_better_worse`; 200 took 3.2 s on one thread
        with 5,000 words and 6,120 tests).
    **fit_kw
        Passed to :func:`analysis.encoding.fit_encoding` for both models.

    Returns
    -------
    dict
        ``base``, ``ft`` (:class:`~analysis.encoding.EncodingResult`); ``test`` (from
        :func:`analysis.stats.permutation_r_difference`, arrays (n_channels, n_windows)
        like the responses' targets); ``classes`` (1 better, -1 worse, 0 same;
        (n_channels, n_windows)); ``shares``
        (percent better / worse / same per window); ``shares_ci`` (from
        :func:`analysis.stats.bootstrap_better_worse`: intervals of the percentages
        better and worse over all tests, by resampling sentences); ``delta_mse`` ((n_words, n_windows):
        base minus fine-tuned error, both over the BASE model's significant channels, so
        the two errors average the same channels); ``category`` (from
        :func:`analysis.stats.category_ttest` of ``delta_mse`` in percent of the base
        model's mean error in each window, two-sided, its p from the same permutation
        null as the r test, plus ``q``, Benjamini–Hochberg over the windows,
        ``direction`` (+1 the category gains more, -1 it loses more, 0 neither) and
        ``units``; or None).

    Raises
    ------
    ValueError
        When both feature sets record their compute dtype and the dtypes differ (the
        re-test would compare numerical precisions, not models), or a
        :class:`~analysis.features.Features` comes without ``layer``.
    """
    from analysis import encoding, stats

    dtypes = (_features_dtype(base_features), _features_dtype(ft_features))
    if None not in dtypes and dtypes[0] != dtypes[1]:
        raise ValueError(f"brain_retest: the base model's features were computed in "
                         f"{dtypes[0]} and the other model's in {dtypes[1]}; compute both "
                         f"in one dtype (retest_features, dtype={RETEST_DTYPE!r}).")

    def values(features):
        if hasattr(features, "layer") and callable(features.layer):
            if layer is None:
                raise ValueError("brain_retest: Features given without layer=.")
            return features.layer(layer)
        return features

    base = (base_features if isinstance(base_features, encoding.EncodingResult)
            else encoding.fit_encoding(values(base_features), dataset, **fit_kw))
    tuned = (ft_fit if ft_fit is not None
             else encoding.fit_encoding(values(ft_features), dataset, **fit_kw))
    tuned.params["features_dtype"] = dtypes[1]  # a later re-test against this model checks it
    from analysis.datasets import null_design

    null_kw = null_design(dataset)  # permutations that keep the serial dependence
    # Both models predicted each outer fold from the other folds; centring the responses
    # and both predictions within each test fold removes the between-fold term of pooled
    # out-of-fold r (encoding.centre_within_folds), as the encoding chapter's r does.
    # Measured on AR(1) noise targets, 1,000 story words, layer 12 against 13, 300 draws,
    # block null, alpha 0.05 (99 % range 0.020-0.083): false-positive rate 0.15 pooled,
    # 0.080 centred at rho 0; 0.24 and 0.11 at rho 0.8 (still liberal there: the
    # Methods page says so; benchmarks/bench_calibration.py).
    splits = encoding.cv_splits(dataset.n_words, fit_kw.get("n_folds", 10),
                                fit_kw.get("groups"), fit_kw.get("cv"))
    y_c, base_c, tuned_c = (encoding.centre_within_folds(v, splits) for v in
                            (dataset.responses, base.predictions, tuned.predictions))
    if null not in ("auto", "refit", "scaled", "fixed"):
        raise ValueError(f"brain_retest: null={null!r}; expected 'auto', 'refit', 'scaled' "
                         "or 'fixed'.")
    if base_values is None and not isinstance(base_features, encoding.EncodingResult):
        base_values = values(base_features)
    n_targets = int(np.prod(dataset.responses.shape[1:]))
    n_refit = n_permutations if n_refit is None else int(n_refit)
    if null == "auto":
        null = ("fixed" if base_values is None else
                "refit" if n_targets * n_refit <= REFIT_MAX_FITS else "scaled")
    if null in ("refit", "scaled") and base_values is None:
        raise ValueError(f"brain_retest: null={null!r} with a fitted base model needs "
                         "base_values=, the base model's features.")
    flat = [v.reshape(len(v), -1) for v in (y_c, base_c, tuned_c)]
    scale = {}
    if null == "scaled":
        scale = refit_null_scale(*flat, base_values, values(ft_features), splits,
                                 min(n_refit, SCALE_PERMUTATIONS), seed, null_kw,
                                 n_scale_targets, **fit_kw)
    test = stats.permutation_r_difference(y_c, base_c, tuned_c, n_permutations, seed=seed,
                                          null_scale=scale.get("scale", 1.0), **null_kw)
    if null == "refit":
        tail = test["delta"].shape
        ref = refit_r_difference(flat[0], base_values, values(ft_features),
                                 test["delta"].ravel(), splits, n_refit, seed=seed,
                                 null=null_kw, **fit_kw)
        test.update({k: v.reshape(tail) for k, v in ref.items()})
        test["null"]["n_permutations"] = n_refit
    test["null"]["refit"] = null == "refit"
    test["null"]["kind"] = {"refit": "refit", "scaled": "scaled fixed predictions",
                            "fixed": "fixed predictions"}[null]
    test["null"].update(scale)
    shares_ci = stats.bootstrap_better_worse(y_c, base_c, tuned_c, test, q=q,
                                             groups=dataset.sentence, n_boot=n_boot, seed=seed)
    # arrays (n_channels, n_windows), as EncodingResult's; "null" (the scheme used) is a dict
    classes = stats.better_worse_same(test["p_greater"], test["p_less"], q)
    shares = {name: 100.0 * (classes == v).mean(axis=0)
              for name, v in (("better", 1), ("worse", -1), ("same", 0))}
    mse_base, _ = encoding.word_errors(base.predictions, dataset.responses, base.significant)
    mse_ft, _ = encoding.word_errors(tuned.predictions, dataset.responses, base.significant)
    delta = mse_base - mse_ft
    # in percent of the base model's mean error in each window: a per-window scale, so
    # the t-test per window is unchanged and windows of different error become comparable
    with np.errstate(invalid="ignore", divide="ignore"):
        delta_pct = 100.0 * delta / np.nanmean(mse_base, axis=0)[None, :]
    cat = None
    if category and category in dataset.categories and dataset.categories[category].any():
        cat = stats.category_ttest(delta_pct, dataset.categories[category],
                                   n_permutations=n_permutations, seed=seed, **null_kw)
        cat["units"] = "% of the base model's mean error"
        cat["q"] = stats.fdr_bh(cat["p"], q)[1]  # Benjamini-Hochberg over the windows
        # two-sided: +1 category words gain more than the rest, -1 they lose more
        cat["direction"] = np.where(np.nan_to_num(cat["q"], nan=1) < q, np.sign(cat["t"]), 0)
        cat["category"] = category
    return {"base": base, "ft": tuned, "test": test, "classes": classes, "shares": shares,
            "shares_ci": shares_ci, "delta_mse": delta, "category": cat}


def retest_summary(retest, times):
    """The numbers a chapter reports from one :func:`brain_retest`.

    Parameters
    ----------
    retest : dict
        From :func:`brain_retest`.
    times : ndarray, shape (n_windows,)
        Window starts (ms).

    Returns
    -------
    dict
        ``percent_better``, ``percent_worse`` (over all channel x window tests),
        ``percent_better_ci``, ``percent_worse_ci`` (their 95 % intervals over
        resampled sentences, or None when the re-test has none),
        ``percent_better_per_window``, ``percent_worse_per_window``, ``mean_r_base``,
        ``mean_r_finetuned``, ``category_effect`` (the t-test per window as lists, or
        None), ``category_windows_ms`` (windows where its two-sided q over windows is
        below 0.05 and the category words gain more than the rest),
        ``category_worse_windows_ms`` (q < 0.05, the category words lose more) and
        ``null`` (the permutation scheme and lag-1 autocorrelations of the test).
    """
    classes = retest["classes"]
    cat = retest["category"]
    category, sig_windows, worse_windows = None, [], []
    if cat is not None:
        category = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in cat.items()}
        sig = np.nan_to_num(cat["q"], nan=1) < 0.05
        sig_windows = [float(times[w]) for w in np.flatnonzero(sig & (cat["t"] > 0))]
        worse_windows = [float(times[w]) for w in np.flatnonzero(sig & (cat["t"] < 0))]
    ci = retest.get("shares_ci") or {}
    return {
        "percent_better": float(100 * (classes == 1).mean()),
        "percent_worse": float(100 * (classes == -1).mean()),
        "percent_better_ci": ci.get("percent_better_ci"),
        "percent_worse_ci": ci.get("percent_worse_ci"),
        "percent_better_per_window": retest["shares"]["better"].tolist(),
        "percent_worse_per_window": retest["shares"]["worse"].tolist(),
        "mean_r_base": float(np.nanmean(retest["base"].r)),
        "mean_r_finetuned": float(np.nanmean(retest["ft"].r)),
        "category_effect": category,
        "category_windows_ms": sig_windows,
        "category_worse_windows_ms": worse_windows,
        "null": retest["test"].get("null"),
    }


#: The answers :func:`retest_verdict` gives.
VERDICTS = ("uninformative at this budget", "closer to the brain", "further from the brain",
            "mixed", "no different from the controls", "control")


@dataclass(frozen=True)
class RetestVerdict:
    """What one model's brain re-test says, given what its training did.

    Attributes
    ----------
    model : str
        Display name.
    answer : str
        One of :data:`VERDICTS`.
    learnt : bool
        The held-out accuracy gain's interval lies above 0.
    gain : float
        Held-out accuracy gain over the base model (proportion).
    gain_ci : tuple of float
        Its paired bootstrap interval.
    percent_better, percent_worse : float
        Channel x window tests where the model predicts better / worse than the base.
    percent_better_ci, percent_worse_ci : tuple of float | None
        Their 95 % intervals over resampled sentences.
    null_better, null_worse : float | None
        The same for the null control (the test's rate with extra columns and no
        knowledge); None when it was not run.
    vs_shuffled_better, vs_shuffled_worse : float | None
        Tests where the model predicts better / worse than the shuffled-answer control
        (a direct re-test against it); None when there is no control.
    reason : str
        One sentence that says why.
    """

    model: str
    answer: str
    learnt: bool
    gain: float
    gain_ci: tuple
    percent_better: float
    percent_worse: float
    null_better: float | None = None
    null_worse: float | None = None
    vs_shuffled_better: float | None = None
    vs_shuffled_worse: float | None = None
    reason: str = ""
    percent_better_ci: tuple | None = None
    percent_worse_ci: tuple | None = None

    @property
    def informative(self):
        """Whether the re-test answers the question for this model."""
        return self.answer not in ("uninformative at this budget", "control")


def retest_verdict(model, accuracy, vs_base, null=None, vs_shuffled=None, control=False):
    """The verdict of one model's brain re-test, following the evidence.

    A re-test can only say whether knowledge of a task brings a model closer to the brain
    if the model learnt the task: when the held-out accuracy gain's interval includes 0,
    the answer is "uninformative at this budget", whatever the brain test shows. A model
    that learnt is "closer to the brain" only when it predicts better than the base in
    more channel x window tests than the null control does (a model with extra columns
    and no knowledge) AND better than the shuffled-answer control in at least one test (a
    direct re-test against it: the same training without the knowledge); "further from
    the brain" in the mirror case; "mixed" when both hold; else "no different from the
    controls". Each "better"/"worse" is a test at the false discovery rate of
    :func:`brain_retest` (q < 0.05, Benjamini-Hochberg over all channel x window tests).

    Parameters
    ----------
    model : str
        Display name.
    accuracy : dict
        :meth:`FinetuneResult.accuracy_interval` of the model (``gain``, ``gain_ci``).
    vs_base : dict
        :func:`retest_summary` of the model against the base model.
    null : dict | None
        :func:`retest_summary` of the null control (None: not run; the reference rate is
        then 0 %).
    vs_shuffled : dict | None
        :func:`retest_summary` of the model against the shuffled-answer control (its fit
        as the reference of :func:`brain_retest`); None when there is no control, and
        the verdict then rests on the null control alone (said in ``reason``).
    control : bool
        The model IS the shuffled-answer control: answer "control" (it is a reference).

    Returns
    -------
    RetestVerdict
    """
    lo, hi = (float(v) for v in accuracy["gain_ci"])
    gain = float(accuracy["gain"])
    pb, pw = float(vs_base["percent_better"]), float(vs_base["percent_worse"])
    nb = None if null is None else float(null["percent_better"])
    nw = None if null is None else float(null["percent_worse"])
    sb = None if vs_shuffled is None else float(vs_shuffled["percent_better"])
    sw = None if vs_shuffled is None else float(vs_shuffled["percent_worse"])
    learnt = lo > 0
    gain_txt = f"{100 * gain:+.1f} points (95 % CI {100 * lo:+.1f} to {100 * hi:+.1f})"
    common = dict(model=model, learnt=learnt, gain=gain, gain_ci=(lo, hi),
                  percent_better=pb, percent_worse=pw, null_better=nb, null_worse=nw,
                  vs_shuffled_better=sb, vs_shuffled_worse=sw,
                  percent_better_ci=_ci_tuple(vs_base.get("percent_better_ci")),
                  percent_worse_ci=_ci_tuple(vs_base.get("percent_worse_ci")))
    if control:
        return RetestVerdict(answer="control", reason=(
            f"the shuffled-answer control (accuracy gain {gain_txt}): what the recipe "
            "changes without the task's knowledge"), **common)
    if not learnt:
        return RetestVerdict(answer="uninformative at this budget", reason=(
            f"its held-out accuracy gain, {gain_txt}, does not exclude 0: the training did "
            "not measurably teach the task, so the brain re-test cannot say whether the "
            "task's knowledge helps"), **common)
    closer = pb > (nb or 0.0) and (sb is None or sb > 0)
    further = pw > (nw or 0.0) and (sw is None or sw > 0)
    answer = ("mixed" if closer and further else "closer to the brain" if closer
              else "further from the brain" if further else "no different from the controls")
    refs = (f"better / worse than the base in {percent_text(pb, common['percent_better_ci'])}"
            f" / {percent_text(pw, common['percent_worse_ci'])} of the tests (null "
            + ("control not run" if nb is None else f"control {nb:.1f} / {nw:.1f} %") + ")")
    refs += ("; no shuffled-answer control was run" if sb is None else
             f"; better / worse than the shuffled-answer control in {sb:.1f} / {sw:.1f} %")
    return RetestVerdict(answer=answer, reason=f"it learnt the task (gain {gain_txt}); {refs}",
                         **common)


def _ci_tuple(ci):
    return None if ci is None else tuple(float(v) for v in ci)


def retest_verdicts(dataset, retests, features, accuracy, summaries, layer=None,
                    n_permutations=10000, seed=0, **fit_kw):
    """Verdicts of every fine-tuned model, with its direct re-test against the control.

    Parameters
    ----------
    dataset : WordDataset
    retests : dict of str to dict
        :func:`brain_retest` against the base model, per run (task or
        :data:`SHUFFLED_CONTROL`).
    features : dict of str to Features | ndarray
        Each run's features (as given to :func:`brain_retest`).
    accuracy : dict of str to dict
        :meth:`FinetuneResult.accuracy_interval` per run.
    summaries : dict of str to dict
        :func:`retest_summary` by test name; ``"null control"`` is used when present.
    layer, n_permutations, seed, **fit_kw
        For the re-tests against the shuffled-answer control (:func:`brain_retest`,
        with the control's fit as the reference).

    Returns
    -------
    dict of str to RetestVerdict
    """
    control = retests.get(SHUFFLED_CONTROL)
    out = {}
    for run, rt in retests.items():
        vs_shuffled = None
        if control is not None and run != SHUFFLED_CONTROL:
            ref = features[SHUFFLED_CONTROL]
            ref = ref.layer(layer) if hasattr(ref, "layer") and callable(ref.layer) else ref
            direct = brain_retest(dataset, control["ft"], features[run], layer=layer,
                                  n_permutations=n_permutations, seed=seed,
                                  base_values=ref, ft_fit=rt["ft"], **fit_kw)
            vs_shuffled = retest_summary(direct, dataset.times)
        out[run] = retest_verdict(TASK_NAMES.get(run, run), accuracy[run],
                                  retest_summary(rt, dataset.times),
                                  null=summaries.get("null control"), vs_shuffled=vs_shuffled,
                                  control=run == SHUFFLED_CONTROL)
    return out


def verdict_table(verdicts):
    """The verdicts as a table, one row per model.

    Parameters
    ----------
    verdicts : dict of str to RetestVerdict

    Returns
    -------
    pandas.DataFrame
        Verdict, learnt, gain with interval, % better / worse than the base, the null
        control and the shuffled-answer control, and the reason.
    """
    import pandas as pd

    def pair(b, w):
        return "n/a" if b is None else f"{b:.1f} / {w:.1f}"

    return pd.DataFrame({v.model: {
        "verdict": v.answer, "learnt (gain CI > 0)": v.learnt,
        "gain (points)": f"{100 * v.gain:+.1f} [{100 * v.gain_ci[0]:+.1f}, "
                         f"{100 * v.gain_ci[1]:+.1f}]",
        "% better than base [95 % CI]": _bracket(v.percent_better, v.percent_better_ci),
        "% worse than base [95 % CI]": _bracket(v.percent_worse, v.percent_worse_ci),
        "null control vs base": pair(v.null_better, v.null_worse),
        "% better / worse than shuffled control": pair(v.vs_shuffled_better,
                                                       v.vs_shuffled_worse),
        "why": v.reason} for v in verdicts.values()}).T


def _bracket(value, ci):
    """``"1.2 [0.8, 1.9]"`` (a table cell), or the value alone without an interval."""
    return f"{value:.1f}" if ci is None else f"{value:.1f} [{ci[0]:.1f}, {ci[1]:.1f}]"


def _windows_text(summary, none="no window"):
    """Windows of a category effect: gains as "300, 325 ms", losses marked "(... worse)"."""
    parts = [", ".join(f"{t:g}" for t in wins) + " ms" + label
             for wins, label in ((summary["category_windows_ms"], ""),
                                 (summary.get("category_worse_windows_ms", []),
                                  " (category words worse)")) if wins]
    return "; ".join(parts) or none


def retest_texts(summaries, tasks=tuple(TASK_NAMES)):
    """The short texts a chapter shows for the controls and the fine-tuned models.

    Parameters
    ----------
    summaries : dict of str to dict
        :func:`retest_summary` per test, keyed ``"positive control"``, ``"null control"``
        and ``"fine-tuned on <task name>"`` (:data:`TASK_NAMES`); missing tests give
        ``"n/a"``.
    tasks : sequence of str

    Returns
    -------
    dict of str to str
        ``pos_better``, ``pos_worse``, ``pos_cat``, ``null_*`` (percent of channel x
        window tests with its interval, as :func:`analysis.display.percent_text`
        writes it; category windows) and ``better_<task>``, ``worse_<task>``, ``cat_sig_<task>``.
    """
    out = {}
    rows = [("pos", "positive control"), ("null", "null control")]
    rows += [((t, "task"), f"fine-tuned on {TASK_NAMES[t]}") for t in tasks]
    for key, name in rows:
        v = summaries.get(name)
        if isinstance(key, tuple):
            names = (f"better_{key[0]}", f"worse_{key[0]}", f"cat_sig_{key[0]}")
            none = "none"
        else:
            names = (f"{key}_better", f"{key}_worse", f"{key}_cat")
            none = "no window"
        if v is None:
            out.update(dict.fromkeys(names, "n/a"))
        else:
            out.update(zip(names, (percent_text(v["percent_better"], v.get("percent_better_ci")),
                                   percent_text(v["percent_worse"], v.get("percent_worse_ci")),
                                   _windows_text(v, none))))
    return out




def retest_null_text(tests):
    """One sentence on the permutation null the re-tests used.

    Parameters
    ----------
    tests : dict of str to dict
        :func:`brain_retest` results by name (their ``test["null"]`` records).

    Returns
    -------
    str
        Markdown: the refit null, the scaled fixed null with its range of scales, or the
        fixed null (and that it is liberal); ``"n/a"`` without tests.
    """
    nulls = [rt["test"]["null"] for rt in tests.values()]
    if not nulls:
        return "n/a"
    kinds = {nl.get("kind", "refit" if nl.get("refit") else "fixed predictions")
             for nl in nulls}
    if kinds == {"refit"}:
        return ("Each permutation fits both models again, penalties included (the refit "
                "null of out-of-fold predictions).")
    if kinds == {"scaled fixed predictions"}:
        scales = [nl["scale"] for nl in nulls]
        lo, hi = min(scales), max(scales)
        span = f"{lo:.2f}" if round(lo, 2) == round(hi, 2) else f"{lo:.2f} to {hi:.2f}"
        per = "" if len(tests) == 1 else f" (one per re-test, {len(tests)} re-tests)"
        return (f"Refitting both models on every permutation is beyond the budget for this "
                f"many targets, so the predictions are held fixed and each permuted Δ is "
                f"widened by a factor of {span}{per}: "
                f"the ratio of the refit null's spread to this null's, both drawn on "
                f"{nulls[0]['scale_targets']} targets chosen at random with "
                f"{nulls[0]['scale_permutations']} permutations. Held fixed and not "
                f"widened, out-of-fold predictions give a null that is too narrow (Methods "
                f"page).")
    return ("The predictions are held fixed while the responses move; on out-of-fold "
            "predictions this null is too narrow and rejects too often (Methods page), so "
            "these re-tests are read beside the null and shuffled-answer controls, which "
            "share the bias.")
