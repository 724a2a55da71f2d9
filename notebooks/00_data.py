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
# # The data: a reading study with a known truth
#
# The paper fits encoding models to MEG recorded while people read a chapter of
# *Harry Potter* one word at a time (Wehbe et al., 2014). Those recordings are not
# redistributable, so this book runs, by default, on a **simulated reading study**
# built for the project: a reader sees our own story word by word, a Neuromag-306
# MEG system records, and every part of the response is planted on purpose. Because
# the truth is known, every later chapter can be checked against it: does the
# layer sweep find the layer that drives the signal, does the peak land at the
# planted latency, do the divergent sentences contain the words that carry the
# planted extra response?
#
# The same chapters run on real data. Set the `dataset` parameter to another source
# of the registry below (`harry_potter`, `moth`, `mne`, `bids`, `frank2015`, `saved`, ...)
# and `data_path` to your files (see {doc}`../book/intro`); each source says what the
# later chapters need to know: the context a language model reads, the window of
# interest, whether there are sensor positions and subjects.

# %% tags=["parameters"]
dataset = "simulated"  # a name of the dataset registry (analysis.datasets)
data_path: str | None = None  # file or folder of a real dataset (None: its default place)
dataset_options = {}  # extra loader arguments, e.g. {"sfreq": 1000} for moth
n_words = 0  # use the whole sentences within the first n words; 0 keeps all
n_subjects = 4  # simulated readers
seed = 0  # seed of the simulation
model = "default"  # language model behind the simulated signal
device = "auto"  # auto | cpu | cuda
results_dir = "_build/results"
profile = "default"

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import HTML, display
from myst_nb import glue

from analysis import plots
from analysis import datasets
from analysis.provenance import start_chapter

chapter = start_chapter(
    "data",
    dict(dataset=dataset, data_path=data_path, dataset_options=dataset_options, n_words=n_words, n_subjects=n_subjects,
         seed=seed, model=model, device=device, profile=profile),
    results_dir=results_dir, device=device,
)
plt.rcParams["figure.dpi"] = 96

# %%
ds = datasets.open_for_chapter(dataset, data_path, dataset_options, n_words=n_words,
                               n_subjects=n_subjects, seed=seed, model=model,
                               device=chapter.device)
truth = ds.provenance.get("truth")
datasets.describe(ds)

# %% [markdown]
# The registry of sources the chapters can run on, and what each one declares:

# %% tags=["hide-input"]
datasets.registry_table()

# %% [markdown]
# ## The text
#
# The story was written for this project: a flood in a small town, told with
# dialogue, emotional and social scenes (grief, jealousy, embarrassment,
# reconciliation), physical action (a capsized boat, a rescue with rope and
# crowbar, rebuilding a weir) and plain description. Every word was labelled, in
# the annotation format of the paper's authors, as social/emotional, physical or
# figurative. The analysed text has {glue:text}`n_words` words in
# {glue:text}`n_sentences` sentences.

# %%
summary = ds.summary()
glue("n_words", summary["n_words"], display=False)
glue("n_sentences", summary["n_sentences"], display=False)
sentences = ds.sentences()
display(HTML("<blockquote>" + " ".join(sentences[:6]) + " ...</blockquote>"))

# %%
lengths = np.bincount(ds.sentence)
cats = pd.DataFrame({
    "words": {k: int(v.sum()) for k, v in ds.categories.items()},
    "share of words (%)": {k: round(100 * v.mean(), 1) for k, v in ds.categories.items()},
})
fig, ax = plt.subplots(figsize=(5, 2.5))
ax.hist(lengths, bins=np.arange(0, lengths.max() + 2), color="0.4")
ax.set(xlabel="words per sentence", ylabel="sentences", title="Sentence lengths")
fig.tight_layout()
cats

# %% [markdown]
# Words are coloured below by their label: social/emotional words in red, physical
# words in blue (both in purple). These are the words on which the simulation
# plants responses that the language model cannot predict.

# %%
if ds.categories:
    code = ds.categories.get("emotion", 0) * 1.0 - ds.categories.get("physical", 0) * 1.0
    labelled = ds.categories.get("emotion", False) | ds.categories.get("physical", False)
    code = np.where(labelled, code, np.nan)  # unlabelled words stay unshaded
    display(HTML(plots.coloured_text(ds.words, code, cmap="coolwarm", vmin=-1.0, vmax=1.0,
                                     max_words=260)))

# %% [markdown]
# ## The sensors
#
# The Elekta Neuromag system has 102 sensor positions, each with one magnetometer
# and two orthogonal planar gradiometers: {glue:text}`n_channels` channels. The
# geometry comes from MNE's bundled *Vectorview* layout, so nothing is downloaded.
# Responses are averaged in {glue:text}`n_windows` windows of
# {glue:text}`window_ms` ms after each word's onset, as in the paper.

# %%
glue("n_channels", ds.n_channels, display=False)
glue("n_windows", ds.n_windows, display=False)
glue("window_ms", f"{ds.window_ms:g}", display=False)
if ds.info is not None:
    plots.plot_sensor_layout(ds.info)

# %% [markdown]
# ## Responses over time
#
# Averaged over all words, the response has the classic shape of a word-evoked
# field: an early occipital deflection and later, larger left-temporal and frontal
# fields. The topomaps show the average field in every other window.

# %%
if ds.info is None:  # components without sensor geometry (e.g. Frank et al. ERPs)
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.boxplot([ds.responses[:, c, :].ravel() for c in range(ds.n_channels)],
               tick_labels=ds.ch_names, showfliers=False)
    ax.set(ylabel="amplitude", title="Per-word amplitudes of each component")
    fig.tight_layout()
else:
    plots.plot_evoked(ds, title="Mean response over all words")
    plots.plot_window_topomaps(ds.responses.mean(axis=0), ds, ch_type="mag",
                               title="Magnetometers, mean over words")

# %% [markdown]
# The mean over words hides what varies from word to word, which is what an
# encoding model predicts. The standard deviation across words shows where and when
# the responses carry word-specific information.

# %%
if ds.info is not None:
    plots.plot_window_topomaps(ds.responses.std(axis=0), ds, ch_type="grad",
                               title="Gradiometers, standard deviation over words",
                               cmap="viridis")

# %% [markdown]
# ## The planted truth
#
# The simulation writes down what it planted (it is also saved in
# `_build/results/data.json`):
#
# * the **predictable part** is a random linear read-out of the whitened hidden
#   states of language-model layer {glue:text}`truth_layer` (of
#   {glue:text}`n_layers`), spread over four sources whose combined time course
#   peaks at {glue:text}`lm_peak_ms` ms;
# * an early **visual** response follows word length;
# * the **divergence**: social/emotional and physical words carry an extra response
#   between 300 and 425 ms whose sign and size change at random from word to word,
#   so that no feature of the text can predict it;
# * noise from {glue:text}`noise_sources` random brain sources and the sensors,
#   correlated over time, independent across the {glue:text}`n_subj` readers.

# %%
if truth:
    glue("truth_layer", truth["truth_layer"], display=False)
    glue("n_layers", truth["n_layers"] - 1, display=False)
    glue("lm_peak_ms", f"{truth['lm_peak_ms']:g}", display=False)
    glue("noise_sources", truth["noise"]["sources"], display=False)
    glue("n_subj", truth["n_subjects"], display=False)
    comp = pd.DataFrame(truth["components"]).set_index("name")
    display(comp[["driver", "peak_ms", "width_ms"]])
    names = list(truth["topographies"])
    plots.plot_topographies([np.array(truth["topographies"][k]) for k in names], ds.info,
                            names, ch_type="mag")
else:  # real data: no planted truth
    for key in ("truth_layer", "n_layers", "lm_peak_ms", "noise_sources", "n_subj"):
        glue(key, "n/a", display=False)

# %% [markdown]
# The planted divergence is visible in the raw data: the difference between the
# responses to category words and to the other words is small on average (the
# extra response has random sign), but its **variance** is larger exactly where and
# when it was planted.

# %%
if ds.categories and ds.info is not None:
    planted = ds.categories.get("emotion", False) | ds.categories.get("physical", False)
    ratio = ds.responses[planted].var(axis=0) / ds.responses[~planted].var(axis=0)
    plots.plot_window_topomaps(ratio, ds, ch_type="mag", cmap="magma",
                               title="Variance ratio, category words / other words")
    window_ratio = ratio.mean(axis=0)
    peak_div = float(ds.times[np.argmax(window_ratio)])
    glue("peak_div_ms", f"{peak_div:g}", display=False)
else:
    peak_div = None
    glue("peak_div_ms", "n/a", display=False)

# %% [markdown]
# The variance ratio peaks in the window starting at {glue:text}`peak_div_ms` ms.

# %%
results = {"dataset": summary, "dataset_record": ds.provenance["dataset_record"]}
if truth:
    results["truth"] = {k: v for k, v in truth.items() if k != "topographies"}
    results["variance_ratio_peak_ms"] = peak_div
path = chapter.save(**results)
print(f"results written to {path}")

# %% [markdown]
# ## Provenance
#
# Parameters, package versions, commit and run time of this execution.

# %% tags=["hide-input"]
chapter.provenance_table()
