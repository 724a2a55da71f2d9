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
# # Beyond the paper: instructions, and a comparison of models
#
# Two lines of work extend the paper's method. One reads the same stimulus with an
# instruction-tuned model under different task instructions and asks whether the
# instruction changes how well the model's states predict the brain. The other lines up
# many models, maps where in depth and time each one aligns (by ridge regression and by
# representational similarity), and asks whether models that do better on downstream
# tasks also align better. This chapter asks both questions with the book's tools, on
# the real EEG and reading times of Frank et al. (2015) and on the simulated study.
#
# What the chapter can and cannot say is set by what runs here: one small
# instruction-tuned model (SmolLM2-135M-Instruct), the two or three checkpoints the
# fine-tuning chapter made from it, and a documented list of larger hub models a reader
# can opt into. With so few models, no correlation across models is computed; each
# model's difference from its base is read with its own interval.

# %% tags=["parameters"]
frank_path: str | None = None  # all_measures.csv; None: $FRANK2015_PATH or ../shared/data
real_n_words = 0  # Frank: use the whole sentences within the first n words; 0 keeps all
instructions: list[str] | None = None  # None: the default subset of four; ["all"]: all 13
instr_frank_words = 0  # Frank: instructions read on the sentences in the first n words; 0: all
instr_sim_words = 300  # simulated study: instructions read on its first n words; 0: all
instr_n_permutations = 2000  # permutations of each instruction test (shared by all)
instr_n_refit = 200  # refit null: every model fitted again to n permuted responses, where
# targets x n <= 20,000 (the Frank targets); beyond it the predictions are held fixed
power_n_sim = 200  # simulated draws per minimum detectable effect of a null result
n_boot = 1000  # bootstrap resamples of the sentences for the intervals of differences in r
band_scales = [0.1, 1.0, 10.0]  # relative scales of the instruction band (two-band ridge)
model_layer_step = 5  # the model sweeps fit every n-th layer (plus the layers used below)
models_n_folds = 5  # outer folds of every fit in this chapter (all models share them)
map_channels = 50  # simulated: channels of interest used (seeded random subset); 0: all
finetuned_sweep = False  # also sweep the layers of the fine-tuned models (one forward pass each)
hub_models: list[str] = []  # opt-in hub models (see the registry below); they are downloaded
ft_n_words = 0  # simulated: fine-tuned models compared on the first n words (as chapter 4)
sweep_alphas = 9  # penalties in every fit of this chapter (10^-1 .. 10^7)
sweep_inner = 3  # inner folds in every fit of this chapter
rsa_words = 1000  # words in the RSA subset
fdr_q = 0.05
seed = 0
device = "auto"
results_dir = "_build/results"
profile = "default"

# %%
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from analysis import plots, power
from analysis import display as show
from analysis import instructions as I
from analysis import models as M
from analysis.provenance import data_banner, portable_path, start_chapter

chapter = start_chapter(
    "models",
    dict(frank_path=frank_path, real_n_words=real_n_words, instructions=instructions,
         instr_frank_words=instr_frank_words, instr_sim_words=instr_sim_words,
         instr_n_permutations=instr_n_permutations, instr_n_refit=instr_n_refit,
         models_n_folds=models_n_folds,
         power_n_sim=power_n_sim,
         n_boot=n_boot, band_scales=band_scales, model_layer_step=model_layer_step,
         map_channels=map_channels, finetuned_sweep=finetuned_sweep, hub_models=hub_models,
         ft_n_words=ft_n_words, sweep_alphas=sweep_alphas, sweep_inner=sweep_inner,
         rsa_words=rsa_words, fdr_q=fdr_q, seed=seed, device=device, profile=profile),
    results_dir=results_dir, device=device,
)
glue = chapter.glue
plots.use_book_style()

# %%
backend = "torch" if chapter.device.startswith("cuda") else "numpy"
fit_kw = dict(n_folds=models_n_folds, n_inner=sweep_inner,
              alphas=np.logspace(-1, 7, sweep_alphas))  # every fit of this chapter
chosen_instructions = I.resolve_instructions(
    "all" if instructions == ["all"] else instructions)
compare_kw = dict(band_scales=band_scales, n_permutations=instr_n_permutations, seed=seed,
                  q=fdr_q, n_boot=n_boot, n_refit=instr_n_refit)
step = M.StepTimer()  # wall time of each step, printed and saved with the results
default_lm = M.LazyModel("default", device=chapter.device, timer=step)  # loaded when needed
results = {"instructions": {}, "models": {}}

# %% [markdown]
# ## The models
#
# The table lists the {glue:text}`n_models` model(s) this run compares
# ({glue:text}`n_finetuned` of them fine-tuned) and, below them, the hub models a reader
# can add with the `hub_models` parameter (they are downloaded from the model hub, and the
# larger ones want a GPU). Licences are those the packages and model cards declare; the
# checksum of every weight file used is in the provenance table at the end.

# %%
tuned, missing = M.open_finetuned(chapter.results_dir)
if missing:
    display(Markdown(missing))
entries = M.model_registry(tuned, hub=hub_models, seed=seed)
for e in M.swept_entries(entries):  # the models that are not fine-tuned
    chapter.record_model(e.source)
display(M.registry_overview(entries, hub_models))
for k, v in M.registry_texts(entries).items():
    glue(k, v)

# %% [markdown]
# ## Does an instruction change alignment? The real EEG and reading times
#
# Each of {glue:text}`n_instr` instructions ({glue:text}`instr_names`) is written on its
# own line before every context the model reads; the words, their sentence contexts and
# the layer are unchanged. The layer is layer {glue:text}`frank_layer`
# ({glue:text}`frank_layer_source`). Targets are the six ERP components and three
# reading measures of {glue:text}`frank_n` words of the published analyses (the log of
# self-paced reading, first-pass and go-past times, averaged over readers). Every model keeps the
# nuisance baseline (length, frequency, position) as an unpenalized band, uses the same
# sentence-grouped folds, and is compared with the **plain** model (no instruction) by
# permuting the responses in whole units ({glue:text}`instr_perm` permutations under the
# dataset's null, which keeps the serial dependence of the words; the same for every
# instruction), with Benjamini–Hochberg over instructions × targets. The p-values come
# from {glue:text}`fr_null`: holding the out-of-fold predictions fixed instead would miss
# part of the variance of a difference in r and reject too often (Methods page). The **two-band**
# model puts the plain and the instruction-conditioned features side by side, each with
# its own penalty (their ratio chosen per target among {glue:text}`band_scales_txt`): it
# asks what the instruction adds beyond the plain reading. Because a second band adds
# freedom whatever it holds, the two-band model is also compared with a
# **parameter-matched control band**: the same instruction features with their rows
# permuted (same width and covariance, belonging to no word). Intervals resample sentences.

# %%
fr, missing = M.open_frank(frank_path, real_n_words, dict(fit_kw, backend=backend),
                           device=chapter.device, timer=step)
if fr is not None:
    chapter.record_dataset(fr.dataset)
display(Markdown(missing) if fr is None else show.fragment(data_banner(fr.dataset)))

# %%
frank_comp = fr_power = None
if fr is not None:
    fr.choose_layer(chapter.results_dir, model_layer_step, rsa_words, seed, timer=step)
    frank_comp = I.run_instruction_study(fr, chosen_instructions, instr_frank_words,
                                         chapter.device, default_lm, step, **compare_kw)
    display(show.table(frank_comp.summary[I.SUMMARY_COLUMNS]),
            frank_comp.delta_table(fr.targets.ch_names, chosen_instructions).round(3))
    fr_power = power.instruction_power(frank_comp, fr.targets, alpha=fdr_q, n_sim=power_n_sim,
                                       seed=seed)  # what the test detects (analysis.power)
    results["instructions"]["frank2015"] = {**frank_comp.to_results(
        fr.layer, per_target=True, targets=list(fr.targets.ch_names)), "power": fr_power}
for k, v in {**I.frank_texts(frank_comp, fr, fdr_q), **I.power_texts(fr_power),
             **I.setting_texts(chosen_instructions, instr_n_permutations, band_scales)}.items():
    glue(k, v)

# %% [markdown]
# The plain model reaches a mean r of {glue:text}`fr_r_plain` over the nine targets.
# The instruction that moves it most, *{glue:text}`fr_best`*, changes the mean r by
# {glue:text}`fr_best_delta` (95 % interval over sentences {glue:text}`fr_best_ci`); on the
# N400 the instructions change r by {glue:text}`fr_n400_range`. Of
# {glue:text}`fr_n_tests` instruction × target tests, {glue:text}`fr_n_better` are better
# and {glue:text}`fr_n_worse` worse than plain at the false discovery rate;
# {glue:text}`fr_n_mean_sig` instruction(s) change the mean over targets, and the
# two-band model adds to the plain one for {glue:text}`fr_n_both_sig` and beats the control
# band for {glue:text}`fr_n_both_vs_control`. A difference whose
# interval straddles 0 is one that these {glue:text}`fr_n_sent` sentences cannot
# resolve ({glue:text}`fr_power`), not evidence that the instruction does nothing; and a small model that reads
# an instruction of a few words need not act on it as a larger instruction-tuned model
# would.

# %% [markdown]
# ## The same question on the simulated study
#
# The simulated responses were generated from the plain (instruction-free) features of
# one layer, plus planted parts that no reading of the text predicts (see the data
# chapter). **No instruction effect was planted**, so a null result here is the expected
# answer: a check that the comparison does not invent effects. The one part that a
# different reading could in principle pick up is the "knowledge" component on emotion
# and physical words, a function of the text made orthogonal to the plain layer; a gain,
# if one appeared, would most likely come from there. The layer is the encoding chapter's
# (layer {glue:text}`sim_layer`), the words
# are the first {glue:text}`sim_instr_n` of the story, and the targets are
# {glue:text}`map_n_channels` channels (a seeded random subset of the channels of
# interest) in each window of the window of interest ({glue:text}`sim_window`),
# {glue:text}`sim_n_targets` in all. The p-values come from {glue:text}`sim_null`.

# %%
sim, missing = M.open_simulated(chapter.results_dir, fit_kw, map_channels, seed, backend,
                                device=chapter.device, timer=step)
if sim is not None:
    chapter.record_dataset(sim.dataset)
display(Markdown(missing) if sim is None else show.fragment(data_banner(sim.dataset)))

# %%
sim_comp = None
if sim is not None:
    sim_comp = I.run_instruction_study(sim, chosen_instructions, instr_sim_words,
                                       chapter.device, default_lm.loader_for(sim.model),
                                       step, **compare_kw)
    display(show.table(sim_comp.summary[I.SUMMARY_COLUMNS]))
    results["instructions"]["simulated"] = sim_comp.to_results(sim.layer, window_ms=sim.window)
for k, v in I.simulated_texts(sim_comp, sim, fdr_q).items():
    glue(k, v)

# %% [markdown]
# At most {glue:text}`sim_max_better` of the targets are better under an instruction
# and at most {glue:text}`sim_max_worse` worse; the mean differences range over
# {glue:text}`sim_delta_range`, and the mean over targets is better for
# {glue:text}`sim_n_mean_better` and worse for {glue:text}`sim_n_mean_worse`
# instruction(s) at the false discovery rate. Worse is possible without any planted
# effect: most of the predictable signal was made from the plain features, so a reading
# that moves the features away from them is expected to lose some of it; the two-band
# model, which keeps the plain band, should not. The two-band model beats plain for
# {glue:text}`sim_n_both_sig` instruction(s) but the parameter-matched control band for
# {glue:text}`sim_n_both_vs_control`: where the first count is larger, the gain comes from
# the second band's extra freedom, not from the instruction. Whether the comparison *finds* an instruction
# effect when there is one is checked by the test suite on a planted instruction-
# sensitive component (`tests/test_models.py`), which is found under its instruction and
# under no other.

# %%
fig = plots.plot_instruction_deltas({"Frank et al. (2015)": frank_comp, "simulated": sim_comp})

# %% [markdown]
# ## A comparison of models: where in depth and time they align
#
# For each model swept (every {glue:text}`model_layer_step`-th layer, plus the layers used
# above), the encoding model of every layer is fitted to every target. On the simulated
# study the map is layer × time (mean r over the {glue:text}`map_n_channels` channels); on the
# Frank data layer × target. Beside the ridge r, RSA compares the layer's geometry with
# the responses' (Spearman correlation of the two dissimilarity matrices over
# {glue:text}`rsa_n` words): ridge asks whether a linear map from the layer predicts the
# responses, RSA whether words the layer finds alike are alike in the brain, without any
# fitting. The peak layer is given relative to the model's depth (0: the embeddings,
# 1: the last block), which is what lets models of different depth be compared.

# %%
profiles = M.profile_models(M.swept_entries(entries, finetuned=finetuned_sweep), sim, fr,
                            model_layer_step, rsa_words, seed, chapter.device, step)
for k, v in M.sweep_texts(model_layer_step, sim, rsa_words).items():
    glue(k, v)

# %%
fig = plots.plot_model_profiles(M.profile_panels(profiles),
                                window_ms=None if sim is None else sim.dataset.window_ms)

# %%
for k, v in M.profile_texts(profiles, entries[0].name, sim).items():
    glue(k, v)

# %% [markdown]
# On the simulated study the default model's mean r peaks at layer {glue:text}`sim_peak`
# (relative depth {glue:text}`sim_depth`), in the window starting at
# {glue:text}`sim_peak_ms` ms; the simulation drew its language-model signal from layer
# {glue:text}`sim_truth`, so this map is a recovery check with a known answer (with a
# layer step, the nearest swept layer is the best it can do). RSA peaks at
# {glue:text}`sim_rsa`. On the Frank data the mean over the nine targets peaks at layer
# {glue:text}`fr_peak` (relative depth {glue:text}`fr_depth`) and the N400 at layer
# {glue:text}`fr_n400_peak`; RSA peaks at {glue:text}`fr_rsa`. These peaks describe the
# sweeps on all words and are not tested; the layer used for the comparisons of this
# chapter is the one decided inside the folds of an earlier chapter. There the two methods weigh
# different things: the ridge models keep word length, frequency and position in an
# unpenalized baseline, so a layer has to add to them, while RSA compares whole
# dissimilarity patterns with nothing removed, so lexical properties that the embeddings
# carry count fully for it. A peak in different layers under the two methods is a
# difference between the questions, not a contradiction.

# %% [markdown]
# ## Alignment against downstream accuracy
#
# Each fine-tuned model is compared with its base at the layer used above (simulated:
# the encoding chapter's, over the first {glue:text}`ft_sim_n` words as in the
# fine-tuning chapter; Frank: the N400's), on the same targets as the instructions. Its
# change in alignment is the difference in mean r over targets with a bootstrap interval
# over sentences; its change in accuracy is the held-out accuracy after fine-tuning minus
# before, on the same items ({glue:text}`acc_method`). With {glue:text}`n_finetuned`
# fine-tuned model(s) there is no across-model correlation to report: the question is
# only whether a model that gained accuracy also gained (or lost) alignment, beyond the
# noise.

# %%
align = M.finetuned_alignments(entries, sim, fr, ft_n_words, n_boot=n_boot, seed=seed,
                               device=chapter.device, timer=step)
for name, table in align.items():
    display(Markdown(f"**{show.escape_markdown(name)}**"), show.table(table))
for k, v in M.finetuned_texts(entries, sim, ft_n_words).items():
    glue(k, v)

# %%
fig = plots.plot_alignment_vs_accuracy(align)

# %% [markdown]
# ## The main table
#
# One row per model and dataset: where the model aligns best (ridge; the peak layer and
# its relative depth, the largest r of any target), where RSA peaks, and, for the
# fine-tuned models, the difference from the base with its interval beside the accuracy
# gain with its interval.

# %%
main = M.main_tables(profiles, align)
if main:
    display(show.table(M.main_display(main)))
results.update(M.models_results(main, profiles, entries))
for k, v in {**M.main_texts(main, entries),
             **I.instruction_lines({"Frank": frank_comp, "simulated": sim_comp})}.items():
    glue(k, v)

# %% [markdown]
# ## Closing note
#
# The main table, in words. The default model on the Frank data:
# {glue:text}`main_fr_base`; its N400 peaks at layer {glue:text}`main_fr_n400_layer`. On the
# simulated study: {glue:text}`main_sim_base`. The fine-tuned series:
# {glue:text}`main_ft`. Instructions (difference in mean r from plain, 95 % interval):
# {glue:text}`main_instr`.
#
# What these numbers are: differences between encoding models that share folds,
# penalties and baseline, each with an interval that resamples sentences, so a
# difference is read against the noise of these data. What they are not: a ranking of
# language models in general (one small model and its fine-tuned variants), a test of
# instruction tuning (the only model here is already instruction-tuned, and there is no
# non-instruction-tuned twin of it to compare), or a correlation between accuracy and
# alignment across models (two or three models cannot give one). On the simulated study
# every instruction effect is null by construction, and the layer profile reflects the
# layer the simulation planted, not a property of brains.

# %%
results["timings_s"] = step.seconds
path = chapter.save(**results)
print(f"results written to {portable_path(path)}")
display(show.table(pd.DataFrame({"seconds": step.seconds}).rename_axis("step"),
                   caption="Time per step of this chapter"))

# %% [markdown]
# ## Provenance

# %% tags=["hide-input"]
chapter.provenance_table()
