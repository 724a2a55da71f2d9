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
# *what* the worst-predicted sentences share. Following the paper (SPEC §4): each
# word's error is averaged over the windows from 300 to 425 ms, each sentence's over
# its words; the most **divergent** sentences (group A) and the most **convergent**
# ones (group B) are split into a research set and a held-out validation set; a
# *proposer* suggests properties ("hypotheses") that might set A apart, a *verifier*
# scores how well each sentence has each property, and a hypothesis is **valid** when
# A sentences score higher than B sentences — tested on the research split and
# confirmed on the validation split.
#
# The paper's proposer and verifier are large LLMs (D5, Zhong et al. 2023). The only
# instruction-tuned model that ships with this project offline, SmolLM2-135M-Instruct,
# is far too small for either job, so the default here is an offline pair that gives
# meaningful results: a bank of properties written for the project plus words that
# statistically distinguish A from B, verified by sentence-embedding similarity. The
# last section shows how to switch both to a capable LLM.

# %% tags=["parameters"]
dataset = "simulated"  # the dataset the encoding chapter ran on (to reopen its labels)
data_path = None
dataset_options = {}
n_words = 0
n_subjects = 4
seed = 0
n_group = 100  # sentences per group (the paper: 100)
research_frac = 0.8  # share of each group used for proposing and testing; the rest validates
proposer = "offline"  # offline (bank + log-odds words) | llm (D5 prompts)
verifier = "embedding"  # embedding (all-MiniLM-L6-v2, calibrated) | llm (P(Yes))
llm_model = "default"  # local: "default", a .gguf file, a model folder or a hub name; with llm_url: the served model's name
llm_url = None  # an OpenAI-compatible endpoint, e.g. "http://127.0.0.1:8000/v1"
llm_api_key_env = None  # name of the environment variable holding the endpoint's key
n_hypotheses = 60  # LLM proposer: distinct hypotheses wanted
fdr_q = 0.05
device = "auto"
results_dir = "_build/results"
profile = "default"

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import HTML, Markdown, display
from myst_nb import glue

from analysis import hypotheses as H
from analysis import plots
from analysis.provenance import start_chapter

chapter = start_chapter(
    "hypotheses",
    dict(dataset=dataset, data_path=data_path, dataset_options=dataset_options,
         n_words=n_words, n_subjects=n_subjects, seed=seed, n_group=n_group,
         research_frac=research_frac, proposer=proposer, verifier=verifier,
         llm_model=llm_model, llm_url=llm_url, llm_api_key_env=llm_api_key_env,
         n_hypotheses=n_hypotheses, fdr_q=fdr_q, device=device, profile=profile),
    results_dir=results_dir, device=device,
)
if proposer not in ("offline", "llm") or verifier not in ("embedding", "llm"):
    raise ValueError(f"proposer must be 'offline' or 'llm' and verifier 'embedding' or 'llm'; "
                     f"got proposer={proposer!r}, verifier={verifier!r}.")
enc = H.load_encoding_outputs(chapter.results_dir)  # raises: run the encoding chapter first
word_score, all_sentences = H.sentence_scores(enc["mse"], enc["times"], enc["words"],
                                              enc["sentence"])
n_scored = int(all_sentences["score"].notna().sum())
n_group_used = n_group
if 3 * n_group > n_scored:  # a small dataset: keep the groups to the outer thirds
    n_group_used = n_scored // 3
    display(Markdown(f"**Note:** only {n_scored} sentences have a score, too few for "
                     f"n_group = {n_group}; this run uses {n_group_used} per group (a third "
                     "of the sentences each)."))
groups = H.select_groups(all_sentences, n_group=n_group_used, research_frac=research_frac,
                         seed=seed)
print(f"{len(enc['words'])} words in {len(all_sentences)} sentences; "
      f"{n_group_used} per group, {int((groups.split == 'research').sum() / 2)} research + "
      f"{int((groups.split == 'validation').sum() / 2)} validation each")

# %% [markdown]
# ## The two groups
#
# Of {glue:text}`n_sentences` sentences, the {glue:text}`n_group` with the highest mean
# error form the divergent group and the {glue:text}`n_group` with the lowest the
# convergent group; each is split {glue:text}`research_pct` % / rest into research and
# validation sentences with seed {glue:text}`seed`, separately, so neither split mixes
# the groups. The text below is shaded by each word's error (300–425 ms); then a few
# sentences of each group.

# %%
glue("n_sentences", len(all_sentences), display=False)
glue("n_group", n_group_used, display=False)
glue("research_pct", f"{100 * research_frac:g}", display=False)
glue("seed", seed, display=False)
display(HTML(plots.coloured_text(enc["words"], word_score, cmap="Reds", max_words=250)))
examples = pd.concat([groups[groups.group == g].head(5) for g in ("divergent", "convergent")])
display(examples[["group", "score", "split", "text"]].style.format({"score": "{:.3f}"})
        .hide(axis="index"))

# %%
fig, ax = plt.subplots(figsize=(6, 2.8))
ax.hist(all_sentences["score"].dropna(), bins=30, color="0.7")
for g, colour in (("divergent", "C3"), ("convergent", "C0")):
    ax.hist(groups[groups.group == g]["score"], bins=30, color=colour, alpha=0.8, label=g)
ax.set(xlabel="sentence score (mean word MSE, 300-425 ms)", ylabel="sentences")
ax.legend()
fig.tight_layout()

# %% [markdown]
# ## Proposing hypotheses
#
# The **offline** proposer takes every property of the project's bank
# (`analysis/resources/hypothesis_bank.csv`: {glue:text}`n_bank` properties across
# social/emotional, physical, syntactic, lexical, discourse and figurative domains,
# written before looking at any result) and adds word hypotheses: the words that most
# distinguish the research sentences of A from those of B by the log-odds ratio with
# an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008; the prior is the word
# frequencies of all sentences of the text), three words per hypothesis. The **LLM**
# proposer follows D5: a goal paragraph, up to 25 lexically diverse sentences of each
# group, and a request for a bulleted list, repeated until {glue:text}`n_hyp_wanted`
# distinct hypotheses (comparatives and mentions of the groups dropped).

# %%
research = groups[groups.split == "research"]
texts_a = research[research.group == "divergent"]["text"].tolist()
texts_b = research[research.group == "convergent"]["text"].tolist()
llm = None
if proposer == "llm" or verifier == "llm":
    from analysis.llm import make_llm

    llm = make_llm(llm_model, url=llm_url, api_key_env=llm_api_key_env, device=chapter.device)
    print(llm)
if proposer == "offline":
    proposals = H.propose_offline(texts_a, texts_b, all_sentences["text"].tolist())
else:
    goal = H.goal_paragraph(f"the {dataset} dataset, read one word at a time")
    proposals = H.propose_llm(llm, texts_a, texts_b, goal, n_hypotheses=n_hypotheses, seed=seed)
    if proposals.empty:
        raise RuntimeError(f"the LLM {llm} proposed no usable hypothesis; use a stronger model "
                           "(see the last section) or proposer='offline'.")
embedder = H.EmbeddingVerifier(device=chapter.device)
proposals = H.assign_domains(proposals, embedder)
glue("n_bank", len(H.load_bank()), display=False)
glue("n_hyp_wanted", n_hypotheses, display=False)
display(proposals.groupby(["proposer", "domain"]).size().rename("hypotheses").to_frame())
word_hyps = proposals[proposals.proposer == "log-odds"]["hypothesis"].tolist()
if word_hyps:
    display(Markdown("Word hypotheses: " + "; ".join(word_hyps) + "."))

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
# (A > B) Welch t-test; q-values are Benjamini–Hochberg across the
# {glue:text}`n_hyp` hypotheses at level {glue:text}`fdr_q`, computed on the research
# split and again on the held-out validation split.

# %%
check = embedder if verifier == "embedding" else H.LLMVerifier(llm, progress=True)
scores = check.score(groups["text"].tolist(), proposals["hypothesis"].tolist())
table = H.evaluate(proposals, scores, groups, fdr_q=fdr_q)
cal = embedder.calibration
glue("cal_slope", f"{cal['slope']:.1f}", display=False)
glue("cal_intercept", f"{cal['intercept']:+.2f}".replace("+", "+ ").replace("-", "− "),
     display=False)
glue("cal_n", cal["n"], display=False)
glue("cal_acc", f"{100 * cal['accuracy']:.0f}", display=False)
glue("n_hyp", len(table), display=False)
glue("fdr_q", f"{fdr_q:g}", display=False)
top10 = table.head(10)
display(Markdown(f"Top 10 by research-split V (proposer: **{proposer}**, verifier: "
                 f"**{check!r}**):"))
display(top10[["rank", "hypothesis", "proposer", "domain", "V", "p", "q", "V_validation",
               "p_validation"]].style.format(
    {"V": "{:.3f}", "p": "{:.2g}", "q": "{:.2g}", "V_validation": "{:.3f}",
     "p_validation": "{:.2g}"}).hide(axis="index"))

# %% [markdown]
# {glue:text}`n_sig` of the {glue:text}`n_hyp` hypotheses are significant on the research
# split (q < {glue:text}`fdr_q`); of the top 10, {glue:text}`n_confirmed` also have a
# positive validity on the validation split and {glue:text}`n_confirmed_sig` are
# significant there (the validation split is small: {glue:text}`n_val` sentences per
# group).

# %%
sig = table[table.significant]
n_val = int((groups.split == "validation").sum() // 2)
glue("n_sig", len(sig), display=False)
glue("n_confirmed", int((top10.V_validation > 0).sum()), display=False)
glue("n_confirmed_sig", int((top10.q_validation < fdr_q).sum()), display=False)
glue("n_val", n_val, display=False)
fig, ax = plt.subplots(figsize=(6, 4))
colours = {"social/emotional": "C3", "physical": "C0", "other": "0.6"}
for dom, rows in table.groupby("domain"):
    ax.scatter(rows.V, rows.V_validation, color=colours.get(dom, "k"), label=dom, s=18)
ax.axhline(0, color="k", lw=0.5)
ax.axvline(0, color="k", lw=0.5)
ax.set(xlabel="V (research split)", ylabel="V (validation split)",
       title="Validity of each hypothesis")
ax.legend()
fig.tight_layout()

# %% [markdown]
# ## Which domains the valid hypotheses fall in
#
# Bank properties carry their domain; any other hypothesis gets the domain of the
# nearest description in `analysis/resources/domain_descriptions.csv` by embedding
# similarity (word hypotheses are embedded as their word list). The paper found the
# divergent sentences to be about social/emotional and physical matters.

# %%
domains = pd.DataFrame({
    "all hypotheses": table.domain.value_counts(),
    "significant": sig.domain.value_counts(),
    "top 10": top10.domain.value_counts(),
}).reindex(list(H.DOMAINS)).fillna(0).astype(int)
display(domains)
n_top_planted = int(top10.domain.isin(["social/emotional", "physical"]).sum())
share_base = float(table.domain.isin(["social/emotional", "physical"]).mean())
glue("n_top_planted", n_top_planted, display=False)
glue("share_base", f"{100 * share_base:.0f}", display=False)

# %% [markdown]
# {glue:text}`n_top_planted` of the top 10 hypotheses are social/emotional or physical,
# against {glue:text}`share_base` % of all hypotheses tested.

# %%
categories = {}
if dataset == "simulated":
    from analysis.simulate import story_words

    story, categories = story_words()
    if story[:len(enc["words"])] != enc["words"]:
        categories = {}  # the encoding ran on another text: no labels to compare with
    else:
        categories = {k: v[:len(enc["words"])] for k, v in categories.items()}
elif data_path is not None:
    from analysis.data import open_dataset

    categories = open_dataset(dataset, data_path, **dataset_options).categories or {}
truth = {}
if "emotion" in categories and "physical" in categories:
    sid = np.asarray(enc["sentence"])
    share = {}
    for cat in ("emotion", "physical"):
        per_sentence = pd.Series(categories[cat].astype(float)).groupby(sid).mean()
        share[cat] = {g: float(per_sentence.loc[groups[groups.group == g].sentence_id].mean())
                      for g in ("divergent", "convergent")}
    planted_sig = int(sig.domain.isin(["social/emotional", "physical"]).sum())
    truth = {"share_of_words": share, "significant_in_planted_domains": planted_sig,
             "significant_total": len(sig)}
    display(pd.DataFrame(share).T.rename_axis("planted category").style.format("{:.1%}"))
    display(Markdown(
        "On the simulated study the divergence is planted on social/emotional and physical "
        "words, so the divergent group should hold more of them (table: share of words of "
        "each category in each group) and the valid hypotheses should name those domains: "
        f"here {planted_sig} of the {len(sig)} significant hypotheses do, against "
        f"{100 * share_base:.0f} % of all hypotheses tested."))
else:
    display(Markdown("*No word categories for this dataset: nothing planted to compare with.*"))

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
glue("n_pairs", int(len(table) * len(groups)), display=False)
H.save_results(chapter.results_dir, groups, table,
               H.scores_long(proposals["hypothesis"], scores, groups))
results = {
    "n_sentences": len(all_sentences),
    "n_group": n_group_used,
    "n_research_per_group": int((groups.split == "research").sum() // 2),
    "n_validation_per_group": n_val,
    "proposer": proposer,
    "verifier": verifier,
    "llm": None if llm is None else repr(llm),
    "embedding_calibration": cal,
    "encoding_layer": enc["layer"],
    "n_hypotheses": len(table),
    "n_significant": len(sig),
    "top10": top10[["hypothesis", "proposer", "domain", "V", "p", "q",
                    "V_validation", "p_validation"]].to_dict(orient="records"),
    "domains": domains.to_dict(),
    "top10_planted_domains": n_top_planted,
    "share_planted_domains_all": share_base,
    "planted_truth": truth,
}
path = chapter.save(**results)
print(f"results written to {path}")

# %% [markdown]
# ## Provenance

# %% tags=["hide-input"]
chapter.provenance_table()
