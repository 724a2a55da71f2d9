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
# # Hypotheses: what the divergent sentences have in common
#
# The encoding chapter left, for every word, how badly the language model's features
# predicted the brain's response. Here we turn those errors into sentences and ask
# *what* the worst-predicted sentences share. Following the paper ({ref}`methods-hypotheses`): each
# word's error is averaged over the window of interest (300 to 425 ms in the paper's
# MEG analyses; the dataset registry says which window a source uses), each sentence's
# over its words; the most **divergent** sentences (group A) and the most
# **convergent** ones (group B) are given three roles: *proposal* sentences, from
# which data-driven hypotheses are made, *research* sentences, on which every
# hypothesis is tested and ranked, and *validation* sentences, held out to confirm the
# best ones. A *proposer* suggests properties ("hypotheses") that might set A apart, a
# *verifier* scores how well each sentence has each property, and a hypothesis is
# **valid** when A sentences score higher than B sentences. No hypothesis is tested on
# a sentence that helped produce it.
#
# The paper's proposer and verifier are large LLMs (D5, Zhong et al. 2023). The only
# instruction-tuned model that ships with this project offline, SmolLM2-135M-Instruct,
# is far too small for either job, so the default here is an offline pair that gives
# meaningful results: a bank of properties written for the project plus words that
# statistically distinguish A from B, verified by sentence-embedding similarity. The
# last section shows how to switch both to a capable LLM.

# %% tags=["parameters"]
seed = 0
n_per_set: int | None = None  # divergent (and convergent) sentences; None: a quarter of the scored sentences (the paper: 100)
role_shares = [0.4, 0.4, 0.2]  # shares of each set for proposal, research and validation
proposer = "offline"  # offline (bank + log-odds words) | llm (D5 prompts)
verifier = "embedding"  # embedding (all-MiniLM-L6-v2, calibrated) | llm (P(Yes))
llm_model = "default"  # local: "default", a .gguf file, a model folder or a hub name; with llm_url: the served model's name
llm_url: str | None = None  # an OpenAI-compatible endpoint, e.g. "http://127.0.0.1:8000/v1"
llm_api_key_env: str | None = None  # name of the environment variable holding the endpoint's key
n_hypotheses = 60  # LLM proposer: distinct hypotheses wanted
n_confirm = 10  # top hypotheses confirmed on the validation sentences
fdr_q = 0.05
device = "auto"
results_dir = "_build/results"
profile = "default"

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from myst_nb import glue

from analysis import hypotheses as H
from analysis import display as show
from analysis import plots
from analysis.chain import divergence_chain
from analysis.contracts import EncodingOutputs
from analysis.provenance import data_banner, portable_path, start_chapter

chapter = start_chapter(
    "hypotheses",
    dict(seed=seed, n_per_set=n_per_set, role_shares=role_shares, proposer=proposer,
         verifier=verifier, llm_model=llm_model, llm_url=llm_url,
         llm_api_key_env=llm_api_key_env, n_hypotheses=n_hypotheses, n_confirm=n_confirm,
         fdr_q=fdr_q, device=device, profile=profile),
    results_dir=results_dir, device=device,
)
glue = chapter.glue
plots.use_book_style()
enc = EncodingOutputs.read(chapter.results_dir)  # raises: run the encoding chapter first
display(show.fragment(data_banner(enc.dataset)))
llm = None
if proposer == "llm" or verifier == "llm":
    from analysis.llm import make_llm

    llm = make_llm(llm_model, url=llm_url, api_key_env=llm_api_key_env, device=chapter.device)
    print(llm)
run = divergence_chain(  # the whole chain; the cells below show its tables
    enc.mse, enc.times, enc.words, enc.sentence, window=enc.window, n_per_set=n_per_set,
    roles=role_shares, proposer=proposer, verifier=verifier, llm=llm,
    goal=H.goal_paragraph(f"the {enc.dataset['name']} dataset, read one word at a time"),
    n_hypotheses=n_hypotheses, fdr_q=fdr_q, n_confirm=n_confirm, seed=seed,
    device=chapter.device)
word_score, all_sentences, sentence_sets = run.word_score, run.sentences, run.sentence_sets
n_per_set_used, set_note, role_counts = run.n_per_set, run.set_note, run.role_counts
print(f"{len(enc.words)} words in {len(all_sentences)} sentences; {n_per_set_used} per set "
      f"({set_note}): " + ", ".join(f"{role_counts.get(r, 0)} {r}" for r in H.ROLES))

# %% [markdown]
# ## The two groups
#
# Of {glue:text}`n_sentences` sentences ({glue:text}`n_scored` with a score), the
# {glue:text}`n_per_set` with the highest mean error form the divergent group and the
# {glue:text}`n_per_set` with the lowest the convergent group ({glue:text}`set_note`).
# A mean of few words varies more than a mean of many, so a plain mean would put short
# sentences in both groups; each sentence's mean is therefore standardised by its
# standard error under independent word scores, (mean − mean of all words) × √n / SD
# of all words, n its words with a score (the paper ranks by the plain mean). Mean
# length: {glue:text}`len_divergent` words (divergent), {glue:text}`len_convergent`
# (convergent), {glue:text}`len_all` (all sentences).
# Within each group, with seed {glue:text}`seed`, {glue:text}`n_proposal` sentences
# are *proposal* sentences, {glue:text}`n_research` *research* and
# {glue:text}`n_validation` *validation* sentences. The text below is shaded by each
# word's error ({glue:text}`window_txt`); then a few sentences of each group.

# %%
for key, text in run.set_texts().items():
    glue(key, text)
glue("seed", seed)
display(show.fragment(plots.coloured_text(enc.words, word_score, cmap="Reds", max_words=250,
                                          label="word error (mean z-scored squared error)")))
examples = pd.concat([sentence_sets[sentence_sets["set"] == s].head(5)
                      for s in ("divergent", "convergent")])
display(show.table(examples[["set", "score", "role", "text"]], {"score": "{:.3f}"}, index=False))

# %%
fig = plots.plot_sentence_scores(all_sentences, sentence_sets, run.window_text())

# %% [markdown]
# ## Proposing hypotheses
#
# The **offline** proposer takes every property of the project's bank
# (`analysis/resources/hypothesis_bank.csv`: {glue:text}`n_bank` properties across
# social/emotional, physical, syntactic, lexical, discourse and figurative domains,
# written before looking at any result) and adds word hypotheses: the words that most
# distinguish the *proposal* sentences of A from those of B by the log-odds ratio with
# an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008; the prior is the word
# frequencies of all sentences of the text), three words per hypothesis. The **LLM**
# proposer follows D5: a goal paragraph, up to 25 lexically diverse proposal sentences
# of each group, and a request for a bulleted list, repeated until {glue:text}`n_hyp_wanted`
# distinct hypotheses (comparatives and mentions of the groups dropped).

# %%
proposals = run.proposals
glue("n_bank", len(H.load_bank()))
glue("n_hyp_wanted", n_hypotheses)
display(proposals.groupby(["proposer", "domain"]).size().rename("hypotheses").to_frame())
word_hyps = proposals[proposals.proposer == "log-odds"]["hypothesis"].tolist()
if word_hyps:
    display(Markdown("Word hypotheses: " + "; ".join(map(show.escape_markdown, word_hyps)) + "."))

# %% [markdown]
# ## Verifying them
#
# The **embedding** verifier embeds each sentence and each property once with
# all-MiniLM-L6-v2 (mean pooling, unit length) and turns their cosine similarity c into
# a score with the fixed map sigmoid({glue:text}`cal_slope` c {glue:text}`cal_intercept`),
# a logistic fit on {glue:text}`cal_n` hand-labelled (sentence, property, yes/no)
# examples written for the project (`analysis/resources/verifier_calibration.csv`; it
# classifies {glue:text}`cal_acc` % of them correctly). The map is monotone and does not
# depend on which sentences are in A or B. The **LLM** verifier asks the D5 question —
# does the sentence have the property? Yes or No, No when unsure — and takes P(Yes)
# from the next-token probabilities of the answer.
#
# Validity V = mean score over A − mean score over B. Its p-value is the one-sided
# (A > B) Welch t-test on the *research* sentences; q-values are Benjamini–Hochberg
# across all {glue:text}`n_hyp` hypotheses at level {glue:text}`fdr_q` (none of them
# was made from research sentences). The hypotheses are ranked by research V, and the
# top {glue:text}`n_confirm` are then tested on the *validation* sentences, which took
# no part in proposing or ranking them (Benjamini–Hochberg over those
# {glue:text}`n_confirm`): a hypothesis is **confirmed** only there.

# %%
scores, table = run.scores, run.table
for key, text in run.validity_texts().items():
    glue(key, text)
glue("fdr_q", f"{fdr_q:g}")
glue("n_confirm", n_confirm)
top = table.head(n_confirm)
display(Markdown(f"Top {n_confirm} by research V (proposer: **{proposer}**, verifier: "
                 f"**{run.verifier}**):"))
display(show.table(top[["rank", "hypothesis", "proposer", "domain", "V", "p", "q", "V_validation",
                        "p_validation", "q_validation", "confirmed"]],
    {"V": "{:.3f}", "p": "{:.2g}", "q": "{:.2g}", "V_validation": "{:.3f}",
     "p_validation": "{:.2g}", "q_validation": "{:.2g}"}, index=False))

# %% [markdown]
# {glue:text}`n_sig` of the {glue:text}`n_hyp` hypotheses are significant on the research
# sentences (q < {glue:text}`fdr_q`); of the top {glue:text}`n_confirm`,
# {glue:text}`n_positive` have a positive validity on the validation sentences and
# {glue:text}`n_confirmed` are confirmed there (the validation sentences are few:
# {glue:text}`n_validation` per group).

# %%
sig = table[table.significant]
fig = plots.plot_validity(table)

# %% [markdown]
# ## Which domains the valid hypotheses fall in
#
# Bank properties carry their domain; any other hypothesis gets the domain of the
# nearest description in `analysis/resources/domain_descriptions.csv` by embedding
# similarity (word hypotheses are embedded as their word list). The paper found the
# divergent sentences to be about social/emotional and physical matters.

# %%
domains, enrich = run.domains, run.enrichment
display(domains)
glue("n_top_planted", enrich["k"])
glue("expected_planted", f"{enrich['expected']:.1f}")
glue("p_enrich", f"{enrich['p']:.2g}")

# %% [markdown]
# {glue:text}`n_top_planted` of the top {glue:text}`n_confirm` hypotheses are
# social/emotional or physical, where a random draw of as many hypotheses would hold
# {glue:text}`expected_planted` on average (hypergeometric test, p =
# {glue:text}`p_enrich`).

# %%
study = enc.reopen_dataset(device=chapter.device, progress=False)
shares = H.category_shares(sentence_sets, study.categories, study.sentence)
truth, unnamed = {}, None
if len(shares):
    display(show.table(shares, "{:.1%}"))
    planted_sig = int(sig.domain.isin(["social/emotional", "physical"]).sum())
    truth = {"share_of_words": shares.to_dict(orient="index"),
             "significant_in_planted_domains": planted_sig, "significant_total": len(sig)}
    display(Markdown(
        "Where word categories are known (on the simulated study, the divergence is planted "
        "on social/emotional, physical and sound words), the divergent group should hold "
        "more of them (table: share of words of each category in each group) and the valid "
        f"hypotheses should name those domains: here {planted_sig} of the {len(sig)} "
        "significant hypotheses do."))
sim_truth = study.provenance.get("truth") or {}
if sim_truth.get("unnamed_category"):
    unnamed = H.unnamed_category_check(table, sim_truth["unnamed_category"]["vocabulary"],
                                       n_confirm)
    glue("unnamed_txt", (
        "A data-driven proposer named it among the top hypotheses: " + "; ".join(
            f"'{h['hypothesis']}' (rank {h['rank']}, V = {h['V']:.3f}, "
            f"{'confirmed' if h['confirmed'] else 'not confirmed'} on held-out sentences)"
            for h in unnamed["hypotheses"]) + "."
        if unnamed["found"] else
        "No data-driven hypothesis among the top ones names it: with these proposers and "
        "this much data, the method does not find a category nobody wrote down."))
else:
    glue("unnamed_txt", "(Real data: there is no planted category to look for.)")

# %% [markdown]
# **The unnamed category.** The simulation also plants a response on words of sound,
# silence and listening, which no property of the bank names (data chapter). Only the
# data-driven proposers (distinguishing words, or an LLM) can find it.
# {glue:text}`unnamed_txt`

# %% [markdown]
# ## Pointing the chapter at a stronger LLM
#
# The default pair runs offline on a laptop. To follow the paper with an LLM proposer
# and verifier, set `proposer="llm"` and `verifier="llm"` and say which model:
#
# * **An OpenAI-compatible server** (vLLM, llama.cpp's `llama-server`, or a hosted API):
#   start it, e.g. `vllm serve Qwen/Qwen2.5-7B-Instruct --port 8000` or
#   `llama-server -m model.gguf --port 8080`, then run
#
#   ```bash
#   python -m analysis.run --only hypotheses -p proposer llm -p verifier llm \
#       -p llm_url http://127.0.0.1:8000/v1 -p llm_model Qwen/Qwen2.5-7B-Instruct
#   ```
#
#   For a hosted API add `-p llm_api_key_env OPENAI_API_KEY` (the *name* of the variable
#   that holds the key; the key is never stored). The verifier needs the server to
#   return `logprobs` for the first answer token (vLLM, llama-server and OpenAI do).
# * **A local model with transformers**: `-p llm_model /path/to/model-folder` (or a
#   `.gguf` file, or a hub name if you allow downloads) and `--device cuda` on a GPU.
# * **papermill** directly: `papermill notebooks/02_hypotheses.ipynb out.ipynb -p proposer llm
#   -p verifier llm -p llm_url ...`.
#
# Every LLM call is cached on disk (`$LIVING_PAPER_CACHE/llm`), so re-running the chapter
# costs nothing; the LLM verifier makes one call per hypothesis and sentence
# ({glue:text}`n_pairs` here).

# %%
glue("n_pairs", int(len(table) * len(sentence_sets)))
meta = {"dataset": enc.dataset, "window": enc.window, "n_per_set": n_per_set_used,
        "proposer": proposer, "verifier": verifier}
H.results_for_later(sentence_sets, table, proposals["hypothesis"], scores, meta).write(
    chapter.results_dir)
results = run.results(encoding_layer=enc.layer, encoding_layer_decision=enc.layer_decision,
                      planted_truth=truth, unnamed_category=unnamed)
path = chapter.save(**results)
print(f"results written to {portable_path(path)}")

# %% [markdown]
# ## Provenance

# %% tags=["hide-input"]
chapter.provenance_table()
