"""The encoding chapter's results: the numbers of the layer sweep, the chosen layer's fit and
its checks that the chapter writes to ``encoding.json``."""

from __future__ import annotations

import numpy as np

__all__ = ["chapter_results"]


def chapter_results(dataset, sweeps, decision, best, *, margin, chance_bound, error_ratio,
                    window, channels, cv_groups, error_note, rsa, rsa_ceiling, noise_ceiling,
                    share_median):
    """The encoding chapter's results (``encoding.json``,
    :class:`analysis.results.EncodingResults`).

    Parameters
    ----------
    dataset : analysis.data.WordDataset
        The study fitted (its ``times`` in ms; ``provenance["truth"]`` on the simulated
        study).
    sweeps : dict of str to LayerSweep
        :func:`compare_models`, by model name.
    decision : dict
        :meth:`LayerSweep.layer_decision` of the chapter's model (``layer`` is the chosen
        layer).
    best : EncodingResult
        The refitted model of the chosen layer, r of shape (n_channels, n_windows).
    margin : dict
        :meth:`LayerSweep.margin` of the chapter's model.
    chance_bound : int
        Significant tests chance alone would give at most
        (:func:`analysis.stats.null_significant_count`).
    error_ratio : float | None
        :func:`category_error_ratio` of the words' errors in the window of interest.
    window : list of float | None
        The window of interest (ms).
    channels : list of str
        The channels of interest (:func:`encoding_outputs`).
    cv_groups : str | None
        What the folds never split (``"sentence"``, ...), or None.
    error_note : str | None
        :func:`errors_of_interest`'s note where it fell back to other channels.
    rsa : ndarray, shape (n_windows,) | None
        :func:`analysis.stats.rsa_timecourse`, None where not computed.
    rsa_ceiling : tuple of 2 ndarray, shape (n_windows,) | None
        :func:`analysis.stats.rsa_noise_ceiling` (lower, upper).
    noise_ceiling : dict | None
        :func:`analysis.stats.noise_ceiling` (``ceiling_r`` of shape (n_channels,
        n_windows)); None with fewer than two subjects.
    share_median : float | None
        :func:`analysis.stats.ceiling_share`'s median share of the ceiling.

    Returns
    -------
    dict
        The dataset and every model's sweep summary; the chosen layer and its decision;
        the peak window (index, ms, mean r over channels) and the highest r; the
        significant channels per window and the chance bound; the share of penalties at
        the grid's edges; the planted words' error ratio; the window and channels of
        interest; the CV groups; the error note; the RSA time course and its noise
        ceiling (``lower``, ``upper``); the layer margin; the median noise ceiling over
        the significant tests and the median share of it; and, on the simulated study,
        ``truth_check`` (planted layer and peak, and whether each was recovered).
    """
    chosen, peak, times = decision["layer"], best.peak_window(), dataset.times
    nc = noise_ceiling
    out = {
        "dataset": dataset.summary(),
        "models": {m: sw.summary() for m, sw in sweeps.items()},
        "chosen_layer": chosen,
        "layer_decision": decision,
        "peak_window": peak,
        "peak_ms": float(times[peak]),
        "peak_mean_r": float(np.nanmean(best.r[:, peak])),
        "max_r": float(np.nanmax(best.r)),
        "significant_channels_per_window": best.significant.sum(axis=0).tolist(),
        "chance_bound_significant": int(chance_bound),
        "alpha_edge_share": best.alpha_edge_share(),
        "planted_word_error_ratio": error_ratio,
        "window_of_interest_ms": window,
        "channels_of_interest": channels,
        "cv_groups": cv_groups,
        "per_word_error_note": error_note,
        "rsa": None if rsa is None else rsa.tolist(),
        "rsa_noise_ceiling": None if rsa_ceiling is None else
        {"lower": rsa_ceiling[0].tolist(), "upper": rsa_ceiling[1].tolist()},
        "layer_margin": margin,
        "noise_ceiling_median": None if nc is None else
        float(np.nanmedian(nc["ceiling_r"][best.significant])) if best.significant.any() else None,
        "share_of_ceiling_median": share_median,
    }
    truth = dataset.provenance.get("truth")
    if truth:
        out["truth_check"] = {"truth_layer": truth["truth_layer"],
                              "truth_peak_ms": truth["lm_peak_ms"],
                              "layer_recovered": chosen == truth["truth_layer"],
                              "peak_recovered": float(times[peak]) == truth["lm_peak_ms"]}
    return out
