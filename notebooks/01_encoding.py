# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Encoding: from every layer to every channel and time window
#
# The paper's first step predicts each word's MEG response from the language
# model's hidden state for that word. For every 25 ms window after word onset, a
# ridge regression maps the word's vector (the mean over its tokens, with the 19
# preceding words as context) to all 306 channels. We fit it for **every layer** of
# the model, score it by the Pearson correlation between out-of-fold predictions
# and responses, and keep the per-word errors for the next chapter, which looks for
# the sentences the model predicts worst.
#
# What differs from the public code ({ref}`methods-encoding`): folds are contiguous and the
# standardisation uses the training fold only; the penalty is chosen per channel
# and window by nested cross-validation over a wide grid (the public code tries two
# values shared by all channels); significance masks are boolean (the public code
# indexes with a 0/1 integer array, which picks channels 0 and 1); and the layer is
# chosen by the data, never fixed.

# %% tags=["parameters"]
dataset = "simulated"  # a name of the dataset registry (analysis.datasets)
data_path: str | None = None
dataset_options = {}
n_words = 0  # use the whole sentences within the first n words; 0 keeps all
n_subjects = 4
seed = 0
models = ["default"]  # one or more language models (names, local paths or GGUF files)
layers: list[int] | None = None  # None: every layer_step-th layer; or explicit layer indices
layer_step = 1  # 1 sweeps every layer (the default profile uses 3 to fit a 2-core CPU)
sweep_alphas = 9  # penalties in the sweep's grid (10^-1 .. 10^7)
sweep_inner = 3  # inner folds in the sweep
n_folds = 10
n_inner = 5  # inner folds of the final model of the chosen layer (17 penalties)
p_threshold = 0.001
cv_groups: str | None = None  # folds keep these units whole (story, sentence, ...); None: the dataset's default; "none": contiguous only
window: list[float] | None = None  # window of interest [start, end] ms; None: the dataset's
channels: list[str] | None = None  # channels of interest for per-word errors; None: the dataset's
rsa_words = 1000  # words in the RSA subset
device = "auto"
results_dir = "_build/results"
profile = "default"

# %%
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from myst_nb import glue

from analysis import datasets, encoding, plots, stats
from analysis import display as show
from analysis.features import extract_features
from analysis.provenance import data_banner, portable_path, start_chapter

# %%
chapter = start_chapter(
    "encoding",
    dict(dataset=dataset, data_path=data_path, dataset_options=dataset_options,
         n_words=n_words, n_subjects=n_subjects, seed=seed, models=models, layers=layers,
         layer_step=layer_step, sweep_alphas=sweep_alphas, sweep_inner=sweep_inner,
         n_folds=n_folds, n_inner=n_inner, p_threshold=p_threshold, cv_groups=cv_groups,
         window=window, channels=channels, rsa_words=rsa_words, device=device,
         profile=profile),
    results_dir=results_dir, device=device,
)
backend = "torch" if chapter.device.startswith("cuda") else "numpy"
glue = chapter.glue
plots.use_book_style()

# %%
ds = datasets.open_for_chapter(dataset, data_path, dataset_options, n_words=n_words,
                               n_subjects=n_subjects, seed=seed, model=models[0],
                               device=chapter.device)
truth = ds.provenance.get("truth")
chapter.record_dataset(ds)
for m in models:
    chapter.record_model(m)
display(show.fragment(data_banner(ds)))
ds

# %%
group_name, groups = datasets.cv_groups(ds, cv_groups)
window_mask, window_used = datasets.window_of_interest(ds, window)
channel_mask = datasets.channels_of_interest(ds, channels)
feats = {m: extract_features(ds, model=m, device=chapter.device) for m in models}
glue("cv_note", f"folds never split a {group_name}" if group_name else
     "folds follow the word order")

# %% [markdown]
# ## The layer sweep
#
# Each layer's encoding model is fitted with {glue:text}`n_folds` contiguous outer
# folds ({glue:text}`cv_note`); inside each, the penalty of every channel and window is chosen among
# {glue:text}`sweep_alphas` values by {glue:text}`sweep_inner`-fold contiguous
# cross-validation. The map shows the mean r over channels for each layer and
# window ({glue:text}`n_swept` layers swept). The layer is chosen like the penalty, inside
# each outer fold from its training words only: the layer whose model has the smallest
# inner cross-validated error over all channels and windows. The folds chose layers
# {glue:text}`fold_layers`; the layer used from here on, and handed to the later
# chapters, is the most frequent of them: layer {glue:text}`chosen_layer` of
# {glue:text}`n_layers_model` (the whole procedure, each fold predicted by its own
# layer, reaches a mean r of {glue:text}`nested_mean_r`). The map's peak, layer
# {glue:text}`sweep_argmax` (highest mean r over all channels and windows, on all words),
# is a description, not a tested choice: most channels and windows carry no signal, and
# their r is noise of the same size whatever the layer. The choice is measured the way it
# is made, by squared error on words it did not see: in each fold the runner-up is the
# layer with the next smallest inner error (most often layer {glue:text}`runner_up`), and
# its out-of-fold mean squared error per channel and window (z-scored responses) exceeds
# the chosen layer's by {glue:text}`margin_txt`. {glue:text}`margin_verdict`
# The final model of the chosen layer is then refitted with
# the full grid of 17 penalties and {glue:text}`n_inner` inner folds; all later numbers
# come from that model. (A coarser grid changes a layer's mean r by about 1 %, and
# halves the cost of the sweep.)

# %%
sweeps = encoding.compare_models({m: f.hidden for m, f in feats.items()}, ds, layers=layers,
                                 layer_step=layer_step, alphas=np.logspace(-1, 7, sweep_alphas),
                                 n_folds=n_folds, n_inner=sweep_inner, groups=groups,
                                 p_threshold=p_threshold, backend=backend, progress=True)
main = models[0]
decision = sweeps[main].layer_decision()  # the chain's one layer decision (selection-aware)
margin = sweeps[main].margin()
chosen = decision["layer"]

# %%
best = encoding.fit_encoding(feats[main].hidden[chosen], ds, n_folds=n_folds,
                             n_inner=n_inner, p_threshold=p_threshold, backend=backend,
                             layer=chosen, groups=groups)
fit = dict(n_folds=n_folds, n_inner=n_inner, p_threshold=p_threshold, cv_groups=group_name,
           alphas=encoding.DEFAULT_ALPHAS)
for name, value in dict(sweep_alphas=sweep_alphas, sweep_inner=sweep_inner, n_folds=n_folds,
                        n_inner=n_inner).items():
    glue(name, value)
for name, value in encoding.layer_choice_text(decision, margin, len(sweeps[main].layers),
                                              feats[main].hidden.shape[0] - 1).items():
    glue(name, value)

# %%
fig = plots.plot_layer_time_maps(sweeps, ds.times, ds.window_ms,
                                 titles={m: feats[m].model_identity for m in sweeps},
                                 decided={m: sw.layer_decision()["layer"] for m, sw in sweeps.items()})

# %% [markdown]
# ## Where and when the chosen layer predicts the brain
#
# For the chosen layer, the topomaps show r per channel in every other window:
# signed r on the magnetometers, and for the gradiometers the root mean square of each
# pair's r (positive by construction, so drawn from 0). Framed maps are the window of
# interest. Prediction peaks in the window starting at {glue:text}`peak_ms` ms, where the
# mean r over channels is {glue:text}`peak_r` and the best channel reaches
# {glue:text}`max_r`.

# %%
peak = best.peak_window()
glue("peak_ms", f"{ds.times[peak]:g}")
glue("peak_r", f"{np.nanmean(best.r[:, peak]):.3f}")
glue("max_r", f"{np.nanmax(best.r):.3f}")
plots.window_topomaps(best.r, ds, ch_type="mag", kind="signed", units="r",
                      window=window_used, title=f"r per magnetometer, layer {chosen}")
fig = plots.window_topomaps(best.r, ds, ch_type="grad", kind="positive",
                            units="RMS r of the pair", window=window_used,
                            title=f"r per gradiometer pair (RMS), layer {chosen}")

# %% [markdown]
# A channel and window counts as significant when the one-sided p-value of its r is
# below {glue:text}`p_thr` (Student t with Bartlett's effective number of words of two
# autocorrelated series). With {glue:text}`n_tests` tests, chance alone would call at
# most about {glue:text}`chance_bound` of them significant: the 95th percentile of the
# count over 100 permutations of the responses that keep their serial dependence (a
# binomial bound would assume independent channels and windows, which they are not);
# the chosen layer has {glue:text}`n_sig` significant tests.

# %%
n_sig_window = best.significant.sum(axis=0)
bound = stats.null_significant_count(best.predictions, ds.responses, p_threshold,
                                     **datasets.null_design(ds))["bound"]
glue("p_thr", f"{p_threshold:g}")
glue("n_tests", int(best.significant.size))
glue("chance_bound", int(bound))
glue("n_sig", int(best.significant.sum()))
fig = plots.plot_significant_per_window(n_sig_window, ds.times, ds.window_ms, p_threshold,
                                        chosen)

# %% [markdown]
# ## Checked against the planted truth
#
# On the simulated study we know which layer drives the signal and when it peaks.

# %%
if truth:
    ci_txt = "n/a" if margin["ci"] is None else f"{margin['ci'][0]:.4f} to {margin['ci'][1]:.4f}"
    check = pd.DataFrame({
        "planted": [truth["truth_layer"], truth["lm_peak_ms"], "above 0"],
        "recovered": [chosen, float(ds.times[peak]), ci_txt],
    }, index=["layer", "peak window (ms)",
              f"runner-up's (layer {margin['runner_up']}) excess error, 95 % interval"])
    display(check)
else:
    display(Markdown("*Real data: there is no planted truth to compare with.*"))

# %% [markdown]
# ## Which words the model predicts worst
#
# For each word and window, the error is the mean squared difference between the
# z-scored response and its out-of-fold prediction over the **significant** channels
# of interest ({glue:text}`channels_txt`) of that window. Averaged over the window of
# interest ({glue:text}`window_txt`, the window the next chapter uses), it shades the
# text below: darker words are predicted worse. On the simulated study, the planted
# social/emotional and physical words should stand out. {glue:text}`fallback_txt`

# %%
word_mse, fallback = encoding.errors_of_interest(best, ds.responses, channel_mask, window_mask)
word_err = np.nanmean(word_mse[:, window_mask], axis=1)
display(show.fragment(plots.coloured_text(ds.words, word_err, cmap="Reds", max_words=300)))
ratio = encoding.category_error_ratio(word_err, ds.categories)
for name, value in encoding.error_text(ratio, window_used, channel_mask, ds.ch_names,
                                       fallback).items():
    glue(name, value)

# %% [markdown]
# Mean error of social/emotional and physical words relative to the other words:
# {glue:text}`err_ratio`.

# %% [markdown]
# ## What is reachable: a noise ceiling per channel and window
#
# An r of 0.2 means little until we know how much of a channel's response is
# repeatable at all. Splitting the subjects at random into two halves, correlating the
# two half-averages over words in each channel and window, and correcting with
# Spearman–Brown to all {glue:text}`nc_subjects` subjects gives the reliability of the
# average response ({glue:text}`nc_splits` random splits). A model of the true response
# can at best reach its square root: the **ceiling** on r. {glue:text}`nc_text`

# %%
nc = (stats.noise_ceiling(ds.subject_responses, n_splits=20, seed=seed)
      if ds.n_subjects >= 2 else None)  # no ceiling without separate subjects
share = stats.ceiling_share(best.r, nc["ceiling_r"] if nc else None, best.significant)
share_median = share["share_median"]
glue("nc_subjects", nc["n_subjects"] if nc else "n/a")
glue("nc_splits", nc["n_splits"] if nc else "n/a")
glue("nc_text", share["text"])
if nc:
    fig = plots.plot_ceiling_comparison(best.r, nc["ceiling_r"], best.significant, ds.times,
                                        chosen, window=window_used)

# %% [markdown]
# ## Representational similarity beside ridge
#
# Ridge asks whether a linear map from features to channels exists. RSA asks a
# weaker, map-free question: do words that are close in the model's space evoke
# similar sensor patterns? For each window we correlate (Spearman) the feature
# dissimilarity matrix with the response dissimilarity matrix on {glue:text}`rsa_n`
# words. {glue:text}`rsa_text`

# %%
rsa, ceiling = None, None
if ds.n_channels >= 3:
    rsa = stats.rsa_timecourse(feats[main].hidden[chosen], ds.responses,
                               n_subset=rsa_words, seed=seed)
    if ds.n_subjects >= 2:
        ceiling = stats.rsa_noise_ceiling(ds.subject_responses, n_subset=rsa_words, seed=seed)
    fig = plots.plot_rsa_timecourse(ds.times, rsa, chosen,
                                    lower=None if ceiling is None else ceiling[0])
glue("rsa_text", stats.rsa_ceiling_text(rsa, None if ceiling is None else ceiling[0]))
glue("rsa_n", min(rsa_words, ds.n_words) if rsa is not None else "n/a")

# %%
outputs = encoding.encoding_outputs(best, ds, main, feats[main].model_identity, fit,
                                    window_used, channel_mask, word_mse, decision)
outputs.write(chapter.results_dir)
results = encoding.chapter_results(
    ds, sweeps, decision, best, margin=margin, chance_bound=bound, error_ratio=ratio,
    window=window_used, channels=outputs.channels, cv_groups=group_name, error_note=fallback,
    rsa=rsa, rsa_ceiling=ceiling, noise_ceiling=nc, share_median=share_median)
path = chapter.save(**results)
print(f"results written to {portable_path(path)}")

# %% [markdown]
# ## Provenance

# %% tags=["hide-input"]
chapter.provenance_table()
