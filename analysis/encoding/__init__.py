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

Modules
-------
:mod:`~analysis.encoding.cv` (contiguous folds, outer splits, centring within folds),
:mod:`~analysis.encoding._ridge` (the solver, :func:`ridge_oof`, one or two penalty bands, the
default grids), :mod:`~analysis.encoding.errors` (per-word errors, the errors of interest,
the category error ratio), :mod:`~analysis.encoding.result` (:class:`EncodingResult`,
:func:`fit_encoding`, the baseline-only fit, split-half reliability, the chapter's outputs),
:mod:`~analysis.encoding.layers` (layer sweeps, nested layer choice, model comparison),
:mod:`~analysis.encoding.reference_mode` (the public code's choices) and
:mod:`~analysis.encoding.chapter` (the chapter's results);
:mod:`~analysis.encoding._common` holds private helpers the fits share.
Everything is importable from ``analysis.encoding`` itself.
"""

from __future__ import annotations

from .cv import centre_within_folds, contiguous_folds, cv_splits
from ._ridge import (DEFAULT_ALPHAS, DEFAULT_BAND_SCALES, ridge_oof, _Backend, _band_columns,
                     _inner_errors, _inner_errors_dual, _partial_out, _plain_cv_error,
                     _standardise, _two_band_fold)
from ._common import _check_layers, _checked_features, _choose_and_stitch, _responses_of, _scores
from .errors import (category_error_ratio, error_text, errors_of_interest, word_errors,
                     word_squared_error)
from .result import (encoding_outputs, EncodingResult, fit_baseline, fit_encoding,
                     split_half_encoding)
from .layers import (CHOICE_RULE, compare_models, layer_choice_text, layer_error_margin,
                     layer_sweep, LayerSweep, MARGIN_QUANTITY, modal_layer, nested_layer_choice,
                     nested_layer_oof, NESTED_RULE, swept_layers)
from .reference_mode import fit_encoding_reference
from .chapter import chapter_results
from .refit import (REFIT_MAX_FITS, SCALE_PERMUTATIONS, SCALE_TARGETS, refit_null_r,
                    refit_null_scale, refit_p_values)

__all__ = [
    "REFIT_MAX_FITS",
    "refit_null_r",
    "refit_null_scale",
    "SCALE_TARGETS",
    "SCALE_PERMUTATIONS",
    "refit_p_values",
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
    "chapter_results",
]
