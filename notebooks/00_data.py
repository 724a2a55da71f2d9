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
import numpy as np
import pandas as pd
from IPython.display import display
from analysis import display as show
from analysis import plots
from analysis import datasets, simulate, stats
from analysis.provenance import data_banner, portable_path, start_chapter

# %%
chapter = start_chapter(
    "data",
    dict(dataset=dataset, data_path=data_path, dataset_options=dataset_options, n_words=n_words, n_subjects=n_subjects,
         seed=seed, model=model, device=device, profile=profile),
    results_dir=results_dir, device=device,
)
glue = chapter.glue
plots.use_book_style()

# %%
ds = datasets.open_for_chapter(dataset, data_path, dataset_options, n_words=n_words,
                               n_subjects=n_subjects, seed=seed, model=model,
                               device=chapter.device)
truth = ds.provenance.get("truth")
chapter.record_dataset(ds)
if truth:
    chapter.record_model(model)
display(show.fragment(data_banner(ds)))
datasets.describe(ds)

# %% [markdown]
# The registry of sources the chapters can run on, and what each one declares:

# %% tags=["remove-input"]
display(show.table_html(datasets.registry_table(), classes="table"))

# %% [markdown]
# ## The text
#
# {glue:text}`text_intro` The analysed text has {glue:text}`n_words` words in
# {glue:text}`n_sentences` sentences.

# %%
summary = ds.summary()
glue("text_intro", simulate.STORY_TEXT if truth else f"The text of {ds.source}.")
glue("n_words", f"{summary['n_words']:,}")
glue("n_sentences", f"{summary['n_sentences']:,}")
sentences = ds.sentences()
display(show.quote_block(" ".join(sentences[:6]) + " ..."))

# %%
fig = plots.plot_sentence_lengths(ds.sentence)
datasets.category_table(ds.categories)

# %% [markdown]
# Words are coloured below by their label (legend above the text). These are the words
# on which the simulation plants responses that the language model cannot predict.

# %% tags=["remove-input"]
if {"emotion", "physical"} <= set(ds.categories):
    display(show.fragment(plots.category_text(ds.words, ds.categories, max_words=260)))

# %% [markdown]
# ## The sensors
#
# {glue:text}`sensor_text` The data have {glue:text}`n_channels` channels, with
# responses averaged in {glue:text}`n_windows` window(s) of {glue:text}`window_ms` ms
# after each word's onset.

# %%
glue("sensor_text", simulate.SENSOR_TEXT if truth else plots.positions_text(ds.info))
glue("n_channels", ds.n_channels)
glue("n_windows", ds.n_windows)
glue("window_ms", f"{ds.window_ms:g}")
if plots.has_positions(ds.info):
    plots.plot_sensor_layout(ds.info)

# %% [markdown]
# ## Responses over time
#
# Averaged over all words, the response has the classic shape of a word-evoked
# field: an early occipital deflection and later, larger left-temporal and frontal
# fields. The topomaps show the average field in every other window.

# %%
if ds.info is None:  # components without sensor geometry (e.g. Frank et al. ERPs)
    fig = plots.plot_channel_amplitudes(ds)
else:
    plots.plot_evoked(ds, title="Mean response over all words")
    plots.window_topomaps(ds.responses.mean(axis=0), ds, ch_type="mag",
                          title="Magnetometers, mean over words (fT)")

# %% [markdown]
# The mean over words hides what varies from word to word, which is what an
# encoding model predicts. The standard deviation across words shows where and when
# the responses carry word-specific information.

# %%
fig = plots.window_topomaps(ds.responses.std(axis=0), ds, ch_type="grad", kind="spread",
                            title="Gradiometers, standard deviation over words (fT/cm)")

# %% [markdown]
# ## The planted truth
#
# {glue:text}`truth_intro`
#
# * the **predictable part** is a random linear read-out of the whitened hidden
#   states of language-model layer {glue:text}`truth_layer` (of
#   {glue:text}`n_layers`), spread over four sources whose combined time course
#   peaks at {glue:text}`lm_peak_ms` ms; the read-out skips the layer's top principal
#   components, which every layer of the model shares, so that the planted layer can
#   be told apart from the others;
# * an early **visual** response follows word length;
# * the **divergence**: social/emotional and physical words carry an extra response
#   between 300 and 425 ms whose sign and size change at random from word to word,
#   so that no feature of the text can predict it;
# * an **unnamed category**, which no property of the hypothesis bank names: the
#   {glue:text}`n_sound` words of sound, silence and listening
#   ({glue:text}`sound_examples`, ...) carry the same kind of random response, peaking
#   at 325 ms; the hypotheses chapter asks whether the data-driven proposers find it;
# * a **knowledge component**: on the emotion and physical words, a signed value that
#   is a fixed function of each word, read out from another model's embedding of it
#   (all-MiniLM-L6-v2) and made orthogonal to all {glue:text}`knowledge_dims` dimensions
#   of layer {glue:text}`truth_layer` (before that, the layer's least-squares fit
#   correlated {glue:text}`knowledge_r` with it), so the base model cannot explain it
#   linearly but a model that knows what the other one knows could: the fine-tuning
#   chapter's positive control;
# * noise from {glue:text}`noise_sources` random brain sources and the sensors,
#   correlated over time and across consecutive words (lag-one correlation
#   {glue:text}`noise_word_ar` along the story), independent across the
#   {glue:text}`n_subj` readers.

# %%
for name, value in simulate.truth_text(truth).items():  # "n/a" on real data
    glue(name, value)
if truth:
    components = pd.DataFrame(truth["components"]).set_index("name")
    display(components[["driver", "peak_ms", "width_ms"]])
    names = list(truth["topographies"])
    plots.plot_topographies([np.array(truth["topographies"][k]) for k in names], ds.info,
                            names, ch_type="mag")

# %% [markdown]
# The planted divergence is visible in the raw data: the difference between the
# responses to category words and to the other words is small on average (the
# extra response has random sign), but its **variance** is larger exactly where and
# when it was planted (the framed windows: the 300–425 ms window of interest).

# %%
if ds.categories and ds.info is not None and truth:
    planted = ds.categories["emotion"] | ds.categories["physical"] | ds.categories["sound"]
    ratio = stats.variance_ratio(ds.responses, planted)
    plots.plot_window_topomaps(ratio, ds, ch_type="mag", kind="positive", units="ratio",
                               window=(300, 425),
                               title="Variance ratio, planted-category words / other words "
                                     "(magnetometers)")
    peak_div = float(ds.times[np.argmax(ratio.mean(axis=0))])
    glue("peak_div_ms", f"{peak_div:g}")
else:
    peak_div = None
    glue("peak_div_ms", "n/a")

# %% [markdown]
# The variance ratio peaks in the window starting at {glue:text}`peak_div_ms` ms.

# %%
results = {"dataset": summary, "dataset_record": ds.provenance["dataset_record"]}
if truth:
    results["truth"] = {k: v for k, v in truth.items() if k != "topographies"}
    results["variance_ratio_peak_ms"] = peak_div
path = chapter.save(**results)
print(f"results written to {portable_path(path)}")

# %% [markdown]
# ## Provenance
#
# Parameters, package versions, commit and run time of this execution.

# %% tags=["hide-input"]
chapter.provenance_table()
