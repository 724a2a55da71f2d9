"""The ridge solver: numpy/torch backends, training-fold standardisation, the inner
per-target penalty search, out-of-fold predictions (:func:`ridge_oof`) with one or two
penalty bands, the default grids, and the fixed-penalty CV error of the reference mode.
"""

from __future__ import annotations

import numpy as np

from .._utils import DataError, check_array
from .cv import contiguous_folds, cv_splits

__all__ = ["DEFAULT_ALPHAS", "DEFAULT_BAND_SCALES", "ridge_oof"]


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


def _plain_cv_error(x, y, alpha, n_inner=5):
    """Summed squared error of a fixed-penalty ridge over contiguous inner chunks."""
    err = 0.0
    for val in contiguous_folds(x.shape[0], n_inner):
        tr = np.setdiff1d(np.arange(x.shape[0]), val)
        coef = np.linalg.solve(x[tr].T @ x[tr] + alpha * np.eye(x.shape[1]), x[tr].T @ y[tr])
        err += float(((y[val] - x[val] @ coef) ** 2).sum())
    return err
