"""Layers: the sweep over layers (:class:`LayerSweep`, :func:`layer_sweep`), the layer
chosen inside the outer folds (:func:`nested_layer_oof`, :func:`nested_layer_choice`),
the modal layer, model comparison and the layer-choice text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._utils import DataError, check_array
from ..stats import resample_weights
from .cv import cv_splits
from ._ridge import DEFAULT_ALPHAS, ridge_oof
from ._common import _check_layers, _choose_and_stitch, _responses_of, _scores
from .errors import word_squared_error
from .result import EncodingResult, fit_encoding

__all__ = ["LayerSweep", "layer_sweep", "nested_layer_oof", "nested_layer_choice", "modal_layer",
           "NESTED_RULE", "compare_models", "swept_layers", "layer_choice_text",
           "layer_error_margin"]


@dataclass
class LayerSweep:
    """Encoding r of every layer and the layer chosen.

    Attributes
    ----------
    layers : list of int
        Layers fitted (indices into ``hidden``).
    r, p : ndarray, shape (n_layers, n_channels, n_windows)
    mean_r : ndarray, shape (n_layers,)
        Mean r over all channels and windows (the selection score).
    chosen_layer : int
        ``layers[argmax(mean_r)]`` (ties: the lower layer).
    rule : str
        The selection rule, in words.
    best : EncodingResult
        Full result of the chosen layer.
    fold_mean_r : ndarray, shape (n_layers, n_folds) | None
        Mean r over all targets within each outer test fold.
    nested : EncodingResult | None
        The selection-aware model (:func:`nested_layer_choice`).
    word_error : ndarray, shape (n_layers, n_words) | None
        Each layer's per-word out-of-fold squared error (:func:`word_squared_error`).
    inner_fold : ndarray, shape (n_layers, n_folds) | None
        Each layer's inner cross-validated error in each outer fold, summed over targets
        (what the nested choice compares).
    fold_of_word : ndarray of int, shape (n_words,) | None
        The outer fold that holds each word out.
    groups : ndarray of int, shape (n_words,) | None
        CV groups of the fits (the bootstrap units of :meth:`margin`).
    """

    layers: list
    r: np.ndarray
    p: np.ndarray
    mean_r: np.ndarray
    chosen_layer: int
    rule: str
    best: EncodingResult
    fold_mean_r: np.ndarray | None = None
    nested: EncodingResult | None = None
    word_error: np.ndarray | None = None
    inner_fold: np.ndarray | None = None
    fold_of_word: np.ndarray | None = None
    groups: np.ndarray | None = None

    def layer_decision(self):
        """The layer later chapters use, with how it was made (JSON-serialisable).

        The decision is the modal layer of the selection-aware procedure
        (:func:`nested_layer_choice`, one layer per outer fold for all targets), not the
        argmax of the sweep, which is a description only. Without a nested fit (fits
        without inner errors) it falls back to the argmax and says so.

        Returns
        -------
        dict
            ``layer``, ``rule``, ``fold_layers`` (one per outer fold, or None),
            ``nested_mean_r`` (mean r of the whole nested procedure, or None) and
            ``sweep_argmax`` (the description).
        """
        if self.nested is None:
            return {"layer": int(self.chosen_layer), "rule": self.rule, "fold_layers": None,
                    "nested_mean_r": None, "sweep_argmax": int(self.chosen_layer)}
        folds = self.nested.chosen_layers.reshape(self.nested.chosen_layers.shape[0], -1)[:, 0]
        return {"layer": int(self.nested.layer),
                "rule": "modal layer over outer folds; in each fold " + NESTED_RULE
                        + " (one layer for all channels and windows)",
                "fold_layers": [int(v) for v in folds],
                "nested_mean_r": float(np.nanmean(self.nested.r)),
                "sweep_argmax": int(self.layers[int(np.argmax(self.mean_r))])}

    def margin(self, level=0.95, n_boot=1000, seed=0):
        """Margin of the layer the nested choice uses over its runner-up, with a bootstrap interval.

        The quantity is the one the nested choice minimises, measured out of fold: in
        each outer fold, the layer with the smallest inner cross-validated error (summed
        over channels and windows, on that fold's training words) predicts the test
        words, and the layer with the second smallest is its runner-up; the margin is the
        mean over all words of the runner-up's squared out-of-fold error minus the
        chosen layer's (per channel and window, z-scored responses:
        :func:`word_squared_error`). Both layers of a fold are picked from its training
        words only, so no test word enters the choice of what is compared; a positive
        margin favours the choice. The interval resamples whole sentences (the sweep's
        ``groups``) by :func:`layer_error_margin`. Without inner errors (two-band or
        feature-less fits) the sweep's argmax is compared with the next mean r, on all
        words.

        Why squared error rather than mean r: ridge shrinks the prediction of a target
        without signal towards zero for every layer, so such targets add almost nothing
        to an error difference, while their r is scale-free noise of the same size for
        every layer and swamps a difference in mean r over all targets.

        Returns
        -------
        dict
            ``chosen`` (the decided layer, :meth:`layer_decision`), ``runner_up`` (the
            most frequent runner-up over folds), ``fold_runners_up``, ``margin``, ``ci``
            (``[low, high]``), ``se``, ``n_units``, ``unit``, ``n_boot``, ``quantity``
            (in words) and ``mean_r_difference`` (mean r over all targets of the chosen
            layer minus the runner-up's: a description); ``runner_up``, ``margin`` and
            ``ci`` are None with one layer.
        """
        decided = int(self.layer_decision()["layer"])
        out = {"chosen": decided, "runner_up": None, "fold_runners_up": None, "margin": None,
               "ci": None, "se": None, "n_units": None, "unit": None, "n_boot": int(n_boot),
               "quantity": MARGIN_QUANTITY, "mean_r_difference": None}
        if len(self.layers) < 2 or self.word_error is None:
            return out
        n = self.word_error.shape[1]
        if self.inner_fold is not None and self.nested is not None:
            order = np.argsort(self.inner_fold, axis=0, kind="stable")  # (n_layers, n_folds)
            first, second = order[0][self.fold_of_word], order[1][self.fold_of_word]
            runners = [int(self.layers[i]) for i in order[1]]
            runner = modal_layer(runners)
        else:
            ranked = np.argsort(-self.mean_r, kind="stable")
            first, second = np.full(n, ranked[0]), np.full(n, ranked[1])
            runners, runner = None, int(self.layers[ranked[1]])
        words = np.arange(n)
        out.update(runner_up=runner, fold_runners_up=runners,
                   mean_r_difference=float(self.mean_r[self.layers.index(decided)]
                                           - self.mean_r[self.layers.index(runner)]))
        out.update(layer_error_margin(self.word_error[first, words],
                                      self.word_error[second, words], groups=self.groups,
                                      folds=self.fold_of_word, n_boot=n_boot, seed=seed,
                                      level=level))
        return out

    def layer_time_map(self):
        """Mean r over channels per layer and window, shape (n_layers, n_windows)."""
        return np.nanmean(self.r, axis=1)

    def summary(self):
        """JSON-serialisable summary including the runner-up and the margin."""
        order = np.argsort(-self.mean_r, kind="stable")
        runner = self.layers[int(order[1])] if len(order) > 1 else None
        margin = float(self.mean_r[order[0]] - self.mean_r[order[1]]) if runner is not None \
            else None
        return {"layers": list(self.layers), "mean_r": [float(m) for m in self.mean_r],
                "chosen_layer": self.chosen_layer, "runner_up": runner, "margin": margin,
                "margin_interval": self.margin(), "rule": self.rule,
                "best": self.best.summary(), "layer_decision": self.layer_decision()}


#: What :meth:`LayerSweep.margin` measures, in words.
MARGIN_QUANTITY = ("out-of-fold mean squared error per channel and window (z-scored "
                   "responses) of each fold's runner-up (second smallest inner error) minus "
                   "that of its chosen layer")


def layer_error_margin(error_chosen, error_other, groups=None, folds=None, n_boot=1000, seed=0,
                       level=0.95):
    """Mean per-word error difference of two layers, with an interval over sentences and folds.

    ``margin = mean(error_other - error_chosen)`` over words. Two intervals are formed
    and the wider is reported:

    * bootstrap over sentences: whole groups are resampled with replacement
      (:func:`analysis.stats.resample_weights`) and the percentile interval of the
      resampled means is taken (Efron & Tibshirani 1993, ch. 13). Resampling sentences
      keeps the dependence between neighbouring words inside a unit. It treats each
      fold's fitted models as fixed, so it misses the variability of the fits: on
      small planted studies (240 words) where two layers carry the same signal it
      excluded 0 in 18 of 60 seeds (``tests/test_nested_layer.py``).
    * the corrected t interval over outer folds (Nadeau & Bengio 2003, Machine
      Learning 52:239-281): the per-fold mean differences with their variance scaled
      by ``1/K + n_test/n_train`` instead of ``1/K``, because the folds' training sets
      overlap. It counts the fits' variability; the wider of the two excluded 0 in 2
      of the same 60 seeds and was above 0 in 16 of 20 studies where one layer alone
      carries the signal. On the default simulated study (4,697 words, 10 folds) the two
      intervals are about as wide.

    Parameters
    ----------
    error_chosen, error_other : ndarray, shape (n_words,)
        Per-word out-of-fold errors (:func:`word_squared_error`) of the two layers.
    groups : ndarray of int, shape (n_words,) | None
        Resampling units (sentence labels); ``None`` resamples words.
    folds : ndarray of int, shape (n_words,) | None
        Outer fold holding each word out; ``None`` gives the bootstrap interval only.
    n_boot : int
        Bootstrap resamples.
    seed : int
        Seed of the resampling.
    level : float
        Coverage of the interval.

    Returns
    -------
    dict
        ``margin`` (positive: the chosen layer errs less), ``ci`` (``[low, high]``, the
        wider of the two), ``ci_sentences`` (bootstrap), ``ci_folds`` (corrected t, or
        None), ``se`` (bootstrap standard deviation), ``n_units``, ``unit``
        (``"group"`` or ``"word"``) and ``n_folds``.

    Raises
    ------
    DataError
        Errors of different lengths, non-finite errors or fewer than two units.
    """
    from scipy import stats as st

    a = check_array(error_chosen, "layer_error_margin: error_chosen", dtype=np.float64)
    b = check_array(error_other, "layer_error_margin: error_other", dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise DataError(f"layer_error_margin: errors of shapes {a.shape} and {b.shape}; "
                        "expected two vectors of one value per word.")
    d = b - a
    w = resample_weights(len(d), groups, n_boot, seed, where="layer_error_margin")
    boot = (w @ d) / w.sum(axis=1)
    ci_b = [float(v) for v in np.percentile(boot, [50 - 50 * level, 50 + 50 * level])]
    ci_f, n_folds = None, None
    if folds is not None:
        folds = np.asarray(folds)
        if folds.shape != d.shape:
            raise DataError(f"layer_error_margin: folds of shape {folds.shape}; expected "
                            f"{d.shape} (one fold per word).")
        labels = np.unique(folds)
        n_folds = len(labels)
        if n_folds >= 2:
            dk = np.array([d[folds == k].mean() for k in labels])
            n_test = np.array([np.sum(folds == k) for k in labels], float)
            ratio = float(np.mean(n_test / (len(d) - n_test)))
            half = (st.t.ppf(0.5 + level / 2, n_folds - 1) * dk.std(ddof=1)
                    * np.sqrt(1 / n_folds + ratio))
            ci_f = [float(dk.mean() - half), float(dk.mean() + half)]
    ci = ci_b if ci_f is None else [min(ci_b[0], ci_f[0]), max(ci_b[1], ci_f[1])]
    units = len(d) if groups is None else len(np.unique(np.asarray(groups)))
    return {"margin": float(d.mean()), "ci": ci, "ci_sentences": ci_b, "ci_folds": ci_f,
            "se": float(boot.std(ddof=1)), "n_units": int(units),
            "unit": "word" if groups is None else "group", "n_folds": n_folds}


CHOICE_RULE = ("argmax over layers of the mean out-of-fold r over all channels and "
               "windows (ties: lower layer)")


NESTED_RULE = ("layer chosen inside each outer fold from the training words only: the layer "
               "whose ridge model (penalty chosen by the same inner search) has the smallest "
               "inner cross-validated squared error (ties: the lower layer); that layer's model "
               "predicts the held-out fold")


def nested_layer_oof(features_by_layer, y, layers=None, alphas=None, n_folds=10, n_inner=5,
                     groups=None, cv=None, unpenalized=None, per_target=True,
                     backend="numpy", device=None):
    """Out-of-fold predictions whose layer, like the penalty, is chosen inside each fold.

    For each outer fold the layer is a hyperparameter of the inner search: every layer's
    ridge model is fitted by :func:`ridge_oof` (penalty chosen per target on ``n_inner``
    grouped, contiguous chunks of the outer training words), and the layer whose chosen
    penalty gives the smallest inner cross-validated squared error wins (the joint
    minimum over layers x penalties). That layer's model, fitted on the whole training
    fold, predicts the held-out fold. No test word enters a choice: the layer, the
    penalty, the standardisation and the weights of a fold all come from its training
    words, which is the nested cross-validation of Varma & Simon (2006) and Cawley &
    Talbot (2010).

    Parameters
    ----------
    features_by_layer : ndarray, shape (n_layers, n_samples, d)
        Features of every layer (e.g. ``extract_features(...).hidden``).
    y : ndarray, shape (n_samples, n_targets)
    layers : list of int | None
        Layers competing (all when ``None``).
    alphas, n_folds, n_inner, groups, cv, unpenalized, backend, device
        As in :func:`ridge_oof`; every layer uses the same outer splits, inner chunks
        and unpenalized band.
    per_target : bool
        Choose a layer per target (column of ``y``) and fold; ``False``: one layer per
        fold for all targets (by the inner error summed over targets).

    Returns
    -------
    dict
        ``predictions`` (n_samples, n_targets): out-of-fold predictions of the whole
        procedure; ``chosen_layers`` (n_splits, n_targets): layer used for each fold
        and target; ``best_alphas`` (n_splits, n_targets): its penalty;
        ``layer_predictions`` (n_layers, n_samples, n_targets): each layer's own
        out-of-fold predictions (for a description of the sweep, not for tests);
        ``inner_error`` (n_layers, n_splits, n_targets); ``layers``; ``splits``;
        ``rule`` (in words).

    Notes
    -----
    Why a test of these predictions is valid, and a test of the best layer's is not:
    the r of the layer with the highest out-of-fold r is a maximum over several
    correlated statistics, each computed on all words, so under the null it is biased
    upward and a permutation test that treats that layer as fixed is anti-conservative.
    Here each word's prediction is a function of the other folds' words only (features
    and responses), whatever layer won; the r of the stitched predictions is one
    statistic, not a maximum, and shuffling the responses against these fixed
    predictions tests it like any out-of-fold prediction (under the null that the
    responses are unrelated to the features, the predictions carry no information about
    the held-out responses).
    """
    hidden = np.asarray(features_by_layer)
    layers = _check_layers(hidden, layers)
    y = np.asarray(y)
    if y.ndim != 2:
        raise ValueError(f"nested_layer_oof: y of shape {y.shape}; expected (n_samples, "
                         "n_targets).")
    grid = np.asarray(DEFAULT_ALPHAS if alphas is None else alphas, dtype=np.float64)
    preds, alpha_idx, errs = [], [], []
    for l in layers:
        pred, choice, err = ridge_oof(hidden[l], y, grid, n_folds, n_inner, backend, device,
                                      groups=groups, cv=cv, unpenalized=unpenalized,
                                      return_inner_error=True)
        preds.append(pred)
        alpha_idx.append(choice)
        errs.append(err)
    splits = cv_splits(y.shape[0], n_folds, None if groups is None else np.asarray(groups), cv)
    errs, alpha_idx = np.stack(errs), np.stack(alpha_idx)
    pred, index = _choose_and_stitch(errs, np.stack(preds), splits, per_target)
    chosen_alpha = np.take_along_axis(alpha_idx, index[None], axis=0)[0]
    return {"predictions": pred, "chosen_layers": np.asarray(layers)[index],
            "best_alphas": grid[chosen_alpha], "layer_predictions": np.stack(preds),
            "inner_error": errs, "layers": layers, "splits": splits, "rule": NESTED_RULE}


def nested_layer_choice(fits, data, per_target=True, n_folds=10, groups=None, cv=None,
                        p_threshold=1e-3, error_channels=None, **_):
    """The selection-aware model of a layer sweep: each fold predicted by its own layer.

    The same procedure as :func:`nested_layer_oof`, from per-layer
    :class:`EncodingResult` fits that already hold their inner errors (the fits of a
    layer sweep, so the choice costs no further fit).

    Parameters
    ----------
    fits : dict of int to EncodingResult
        One fit per layer by :func:`fit_encoding`, with the same folds, targets and
        baseline band (one-band models, so that ``inner_error`` is set).
    data : WordDataset | ndarray
        The responses fitted.
    per_target : bool
        A layer per channel x window and fold, or one per fold for all of them.
    n_folds, groups, cv, p_threshold, error_channels
        As given to :func:`fit_encoding` (other fit keywords are accepted and ignored).

    Returns
    -------
    EncodingResult
        Of the stitched out-of-fold predictions; ``chosen_layers`` (n_folds, n_channels,
        n_windows) and ``best_alphas_`` hold each fold's layer and penalty, ``layer`` the modal
        layer over folds and targets (:func:`modal_layer`), ``params["rule"]`` the rule.
    """
    resp, times, ch_names, _ = _responses_of(data)
    n, n_ch, n_win = resp.shape
    layers = list(fits)
    first = fits[layers[0]]
    if any(fits[l].inner_error is None for l in layers):
        raise ValueError("nested_layer_choice: a fit has no inner_error; expected one-band "
                         "fits by fit_encoding (no second band, at least one feature).")
    splits = cv_splits(n, n_folds, None if groups is None else np.asarray(groups), cv)
    flat = lambda a: np.asarray(a).reshape(a.shape[0], -1)  # noqa: E731
    errs = np.stack([flat(fits[l].inner_error) for l in layers])           # (L, K, C*W)
    preds = np.stack([fits[l].predictions.reshape(n, -1) for l in layers])
    pred, index = _choose_and_stitch(errs, preds, splits, per_target)
    pred = pred.reshape(n, n_ch, n_win)
    best = np.stack([flat(fits[l].best_alphas_) for l in layers])
    chosen_alpha = np.take_along_axis(best, index[None], axis=0)[0].reshape(
        first.best_alphas_.shape)
    chosen = np.asarray(layers)[index].reshape(first.best_alphas_.shape)
    r, p, sig, mse, cosine, fold_r, _ = _scores(pred, resp, p_threshold, error_channels, splits,
                                                groups)
    return EncodingResult(
        predictions=pred, r=r, p=p, significant=sig, best_alphas_=chosen_alpha,
        alphas=first.alphas, mse=mse, cosine=cosine, times=times, ch_names=ch_names,
        layer=modal_layer(chosen), fold_r=fold_r, chosen_layers=chosen,
        params=dict(first.params, mode=first.params.get("mode", "default") + ", layer nested",
                    rule=NESTED_RULE, per_target=bool(per_target),
                    layers=[int(l) for l in layers]))


def modal_layer(chosen_layers):
    """The layer chosen most often across outer folds (ties: the lower layer).

    Parameters
    ----------
    chosen_layers : array_like of int
        Layers chosen inside the folds (any shape, e.g. ``EncodingResult.chosen_layers``).

    Returns
    -------
    int
    """
    values, counts = np.unique(np.asarray(chosen_layers).ravel(), return_counts=True)
    return int(values[np.argmax(counts)])


def layer_sweep(hidden, data, layers=None, progress=False, **fit_kw):
    """Fit the encoding model on each layer and choose one (Methods page, encoding models).

    Parameters
    ----------
    hidden : ndarray, shape (n_layers, n_words, d)
        Hidden states of one model (``extract_features(...).hidden``).
    data : WordDataset | ndarray
        The responses.
    layers : list of int | None
        Layers to fit (all when ``None``).
    progress : bool
        Print one line per layer.
    **fit_kw
        Passed to :func:`fit_encoding` (alphas, n_folds, backend, ...).

    Returns
    -------
    LayerSweep
    """
    layers = _check_layers(hidden, layers)
    resp = _responses_of(data)[0]
    rs, ps, means, folds, best, fits, errs = [], [], [], [], None, {}, []
    for l in layers:
        res = fits[l] = fit_encoding(np.asarray(hidden[l]), data, layer=l, **fit_kw)
        errs.append(word_squared_error(res.predictions, resp))
        rs.append(res.r)
        ps.append(res.p)
        means.append(float(np.nanmean(res.r)))
        folds.append(np.nanmean(res.fold_r.reshape(res.fold_r.shape[0], -1), axis=1))
        if best is None or means[-1] > np.nanmean(best.r):
            best = res
        if progress:
            print(f"layer {l}: mean r {means[-1]:.4f} ({res.params['seconds']:.1f} s)")
    means = np.array(means)
    nested = (nested_layer_choice(fits, data, per_target=False, **fit_kw)
              if all(f.inner_error is not None for f in fits.values()) else None)
    inner = fold = None
    if nested is not None:
        inner = np.stack([fits[l].inner_error.reshape(len(fits[l].inner_error), -1).sum(1)
                          for l in layers])
        n = resp.shape[0]
        fold = np.zeros(n, dtype=int)
        groups = fit_kw.get("groups")
        for k, (_, test) in enumerate(cv_splits(n, fit_kw.get("n_folds", 10),
                                                None if groups is None else np.asarray(groups),
                                                fit_kw.get("cv"))):
            fold[test] = k
    # bootstrap units of the margin: the dataset's sentences, else the CV groups
    units = getattr(data, "sentence", None)
    units = fit_kw.get("groups") if units is None else units
    return LayerSweep(layers=layers, r=np.stack(rs), p=np.stack(ps), mean_r=means,
                      chosen_layer=layers[int(np.argmax(means))], rule=CHOICE_RULE, best=best,
                      fold_mean_r=np.stack(folds), nested=nested, word_error=np.stack(errs),
                      inner_fold=inner, fold_of_word=fold,
                      groups=None if units is None else np.asarray(units))


def swept_layers(n_hidden, layers=None, layer_step=1):
    """The layers a sweep fits: the given ones, or every ``layer_step``-th hidden state.

    Parameters
    ----------
    n_hidden : int
        Hidden states of the model (embeddings included), ``hidden.shape[0]``.
    layers : list of int | None
        Explicit layer indices; returned as given when not ``None``.
    layer_step : int
        Step from layer 0 when ``layers`` is ``None`` (1: every layer).

    Returns
    -------
    list of int

    Raises
    ------
    ValueError
        When ``layer_step`` is below 1.
    """
    if layers is not None:
        return list(layers)
    if int(layer_step) < 1:
        raise ValueError(f"layer_step must be a positive integer, got {layer_step!r}")
    return list(range(0, int(n_hidden), int(layer_step)))


def compare_models(hiddens, data, layers=None, layer_step=1, progress=False, **sweep_kw):
    """Layer sweeps of several language models on the same responses (Methods page, beyond the paper).

    Parameters
    ----------
    hiddens : dict of str to ndarray, each (n_layers, n_words, d)
        Hidden states per model name.
    data : WordDataset | ndarray
    layers : list of int | None
        Layers fitted in every model; ``None``: every ``layer_step``-th layer of each
        (:func:`swept_layers`).
    layer_step : int
    progress : bool
        Print each model's size and swept layers, then one line per layer.
    **sweep_kw
        Passed to :func:`layer_sweep`.

    Returns
    -------
    dict of str to LayerSweep
    """
    out = {}
    for name, h in hiddens.items():
        swept = swept_layers(h.shape[0], layers, layer_step)
        if progress:
            print(f"model {name}: {h.shape[0]} hidden states of size {h.shape[2]}; "
                  f"sweeping layers {swept}")
        out[name] = layer_sweep(h, data, layers=swept, progress=progress, **sweep_kw)
    return out


def layer_choice_text(decision, margin, n_swept, n_layers_model):
    """The numbers the encoding chapter quotes about the layer choice, as text.

    Parameters
    ----------
    decision : dict
        :meth:`LayerSweep.layer_decision`.
    margin : dict
        :meth:`LayerSweep.margin` (the chosen layer over its runner-up: the runner-up's
        out-of-fold squared error minus the chosen layer's, with its interval).
    n_swept : int
        Layers swept.
    n_layers_model : int
        Layers of the model (hidden states less the embeddings).

    Returns
    -------
    dict of str to object
        ``n_swept``, ``chosen_layer``, ``fold_layers`` (comma-separated),
        ``sweep_argmax``, ``nested_mean_r`` (4 decimals, or ``"n/a"`` without a
        nested fit), ``n_layers_model``, ``runner_up``, ``margin_txt`` and
        ``margin_verdict`` (whether the interval excludes 0, and on which side).
    """
    chosen = decision["layer"]
    ci = margin["ci"]
    how = []
    if margin.get("n_units"):
        how.append(f"a bootstrap over {margin['n_units']:,} "
                   + ("sentences" if margin.get("unit") == "group" else "words"))
    if margin.get("ci_folds"):
        how.append(f"the corrected t interval over {margin['n_folds']} folds")
    how_txt = ("; the wider of " + " and ".join(how)) if len(how) == 2 else \
        (f"; {how[0]}" if how else "")
    margin_txt = (f"{margin['margin']:.4f}"
                  + (f" (95 % interval {ci[0]:.4f} to {ci[1]:.4f}{how_txt})" if ci else "")
                  if margin["margin"] is not None else "n/a (one layer swept)")
    if ci and ci[0] > 0:
        verdict = ("The interval excludes 0: on held-out words the chosen layer predicts "
                   "better than its runner-up.")
    elif ci and ci[1] < 0:
        verdict = ("The interval lies below 0: on held-out words the runner-up predicts "
                   "better than the layer chosen.")
    else:
        verdict = ("The interval includes 0: the two layers cannot be told apart here, and "
                   "the choice between them is a coin toss.")
    return {
        "n_swept": n_swept,
        "chosen_layer": chosen,
        "fold_layers": ", ".join(map(str, decision["fold_layers"] or [chosen])),
        "sweep_argmax": decision["sweep_argmax"],
        "nested_mean_r": "n/a" if decision["nested_mean_r"] is None
        else f"{decision['nested_mean_r']:.4f}",
        "n_layers_model": n_layers_model,
        "runner_up": margin["runner_up"],
        "margin_txt": margin_txt,
        "margin_verdict": verdict,
    }
