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
# # Real brains: the chain on EEG and reading times, held against published numbers
#
# Every chapter so far could run on real data, but the book's default study is
# simulated, with answers we planted. This chapter runs the chain on two real
# word-level datasets and reads each result against what others published from the
# same files, recomputed here in the same run:
#
# * the **Frank et al. (2015)** EEG: 24 readers, 205 isolated sentences read word by
#   word, six ERP components per word, as released with the cloze and reading-time
#   resource of de Varda, Marelli & Amenta (2023), and the same N400 trial by trial
#   (Aurnhammer & Frank, 2019);
# * the **Natural Stories** corpus (Futrell et al., 2021): 10 stories, 10,256 words,
#   self-paced reading times averaged over about 84 readers per word.
#
# The questions are those of the paper, asked where the answer is not planted: how
# well does a language model's surprisal track the brain's and the eyes' responses
# (two published protocols); how much does the model's representation add to a baseline
# of word length, frequency and position, as a share of what the noise allows; and
# where it fails, do the failures share a property?

# %% tags=["parameters"]
frank_path: str | None = None  # all_measures.csv; None: $FRANK2015_PATH or ../shared/data
trials_path: str | None = None  # single_trials/data_EEG.csv; None: $FRANK2015_TRIALS_PATH or ../shared/data
naturalstories_path: str | None = None  # Natural Stories folder; None: $NATURALSTORIES_PATH or ../shared/data
models = ["default"]  # language models compared (names, local paths or GGUF files)
real_n_words = 0  # Frank: use the whole sentences within the first n words; 0 keeps all
ns_stories = 0  # Natural Stories: use the first n stories; 0 keeps all 10
layer_step = 1  # sweep every layer_step-th layer
n_folds = 10
n_inner = 5
p_threshold = 0.001
real_n_permutations = 10000  # permutations of the tests of a gain in r
n_splits = 100  # random split halves of the readers for the noise ceiling
real_n_boot = 1000  # bootstrap resamples (of sentences) of the intervals on headline numbers
power_n_sim = 200  # simulated draws per minimum detectable effect of a null result
window_tokens = 1024  # long context: tokens per window over a story (windows overlap by half)
n_confirm = 10
fdr_q = 0.05
seed = 0
device = "auto"
results_dir = "_build/results"
profile = "default"

# %%
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from myst_nb import glue

from analysis import plots, real_data
from analysis import display as show
from analysis import hypotheses as H
from analysis.chain import divergence_chain, summary_texts
from analysis.contracts import ContractError, FinetunedModels
from analysis.features import extract_features
from analysis.provenance import portable_path, start_chapter

# %%
chapter = start_chapter(
    "real_data",
    dict(frank_path=frank_path, trials_path=trials_path,
         naturalstories_path=naturalstories_path, models=models, real_n_words=real_n_words,
         ns_stories=ns_stories, layer_step=layer_step, n_folds=n_folds, n_inner=n_inner,
         p_threshold=p_threshold, real_n_permutations=real_n_permutations, power_n_sim=power_n_sim,
         n_splits=n_splits, real_n_boot=real_n_boot, window_tokens=window_tokens, n_confirm=n_confirm, fdr_q=fdr_q,
         seed=seed, device=device, profile=profile),
    results_dir=results_dir, device=device,
)
glue = chapter.glue
plots.use_book_style()
results = {}

# %%
data = real_data.open_real_datasets(frank_path, trials_path, naturalstories_path,
                                    n_words=real_n_words, n_stories=ns_stories)
frank_all, trials, ns = data.frank, data.trials, data.naturalstories
for name, err in data.missing.items():
    display(Markdown(f"**{name}: data not found.** {show.escape_markdown(err)}"))
for d in (frank_all, trials, ns):
    if d is not None:
        chapter.record_dataset(d)
for m in models:
    chapter.record_model(m)

# %% [markdown]
# ## Surprisal and the N400: the de Varda et al. (2023) protocol
#
# de Varda and colleagues correlated the surprisal of several language models with each
# ERP component and reading measure of the Frank data, after leaving out the words that
# hold a full stop, a comma or an apostrophe (sentence-final words, words attached to a
# comma, clitics; sentence-initial words have no row in the file at all). Their paper
# reports the Pearson correlations in a supplementary table. Below: the surprisal columns
# shipped in the file (GPT-2 and GPT-Neo families, in nats) recomputed here on
# {glue:text}`dv_n` words, their published values, and the surprisal of our own
# model(s), computed by our code on the same words with each sentence's preceding words as
# context. The N400 is more negative for surprising words, so its correlations are
# negative; reading times are longer, so theirs are positive. Our surprisal of a word is
# conditioned on a beginning-of-sequence token, theirs is not.

# %%
feats, dv = {}, None
if frank_all is not None:
    feats = {m: extract_features(frank_all, model=m, device=chapter.device) for m in models}
    dv = real_data.devarda_summary(frank_all, {m: f.surprisal for m, f in feats.items()},
                                   n_boot=real_n_boot, seed=seed)
    display(real_data.devarda_comparison(dv).round(3))
    results.update(real_data.devarda_results(dv))
for key, value in real_data.devarda_texts(dv).items():
    glue(key, value)

# %% [markdown]
# GPT-2's surprisal correlates with the N400 at r = {glue:text}`dv_gpt2_n400` here
# (95 % interval {glue:text}`dv_gpt2_n400_ci`, resampling the {glue:text}`dv_n_sent`
# sentences; published: {glue:text}`dv_gpt2_pub`; the largest difference between a
# recomputed and a published cell is {glue:text}`dv_max_diff`). Our default model reaches
# r = {glue:text}`dv_ours_n400` ({glue:text}`dv_ours_n400_ci`) with the N400 and {glue:text}`dv_ours_fpass` with first-pass
# reading times. These are correlations of one number per word; they say how much of a
# response surprisal tracks, not how much a model's representation could.

# %% [markdown]
# ## Reading times: Brain-Score's Futrell2018 benchmark
#
# Brain-Score language scores a model on Natural Stories by the Pearson correlation
# between its surprisal (bits, summed over a word's tokens) and the mean self-paced reading
# time, leaving out sentence-initial words, divided by a split-half ceiling of the readers
# (0.858, Spearman–Brown corrected; the per-reader times needed to recompute it are not in
# the shared data, so the published value is used). We compute our surprisal with the
# preceding words of the story as context ({ref}`methods-real`), read in windows of
# {glue:text}`ns_window` tokens that overlap by half, so every word past the first window
# sees at least half a window of its story; Brain-Score runs the ten stories as one text
# truncated at the model's maximum length. Beside ours: the GPT-3 log-probabilities shipped
# with the corpus (each story read alone), and the scores Brain-Score publishes for
# distilgpt2 and gpt2-xl.

# %%
glue("ns_window", window_tokens)
fut = None
if ns is not None:
    ns_surprisal = {m: extract_features(ns, model=m, device=chapter.device, layers=[-1],
                                        window_tokens=window_tokens).surprisal for m in models}
    fut = real_data.futrell2018_table(ns, ns_surprisal, groups=ns.sentence,
                                      n_boot=real_n_boot, seed=seed)
    display(fut[list(real_data.FUTRELL2018_SHOWN)].astype(float).round(3))
    results["futrell2018"] = real_data.futrell2018_results(fut)
for key, value in real_data.futrell2018_texts(fut, models[0]).items():
    glue(key, value)

# %% [markdown]
# Our default model's surprisal correlates with the reading times at r =
# {glue:text}`fut_ours_r` over {glue:text}`ns_n` words, a normalised score of
# {glue:text}`fut_ours` (95 % interval {glue:text}`fut_ours_ci`, resampling sentences;
# the ceiling is held fixed); GPT-3's shipped log-probabilities give r = {glue:text}`fut_gpt3`
# on the same words. The Natural Stories maintainers announced in 2025 that the released
# reading times had been misaligned by one word; the per-word file used here (and by
# Brain-Score) predates the fix, so every score in this table shares that noise.

# %% [markdown]
# ## What is reachable: a noise ceiling from the readers
#
# The N400 of each word is an average over 24 readers. Splitting the readers at random
# into two halves of 12, correlating the two half-averages over words and correcting
# with Spearman–Brown to 24 readers gives the reliability of the average
# ({glue:text}`n_splits_used` random splits). A model of the true responses can at best
# reach the square root of that reliability: the **ceiling** on r. Nothing is published
# for these data; the numbers are computed here.

# %%
ceiling = {}
if trials is not None:  # the sentences of the ERP table (a quick run keeps a few)
    ceiling = real_data.n400_ceiling(
        trials, None if frank_all is None else frank_all.metadata["sent_id"].unique(),
        n_splits=n_splits, seed=seed)
    display(show.table(real_data.ceiling_table(ceiling)))
for key, value in real_data.ceiling_texts(ceiling).items():
    glue(key, value)
glue("n_splits_used", n_splits)
results.update(real_data.ceiling_results(ceiling))

# %% [markdown]
# The N400 average has a reliability of {glue:text}`n400_rel`: even a perfect model of
# the true N400 could not correlate with the measured one above about
# {glue:text}`n400_ceiling` (spread over splits {glue:text}`n400_ceiling_ci`). Most of
# the word-to-word variance of a 24-reader ERP average is noise.

# %% [markdown]
# ## Encoding the ERP components, against a baseline
#
# For each component, a baseline model predicts the word's amplitude from four nuisance
# predictors (word length, log frequency, position in the sentence, sentence-final flag;
# {glue:text}`freq_source`) by least squares, and the nested model adds the language
# model: its surprisal, unpenalized like the baseline, and one of its layers by ridge
# regression (the banded ridge whose baseline band has no penalty). The layer is chosen
# like the penalty, inside each of the {glue:text}`n_folds_used` cross-validation folds
# (which never split a sentence) from that fold's training words only, so the reported
# r, gain and p belong to the whole procedure and no word helps choose the layer that
# predicts it. The {glue:text}`enc_n` words are those of the published analyses (so no
# word is sentence-final and that flag drops out). Every r is computed within folds (each
# test fold's mean removed), which keeps a noise target's baseline r at zero instead of
# below it. Two gains are reported, each over its own baseline: over **length, frequency
# and position**, and over a **lexical baseline** that adds surprisal and the model's
# static word embedding (layer 0, no context) to them; the second is what the context in
# the layers adds. Each gain is tested by permuting the word order of the responses
# ({glue:text}`n_perm` permutations, the same for both models), with Benjamini–Hochberg
# over the components, and has a 95 % interval from {glue:text}`n_boot_used` resamples of
# the sentences.

# %%
enc_table = erp_fit = lex_power = None
if frank_all is not None:
    erp_fit = real_data.erp_encoding(
        frank_all, feats[models[0]], layer_step=layer_step, ceiling=ceiling,
        n_permutations=real_n_permutations, n_boot=real_n_boot, seed=seed,
        n_folds=n_folds, n_inner=n_inner, p_threshold=p_threshold)
    erp, enc, enc_table = erp_fit.dataset, erp_fit.fit, erp_fit.table
    display(enc_table[real_data.encoding_columns(enc_table)].round(3))
    lex_power = real_data.lexical_gain_power(erp_fit, ceiling, n_sim=power_n_sim, seed=seed)
    results.update(real_data.encoding_results(erp_fit, lex_power))
    real_data.handed_layer(erp_fit, models[0]).write(chapter.results_dir)

# %%
for key, value in real_data.encoding_texts(erp_fit, lex_power).items():
    glue(key, value)
glue("n_folds_used", n_folds)
glue("n_perm", f"{real_n_permutations:,}")
glue("n_boot_used", f"{real_n_boot:,}")

# %%
if enc_table is not None:
    plots.plot_component_encoding(enc["sweep"], enc_table)

# %% [markdown]
# On the N400 the baseline of length, frequency and position reaches r =
# {glue:text}`n400_baseline` and the nested model r = {glue:text}`n400_nested`: a gain of
# {glue:text}`n400_gain` over that baseline (95 % interval over sentences; permutation p =
# {glue:text}`n400_gain_p`), {glue:text}`n400_share` of the ceiling (the interval comes
# from the resampled r, the ceiling held fixed). Much of it is
# lexical: surprisal and the static embedding alone, with no context, reach r =
# {glue:text}`n400_lex`, and the gain of the layers over **that** baseline is
# {glue:text}`n400_gain_lex` (p = {glue:text}`n400_gain_lex_p`); the test of that gain:
# {glue:text}`n400_gain_lex_power` (a simulation calibrated to these words; the Methods
# page). The folds chose layers
# {glue:text}`n400_fold_layers`; the most frequent, layer {glue:text}`n400_layer`, is the
# layer this chapter hands on (the fine-tuned models below and the models chapter use it).
# The sweep's peak on all words, layer {glue:text}`n400_sweep_peak`, is a description only.
# A share of the ceiling is a fraction of what the readers' noise leaves to explain, not
# of the N400 itself.

# %% [markdown]
# ## The paper's divergence chain on the N400
#
# As in the simulated chapters: each word's error is the squared difference between its
# N400 and the nested model's out-of-fold prediction (z-scored); a sentence's score is its
# words' mean; the {glue:text}`chain_n_per_set` highest and lowest sentences of
# {glue:text}`chain_n_sentences` form the divergent and convergent groups
# ({glue:text}`chain_set_note`), each split into proposal, research and validation
# sentences; the offline proposer and the embedding verifier of the hypotheses chapter
# propose and score properties, tested on the research sentences and confirmed on the
# validation sentences.

# %%
run = chain_power = None
if enc_table is not None:
    from analysis.encoding import errors_of_interest

    n400_fit = enc["nested"]  # each fold predicted by the layer chosen in it
    ch = np.array([c == "N400" for c in erp.ch_names])
    word_mse, _ = errors_of_interest(n400_fit, erp.responses, ch, np.ones(1, bool))
    embedder = H.EmbeddingVerifier(device=chapter.device)  # also tags words below
    run = divergence_chain(word_mse, erp.times, erp.words, erp.sentence, embedder=embedder,
                           fdr_q=fdr_q, n_confirm=n_confirm, seed=seed)
    chain_power = run.power(n_sim=10 * power_n_sim, seed=seed)
    display(show.table(run.table.head(n_confirm)[["rank", "hypothesis", "proposer", "domain",
                                                  "V", "q", "V_validation", "q_validation",
                                                  "confirmed"]],
                       {"V": "{:.3f}", "q": "{:.2g}", "V_validation": "{:.3f}",
                        "q_validation": "{:.2g}"}, index=False))
    results["divergence_chain"] = run.summary(chain_power)
for key, value in summary_texts(run, chain_power).items():
    glue(key, value)

# %% [markdown]
# {glue:text}`chain_n_sig` of {glue:text}`chain_n_hyp` hypotheses separate the divergent
# from the convergent N400 sentences on the research sentences (q < 0.05), and
# {glue:text}`chain_n_confirmed` of the top ones are confirmed on the held-out
# validation sentences; social/emotional and physical hypotheses are not richer among
# the top ones than chance would make them (hypergeometric p = {glue:text}`chain_enrich_p`).
# The best hypothesis on the research sentences: {glue:text}`chain_power` (the
# smallest validity V, in verifier-score units, that one hypothesis needs to pass the
# correction here). A null is what these data allow, not evidence that no property
# exists.

# %% [markdown]
# ## The fine-tuned models on the N400
#
# The fine-tuning chapter trained the model on Social IQa and PIQA. Here each fine-tuned
# model's layer {glue:text}`ft_layer` (the layer decided above for the N400) replaces the base model's
# in the nested model. The difference in r is tested against a null that fits both
# models again on every permuted response (whole sentences trade places): holding
# out-of-fold predictions fixed would make the test liberal (Methods page). The change in
# each word's error is compared between category words and the rest. The real data have no hand-labelled categories: words are tagged
# social/emotional or physical automatically by sentence-embedding similarity to short
# domain descriptions ({glue:text}`tagger_note`).

# %%
retest, layer = {}, None
try:
    tuned = FinetunedModels.read(chapter.results_dir)
except ContractError as err:
    tuned = None
    display(Markdown(f"*No fine-tuned models to test ({show.escape_markdown(err)}).*"))

# %%
if tuned is not None and enc_table is not None:
    layer = enc["layer"]["N400"]
    tuned_hidden = {task: extract_features(erp, model=rec["model_dir"], layers=[layer],
                                           device=chapter.device).layer(layer)
                    for task, rec in tuned.models.items()}
    retest = real_data.finetuned_retest(
        erp_fit, tuned_hidden, tuned.models, real_data.word_categories(erp.words, embedder),
        n_permutations=real_n_permutations, n_sim=power_n_sim, ceiling=ceiling, seed=seed)
    display(show.table(real_data.finetuned_table(retest)))
for key, value in real_data.finetuned_texts(retest, layer).items():
    glue(key, value)
results["finetuned_on_n400"] = retest

# %% [markdown]
# {glue:text}`ft_findings`
#
# What each re-test could detect on these words: {glue:text}`ft_power`.

# %%
path = chapter.save(**results)
print(f"results written to {portable_path(path)}")

# %% [markdown]
# ## Provenance

# %% tags=["hide-input"]
chapter.provenance_table()
