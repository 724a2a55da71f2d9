"""Ridge encoding models from LM features to brain responses (Methods page, encoding models and beyond the paper).

One window's model maps word features ``(n_words, d)`` to responses
``(n_words, n_channels)``. Because every window uses the same features, all
channel x window pairs are fitted as targets of ONE multi-output ridge problem:
``Y = responses.reshape(n_words, n_channels * n_windows)``.

Procedure (:func:`fit_encoding`)
--------------------------------
1. Outer cross-validation: ``n_folds`` (10) contiguous folds, no shuffling. Each
   test fold is predicted by a model fitted on the other words only; the
   predictions are stitched into one out-of-fold array.
2. Inside each outer training fold, features and responses are standardised with
   the training fold's mean and standard deviation (never the test fold's).
   A response column that is constant in a training fold raises :class:`DataError`
   naming the channel and window; a constant feature column is set to zero (it
   carries no information and ridge needs nothing from it).
3. The penalty is chosen PER TARGET (channel x window) by nested cross-validation
   on ``n_inner`` (5) contiguous chunks of the training fold: the summed squared
   validation error over the chunks is minimised over the grid ``alphas``
   (default :data:`DEFAULT_ALPHAS`). The inner splits reuse the outer fold's
   standardisation (no intercept: the data are centred).
4. The model with the chosen per-target penalties is refitted on the whole
   training fold and predicts the test fold.

Solver
------
For a training set ``X`` the ridge solution for every penalty comes from one
eigendecomposition of the Gram matrix ``X'X = V diag(lam) V'`` (float64, d x d):
``W(alpha) = V diag(1/(lam + alpha)) V'X'Y``. So each (inner or outer) split costs
one ``d x d`` decomposition shared by all penalties, channels and windows, and
each penalty costs one matrix product ``(X_val V) @ (diag(1/(lam+alpha)) V'X'Y)``.
Cross-products are down-dated rather than recomputed: the inner training set's
``X'X`` and ``X'Y`` are the outer fold's minus the validation chunk's.

Why not himalaya: ``himalaya.ridge.RidgeCV`` (0.4.x) does the per-target,
shared-SVD search well, but it (a) has no outer loop or training-fold
standardisation of the responses, (b) recomputes ``X'Y`` and a full SVD of the
(n x d) training matrix for every inner split and again for the refit, and (c)
forms the weights for each penalty and then the predictions (two products per
penalty instead of one). Doing it here takes about 60 lines, needs no extra
dependency and is measurably faster (``benchmarks/bench_encoding.py``).

Backends: ``backend="numpy"`` or ``"torch"`` (float32 tensors; ``device`` defaults
to ``"cuda"`` when available, else ``"cpu"``). Both run the same code.

Outputs (:class:`EncodingResult`)
--------------------------------
* ``predictions`` in the responses' units, ``(n_words, n_channels, n_windows)``;
* every per-target array has the responses' target axes ``(n_channels, n_windows)``,
  after any leading axes (folds, layers);
* ``r``, ``p`` per channel x window: Pearson r between out-of-fold prediction and
  response and its one-sided p-value (:func:`analysis.stats.r_and_pvalue`: Student t
  with Bartlett's effective n of two autocorrelated series, from the autocorrelations
  of prediction and response within the CV groups);
* ``significant``: BOOLEAN mask ``p < p_threshold`` (0.001);
* ``best_alphas_``: chosen penalty per outer fold, channel and window (``alphas`` is the
  grid searched, as in himalaya);
* ``mse`` per word and window: mean squared error over the significant channels
  of that window, on z-scored responses (each channel x window z-scored over all
  words with the responses' mean and sd; the same affine map is applied to the
  predictions). A window without any significant channel gives NaN for every
  word (there is nothing to average, and 0 would read as a perfect fit);
* ``cosine`` per word and window: cosine similarity between the z-scored
  predicted and actual vectors over all channels (NaN if either vector is zero).

Known bias: targets without signal get slightly NEGATIVE out-of-fold r (about
-0.07 with 900 words and 48 features, less with more words), because each test
fold is predicted with its training fold's mean and some overfitting survives the
inner search. This makes the one-sided test conservative; it is not corrected.

Layer sweep (:func:`layer_sweep`): every layer (or a list) is fitted with the
same settings. ``chosen_layer`` = argmax over layers of the mean r over ALL channels
and windows (ties: the lower layer): a DESCRIPTION of the sweep. All-target mean is
used rather than the mean over significant targets because it does not depend on the
threshold and cannot favour a layer with few but lucky significant targets. Its r is a
maximum over layers computed on every word, so it is biased upward and is never tested.
The margin of the layer decided below over its runner-up (:meth:`LayerSweep.margin`) is
measured on out-of-fold squared error, like the choice, with an interval over sentences
and folds (:func:`layer_error_margin`).

Layer selection (:func:`nested_layer_oof`, :func:`nested_layer_choice`): the layer is
chosen like the penalty, inside each outer fold, by the inner cross-validated error on
that fold's training words; the stitched out-of-fold predictions are what is reported
and tested, and the layer handed to later chapters is the modal fold choice
(:meth:`LayerSweep.layer_decision`). Gains between two out-of-fold models are computed
on r within folds (:func:`centre_within_folds`), which removes the between-fold term
behind the negative bias below.

Reference mode (:func:`fit_encoding_reference`): the public code's choices,
for comparison only (never the default).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ._docs import fill_doc
from ._utils import DataError, check_array
from .stats import (pearson_columns, r_and_pvalue, r_pvalue, resample_weights,
                    significance_mask, split_half_reliability)

__all__ = [
    "DEFAULT_ALPHAS",
    "DEFAULT_BAND_SCALES",
    "EncodingResult",
    "LayerSweep",
    "contiguous_folds",
    "encoding_outputs",
    "errors_of_interest",
    "category_error_ratio",
    "cv_splits",
    "ridge_oof",
    "fit_encoding",
    "fit_baseline",
    "word_errors",
    "layer_sweep",
    "nested_layer_oof",
    "nested_layer_choice",
    "modal_layer",
    "centre_within_folds",
    "NESTED_RULE",
    "compare_models",
    "swept_layers",
    "layer_choice_text",
    "word_squared_error",
    "layer_error_margin",
    "error_text",
    "split_half_encoding",
    "fit_encoding_reference",
]

#: Default penalty grid: 10^-1 ... 10^7 in half-decade steps (17 values). Features
#: are standardised, so the Gram eigenvalues are of order n_train (thousands) up to
#: n_train * d for shared directions; this range runs from almost no shrinkage to
#: shrinking everything, and the share of choices at either edge is reported
#: (targets with no signal legitimately pick the largest value).
DEFAULT_ALPHAS = np.logspace(-1, 7, 17)
#: Default relative scales of a second ridge band (two-band models, :func:`ridge_oof`):
#: 0.1 ... 10 in half-decade steps, i.e. the second band's penalty from 100 times to
#: 1/100 of the first band's. Five values keep the cost at about five one-band fits.
DEFAULT_BAND_SCALES = np.logspace(-1, 1, 5)


# ------------------------------------------------------------------ backends
class _Backend:
    """Tiny adapter so one solver runs on numpy or torch arrays."""

    def __init__(self, name="numpy", device=None):
        if name not in ("numpy", "torch"):
            raise ValueError(f"backend={name!r}; expected 'numpy' or 'torch'.")
        self.name = name
        self.device = None
        if name == "torch":
            import torch

            self.torch = torch
            self.device = torch.device(device or ("cuda" if torch.cuda.is_available()
                                                  else "cpu"))

    def f32(self, a):
        if self.name == "numpy":
            return np.ascontiguousarray(a, dtype=np.float32)
        return self.torch.as_tensor(np.ascontiguousarray(a), dtype=self.torch.float32,
                                    device=self.device)

    def index(self, idx):
        return idx if self.name == "numpy" else self.torch.as_tensor(idx, device=self.device)

    def numpy(self, a):
        return a if self.name == "numpy" else a.detach().cpu().numpy()

    def gram64(self, x):
        """``x'x`` in float64 (accuracy of the small eigenvalues)."""
        x64 = x.astype(np.float64) if self.name == "numpy" else x.double()
        return x64.T @ x64

    def eigh(self, g64):
        """Eigen-decomposition in float64; eigenvalues clipped at 0, both returned as f32."""
        if self.name == "numpy":
            lam, v = np.linalg.eigh(g64)
            return np.maximum(lam, 0).astype(np.float32), v.astype(np.float32)
        lam, v = self.torch.linalg.eigh(g64)
        return lam.clamp(min=0).float(), v.float()

    def constant_columns(self, x):
        """Boolean numpy mask of columns whose values are all equal."""
        if self.name == "numpy":
            return x.max(axis=0) == x.min(axis=0)
        return self.numpy(x.amax(dim=0) == x.amin(dim=0))

    def einsum(self, spec, *ops):
        return (np if self.name == "numpy" else self.torch).einsum(spec, *ops)

    def zeros(self, shape):
        if self.name == "numpy":
            return np.zeros(shape, dtype=np.float32)
        return self.torch.zeros(shape, dtype=self.torch.float32, device=self.device)


# ------------------------------------------------------------------- solver
def contiguous_folds(n, k, groups=None):
    """Split ``range(n)`` into ``k`` contiguous folds of (almost) equal size.

    Parameters
    ----------
    n : int
        Number of samples.
    k : int
        Number of folds (2 <= k <= n).
    groups : array_like of int, shape (n,) | None
        Labels of units a fold must not split (stories, runs, sentences), each one
        contiguous block. Fold boundaries then fall between groups: each group goes to
        the fold that holds its middle word, so folds stay contiguous and about equal.
        With fewer groups than ``k``, each group is a fold (leave one group out); with
        one group, the folds are contiguous chunks of it (as without groups).

    Returns
    -------
    list of ndarray of int

    Raises
    ------
    ValueError
        Fewer than 2 folds possible, or groups that are not contiguous blocks.
    """
    if groups is None:
        if not 2 <= k <= n:
            raise ValueError(f"contiguous_folds: {k} folds for {n} samples; expected "
                             f"2 <= folds <= {n}.")
        return np.array_split(np.arange(n), k)
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"contiguous_folds: groups of shape {groups.shape}; expected ({n},).")
    starts = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]
    if len(np.unique(groups)) != len(starts):
        raise ValueError("contiguous_folds: a group appears in several blocks; expected each "
                         "group (story, run, sentence) to be one contiguous block of words.")
    sizes = np.diff(np.r_[starts, n])
    if len(starts) < 2:  # one story (a prefix of a study, the training set of two
        return contiguous_folds(n, k)  # stories): folds cannot straddle groups anyway
    fold_of_group = np.minimum((k * (starts + sizes / 2.0) / n).astype(int), k - 1)
    folds = [np.arange(starts[g], starts[g] + sizes[g]) for g in range(len(starts))]
    out = []
    for f in np.unique(fold_of_group):
        out.append(np.concatenate([folds[g] for g in np.flatnonzero(fold_of_group == f)]))
    return out


def cv_splits(n, n_folds=10, groups=None, cv=None):
    """Outer train/test splits: contiguous folds by default, scikit-learn conventions.

    Parameters
    ----------
    n : int
        Number of samples.
    n_folds : int
        Contiguous folds when ``cv`` is None.
    groups : array_like | None
        Units folds must not split (see :func:`contiguous_folds`); also passed to a
        splitter's ``split``.
    cv : None | int | splitter | iterable of (train, test)
        As in himalaya/scikit-learn: an int is a number of contiguous folds; an object
        with ``split(X, y, groups)`` (e.g. ``sklearn.model_selection.GroupKFold``) is
        called; an iterable gives the splits directly.

    Returns
    -------
    list of (ndarray, ndarray)
        Train and test indices; every sample is tested exactly once.

    Raises
    ------
    ValueError
        Splits whose test sets do not cover every sample exactly once (out-of-fold
        predictions need that).
    """
    if cv is None or isinstance(cv, (int, np.integer)):
        k = n_folds if cv is None else int(cv)
        tests = contiguous_folds(n, k, groups)
        splits = [(np.setdiff1d(np.arange(n), t), t) for t in tests]
    elif hasattr(cv, "split"):
        splits = [(np.asarray(a), np.asarray(b))
                  for a, b in cv.split(np.zeros((n, 1)), groups=groups)]
    else:
        splits = [(np.asarray(a), np.asarray(b)) for a, b in cv]
    covered = np.bincount(np.concatenate([t for _, t in splits]), minlength=n)
    if covered.shape != (n,) or not np.all(covered == 1):
        raise ValueError("cv: the test sets must cover every sample exactly once "
                         f"(covered counts range {covered.min()}..{covered.max()}).")
    return splits


def _standardise(a, rows, be, what, target_name):
    """Centre and scale ``a`` with the mean and sd of ``a[rows]`` (the training rows)."""
    tr = a[be.index(rows)]
    mean = tr.mean(0)
    sd = ((tr - mean) ** 2).mean(0) ** 0.5
    # a column whose spread is lost in float32 rounding (a huge, almost constant hidden
    # unit: max != min but sd == 0) is constant too
    const = be.constant_columns(tr) | (be.numpy(sd) == 0)
    if const.any():
        if what == "responses":
            j = int(np.flatnonzero(const)[0])
            raise DataError(
                f"{target_name(j)} is constant over the {len(rows)} training words of an "
                f"outer fold ({int(const.sum())} constant response column(s) in all); "
                "expected responses that vary across words. Drop the channel or window."
            )
        sd[be.index(np.flatnonzero(const))] = 1.0  # constant features -> zero column
    return (a - mean) / sd, mean, sd


def _inner_errors(xtr, ytr, g_tr, xty_tr, alphas, n_inner, be, groups=None):
    """Summed validation squared error per penalty and target over inner chunks.

    With ``A = X_val V``, ``B = V'X_in'Y_in`` and ``F = diag(1/(lam + alpha))`` the
    validation predictions are ``A F B``. When the chunk has more rows than
    features the error is expanded as ``|y|^2 - 2 c'Fb + b'F(A'A)Fb`` per target
    (``C = A'Y_val``), which costs d x d x targets per penalty instead of
    n_val x d x targets and never forms the (n_val x targets) predictions.
    """
    err = be.zeros((len(alphas), ytr.shape[1]))
    for val in contiguous_folds(xtr.shape[0], n_inner, groups):
        val = be.index(val)
        xv, yv = xtr[val], ytr[val]
        lam, v = be.eigh(g_tr - be.gram64(xv))  # inner training Gram, down-dated
        b = v.T @ (xty_tr - xv.T @ yv)           # V' X_in' Y_in
        a = xv @ v
        gram_form = a.shape[0] > a.shape[1]
        if gram_form:
            h, c2, yy = a.T @ a, 2 * (a.T @ yv), (yv ** 2).sum(0)
        for i, alpha in enumerate(alphas):
            fb = b / (lam + float(alpha))[:, None]
            if gram_form:
                err[i] += yy + be.einsum("kt,kt->t", h @ fb - c2, fb)
            else:
                err[i] += ((yv - a @ fb) ** 2).sum(0)
    return err


def _partial_out(zb, train, be, *arrays):
    """Least-squares fit of each array on the unpenalized band (training rows only).

    Returns the coefficients of each array (``d_b x columns``), computed in float64 on
    the CPU (the band has a handful of columns).
    """
    zb_tr = np.asarray(be.numpy(zb[be.index(train)]), dtype=np.float64)
    pinv = np.linalg.pinv(zb_tr)
    out = []
    for a in arrays:
        a_tr = np.asarray(be.numpy(a), dtype=np.float64)
        out.append(be.f32(pinv @ a_tr))
    return out


def ridge_oof(x, y, alphas=None, n_folds=10, n_inner=5, backend="numpy", device=None,
              target_name=None, groups=None, cv=None, unpenalized=None, second_band=None,
              band_scales=None, return_inner_error=False):
    """Out-of-fold ridge predictions with per-target penalties chosen by nested CV.

    Parameters
    ----------
    x : ndarray, shape (n_samples, d)
        Features.
    y : ndarray, shape (n_samples, n_targets)
        Targets (e.g. channels x windows flattened).
    alphas : array_like | None
        Penalty grid (:data:`DEFAULT_ALPHAS` when ``None``).
    n_folds, n_inner : int
        Contiguous outer folds and inner chunks.
    backend : {"numpy", "torch"}
        Array library; torch runs in float32 on ``device``.
    device : str | None
        Torch device (``"cuda"`` when available, else ``"cpu"``).
    target_name : callable | None
        Maps a target column to a readable name for error messages.
    groups : array_like of int, shape (n_samples,) | None
        Units that neither the outer folds nor the inner chunks may split (stories,
        runs, sentences; see :func:`contiguous_folds`).
    cv : None | int | splitter | iterable of (train, test)
        Outer splits instead of ``n_folds`` contiguous folds (:func:`cv_splits`).
    unpenalized : ndarray, shape (n_samples, d_b) | None
        A band of predictors fitted without penalty (a nuisance baseline of a few
        columns). In each training fold it is standardised, partialled out of the
        features and of the targets by least squares, the ridge is fitted on what is
        left, and the band's own fit is added back (Frisch–Waugh–Lovell): the result is
        the banded ridge whose baseline band has a zero penalty. ``x`` may then have
        zero columns (the baseline model alone, by ordinary least squares). The inner
        penalty search reuses the outer fold's partialling (the band has a handful of
        columns, so what it learns from the inner validation rows is negligible).
    second_band : int | None
        With ``band_scales``: the columns ``x[:, second_band:]`` form a second band (for
        example instruction-conditioned features beside plain ones, columns
        ``x[:, :second_band]``); ``0 < second_band < d``.
    band_scales : array_like | None
        Grid of scales of the second band relative to the first (positive). After the
        training-fold standardisation the second band's columns are multiplied by the
        scale ``s``, which is ridge with penalty ``alpha`` on the first band and
        ``alpha / s**2`` on the second. The inner cross-validation chooses the pair
        ``(s, alpha)`` per target from the product grid; the refit uses it. A grid of one
        value ``1.0`` is exactly the one-band fit of ``x``. ``None``: one band.
    return_inner_error : bool
        Also return the inner cross-validation error of the chosen penalty (one band
        only): the squared validation error summed over the inner chunks of each outer
        training fold, on the training fold's standardised (and, with ``unpenalized``,
        partialled) targets. It is computed from training words only and is on the same
        scale for any feature set fitted with the same folds, targets and unpenalized
        band, so it can choose between feature sets (layers) inside each outer fold
        (:func:`nested_layer_oof`).

    Returns
    -------
    predictions : ndarray of float32, shape (n_samples, n_targets)
        Out-of-fold predictions in the units of ``y``.
    alpha_index : ndarray of int, shape (n_splits, n_targets)
        Index into ``alphas`` of the penalty chosen for each target in each fold (0 when
        ``x`` has no column).
    scale_index : ndarray of int, shape (n_splits, n_targets)
        Only with ``band_scales``: index into ``band_scales`` of the scale chosen.
    inner_error : ndarray of float64, shape (n_splits, n_targets)
        Only with ``return_inner_error``: see that parameter.

    Notes
    -----
    Why not himalaya's banded ridge (``GroupRidgeCV``, random search over band
    scalings): on this 2-core CPU one of its fits (1,350 words, a 4-column baseline and
    576 language-model columns, 5 inner folds, 20 random directions) took 72 s with one
    BLAS thread, so a 10-fold encoding model would take 12 minutes, against about a
    second here; with two BLAS threads scipy's SVD of a 1,080 x 304 matrix took 6 s
    instead of 0.07 s when the other core was busy. With two bands, one of them a small
    nuisance baseline, leaving that band unpenalized is the natural choice and needs no
    search.

    Two penalized bands (``band_scales``) are searched on a small grid of relative scales
    with the same shared-decomposition machinery: each scale costs one eigendecomposition
    of the (d1 + d2) Gram matrix per inner split and refit, so a grid of S scales costs
    about S times a one-band fit of the concatenated features. Measured on this 2-core CPU
    (one BLAS thread, the other core busy): 1,487 words, 2 x 576 columns, 8 targets,
    10 outer and 3 inner folds, 5 scales x 9 penalties took about 60 s, against 72 s for
    ONE inner fit of himalaya's ``GroupRidgeCV`` above; the cost is the d x d
    eigendecompositions (0.2-0.6 s each at d = 1,152), so keep S small (5) and the inner
    folds few (3).
    """
    alphas = np.asarray(DEFAULT_ALPHAS if alphas is None else alphas, dtype=np.float64)
    if alphas.ndim != 1 or alphas.size == 0 or np.any(alphas <= 0):
        raise ValueError(f"alphas={alphas!r}; expected a 1-D grid of positive penalties.")
    x = check_array(x, "features", ndim=2, row_name=lambda i: f"sample {i}",
                    col_name=lambda j: f"column {j}")
    if unpenalized is not None:
        unpenalized = check_array(unpenalized, "unpenalized band", ndim=2,
                                  shape=(x.shape[0], None), row_name=lambda i: f"sample {i}",
                                  col_name=lambda j: f"column {j}")
    elif x.shape[1] == 0:
        raise DataError("ridge_oof: the features have no column and no unpenalized band is "
                        "given; expected at least one predictor.")
    y = check_array(y, "targets", ndim=2, row_name=lambda i: f"sample {i}",
                    col_name=lambda j: f"target column {j}")
    scales = None
    if band_scales is not None:
        scales = np.asarray(band_scales, dtype=np.float64).ravel()
        if scales.size == 0 or not np.all(np.isfinite(scales)) or np.any(scales <= 0):
            raise ValueError(f"band_scales={band_scales!r}; expected a 1-D grid of positive "
                             "scales of the second band.")
        if second_band is None or not 0 < int(second_band) < x.shape[1]:
            raise ValueError(f"second_band={second_band!r} with {x.shape[1]} feature columns; "
                             "expected the index of the first column of the second band "
                             f"(between 1 and {x.shape[1] - 1}).")
    if return_inner_error and (scales is not None or x.shape[1] == 0):
        raise ValueError("ridge_oof: return_inner_error needs one penalized band (no "
                         "band_scales, at least one feature column).")
    if x.shape[0] != y.shape[0]:
        raise DataError(f"ridge_oof: features {x.shape} and targets {y.shape}; expected "
                        "(n_samples, d) and (n_samples, n_targets) with the same n_samples.")
    target_name = target_name or (lambda j: f"target column {j}")
    be = _Backend(backend, device)
    xb, yb = be.f32(x), be.f32(y)
    alphas_b = be.f32(alphas)
    out = np.empty(y.shape, dtype=np.float32)
    groups = None if groups is None else np.asarray(groups)
    splits = cv_splits(x.shape[0], n_folds, groups, cv)
    choice = np.empty((len(splits), y.shape[1]), dtype=np.int64)
    scale_choice = np.zeros((len(splits), y.shape[1]), dtype=np.int64)
    inner_error = np.full((len(splits), y.shape[1]), np.nan)
    zb = None if unpenalized is None else be.f32(unpenalized)
    for k, (train, test) in enumerate(splits):
        if len(train) < 2 * n_inner:
            raise ValueError(f"ridge_oof: {len(train)} training samples for {n_inner} inner "
                             "chunks; expected at least 2 per chunk.")
        xs, _, _ = _standardise(xb, train, be, "features", target_name)
        ys_tr, my, sy = _standardise(yb[be.index(train)], np.arange(len(train)), be,
                                     "responses", target_name)
        baseline_test = 0.0
        if zb is not None:
            zs, _, _ = _standardise(zb, train, be, "features", target_name)
            zs_tr = zs[be.index(train)]
            cx, cy = _partial_out(zs, train, be, xs[be.index(train)], ys_tr)
            xs = xs - zs @ cx
            ys_tr = ys_tr - zs_tr @ cy
            baseline_test = zs[be.index(test)] @ cy
        if x.shape[1] == 0:  # the unpenalized band alone (ordinary least squares)
            out[test] = be.numpy(baseline_test * sy + my)
            choice[k] = 0
            continue
        inner_groups = None if groups is None else groups[train]
        if scales is None:
            xtr = xs[be.index(train)]
            g_tr = be.gram64(xtr)
            xty_tr = xtr.T @ ys_tr
            errs = _inner_errors(xtr, ys_tr, g_tr, xty_tr, alphas, n_inner, be,
                                 inner_groups)
            best = errs.argmin(0)
            if return_inner_error:
                inner_error[k] = be.numpy(errs).min(0)
            lam, v = be.eigh(g_tr)
            scale = 1.0 / (lam[:, None] + alphas_b[best][None, :])
            pred = (xs[be.index(test)] @ v) @ (scale * (v.T @ xty_tr)) + baseline_test
            out[test] = be.numpy(pred * sy + my)
            choice[k] = be.numpy(best)
            continue
        pred, best_a, best_s = _two_band_fold(xs, ys_tr, train, test, int(second_band),
                                              scales, alphas, alphas_b, n_inner, be,
                                              inner_groups)
        out[test] = be.numpy((pred + baseline_test) * sy + my)
        choice[k], scale_choice[k] = best_a, best_s
    if scales is not None:
        return out, choice, scale_choice
    if return_inner_error:
        return out, choice, inner_error
    return out, choice


def _band_columns(d, start, scale):
    """Column multipliers of the two-band model: 1 on the first band, ``scale`` on the second."""
    col = np.ones(d, dtype=np.float32)
    col[start:] = scale
    return col


def _inner_errors_dual(x1, x2, ytr, scales, alphas, n_inner, be, groups=None):
    """Inner validation errors of the two-band ridge in kernel form, ``(S, A, targets)``.

    For an inner training set with fewer rows than columns the ridge prediction of the
    validation rows is ``C U diag(1/(kappa + alpha)) U'Y`` with the kernel
    ``K = X1 X1' + s^2 X2 X2' = U diag(kappa) U'`` of the inner training rows and
    ``C = Xv1 X1' + s^2 Xv2 X2'`` (the same predictions as the primal form; one
    ``n_in x n_in`` decomposition per scale instead of a ``d x d`` one).
    """
    err = be.zeros((len(scales), len(alphas), ytr.shape[1]))
    n = x1.shape[0]
    for val in contiguous_folds(n, n_inner, groups):
        inn = be.index(np.setdiff1d(np.arange(n), val))
        val = be.index(val)
        k1, k2 = be.gram64(x1[inn].T), be.gram64(x2[inn].T)
        c1 = x1[val] @ x1[inn].T
        c2 = x2[val] @ x2[inn].T
        yv, yi = ytr[val], ytr[inn]
        for si, s in enumerate(scales):
            kap, u = be.eigh(k1 + (s * s) * k2)
            a = (c1 + float(s * s) * c2) @ u
            b = u.T @ yi
            for ai, alpha in enumerate(alphas):
                err[si, ai] += ((yv - a @ (b / (kap + float(alpha))[:, None])) ** 2).sum(0)
    return err


def _two_band_fold(xs, ys_tr, train, test, start, scales, alphas, alphas_b, n_inner, be,
                   inner_groups):
    """One outer fold of the two-band ridge: search (scale, penalty) per target, refit.

    The second band (columns ``start:``) of the standardised features is multiplied by
    each scale in turn; the inner errors of all (scale, penalty) pairs are compared per
    target and each target is refitted with its pair. A training set with fewer rows
    than columns is solved in kernel form (exactly the same ridge, a smaller
    decomposition). Returns the standardised test predictions ``(n_test, n_targets)``
    and the chosen penalty and scale indices.
    """
    d = xs.shape[1]
    n_tr = len(train)
    xtr0 = xs[be.index(train)]
    smallest_chunk = min(len(c) for c in contiguous_folds(n_tr, n_inner, inner_groups))
    if n_tr - smallest_chunk < d:  # every inner training set is wide: kernel form
        err = _inner_errors_dual(xtr0[:, :start], xtr0[:, start:], ys_tr, scales, alphas,
                                 n_inner, be, inner_groups)
    else:
        errs = []
        for s in scales:
            xtr = xtr0 * be.f32(_band_columns(d, start, s))[None, :]
            errs.append(_inner_errors(xtr, ys_tr, be.gram64(xtr), xtr.T @ ys_tr, alphas,
                                      n_inner, be, inner_groups))
        err = be.torch.stack(errs) if be.name == "torch" else np.stack(errs)
    n_a = len(alphas)
    flat = be.numpy(err.reshape(len(scales) * n_a, -1)).argmin(0)
    best_s, best_a = np.divmod(flat, n_a)
    pred = be.zeros((len(test), ys_tr.shape[1]))
    for si in np.unique(best_s):
        cols = np.flatnonzero(best_s == si)
        ci = be.index(cols)
        alpha_t = alphas_b[be.index(best_a[cols])][None, :]
        xsc = xs * be.f32(_band_columns(d, start, scales[si]))[None, :]
        xtr = xsc[be.index(train)]
        if n_tr < d:  # kernel form
            kap, u = be.eigh(be.gram64(xtr.T))
            a = (xsc[be.index(test)] @ xtr.T) @ u
            pred[:, ci] = a @ ((u.T @ ys_tr[:, ci]) / (kap[:, None] + alpha_t))
        else:
            lam, v = be.eigh(be.gram64(xtr))
            scale = 1.0 / (lam[:, None] + alpha_t)
            pred[:, ci] = (xsc[be.index(test)] @ v) @ (scale * (v.T @ (xtr.T @ ys_tr[:, ci])))
    return pred, best_a, best_s


# ------------------------------------------------------------------- results
@dataclass
class EncodingResult:
    """Everything later chapters need from one encoding model.

    Attributes
    ----------
    predictions : ndarray of float32, shape (n_words, n_channels, n_windows)
        Out-of-fold predictions in the responses' units.
    r, p : ndarray, shape (n_channels, n_windows)
        Pearson r and its one-sided p-value.
    significant : ndarray of bool, shape (n_channels, n_windows)
        ``p < p_threshold``.
    best_alphas_ : ndarray, shape (n_folds, n_channels, n_windows)
        Penalty chosen in each outer fold (himalaya's name for the chosen penalties).
    alphas : ndarray, shape (n_alphas,)
        The grid of penalties searched (himalaya's ``alphas``).
    mse, cosine : ndarray, shape (n_words, n_windows)
        Per-word error over significant channels (NaN in windows without any) and
        cosine similarity over all channels, on z-scored responses.
    times : ndarray, shape (n_windows,)
    ch_names : list of str
    layer : int | None
    params : dict
        Settings and timing.
    fold_r : ndarray, shape (n_folds, n_channels, n_windows) | None
        r within each outer test fold (for intervals over folds).
    band_scales : ndarray, shape (n_folds, n_channels, n_windows) | None
        Scale of the second band chosen in each outer fold (two-band models only; see
        ``band_scales`` in :func:`ridge_oof`).
    inner_error : ndarray, shape (n_folds, n_channels, n_windows) | None
        Inner cross-validation error of the chosen penalty in each outer training fold
        (``return_inner_error`` of :func:`ridge_oof`; one-band models only): what
        :func:`nested_layer_choice` compares between layers.
    chosen_layers : ndarray of int, shape (n_folds, n_channels, n_windows) | None
        Only for a model whose layer was chosen inside each outer fold
        (:func:`nested_layer_choice`): the layer that predicted each fold.
    """

    predictions: np.ndarray
    r: np.ndarray
    p: np.ndarray
    significant: np.ndarray
    best_alphas_: np.ndarray
    alphas: np.ndarray
    mse: np.ndarray
    cosine: np.ndarray
    times: np.ndarray
    ch_names: list
    layer: int | None = None
    params: dict = field(default_factory=dict)
    fold_r: np.ndarray | None = None
    band_scales: np.ndarray | None = None
    inner_error: np.ndarray | None = None
    chosen_layers: np.ndarray | None = None

    def alpha_edge_share(self):
        """Share of chosen penalties at the lowest and highest grid value.

        Returns
        -------
        dict with keys ``"low"`` and ``"high"`` (fractions of fold x target choices)
        """
        return {"low": float(np.mean(self.best_alphas_ == self.alphas[0])),
                "high": float(np.mean(self.best_alphas_ == self.alphas[-1]))}

    def peak_window(self):
        """Window with the highest mean r over channels."""
        return int(np.nanargmax(np.nanmean(self.r, axis=0)))

    def summary(self):
        """JSON-serialisable summary (no per-word arrays)."""
        return {
            "layer": self.layer,
            "mean_r": float(np.nanmean(self.r)),
            "max_r": float(np.nanmax(self.r)),
            "n_significant": int(self.significant.sum()),
            "n_tests": int(self.significant.size),
            "peak_window": self.peak_window(),
            "peak_ms": float(self.times[self.peak_window()]),
            "alpha_edge_share": self.alpha_edge_share(),
            "params": self.params,
        }


def word_errors(predictions, responses, significant):
    """Per-word MSE over significant channels and cosine similarity, per window.

    Parameters
    ----------
    predictions, responses : ndarray, shape (n_words, n_channels, n_windows)
        Same units. Both are z-scored per channel x window with the RESPONSES'
        mean and sd over words (one affine map for both).
    significant : ndarray of bool, shape (n_channels, n_windows)
        Channels entering the MSE of each window. Must be boolean: an integer
        0/1 array used as an index would select channels 0 and 1.

    Returns
    -------
    mse : ndarray, shape (n_words, n_windows)
        Mean over the significant channels of the squared z-scored error; NaN for
        every word in a window without significant channels.
    cosine : ndarray, shape (n_words, n_windows)
        Cosine similarity over all channels of the z-scored vectors (NaN when
        either vector is all zero).
    """
    significant = np.asarray(significant)
    if significant.dtype != bool:
        raise ValueError(f"word_errors: significant has dtype {significant.dtype}; expected "
                         "a boolean mask (an int 0/1 array would index channels 0 and 1).")
    pred = np.asarray(predictions, dtype=np.float64)
    resp = np.asarray(responses, dtype=np.float64)
    if pred.shape != resp.shape or significant.shape != resp.shape[1:]:
        raise ValueError(f"word_errors: predictions {pred.shape}, responses {resp.shape}, "
                         f"significant {significant.shape}; expected (n_words, n_channels, "
                         "n_windows) twice and (n_channels, n_windows).")
    mu, sd = resp.mean(axis=0), resp.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    zp, zr = (pred - mu) / sd, (resp - mu) / sd
    n_win = resp.shape[2]
    mse = np.full((resp.shape[0], n_win), np.nan)
    for w in range(n_win):
        chans = significant[:, w]
        if chans.any():
            mse[:, w] = ((zp[:, chans, w] - zr[:, chans, w]) ** 2).mean(axis=1)
    num = (zp * zr).sum(axis=1)
    den = np.sqrt((zp ** 2).sum(axis=1) * (zr ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.where(den > 0, num / den, np.nan)
    return mse, cosine


def _responses_of(data):
    """(responses, times, ch_names, words) from a WordDataset or a 3-D array, checked."""
    if hasattr(data, "responses"):
        return (data.responses, np.asarray(data.times), list(data.ch_names), list(data.words))
    resp = check_array(data, "responses", ndim=3)
    return (resp, np.arange(resp.shape[2], dtype=float),
            [f"ch{i}" for i in range(resp.shape[1])], None)


def _checked_features(features, n, words, name="features"):
    def row(i):
        return f"word {i}" + (f" ({words[i]!r})" if words is not None else "")

    return check_array(features, name, ndim=2, shape=(n, None), row_name=row,
                       col_name=lambda j: f"column {j}")


def _scores(pred, resp, p_threshold, error_channels, splits, groups=None):
    """r, p, significance, per-word errors, per-fold r of out-of-fold predictions, and the
    dependence measures behind p (:func:`analysis.stats.r_and_pvalue`)."""
    # r within folds: each test fold's mean removed from predictions and responses, so that
    # r has no between-fold term (:func:`centre_within_folds`; with slow drifts across
    # words the pooled r of a good model is pulled below zero)
    pc, rc = centre_within_folds(pred, splits), centre_within_folds(resp, splits)
    r = pearson_columns(pc, rc)  # (n_channels, n_windows)
    # p with the effective n of two autocorrelated series (lags within the CV groups)
    dep = r_and_pvalue(pc, rc, groups)
    p = dep["p"]
    sig = significance_mask(p, p_threshold)
    use = sig if error_channels is None else sig & np.asarray(error_channels, bool)[:, None]
    mse, cosine = word_errors(pred, resp, use)
    fold_r = np.stack([pearson_columns(pred[test], resp[test]) for _, test in splits])
    return r, p, sig, mse, cosine, fold_r, dep


@fill_doc
def fit_encoding(features, data, alphas=None, n_folds=10, n_inner=5, p_threshold=1e-3,
                 backend="numpy", device=None, layer=None, groups=None, cv=None,
                 error_channels=None, baseline=None, second_band=None, band_scales=None):
    """Fit the encoding model of one feature set to every channel and window.

    Parameters
    ----------
    features : ndarray, shape (n_words, d)
        One layer's word features (finite values).
    data : WordDataset | ndarray, shape (n_words, n_channels, n_windows)
        The responses.
    alphas : array_like | None
        Penalty grid (:data:`DEFAULT_ALPHAS`).
    n_folds, n_inner : int
        Contiguous outer folds (10) and inner chunks (5).
    p_threshold : float
        Significance threshold on the one-sided p-value (0.001).
    backend, device : str, str | None
        See :func:`ridge_oof`.
    layer : int | None
        Recorded in the result.
    %(cv_groups)s
    cv : None | int | splitter | iterable
        Outer splits (:func:`cv_splits`); default ``n_folds`` contiguous folds.
    error_channels : ndarray of bool, shape (n_channels,) | None
        Channels the per-word MSE may use (with the significant ones); default all.
    baseline : ndarray, shape (n_words, d_b) | None
        Nuisance predictors fitted without penalty beside the ridge features (the
        nested model "baseline + features"; see ``unpenalized`` in :func:`ridge_oof`).
        With ``features`` of zero columns this is the baseline model alone
        (:func:`fit_baseline`).
    second_band : ndarray, shape (n_words, d2) | None
        A second band of ridge features beside ``features`` (e.g. the same layer read
        under an instruction), with its own penalty: the ratio of the two penalties is
        chosen per target from ``band_scales`` by the inner cross-validation
        (:func:`ridge_oof`).
    band_scales : array_like | None
        Relative scales of the second band searched (default
        :data:`DEFAULT_BAND_SCALES` when ``second_band`` is given).

    Returns
    -------
    EncodingResult

    Raises
    ------
    DataError
        Features of the wrong shape or with NaN/inf (the first bad word and column are
        named), a response column that is constant in a training fold.
    """
    resp, times, ch_names, words = _responses_of(data)
    n, n_ch, n_win = resp.shape
    features = _checked_features(features, n, words)

    def target_name(j):
        c, w = divmod(j, n_win)
        return f"channel '{ch_names[c]}' (index {c}) in window {w} ({times[w]:g} ms)"

    grid = np.asarray(DEFAULT_ALPHAS if alphas is None else alphas, dtype=np.float64)
    t0 = time.perf_counter()
    if baseline is not None:
        baseline = _checked_features(baseline, n, words, name="baseline")
    band_kw, chosen_scales = {}, None
    if second_band is not None:
        second_band = _checked_features(second_band, n, words, name="second band")
        band_kw = dict(second_band=features.shape[1],
                       band_scales=DEFAULT_BAND_SCALES if band_scales is None else band_scales)
        features = np.concatenate([features, second_band], axis=1)
    elif band_scales is not None:
        raise ValueError("fit_encoding: band_scales needs a second_band.")
    one_band = not band_kw and features.shape[1] > 0
    fitted = ridge_oof(features, resp.reshape(n, n_ch * n_win), grid, n_folds, n_inner,
                       backend, device, target_name, groups=groups, cv=cv,
                       unpenalized=baseline, return_inner_error=one_band, **band_kw)
    pred, choice = fitted[:2]
    inner_error = fitted[2].reshape(choice.shape[0], n_ch, n_win) if one_band else None
    if band_kw:
        scale_grid = np.asarray(band_kw["band_scales"], dtype=np.float64).ravel()
        chosen_scales = scale_grid[fitted[2]].reshape(choice.shape[0], n_ch, n_win)
    seconds = time.perf_counter() - t0
    pred = pred.reshape(n, n_ch, n_win)
    r, p, sig, mse, cosine, fold_r, dep = _scores(pred, resp, p_threshold, error_channels,
                                                  cv_splits(n, n_folds, groups, cv), groups)
    return EncodingResult(
        fold_r=fold_r, band_scales=chosen_scales, inner_error=inner_error,
        predictions=pred, r=r, p=p, significant=sig,
        best_alphas_=grid[choice].reshape(choice.shape[0], n_ch, n_win),
        alphas=grid, mse=mse, cosine=cosine, times=times, ch_names=ch_names,
        layer=layer,
        params={"n_folds": int(choice.shape[0]), "n_inner": n_inner,
                "p_threshold": p_threshold, "backend": backend, "device": device,
                "n_words": n, "d": features.shape[1], "seconds": round(seconds, 3),
                "grouped_cv": groups is not None,
                "p_value": "one-sided t, Bartlett effective n (autocorrelations, 10 lags)",
                "median_lag1_response": float(np.nanmedian(dep["lag1_response"])),
                "median_lag1_prediction": float(np.nanmedian(dep["lag1_prediction"])),
                "baseline_columns": 0 if baseline is None else int(baseline.shape[1]),
                "mode": "default" if baseline is None else "nested",
                **({"second_band_columns": int(second_band.shape[1]),
                    "band_scales": [float(v) for v in np.ravel(band_kw["band_scales"])]}
                   if band_kw else {})},
    )


def fit_baseline(baseline, data, **fit_kw):
    """The baseline model alone: ordinary least squares on nuisance predictors, out of fold.

    Parameters
    ----------
    baseline : ndarray, shape (n_words, d_b)
        E.g. :func:`analysis.predictors.nuisance_predictors`.
    data : WordDataset | ndarray
    **fit_kw
        As for :func:`fit_encoding` (folds, groups, threshold).

    Returns
    -------
    EncodingResult
        ``params["mode"] == "nested"`` with ``d == 0``: compare it with
        ``fit_encoding(features, data, baseline=baseline)`` (the same folds).
    """
    resp = data.responses if hasattr(data, "responses") else np.asarray(data)
    return fit_encoding(np.zeros((resp.shape[0], 0)), data, baseline=baseline, **fit_kw)


# --------------------------------------------------------------- layer sweep
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


def word_squared_error(predictions, responses):
    """Per-word mean squared error over all channels and windows, on z-scored responses.

    Each channel x window is z-scored over all words with the responses' mean and
    standard deviation and the same affine map is applied to the predictions (as for
    ``mse`` of :func:`word_errors`, but over every target, significant or not).

    Parameters
    ----------
    predictions, responses : ndarray, shape (n_words, ...)
        Out-of-fold predictions and the responses (same shape).

    Returns
    -------
    ndarray of float64, shape (n_words,)

    Raises
    ------
    DataError
        Shapes that differ, or a target constant over all words.
    """
    if np.shape(predictions) != np.shape(responses):
        raise DataError(f"word_squared_error: predictions of shape {np.shape(predictions)}; "
                        f"expected the responses' shape {np.shape(responses)}.")
    y = np.asarray(responses).reshape(len(responses), -1)
    p = np.asarray(predictions).reshape(len(predictions), -1)
    out = np.zeros(y.shape[0])
    for start in range(0, y.shape[1], 512):  # float64 a block of targets at a time
        yb = y[:, start:start + 512].astype(np.float64)
        sd = yb.std(axis=0)
        if np.any(sd == 0):
            raise DataError(f"word_squared_error: target {start + int(np.argmin(sd))} "
                            "(flattened channel x window) is constant over all words; "
                            "expected varying responses.")
        out += (((p[:, start:start + 512] - yb) / sd) ** 2).sum(axis=1)
    return out / max(y.shape[1], 1)


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


def _choose_and_stitch(inner_error, layer_predictions, splits, per_target=True):
    """Pick a layer per outer fold (and target) by inner error; stitch its test predictions.

    Parameters
    ----------
    inner_error : ndarray, shape (n_layers, n_splits, n_targets)
    layer_predictions : ndarray, shape (n_layers, n_samples, n_targets)
        Out-of-fold predictions of every layer, made with ``splits``.
    splits : list of (train, test)
    per_target : bool
        One layer per target (else one per fold, by the error summed over targets).

    Returns
    -------
    predictions : ndarray, shape (n_samples, n_targets)
    index : ndarray of int, shape (n_splits, n_targets)
        Index into the layer axis of the layer used.
    """
    err = np.asarray(inner_error, dtype=np.float64)
    if not np.all(np.isfinite(err)):
        raise ValueError("nested layer choice: an inner cross-validation error is missing "
                         "(two-band or feature-less fits give none); expected one-band fits.")
    if not per_target:
        err = err.sum(axis=2, keepdims=True)
    index = np.broadcast_to(np.argmin(err, axis=0), inner_error.shape[1:]).copy()
    pred = np.empty(layer_predictions.shape[1:], dtype=layer_predictions.dtype)
    for k, (_, test) in enumerate(splits):
        pred[test] = np.take_along_axis(layer_predictions[:, test, :], index[k][None, None, :],
                                        axis=0)[0]
    return pred, index


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


def centre_within_folds(values, splits):
    """Remove each outer test fold's mean from out-of-fold values.

    Pooled out-of-fold r carries a between-fold term: each fold is predicted with its
    training words' mean, which is negatively related to the fold's own mean, so a
    baseline's r on noise is below zero (module notes) and a model that only adds
    prediction variance dilutes that negative term and seems to gain. Within one test
    fold that mean is a constant, so r computed after centring each fold (of the
    responses and of every prediction) has no such term. Measured on noise targets
    (``tests/test_nested_layer.py``, 100 seeds, 240 words, 5 folds): the permutation
    test of a nested gain rejected at p < 0.05 in 11 % of seeds pooled and 4 % centred.

    Parameters
    ----------
    values : ndarray, shape (n_samples, ...)
    splits : list of (train, test)
        The outer splits that made the out-of-fold values (:func:`cv_splits`).

    Returns
    -------
    ndarray of float64, same shape
    """
    out = np.array(values, dtype=np.float64)
    for _, test in splits:
        out[test] -= out[test].mean(axis=0)
    return out


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


def _check_layers(hidden, layers):
    if np.ndim(hidden) != 3:
        raise ValueError(f"hidden of shape {np.shape(hidden)}; expected (n_layers, n_words, d).")
    n_layers = np.shape(hidden)[0]
    layers = list(range(n_layers)) if layers is None else [int(l) for l in layers]
    bad = [l for l in layers if not 0 <= l < n_layers]
    if bad or not layers:
        raise ValueError(f"layers {bad or layers} outside 0..{n_layers - 1}; hidden has "
                         f"{n_layers} layers (expected indices in that range).")
    return layers


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


def split_half_encoding(features, dataset, seed=0, **fit_kw):
    """Split-half reliability of the encoding r map (noise ceiling, the Methods page (beyond the paper)).

    The subjects are split at random into two halves; one encoding model is
    fitted on each half's average response and the two r maps (channels x
    windows) are correlated; Spearman–Brown corrects the correlation to the
    full set of subjects.

    Parameters
    ----------
    features : ndarray, shape (n_words, d)
    dataset : WordDataset
        Must have ``subject_responses`` with at least 2 subjects.
    seed : int
        Seed of the split.
    **fit_kw
        Passed to :func:`fit_encoding`.

    Returns
    -------
    dict
        ``half_r``, ``reliability``, ``halves`` (subject indices) and the two r
        maps ``r_a``, ``r_b``.
    """
    if dataset.n_subjects < 2:
        raise ValueError(f"split_half_encoding: {dataset.source or 'dataset'} has "
                         f"{dataset.n_subjects} separate subjects; expected at least 2.")
    order = np.random.default_rng(seed).permutation(dataset.n_subjects)
    halves = [np.sort(order[: len(order) // 2]), np.sort(order[len(order) // 2:])]
    from .stats import nanmean_rows

    means = [nanmean_rows(dataset.subject_responses[h]) for h in halves]
    ok = np.all([np.isfinite(m).all(axis=(1, 2)) for m in means], axis=0)
    features = np.asarray(features)[ok]  # words missing in a half are left out of both
    kw = dict(fit_kw)
    if kw.get("groups") is not None:
        kw["groups"] = np.asarray(kw["groups"])[ok]
    maps = [fit_encoding(features, m[ok], **kw).r for m in means]
    out = split_half_reliability(*maps)
    out.update({"halves": [h.tolist() for h in halves], "r_a": maps[0], "r_b": maps[1]})
    return out


# ------------------------------------------------------------ reference mode
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


def _plain_cv_error(x, y, alpha, n_inner=5):
    """Summed squared error of a fixed-penalty ridge over contiguous inner chunks."""
    err = 0.0
    for val in contiguous_folds(x.shape[0], n_inner):
        tr = np.setdiff1d(np.arange(x.shape[0]), val)
        coef = np.linalg.solve(x[tr].T @ x[tr] + alpha * np.eye(x.shape[1]), x[tr].T @ y[tr])
        err += float(((y[val] - x[val] @ coef) ** 2).sum())
    return err


def errors_of_interest(result, responses, channels, window):
    """Per-word errors over the significant channels of interest, in the window of interest.

    Parameters
    ----------
    result : EncodingResult
    responses : ndarray, shape (n_words, n_channels, n_windows)
    channels : ndarray of bool, shape (n_channels,)
        Channels of interest (:func:`analysis.datasets.channels_of_interest`).
    window : ndarray of bool, shape (n_windows,)
        Windows of interest (:func:`analysis.datasets.window_of_interest`).

    Returns
    -------
    mse : ndarray, shape (n_words, n_windows)
        As :func:`word_errors` over the significant channels of interest; when no
        channel of interest is significant in any window of interest, over every
        channel of interest there instead (NaN elsewhere), so that real data with weak
        effects still rank sentences.
    note : str | None
        Says when the fallback was used.
    """
    channels = np.asarray(channels, bool)
    window = np.asarray(window, bool)
    use = result.significant & channels[:, None]
    note = None
    if not use[:, window].any():
        use = np.zeros_like(use)
        use[:, window] = channels[:, None]
        note = ("no channel of interest is significant (p < {:g}) in the window of interest, "
                "so the per-word error averages every channel of interest there"
                .format(result.params.get("p_threshold", 1e-3)))
    mse, _ = word_errors(result.predictions, responses, use)
    return mse, note


def category_error_ratio(word_error, categories, names=("emotion", "physical")):
    """Mean error of the labelled words over the mean error of the others.

    Parameters
    ----------
    word_error : ndarray, shape (n_words,)
        One error per word (NaN ignored).
    categories : dict of str to ndarray of bool
        Word labels; the words in any of ``names`` count as labelled.
    names : sequence of str

    Returns
    -------
    float
        NaN when no word is labelled or no error is finite.
    """
    present = [np.asarray(categories[k], bool) for k in names if k in categories]
    word_error = np.asarray(word_error, float)
    if not present or not np.isfinite(word_error).any():
        return float("nan")
    labelled = np.any(present, axis=0)
    if labelled.all() or not labelled.any():
        return float("nan")
    return float(np.nanmean(word_error[labelled]) / np.nanmean(word_error[~labelled]))


def error_text(ratio, window, channels, ch_names, note=None):
    """The words the encoding chapter uses to describe its per-word errors.

    Parameters
    ----------
    ratio : float
        :func:`category_error_ratio` (NaN without word labels).
    window : tuple of float | None
        Window of interest in ms (:func:`analysis.datasets.window_of_interest`);
        ``None`` means every window.
    channels : ndarray of bool, shape (n_channels,)
        Channels of interest.
    ch_names : sequence of str, length n_channels
    note : str | None
        The fallback note of :func:`errors_of_interest`.

    Returns
    -------
    dict of str to str
        ``err_ratio`` (2 decimals), ``window_txt`` (``"300-425 ms"``),
        ``channels_txt`` (names, or ``"all channels"``) and ``fallback_txt``.

    Raises
    ------
    ValueError
        When ``channels`` and ``ch_names`` differ in length.
    """
    channels = np.asarray(channels, bool)
    if channels.shape != (len(ch_names),):
        raise ValueError(f"channels has shape {channels.shape} but there are "
                         f"{len(ch_names)} channel names")
    return {
        "err_ratio": f"{ratio:.2f}" if np.isfinite(ratio) else "n/a (no word labels)",
        "window_txt": "every window" if window is None else f"{window[0]:g}-{window[1]:g} ms",
        "channels_txt": "all channels" if channels.all()
        else ", ".join(np.asarray(ch_names)[channels]),
        "fallback_txt": f"(Here {note}.)" if note else "",
    }


def encoding_outputs(result, dataset, model, model_identity, fit, window, channels, mse,
                     layer_decision=None):
    """The :class:`~analysis.contracts.EncodingOutputs` later chapters start from.

    Parameters
    ----------
    result : EncodingResult
        The chosen layer's model.
    dataset : WordDataset
        The dataset it was fitted on (opened through :mod:`analysis.datasets`).
    model, model_identity : str
        The language model's name and identity.
    fit : dict
        ``n_folds``, ``n_inner``, ``p_threshold``, ``cv_groups``, ``alphas``.
    window : tuple of float | None
        Window of interest used (ms).
    channels : ndarray of bool, shape (n_channels,)
        Channels of interest.
    mse : ndarray, shape (n_words, n_windows)
        Per-word errors over them (:func:`errors_of_interest`).
    layer_decision : dict | None
        How ``result.layer`` was decided (:meth:`LayerSweep.layer_decision`); ``None``
        records a layer given by the caller, not chosen here.

    Returns
    -------
    analysis.contracts.EncodingOutputs
    """
    from .contracts import EncodingOutputs
    from .datasets import dataset_record

    fit = dict(fit, alphas=[float(a) for a in np.asarray(fit["alphas"])])
    return EncodingOutputs(
        dataset=dataset_record(dataset).to_dict(), model=str(model),
        model_identity=str(model_identity), layer=int(result.layer), fit=fit,
        window=None if window is None else [float(w) for w in window],
        channels=[c for c, k in zip(dataset.ch_names, channels) if k],
        words=list(dataset.words), sentence=dataset.sentence, times=result.times,
        ch_names=list(result.ch_names), mse=mse, cosine=result.cosine, r=result.r,
        p=result.p, significant=result.significant,
        layer_decision=layer_decision or {"layer": int(result.layer), "fold_layers": None,
                                          "rule": "given by the caller (not chosen here)",
                                          "sweep_argmax": None})
