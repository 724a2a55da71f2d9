"""Layers: the sweep over layers (:class:`LayerSweep`, :func:`layer_sweep`), the layer
chosen inside the outer folds (:func:`nested_layer_oof`, :func:`nested_layer_choice`),
the modal layer, model comparison and the layer-choice text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cv import cv_splits
from ._ridge import DEFAULT_ALPHAS, ridge_oof
from ._common import _check_layers, _choose_and_stitch, _responses_of, _scores
from .result import EncodingResult, fit_encoding

__all__ = ["LayerSweep", "layer_sweep", "nested_layer_oof", "nested_layer_choice", "modal_layer",
           "NESTED_RULE", "compare_models", "swept_layers", "layer_choice_text"]


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

    def margin(self, level=0.95):
        """Margin of the chosen layer over the runner-up, with an interval over folds.

        The mean r over all channels and windows is computed within each outer test
        fold for both layers; the interval is the t interval of their difference over
        the folds (the folds are contiguous blocks of the text, so this treats them as
        exchangeable replications; the Methods page (encoding models)).

        Returns
        -------
        dict
            ``chosen``, ``runner_up``, ``margin`` (difference of the overall means),
            ``fold_differences``, ``ci`` (``[low, high]``) and ``n_folds``; ``ci`` is None
            with one layer or without fold results.
        """
        from scipy import stats as st

        order = np.argsort(-self.mean_r, kind="stable")
        out = {"chosen": self.chosen_layer, "runner_up": None, "margin": None, "ci": None,
               "fold_differences": None, "n_folds": None}
        if len(order) < 2:
            return out
        a, b = int(order[0]), int(order[1])
        out.update(runner_up=self.layers[b], margin=float(self.mean_r[a] - self.mean_r[b]))
        if self.fold_mean_r is not None:
            d = self.fold_mean_r[a] - self.fold_mean_r[b]
            half = st.t.ppf(0.5 + level / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
            out.update(fold_differences=d.tolist(), n_folds=len(d),
                       ci=[float(d.mean() - half), float(d.mean() + half)])
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
    rs, ps, means, folds, best, fits = [], [], [], [], None, {}
    for l in layers:
        res = fits[l] = fit_encoding(np.asarray(hidden[l]), data, layer=l, **fit_kw)
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
    return LayerSweep(layers=layers, r=np.stack(rs), p=np.stack(ps), mean_r=means,
                      chosen_layer=layers[int(np.argmax(means))], rule=CHOICE_RULE, best=best,
                      fold_mean_r=np.stack(folds), nested=nested)


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
        :meth:`LayerSweep.margin` (the sweep's argmax over its runner-up, with the
        t interval over folds).
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
        ``margin_verdict`` (whether the interval excludes 0).
    """
    chosen = decision["layer"]
    ci = margin["ci"]
    margin_txt = (f"{margin['margin']:.4f} in mean r"
                  + (f" ({ci[0]:.4f} to {ci[1]:.4f})" if ci else "")
                  if margin["margin"] is not None else "n/a (one layer swept)")
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
        "margin_verdict": "The interval excludes 0: the choice is stable across folds."
        if ci and ci[0] > 0 else
        "The interval includes 0: the two layers cannot be told apart here, and the choice "
        "between them is a coin toss.",
    }
