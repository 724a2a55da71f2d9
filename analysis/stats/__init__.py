"""Statistics shared by the chapters (a package; the code is in :mod:`.correlation` for now)."""

from .correlation import (DEFAULT_BLOCK_LENGTH, DEFAULT_MAX_LAG, NULL_SCHEMES,
                          autocorrelations, better_worse_same, binomial_false_positive_bound,
                          bootstrap_better_worse, bootstrap_mean_r, category_ttest,
                          ceiling_share, dependence_preserving_permutations, effective_n,
                          effective_n_bartlett, fdr_bh, lag1_autocorrelation, nanmean_rows,
                          noise_ceiling, null_significant_count, paired_accuracy_gain,
                          pearson_columns, permutation_r_difference, r_and_pvalue, r_pvalue,
                          random_word_subset, rdm, rdm_spearman, resample_weights,
                          rsa_ceiling_text, rsa_noise_ceiling, rsa_timecourse, significance_mask,
                          spearman_brown, split_half_ceiling, split_half_reliability,
                          two_sided_p, variance_ratio, wilson_interval, zscore_words)

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
    "paired_accuracy_gain", "category_ttest",
]
