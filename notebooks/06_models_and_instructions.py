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
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import HTML, Markdown, display

from analysis import datasets, plots
from analysis import instructions as I
from analysis import models as M
from analysis.contracts import ContractError, EncodingOutputs, FinetunedModels
from analysis.features import extract_features, load_model
from analysis.predictors import nuisance_predictors
from analysis.provenance import data_banner, start_chapter
from analysis.stats import random_word_subset

chapter = start_chapter(
    "models",
    dict(frank_path=frank_path, real_n_words=real_n_words, instructions=instructions,
         instr_frank_words=instr_frank_words, instr_sim_words=instr_sim_words,
         instr_n_permutations=instr_n_permutations, models_n_folds=models_n_folds,
         n_boot=n_boot, band_scales=band_scales, model_layer_step=model_layer_step,
         map_channels=map_channels, finetuned_sweep=finetuned_sweep, hub_models=hub_models,
         ft_n_words=ft_n_words, sweep_alphas=sweep_alphas, sweep_inner=sweep_inner,
         rsa_words=rsa_words, fdr_q=fdr_q, seed=seed, device=device, profile=profile),
    results_dir=results_dir, device=device,
)
glue = chapter.glue
plots.use_book_style()
backend = "torch" if chapter.device.startswith("cuda") else "numpy"
grid = np.logspace(-1, 7, sweep_alphas)
chosen_instructions = I.resolve_instructions(
    "all" if instructions == ["all"] else instructions)
step = M.StepTimer()  # wall time of each step, printed and saved with the results
results = {"instructions": {}, "models": {}}
shown = ["share_better", "share_worse", "mean_r_plain", "mean_r_instruction", "mean_delta",
         "delta_ci_low", "delta_ci_high", "q_mean_better", "q_mean_worse", "mean_r_both",
         "mean_delta_both", "q_mean_both", "median_band_scale"]  # columns of the summaries


lm = None


def shared_model():
    """The default model, loaded once and only when some feature is not cached."""
    global lm
    if lm is None:
        with step("load the default model"):
            lm = load_model("default", device=chapter.device)
    return lm


# %% [markdown]
# ## The models
#
# The table lists the {glue:text}`n_models` model(s) this run compares
# ({glue:text}`n_finetuned` of them fine-tuned) and, below them, the hub models a reader
# can add with the `hub_models` parameter (they are downloaded from the model hub, and the
# larger ones want a GPU). Licences are those the packages and model cards declare; the
# checksum of every weight file used is in the provenance table at the end.

# %%
try:
    tuned = FinetunedModels.read(chapter.results_dir)
except ContractError as err:
    tuned = None
    display(Markdown(f"*No fine-tuned models to compare ({err}).*"))
entries = M.model_registry(tuned, hub=hub_models, seed=seed)
for e in entries:
    if e.kind != "finetuned":
        chapter.record_model(e.source)
not_named = [h for h in M.HUB_MODELS if h.name not in hub_models and h.source not in hub_models]
registry = pd.concat([M.registry_table(entries), M.registry_table(not_named)])
display(registry[["kind", "parameters", "task", "accuracy", "licence", "origin", "loaded"]])
swept_entries = [e for e in entries if e.kind != "finetuned" or finetuned_sweep]
glue("n_models", len(entries))
glue("n_finetuned", sum(e.kind == "finetuned" for e in entries))

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
# permuting the word order ({glue:text}`instr_perm` permutations, the same for every
# instruction), with Benjamini–Hochberg over instructions × targets. The **two-band**
# model puts the plain and the instruction-conditioned features side by side, each with
# its own penalty (their ratio chosen per target among {glue:text}`band_scales_txt`): it
# asks what the instruction adds beyond the plain reading. Intervals resample sentences.

# %%
frank = None
try:
    with step("open Frank et al. (2015)"):
        frank_all = datasets.open_dataset("frank2015", frank_path, n_words=real_n_words)
        frank = M.frank_targets(frank_all)
        chapter.record_dataset(frank_all)
        X_base, base_info = nuisance_predictors(frank)
        frank_groups = frank.group_labels("sentence")
        frank_fit = dict(n_folds=models_n_folds, n_inner=sweep_inner, alphas=grid,
                         backend=backend, groups=frank_groups)
        kept = ~frank_all.metadata["published_exclusion"].to_numpy()
        frank_plain_all = extract_features(frank_all, model="default", device=chapter.device)
        frank_hidden = frank_plain_all.hidden[:, kept]
        n_hidden = frank_hidden.shape[0]
    display(HTML(data_banner(frank_all)))
except datasets.DataError as err:
    display(Markdown(f"**Frank et al. (2015): data not found.** {err} The real-data parts "
                     "of this chapter are skipped."))

frank_comp = None
if frank is not None:
    frank_layer = M.previous_result(chapter.results_dir, "real_data", "encoding", "N400",
                                    "best_layer")
    glue("frank_layer_source", "the layer the real-data chapter found best for the N400"
         if frank_layer is not None else "the best layer for the N400 in a sweep here, as "
         "the real-data chapter has not run")
    if frank_layer is None:  # the real-data chapter has not run: choose it here
        with step("Frank: N400 layer"):
            frank_layer = M.profile_model(
                "default", frank_hidden, frank, layers=range(0, n_hidden, model_layer_step),
                channels=np.isin(frank.ch_names, ["N400"]), baseline=X_base, fit_kw=frank_fit,
                rsa_words=rsa_words, seed=seed).chosen_layer
    frank_layer = int(frank_layer)
    fr_i = frank.first_sentences(instr_frank_words)  # a prefix of the rows (0: all)
    n_fr = fr_i.n_words
    with step("Frank: instruction features"):
        frank_instr, frank_instr_s = I.instruction_features(
            fr_i, list(chosen_instructions), layer=frank_layer, model="default",
            device=chapter.device, loader=shared_model)
    print("seconds per instruction:", frank_instr_s)
    with step("Frank: instruction models"):
        frank_comp = I.compare_instructions(
            frank_hidden[frank_layer][:n_fr], frank_instr, fr_i, baseline=X_base[:n_fr],
            fit_kw=dict(frank_fit, groups=frank_groups[:n_fr]), band_scales=band_scales,
            n_permutations=instr_n_permutations, seed=seed, q=fdr_q, n_boot=n_boot,
            boot_groups=frank_groups[:n_fr])
    print("seconds per step:", frank_comp.params["seconds"])
    display(frank_comp.summary[shown].round(4))
    wide = frank_comp.table.pivot(index="instruction", columns="channel", values="delta")
    display(wide[frank.ch_names].loc[list(chosen_instructions)].round(3))
    results["instructions"]["frank2015"] = {
        "layer": frank_layer, "n_words": n_fr, "targets": list(frank.ch_names),
        "summary": frank_comp.summary_dict(),
        "per_target": frank_comp.table.round(6).to_dict(orient="records"),
        "params": frank_comp.params}
    s = frank_comp.summary
    best = s["mean_delta"].abs().idxmax()
    n400 = frank_comp.table[frank_comp.table["channel"] == "N400"].set_index("instruction")
    glue("frank_layer", frank_layer)
    glue("frank_n", f"{n_fr:,}")
    glue("fr_n_sent", len(np.unique(frank_groups[:n_fr])))
    glue("fr_r_plain", f"{s['mean_r_plain'].iloc[0]:.3f}")
    glue("fr_best", best)
    glue("fr_best_delta", f"{s.loc[best, 'mean_delta']:+.4f}")
    glue("fr_best_ci", f"{s.loc[best, 'delta_ci_low']:+.4f} to {s.loc[best, 'delta_ci_high']:+.4f}")
    glue("fr_n_better", int((frank_comp.table["result"] == "better").sum()))
    glue("fr_n_worse", int((frank_comp.table["result"] == "worse").sum()))
    glue("fr_n_tests", len(frank_comp.table))
    glue("fr_n_mean_sig", int(((s["q_mean_better"] < fdr_q) | (s["q_mean_worse"] < fdr_q)).sum()))
    glue("fr_n_both_sig", int((s["q_mean_both"] < fdr_q).sum()))
    glue("fr_n400_range", f"{n400['delta'].min():+.4f} to {n400['delta'].max():+.4f}")
else:
    for key in ("frank_layer", "frank_layer_source", "frank_n", "fr_n_sent", "fr_r_plain",
                "fr_best", "fr_best_delta",
                "fr_best_ci", "fr_n_better", "fr_n_worse", "fr_n_tests", "fr_n_mean_sig",
                "fr_n_both_sig", "fr_n400_range"):
        glue(key, "n/a")
glue("n_instr", len(chosen_instructions))
glue("instr_names", "; ".join(f'{k}: "{v}"' for k, v in chosen_instructions.items()))
glue("instr_perm", f"{instr_n_permutations:,}")
glue("band_scales_txt", ", ".join(f"{v:g}" for v in band_scales))

# %% [markdown]
# The plain model reaches a mean r of {glue:text}`fr_r_plain` over the nine targets.
# The instruction that moves it most, *{glue:text}`fr_best`*, changes the mean r by
# {glue:text}`fr_best_delta` (95 % interval over sentences {glue:text}`fr_best_ci`); on the
# N400 the instructions change r by {glue:text}`fr_n400_range`. Of
# {glue:text}`fr_n_tests` instruction × target tests, {glue:text}`fr_n_better` are better
# and {glue:text}`fr_n_worse` worse than plain at the false discovery rate;
# {glue:text}`fr_n_mean_sig` instruction(s) change the mean over targets, and the
# two-band model adds to the plain one for {glue:text}`fr_n_both_sig`. A difference whose
# interval straddles 0 is one that these {glue:text}`fr_n_sent` sentences cannot
# resolve, not evidence that the instruction does nothing; and a small model that reads
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
# {glue:text}`sim_n_targets` in all.

# %%
sim = None
try:
    with step("simulated: reopen the encoding study"):
        enc = EncodingOutputs.read(chapter.results_dir)
        sim = enc.reopen_dataset(device=chapter.device, progress=False)
        chapter.record_dataset(sim)
        sim_fit = enc.fit_kwargs(sim, backend=backend)
        sim_fit.update(n_folds=models_n_folds, n_inner=sweep_inner, alphas=grid)
        sim_plain = extract_features(sim, model=enc.model, device=chapter.device)
        sim_window, _ = datasets.window_of_interest(sim, enc.window)
        # the channels of interest, or a seeded random subset of them (map_channels)
        coi = np.flatnonzero(np.isin(sim.ch_names, enc.channels))
        sim_channels = np.zeros(sim.n_channels, bool)
        sim_channels[coi[random_word_subset(coi.size, map_channels or coi.size, seed)]] = True
    display(HTML(data_banner(sim)))
except ContractError as err:
    display(Markdown(f"*The encoding chapter's outputs are missing ({err}); the simulated "
                     "parts are skipped.*"))

sim_comp = None
if sim is not None:
    n_use = instr_sim_words if 0 < instr_sim_words < sim.n_words else sim.n_words
    sim_sub = sim.subset(np.arange(n_use), note=f"first {n_use} words")  # contexts unchanged
    sub_fit = dict(sim_fit)
    if sub_fit.get("groups") is not None:
        sub_fit["groups"] = sub_fit["groups"][:n_use]
    with step("simulated: instruction features"):
        sim_instr, sim_instr_s = I.instruction_features(
            sim_sub, list(chosen_instructions), layer=enc.layer, model=enc.model,
            device=chapter.device,
            loader=shared_model if enc.model in ("default", entries[0].name) else None)
    print("seconds per instruction:", sim_instr_s)
    with step("simulated: instruction models"):
        sim_comp = I.compare_instructions(
            sim_plain.layer(enc.layer)[:n_use], sim_instr, sim_sub, windows=sim_window,
            channels=sim_channels, fit_kw=sub_fit, band_scales=band_scales,
            n_permutations=instr_n_permutations, seed=seed, q=fdr_q, n_boot=n_boot,
            boot_groups=sim_sub.group_labels("sentence"))
    print("seconds per step:", sim_comp.params["seconds"])
    display(sim_comp.summary[shown].round(4))
    results["instructions"]["simulated"] = {
        "layer": enc.layer, "n_words": n_use, "window_ms": enc.window,
        "summary": sim_comp.summary_dict(), "params": sim_comp.params}
    s = sim_comp.summary
    glue("sim_layer", enc.layer)
    glue("sim_instr_n", f"{n_use:,}")
    glue("sim_window", f"{enc.window[0]:g}–{enc.window[1]:g} ms" if enc.window else "all windows")
    glue("sim_n_targets", f"{int(s['n_targets'].iloc[0]):,}")
    glue("sim_max_better", f"{100 * s['share_better'].max():.1f} %")
    glue("sim_max_worse", f"{100 * s['share_worse'].max():.1f} %")
    glue("sim_n_mean_better", int((s["q_mean_better"] < fdr_q).sum()))
    glue("sim_n_mean_worse", int((s["q_mean_worse"] < fdr_q).sum()))
    glue("sim_delta_range", f"{s['mean_delta'].min():+.4f} to {s['mean_delta'].max():+.4f}")
else:
    for key in ("sim_layer", "sim_instr_n", "sim_window", "sim_n_targets", "sim_max_better",
                "sim_max_worse", "sim_n_mean_better", "sim_n_mean_worse", "sim_delta_range"):
        glue(key, "n/a")

# %% [markdown]
# At most {glue:text}`sim_max_better` of the targets are better under an instruction
# and at most {glue:text}`sim_max_worse` worse; the mean differences range over
# {glue:text}`sim_delta_range`, and the mean over targets is better for
# {glue:text}`sim_n_mean_better` and worse for {glue:text}`sim_n_mean_worse`
# instruction(s) at the false discovery rate. Worse is possible without any planted
# effect: most of the predictable signal was made from the plain features, so a reading
# that moves the features away from them is expected to lose some of it; the two-band
# model, which keeps the plain band, should not. Whether the comparison *finds* an instruction
# effect when there is one is checked by the test suite on a planted instruction-
# sensitive component (`tests/test_models.py`), which is found under its instruction and
# under no other.

# %%
if frank_comp is not None or sim_comp is not None:
    comps = [(n, c) for n, c in (("Frank et al. (2015)", frank_comp), ("simulated", sim_comp))
             if c is not None]
    fig, axes = plt.subplots(1, len(comps), figsize=(5.5 * len(comps), 3.4), squeeze=False)
    for ax, (name, comp) in zip(axes[0], comps):
        s = comp.summary
        y = np.arange(len(s))
        ax.errorbar(s["mean_delta"], y, xerr=[s["mean_delta"] - s["delta_ci_low"],
                                              s["delta_ci_high"] - s["mean_delta"]],
                    fmt="o", color="C0", label="instruction alone")
        ax.errorbar(s["mean_delta_both"], y + 0.2,
                    xerr=[s["mean_delta_both"] - s["both_ci_low"],
                          s["both_ci_high"] - s["mean_delta_both"]],
                    fmt="s", color="C1", label="plain + instruction (two bands)")
        ax.axvline(0, color="k", lw=0.6)
        ax.set_yticks(y + 0.1, s.index)
        ax.set_ylim(-0.6, len(s) - 0.2)
        ax.set(xlabel="difference in mean r from plain (95 % interval)", title=name)
        ax.legend(fontsize=8)
    fig.tight_layout()

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
profiles = {}
frank_profiles = {}
for e in swept_entries:
    name = e.name
    if sim is not None:
        with step(f"simulated: features of {name}"):
            h = sim_plain if e.source == enc.model else extract_features(
                sim, model=e.source, device=chapter.device)
        hid = h.hidden
        layers = sorted(set(range(0, hid.shape[0], model_layer_step)) | {enc.layer})
        with step(f"simulated: sweep of {name}"):
            profiles[name] = M.profile_model(name, hid, sim, layers=layers, channels=sim_channels,
                                             fit_kw=sim_fit, rsa_words=rsa_words, seed=seed)
        print(profiles[name].params)
    if frank is not None:
        with step(f"Frank: features of {name}"):
            h = frank_hidden if e.source == "default" else extract_features(
                frank_all, model=e.source, device=chapter.device).hidden[:, kept]
        layers = sorted(set(range(0, h.shape[0], model_layer_step)) | {frank_layer})
        with step(f"Frank: sweep of {name}"):
            frank_profiles[name] = M.profile_model(name, h, frank, layers=layers,
                                                   baseline=X_base, fit_kw=frank_fit,
                                                   rsa_words=rsa_words, seed=seed)
        print(frank_profiles[name].params)
glue("model_layer_step", model_layer_step)
glue("map_n_channels", int(sim_channels.sum()) if sim is not None else "n/a")
glue("rsa_n", f"{rsa_words:,}")

# %%
panels = [(f"simulated: {n}", p, "time") for n, p in profiles.items()] + \
         [(f"Frank: {n}", p, "target") for n, p in frank_profiles.items()]
if panels:
    fig, axes = plt.subplots(2, len(panels), figsize=(5 * len(panels), 7), squeeze=False)
    for k, (title, p, kind) in enumerate(panels):
        ax = axes[0, k]
        if kind == "time":
            im = ax.imshow(p.layer_time_map(), aspect="auto", origin="lower", cmap="magma",
                           extent=[p.times[0], p.times[-1] + sim.window_ms, -0.5,
                                   len(p.layers) - 0.5])
            ax.set(xlabel="window start (ms)")
            ax.set_title(f"{title}\nridge r, mean over channels", fontsize=9)
        else:  # each target against its own best layer: the targets' r differ too much
            m = p.layer_channel_map(0)
            im = ax.imshow(m - m.max(axis=0), aspect="auto", origin="lower", cmap="magma")
            ax.set_xticks(range(len(p.ch_names)), p.ch_names, rotation=60, fontsize=8)
            ax.set_title(f"{title}\nridge r minus each target's best layer", fontsize=9)
        ax.set_yticks(range(len(p.layers)), p.layers, fontsize=7)
        ax.set(ylabel="layer")
        fig.colorbar(im, ax=ax)
        ax = axes[1, k]
        depth = [p.relative_depth(l) for l in p.layers]
        ax.plot(depth, np.nanmean(p.r, axis=(1, 2)), "o-", label="ridge: mean r")
        ax.plot(depth, np.nanmax(p.rsa, axis=1), "s--", label="RSA: max over windows")
        ax.axvline(p.relative_depth(p.chosen_layer), color="0.5", lw=0.8)
        ax.set(xlabel="relative depth (0 embeddings, 1 last block)", ylabel="r / Spearman")
        ax.legend(fontsize=8)
    fig.tight_layout()

# %%
base_label = entries[0].name
if base_label in profiles:
    ps = profiles[base_label].summary()
    truth = (sim.provenance.get("truth") or {}).get("truth_layer")
    glue("sim_peak", ps["peak_layer"])
    glue("sim_depth", f"{ps['relative_depth']:.2f}")
    glue("sim_peak_ms", f"{ps['peak_window_ms']:g}")
    glue("sim_truth", "n/a" if truth is None else int(truth))
    glue("sim_rsa", "n/a" if ps["rsa_peak"] is None else
         f"{ps['rsa_peak']['rsa']:.3f} at layer {ps['rsa_peak']['layer']}")
else:
    for key in ("sim_peak", "sim_depth", "sim_peak_ms", "sim_truth", "sim_rsa"):
        glue(key, "n/a")
if base_label in frank_profiles:
    pf = frank_profiles[base_label].summary(channel="N400")
    glue("fr_peak", pf["peak_layer"])
    glue("fr_depth", f"{pf['relative_depth']:.2f}")
    glue("fr_n400_peak", pf["N400"]["peak_layer"])
    glue("fr_rsa", "n/a" if pf["rsa_peak"] is None else
         f"{pf['rsa_peak']['rsa']:.3f} at layer {pf['rsa_peak']['layer']}")
else:
    for key in ("fr_peak", "fr_depth", "fr_n400_peak", "fr_rsa"):
        glue(key, "n/a")

# %% [markdown]
# On the simulated study the default model's mean r peaks at layer {glue:text}`sim_peak`
# (relative depth {glue:text}`sim_depth`), in the window starting at
# {glue:text}`sim_peak_ms` ms; the simulation drew its language-model signal from layer
# {glue:text}`sim_truth`, so this map is a recovery check with a known answer (with a
# layer step, the nearest swept layer is the best it can do). RSA peaks at
# {glue:text}`sim_rsa`. On the Frank data the mean over the nine targets peaks at layer
# {glue:text}`fr_peak` (relative depth {glue:text}`fr_depth`) and the N400 at layer
# {glue:text}`fr_n400_peak`; RSA peaks at {glue:text}`fr_rsa`. There the two methods weigh
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
ft_entries = [e for e in entries if e.kind == "finetuned"]
accuracies = {e.name: e.accuracy for e in ft_entries}
align = {}
if tuned is not None and sim is not None:
    n_ft = ft_n_words if 0 < ft_n_words < sim.n_words else sim.n_words
    ds_ft = sim.subset(np.arange(n_ft))
    y_sim = ds_ft.responses[:, sim_channels][:, :, sim_window]
    ft_fit = dict(sim_fit)
    if ft_fit.get("groups") is not None:
        ft_fit["groups"] = ft_fit["groups"][:n_ft]
    with step("simulated: fine-tuned models"):
        tuned_h = {e.name: extract_features(ds_ft, model=e.source, layers=[enc.layer],
                                            surprisal=False, device=chapter.device
                                            ).layer(enc.layer) for e in ft_entries}
        align["simulated"] = M.finetuned_alignment(
            y_sim, sim_plain.layer(enc.layer)[:n_ft], tuned_h, accuracies, fit_kw=ft_fit,
            groups=ds_ft.group_labels("sentence"), n_boot=n_boot, seed=seed,
            base_name=entries[0].name)
    glue("ft_sim_n", f"{n_ft:,}")
else:
    glue("ft_sim_n", "n/a")
if tuned is not None and frank is not None:
    with step("Frank: fine-tuned models"):
        tuned_h = {e.name: extract_features(frank, model=e.source, layers=[frank_layer],
                                            device=chapter.device).layer(frank_layer)
                   for e in ft_entries}
        align["frank2015"] = M.finetuned_alignment(
            frank, frank_hidden[frank_layer], tuned_h, accuracies, baseline=X_base,
            fit_kw=frank_fit, groups=frank_groups, n_boot=n_boot, seed=seed,
            base_name=entries[0].name)
align = {k: v for k, v in align.items() if v is not None}
for name, table in align.items():
    display(Markdown(f"**{name}**"))
    display(table.round(4))
glue("acc_method", ft_entries[0].accuracy["method"] if ft_entries else "no fine-tuned model")

# %%
if align:
    fig, axes = plt.subplots(1, len(align), figsize=(5 * len(align), 3.6), squeeze=False)
    for ax, (name, t) in zip(axes[0], align.items()):
        for i, (model, row) in enumerate(t.dropna(subset=["accuracy_gain"]).iterrows()):
            ax.errorbar(row["accuracy_gain"], row["delta_r"],
                        xerr=[[row["accuracy_gain"] - row["gain_ci_low"]],
                              [row["gain_ci_high"] - row["accuracy_gain"]]],
                        yerr=[[row["delta_r"] - row["delta_r_ci_low"]],
                              [row["delta_r_ci_high"] - row["delta_r"]]],
                        fmt="o", color=f"C{i}", label=model, capsize=3)
        ax.axhline(0, color="k", lw=0.6)
        ax.axvline(0, color="k", lw=0.6)
        ax.set(xlabel="held-out accuracy gain (95 % interval)",
               ylabel="difference in mean r from base (95 % interval)", title=name)
        ax.legend(fontsize=8)
    fig.tight_layout()

# %% [markdown]
# ## The main table
#
# One row per model and dataset: where the model aligns best (ridge; the peak layer and
# its relative depth, the largest r of any target), where RSA peaks, and, for the
# fine-tuned models, the difference from the base with its interval beside the accuracy
# gain with its interval.

# %%
main = {}
if profiles or "simulated" in align:
    main["simulated"] = M.comparison_table(profiles, align.get("simulated"))
if frank_profiles or "frank2015" in align:
    main["frank2015"] = M.comparison_table(frank_profiles, align.get("frank2015"),
                                           channel="N400")
main_table = (pd.concat(main, names=["dataset"]) if main else pd.DataFrame())
main_columns = ["layers_fitted", "peak_layer", "relative_depth", "max_r", "rsa_peak_layer",
                "rsa_peak", "N400_peak_layer", "mean_r", "delta_r", "delta_r_ci_low",
                "delta_r_ci_high", "accuracy", "accuracy_gain", "gain_ci_low", "gain_ci_high"]
if len(main_table):
    display(main_table[[c for c in main_columns if c in main_table.columns]].round(4))
for ds_name, table in main.items():
    results["models"][ds_name] = {
        name: {k: (None if pd.isna(v) else v) for k, v in row.items()}
        for name, row in table.to_dict(orient="index").items()}
    results.setdefault("model_profiles", {})[ds_name] = {
        n: p.summary() for n, p in (profiles if ds_name == "simulated" else frank_profiles).items()}
results["registry"] = M.registry_table(entries).reset_index().to_dict(orient="records")
results["hub_models_documented"] = M.registry_table().reset_index().to_dict(orient="records")


base_name = entries[0].name
glue("main_sim_base", M.describe_row(main.get("simulated"), base_name))
glue("main_fr_base", M.describe_row(main.get("frank2015"), base_name))
glue("main_fr_n400_layer", (int(main["frank2015"].loc[base_name, "N400_peak_layer"])
                            if "frank2015" in main and base_name in main["frank2015"].index
                            else "n/a"))
ft_lines = [f"{e.name} ({ds_name}): {M.describe_row(main[ds_name], e.name)}"
            for ds_name in main for e in ft_entries if e.name in main[ds_name].index]
glue("main_ft", "; ".join(ft_lines) if ft_lines else "no fine-tuned model was compared")
instr_lines = []
for ds_name, comp in (("Frank", frank_comp), ("simulated", sim_comp)):
    if comp is not None:
        for k, r in comp.summary.iterrows():
            instr_lines.append(f"{k} on {ds_name} {r['mean_delta']:+.4f} "
                               f"[{r['delta_ci_low']:+.4f}, {r['delta_ci_high']:+.4f}]")
glue("main_instr", "; ".join(instr_lines) if instr_lines else "n/a")

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
print(f"results written to {path}")
print("seconds per step:", step.seconds)

# %% [markdown]
# ## Provenance

# %% tags=["hide-input"]
chapter.provenance_table()
