"""Statistics shared by the chapters: correlations, p-values, FDR, RSA, noise ceilings.

Everything here is plain numpy/scipy on arrays; nothing fits a model (the encoding
models live in :mod:`analysis.encoding`). Conventions:

* Pearson r is computed per column (axis 0 = observations).
* p-values of encoding r are one-sided (H1: r > 0) from the t distribution with
  ``n_eff - 2`` degrees of freedom, ``n_eff`` Bartlett's effective number of words of
  two autocorrelated series (:func:`r_and_pvalue`); words read in order are not
  independent, and ``n - 2`` makes the test liberal.
* Permutation tests move the responses under a null that keeps their serial
  dependence (whole sentences, blocks, circular shifts within stories:
  :func:`dependence_preserving_permutations`; each dataset declares its scheme in
  :mod:`analysis.datasets`). The free word shuffle of the paper is kept only as
  ``scheme="words"`` for the calibration benchmark (:mod:`analysis.calibration`,
  ``benchmarks/bench_calibration.py``), which measures every test's false-positive
  rate on autocorrelated nulls.
* RDMs are condensed (upper triangle, ``scipy.spatial.distance.pdist`` order) and use
  correlation distance ``1 - r``; RSA compares RDMs with Spearman's rank correlation.

Modules
-------
:mod:`~analysis.stats.correlation` (Pearson r per column, p-values with Bartlett's effective
n, the significance mask), :mod:`~analysis.stats.dependence` (runs, autocorrelations,
effective n, the permutations that keep serial dependence), :mod:`~analysis.stats.multiple`
(BH FDR, two-sided p, better / worse / same), :mod:`~analysis.stats.ceilings` (Spearman-Brown,
split-half reliability, noise ceilings, the share of the ceiling reached),
:mod:`~analysis.stats.rsa` (RDMs, RSA time course and its ceiling),
:mod:`~analysis.stats.permutation` (significant counts under the null, the difference of two
models' r in numpy and torch, word-category tests) and :mod:`~analysis.stats.intervals`
(bootstrap intervals on r and r differences, Wilson intervals, paired accuracy gains).
Everything public is importable from ``analysis.stats`` itself.
"""

from .ceilings import (ceiling_share, nanmean_rows, noise_ceiling, spearman_brown,
                       split_half_ceiling, split_half_reliability)
from .correlation import (DEFAULT_MAX_LAG, binomial_false_positive_bound, pearson_columns,
                          r_and_pvalue, r_pvalue, significance_mask)
from .dependence import (DEFAULT_BLOCK_LENGTH, NULL_SCHEMES, autocorrelations,
                         dependence_preserving_permutations, effective_n, effective_n_bartlett,
                         lag1_autocorrelation)
from .intervals import (bootstrap_better_worse, bootstrap_mean_r, paired_accuracy_gain,
                        r_interval, resample_weights, wilson_interval)
from .multiple import better_worse_same, fdr_bh, two_sided_p
from .permutation import (category_ttest, null_significant_count, permutation_r_difference,
                          variance_ratio)
from .rsa import (random_word_subset, rdm, rdm_spearman, rsa_ceiling_text, rsa_noise_ceiling,
                  rsa_timecourse, zscore_words)

__all__ = [
    "ceiling_share", "variance_ratio", "rsa_ceiling_text", "zscore_words", "nanmean_rows",
    "pearson_columns", "r_pvalue", "r_and_pvalue", "NULL_SCHEMES",
    "dependence_preserving_permutations", "lag1_autocorrelation", "effective_n",
    "effective_n_bartlett", "autocorrelations", "null_significant_count", "two_sided_p",
    "significance_mask", "fdr_bh", "binomial_false_positive_bound", "spearman_brown",
    "split_half_reliability", "split_half_ceiling", "noise_ceiling", "rdm", "rdm_spearman",
    "random_word_subset", "rsa_timecourse", "rsa_noise_ceiling",
    "permutation_r_difference", "better_worse_same", "bootstrap_mean_r",
    "bootstrap_better_worse", "resample_weights", "wilson_interval",
    "paired_accuracy_gain", "category_ttest", "r_interval",
]
