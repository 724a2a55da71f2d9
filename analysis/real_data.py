"""The chain on real brains: surprisal protocols, encoding against a baseline and a ceiling.

The functions here return the tables and numbers of the real-data chapter
(``notebooks/05_real_data.py``), one step each:

* :func:`devarda_table` -- surprisal against ERP components and reading measures on the
  Frank et al. (2015) words under the de Varda et al. (2023) protocol: our models'
  surprisal, computed by our code on the same words, beside the surprisal columns the
  file ships (GPT-2, GPT-Neo) recomputed here and their published values
  (:mod:`analysis.reference`);
* :func:`futrell2018_table` -- Brain-Score language's Futrell2018 score on Natural
  Stories: our models' surprisal in bits with the preceding story as context (long
  context in overlapping windows), beside the GPT-3 log-probabilities shipped with the
  corpus and the scores Brain-Score publishes;
* :func:`component_encoding` -- per ERP component, the baseline alone, the nested model
  (baseline + a language-model layer chosen inside each outer fold), the gain of the
  language model over the baseline and over a lexical baseline (static embedding and
  surprisal), each with a permutation test (:func:`gain_test`) and a bootstrap interval
  over sentences, and the layer sweep as a description;
* :func:`r_interval` (from :mod:`analysis.stats`) -- a correlation with a bootstrap interval over sentences or stories;
* :func:`word_categories` -- social/emotional and physical words of a text by an
  automatic tagger (the real data have no hand labels), with its agreement with the
  project's hand-labelled story.

Around them, the chapter's steps as one call each, so that its cells stay a few lines:
:func:`open_real_datasets`; :func:`devarda_summary` (with the N400 intervals);
:func:`n400_ceiling` (split-half noise ceiling of the readers' average);
:func:`erp_encoding` (the published words, the nuisance and lexical baselines and
:func:`component_encoding`, with :func:`add_ceiling_share`), :func:`lexical_gain_power`
and :func:`handed_layer` (the layer decision for the next chapters);
:func:`finetuned_retest`. For each section a ``*_texts`` function gives the numbers the
prose glues (``"n/a"`` for each when the data are missing) and a ``*_results`` function
the JSON-ready part of the chapter's results.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._utils import DataError
from .stats import r_interval

__all__ = ["devarda_table", "futrell2018_table", "component_encoding", "gain_test",
           "r_interval", "word_categories", "TAGGER_THRESHOLD", "TAGGER_NOTE",
           "open_real_datasets", "RealDatasets", "devarda_summary", "DevardaSummary",
           "devarda_comparison", "devarda_max_difference", "devarda_texts", "devarda_results",
           "futrell2018_texts", "futrell2018_results", "n400_ceiling", "ceiling_table",
           "ceiling_texts", "ceiling_results", "ErpEncoding", "erp_encoding", "swept_layers",
           "add_ceiling_share", "encoding_columns", "lexical_gain_power", "encoding_texts",
           "encoding_results", "handed_layer", "finetuned_retest", "finetuned_texts", "finetuned_findings",
           "finetuned_table",
           "DEVARDA_SHOWN", "FUTRELL2018_SHOWN", "ENCODING_SHOWN", "GPT3_ROW"]

LN2 = float(np.log(2.0))


# --------------------------------------------------------------------------- the data
@dataclass(frozen=True)
class RealDatasets:
    """The chapter's three real datasets, each ``None`` where its files are missing.

    Attributes
    ----------
    frank : WordDataset | None
        Frank et al. (2015) ERP components and reading measures, one row per word
        (``open_dataset("frank2015")``).
    trials : WordDataset | None
        The same N400 trial by trial, with the published trial exclusions (Aurnhammer &
        Frank 2019; ``open_dataset("frank2015_trials")``).
    naturalstories : WordDataset | None
        Natural Stories mean self-paced reading times (Futrell et al. 2021;
        ``open_dataset("naturalstories")``).
    missing : dict of str to str
        Dataset title -> why it could not be opened (the loader's message).
    """

    frank: object
    trials: object
    naturalstories: object
    missing: dict


def open_real_datasets(frank_path=None, trials_path=None, naturalstories_path=None,
                       n_words=0, n_stories=0):
    """Open the Frank et al. (2015) table, its trials and Natural Stories, where present.

    Parameters
    ----------
    frank_path, trials_path, naturalstories_path : str | Path | None
        Their files or folders; ``None``: each source's default location
        (:func:`analysis.datasets.open_dataset`).
    n_words : int
        Frank: keep the whole sentences within the first ``n_words`` words (0 keeps all).
    n_stories : int
        Natural Stories: keep the first ``n_stories`` stories (0 keeps all 10).

    Returns
    -------
    RealDatasets
        A dataset whose files are missing or invalid is ``None``, its loader's
        :class:`DataError` message kept in ``missing``; the chapter runs on the rest.
    """
    from .datasets import open_dataset

    missing = {}

    def attempt(title, name, path, **kw):
        try:
            return open_dataset(name, path, **kw)
        except DataError as err:
            missing[title] = str(err)
            return None

    frank = attempt("Frank et al. (2015)", "frank2015", frank_path, n_words=n_words)
    trials = attempt("Frank et al. (2015), trial by trial", "frank2015_trials", trials_path,
                     exclude="published")
    ns = attempt("Natural Stories", "naturalstories", naturalstories_path)
    if ns is not None and n_stories:
        ns = ns.subset(ns.groups["story"] < n_stories, note=f"first {n_stories} stories")
    return RealDatasets(frank, trials, ns, missing)


# --------------------------------------------------------------------------- de Varda
def devarda_table(frank, surprisal):
    """Correlations of surprisal with every ERP component and reading measure.

    Parameters
    ----------
    frank : WordDataset
        The Frank et al. (2015) table with every row (``open_dataset("frank2015")``); its
        ``metadata`` holds the measures and the shipped surprisal columns.
    surprisal : dict of str to ndarray, each (n_words,)
        Our models' surprisal (nats) of the same rows, by model name.

    Returns
    -------
    table : DataFrame
        Rows: our models and the shipped surprisal columns; columns: the measures
        (short labels); values: Pearson r over the words kept by the published
        exclusion.
    published : DataFrame
        The published r of the shipped columns (same layout).
    info : dict
        ``n_words`` (kept), ``n_excluded``, the reasons counted and ``kept`` (bool mask of
        the rows, for intervals of the same correlations: :func:`r_interval`).
    """
    from .reference import (DEVARDA_MEASURES, DEVARDA_PUBLISHED, DEVARDA_REFERENCE_COLUMNS,
                            devarda_correlations, devarda_exclusion)

    if frank.metadata is None or "word" not in frank.metadata.columns:
        raise DataError(f"{frank.source}: no per-word table; expected the dataset made by "
                        "load_frank2015 (all_measures.csv).")
    table = frank.metadata.copy()
    for j, c in enumerate(frank.ch_names):  # the ERP components are the responses
        table[c] = frank.responses[:, j, 0]
    excl = devarda_exclusion(table)
    predictors = {f"{name} (ours)": np.asarray(v, float) for name, v in surprisal.items()}
    predictors.update({col: col for col in DEVARDA_REFERENCE_COLUMNS})
    corr = devarda_correlations(table, predictors, kept=excl["kept"].to_numpy())
    r = corr["r"].rename(columns=dict(DEVARDA_MEASURES))
    published = DEVARDA_PUBLISHED.frame(labels=True)
    n = int(corr["n"].to_numpy().min())
    reasons = excl.loc[~excl["kept"], "reason"].value_counts().to_dict()
    return r, published, {"n_words": n, "n_excluded": int((~excl["kept"]).sum()),
                          "reasons": reasons, "kept": excl["kept"].to_numpy(bool)}


# --------------------------------------------------------------------------- Futrell2018
def _abs_interval(ci):
    """Interval of |r| from an interval of r (0 at the bottom when it spans zero)."""
    lo, hi = ci
    if lo <= 0 <= hi:
        return [0.0, float(max(-lo, hi))]
    return sorted([abs(float(lo)), abs(float(hi))])


def futrell2018_table(ns, surprisal_nats, groups=None, n_boot=0, seed=0):
    """Brain-Score's Futrell2018 score for our models, GPT-3 and the published models.

    Parameters
    ----------
    ns : WordDataset
        Natural Stories (``open_dataset("naturalstories")``): ``responses`` are the mean
        reading times, ``metadata`` has ``word_within_sentence`` and
        ``gpt3_surprisal_bits``.
    surprisal_nats : dict of str to ndarray, each (n_words,)
        Our models' surprisal of every row (nats), with the preceding story as context.
    groups : array_like, shape (n_words,) | None
        Resampling units of the intervals (e.g. ``ns.sentence``); ``None`` resamples
        words.
    n_boot, seed : int
        Bootstrap resamples of the intervals of the rows computed here (0: none).

    Returns
    -------
    DataFrame
        One row per model: ``raw_r`` (signed Pearson), ``ceiling``, ``normalised``
        (|r| / ceiling, clipped to [0, 1]), ``n_words``, ``source`` ("computed here" or
        the published reference); with ``n_boot`` also ``raw_r low``/``raw_r high`` and
        ``normalised low``/``normalised high`` (95 % bootstrap intervals over
        ``groups``, the ceiling held fixed; NaN for published rows).
    """
    from .reference import FUTRELL2018_CEILING, FUTRELL2018_PUBLISHED, futrell2018_score

    rt = ns.responses[:, 0, 0].astype(float)
    initial = ns.metadata["word_within_sentence"].to_numpy() == 1
    rows = {}

    def interval(bits, sc):
        if not n_boot:
            return {}
        keep = ~initial
        ri = r_interval(np.where(keep, bits, np.nan), rt,
                        None if groups is None else np.asarray(groups), n_boot, seed)
        norm = [min(v / sc["ceiling"], 1.0) for v in _abs_interval(ri["ci"])]
        return {"raw_r low": ri["ci"][0], "raw_r high": ri["ci"][1],
                "normalised low": norm[0], "normalised high": norm[1]}

    for name, s in surprisal_nats.items():
        bits = np.asarray(s, float) / LN2
        sc = futrell2018_score(bits, rt, initial)
        rows[name] = {"raw_r": sc["raw_r"], "ceiling": sc["ceiling"],
                      "normalised": sc["normalised"], "n_words": sc["n_words"],
                      "source": "computed here (preceding story as context)",
                      **interval(bits, sc)}
    gpt3 = ns.metadata["gpt3_surprisal_bits"].to_numpy(dtype=float)
    sc = futrell2018_score(gpt3, rt, initial)
    rows["GPT-3 davinci (corpus log-probabilities)"] = {
        "raw_r": sc["raw_r"], "ceiling": sc["ceiling"], "normalised": sc["normalised"],
        "n_words": sc["n_words"],
        "source": "computed here from all_stories_gpt3.csv (each story read alone)",
        **interval(gpt3, sc)}
    for name, pub in FUTRELL2018_PUBLISHED.items():
        rows[f"{name} (published)"] = {
            "raw_r": pub["raw"] if pub["raw"] is not None else pub["raw_implied"],
            "ceiling": FUTRELL2018_CEILING, "normalised": pub["normalised"],
            "n_words": np.nan, "source": pub["source"]}
    return pd.DataFrame(rows).T


# --------------------------------------------------------------------------- encoding
def gain_test(y, pred_a, pred_b, n_permutations=1000, seed=0, **null):
    """Permutation test of the gain in r of ``pred_b`` over ``pred_a``.

    Every test of a gain in this module goes through here. The permutations keep the
    serial dependence of the words (whole sentences or stories trade places, as the
    dataset's registry entry declares: :func:`analysis.datasets.null_design`); the
    intervals beside each gain resample whole sentences.

    Parameters
    ----------
    y, pred_a, pred_b : ndarray, shape (n_words, n_columns)
        Responses and two out-of-fold predictions (here centred within folds).
    n_permutations, seed : int
    **null
        The null's scheme and groups (:func:`analysis.datasets.null_design`); without
        them, blocks of words (:func:`analysis.stats.permutation_r_difference`).

    Returns
    -------
    dict
        As :func:`analysis.stats.permutation_r_difference`.
    """
    from .stats import permutation_r_difference

    return permutation_r_difference(y, pred_a, pred_b, n_permutations=n_permutations,
                                    seed=seed, **null)


def component_encoding(dataset, hidden, baseline, layers, n_permutations=1000, seed=0,
                       lexical=None, n_boot=1000, **fit_kw):
    """Per component: baseline, baseline + LM with the layer chosen inside the folds, gains.

    The language model's layer is chosen as its penalty is, inside each outer fold from
    the training words only (:func:`analysis.encoding.nested_layer_choice`, one layer per
    component and fold); the r, the gain and its test belong to that whole procedure,
    whose out-of-fold predictions never saw the words they predict, so the permutation
    test of the gain is not a test of a maximum over layers. The sweep of r per layer is
    returned as a description only (its argmax is not tested).

    All r here are computed within folds (:func:`analysis.encoding.centre_within_folds`):
    pooled out-of-fold r gives a baseline on noise a negative r that a model adding only
    prediction variance seems to "gain" from.

    Parameters
    ----------
    dataset : WordDataset
        Components (channels) of one window.
    hidden : ndarray, shape (n_layers, n_words, d)
        Language-model hidden states of the rows.
    baseline : ndarray, shape (n_words, d_b)
        Nuisance predictors (:func:`analysis.predictors.nuisance_predictors`).
    layers : list of int
        Layers competing.
    n_permutations : int
        Permutations of each test of a gain (:func:`gain_test`).
    seed : int
    lexical : dict | None
        The lexical baseline: ``static`` (n_words, d), the static embedding (layer 0), and
        ``surprisal`` (n_words,) of the words. Its model is the nuisance predictors and
        surprisal unpenalized plus a ridge on the static embedding. The language model's
        surprisal then joins the unpenalized band of the language-model fits too, so the
        two models differ only in the ridge features (the static embedding, or the layer
        chosen in the folds) and the gain over the lexical baseline is what the
        contextual representation adds beyond word identity and predictability (layer 0
        among the competing layers makes the two models the same in a fold that picks it).
        ``None``: the language-model fits have the nuisance predictors alone unpenalized.
    n_boot : int
        Resamples of the intervals (sentences when ``fit_kw["groups"]`` is given);
        0 skips them.
    **fit_kw
        Passed to :func:`analysis.encoding.fit_encoding` (folds, groups, threshold).

    Returns
    -------
    dict
        ``sweep`` (DataFrame layer x component: within-fold r of baseline + that layer;
        a description), ``best_layer`` (component -> argmax of the sweep, description
        only), ``chosen_layers`` (component -> list of the layer of each outer fold),
        ``layer`` (component -> modal chosen layer: the decision handed on), ``baseline``,
        ``nested`` and ``lexical`` (EncodingResult or None), ``splits``, ``table``
        (DataFrame per component; see Notes).

    Notes
    -----
    Table columns: ``r baseline`` (length, frequency, position), ``r baseline + LM``
    (nested; with ``lexical`` its unpenalized band includes surprisal), ``gain`` with ``gain low``/``gain high`` (bootstrap interval over the
    resampling units), ``p gain``, ``q gain`` (BH over components); with ``lexical``
    ``r lexical``, ``gain over lexical`` with its interval, ``p gain over lexical`` and
    ``q gain over lexical``; ``layers per fold``, ``layer (modal)`` and
    ``best layer (description)``.
    """
    from .datasets import null_design
    from .encoding import (centre_within_folds, cv_splits, fit_baseline, fit_encoding,
                           modal_layer, nested_layer_choice)
    from .stats import bootstrap_mean_r, fdr_bh, pearson_columns

    names = list(dataset.ch_names)
    n = dataset.n_words
    groups = fit_kw.get("groups")
    splits = cv_splits(n, fit_kw.get("n_folds", 10),
                       None if groups is None else np.asarray(groups), fit_kw.get("cv"))
    c = lambda a: centre_within_folds(np.asarray(a)[:, :, 0], splits)  # noqa: E731
    y = c(dataset.responses)
    baseline_fit = fit_baseline(baseline, dataset, **fit_kw)
    band = baseline  # unpenalized band of the language-model fits
    if lexical is not None:
        band = np.column_stack([baseline, np.asarray(lexical["surprisal"], float)])
    fits = {layer: fit_encoding(hidden[layer], dataset, baseline=band, layer=layer, **fit_kw)
            for layer in layers}
    sweep = pd.DataFrame({layer: pearson_columns(c(f.predictions), y) for layer, f in
                          fits.items()}, index=names).T.rename_axis("layer")
    nested = nested_layer_choice(fits, dataset, per_target=True, **fit_kw)
    preds = {"baseline": c(baseline_fit.predictions), "nested": c(nested.predictions)}
    lex = None
    if lexical is not None:
        lex = fit_encoding(np.asarray(lexical["static"]), dataset, baseline=band, layer=0,
                           **fit_kw)
        preds["lexical"] = c(lex.predictions)
    rows = []
    null = null_design(dataset)
    for j, name in enumerate(names):
        col = {k: v[:, j:j + 1] for k, v in preds.items()}
        yj = y[:, j:j + 1]
        chosen = [int(v) for v in nested.chosen_layers[:, j, 0]]
        test = gain_test(yj, col["baseline"], col["nested"], n_permutations, seed, **null)
        row = {"component": name,
               "r baseline": float(pearson_columns(col["baseline"], yj)[0]),
               "r baseline + LM": float(pearson_columns(col["nested"], yj)[0]),
               "gain": float(test["delta"][0]), "p gain": float(test["p_greater"][0])}
        if lex is not None:
            lt = gain_test(yj, col["lexical"], col["nested"], n_permutations, seed, **null)
            row.update({"r lexical": float(pearson_columns(col["lexical"], yj)[0]),
                        "gain over lexical": float(lt["delta"][0]),
                        "p gain over lexical": float(lt["p_greater"][0])})
        if n_boot:
            for ref, key in (("baseline", "gain"), ("lexical", "gain over lexical")):
                if ref not in col:
                    continue
                b = bootstrap_mean_r(yj, col, reference=ref, n_boot=n_boot, seed=seed,
                                     groups=groups)
                row[f"{key} low"], row[f"{key} high"] = b["nested"]["diff_ci"]
                if ref == "baseline":
                    row["r baseline + LM low"], row["r baseline + LM high"] = b["nested"]["ci"]
        row.update({"layers per fold": ",".join(map(str, chosen)),
                    "layer (modal)": modal_layer(chosen),
                    "best layer (description)": int(sweep[name].idxmax())})
        rows.append(row)
    table = pd.DataFrame(rows).set_index("component")
    table["q gain"] = fdr_bh(table["p gain"].to_numpy())[1]
    if lex is not None:
        table["q gain over lexical"] = fdr_bh(table["p gain over lexical"].to_numpy())[1]
    return {"sweep": sweep, "best_layer": {k: int(sweep[k].idxmax()) for k in names},
            "chosen_layers": {k: [int(v) for v in nested.chosen_layers[:, j, 0]]
                              for j, k in enumerate(names)},
            "layer": {k: int(table.loc[k, "layer (modal)"]) for k in names},
            "baseline": baseline_fit, "nested": nested, "lexical": lex, "splits": splits,
            "table": table}


# --------------------------------------------------------------------------- categories
#: Cosine threshold of the word tagger, set once on the project's hand-labelled story
#: (at 0.3 the emotion tags have precision 0.43 / recall 0.51 and the physical tags
#: 0.50 / 0.29 against the story's labels in resources/story_annotations.csv, measured once
#: when the threshold was set).
TAGGER_THRESHOLD = 0.3
#: How the tagger's threshold was set, in the chapter's words.
TAGGER_NOTE = (f"threshold {TAGGER_THRESHOLD}, chosen on the project's hand-labelled story, "
               "where it agrees only moderately with the hand labels")


def word_categories(words, embedder, threshold=TAGGER_THRESHOLD):
    """Social/emotional and physical words, tagged by sentence-embedding similarity.

    A content word (letters only, 3 characters or more, not an English stop word) is
    embedded alone with the verifier's model and compared with the domain descriptions
    of ``analysis/resources/domain_descriptions.csv``. It is tagged with a domain when
    its best similarity to that domain's descriptions exceeds ``threshold`` and is at
    least its best similarity to every other domain. This stands in for hand labels,
    which the real datasets lack; its agreement with the project's hand-labelled story
    is reported by the chapter.

    Parameters
    ----------
    words : sequence of str
    embedder : analysis.hypotheses.EmbeddingVerifier
    threshold : float

    Returns
    -------
    dict of str to ndarray of bool
        ``emotion`` and ``physical``, each (n_words,).
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from .hypotheses import RESOURCES

    desc = pd.read_csv(RESOURCES / "domain_descriptions.csv")
    tokens = [str(w).strip(".,;:!?\"'()-\u2018\u2019\u201c\u201d").lower() for w in words]
    content = np.array([len(t) > 2 and t.isalpha() and t not in ENGLISH_STOP_WORDS
                        for t in tokens])
    unique = sorted({t for t, c in zip(tokens, content) if c})
    out = {"emotion": np.zeros(len(tokens), bool), "physical": np.zeros(len(tokens), bool)}
    if not unique:
        return out
    sim = embedder.embed(unique) @ embedder.embed(desc["description"].tolist()).T
    domain = desc["domain"].to_numpy()
    best = {d: sim[:, domain == d].max(axis=1) for d in np.unique(domain)}
    index = {t: i for i, t in enumerate(unique)}
    for name, d in (("emotion", "social/emotional"), ("physical", "physical")):
        rival = np.max([v for k, v in best.items() if k != d], axis=0)
        tagged = (best[d] > threshold) & (best[d] >= rival)
        out[name] = np.array([c and bool(tagged[index[t]]) for t, c in zip(tokens, content)])
    return out


# --------------------------------------------------------------------------- the chapter's numbers
#: The measures of the de Varda et al. (2023) table the chapter shows (short labels).
DEVARDA_SHOWN = ("N400", "LAN", "P600", "SPR", "FFix", "FPass", "GoPast")
#: The columns of :func:`futrell2018_table` the chapter shows.
FUTRELL2018_SHOWN = ("raw_r", "raw_r low", "raw_r high", "ceiling", "normalised",
                     "normalised low", "normalised high", "n_words")
#: The columns of the encoding table the chapter shows (ceiling columns added when there).
ENCODING_SHOWN = ("r baseline", "r lexical", "r baseline + LM", "gain", "gain low",
                  "gain high", "p gain", "q gain", "gain over lexical",
                  "gain over lexical low", "gain over lexical high", "p gain over lexical",
                  "layers per fold", "layer (modal)", "best layer (description)")
#: The reference surprisal column whose N400 correlation gets an interval beside ours.
DEVARDA_INTERVAL_REFERENCE = "s_GPT2"

_DEVARDA_TEXTS = ("dv_n", "dv_ours_n400", "dv_gpt2_n400", "dv_gpt2_pub", "dv_ours_fpass",
                  "dv_max_diff", "dv_ours_n400_ci", "dv_gpt2_n400_ci", "dv_n_sent")
_FUTRELL_TEXTS = ("fut_ours", "fut_ours_r", "fut_gpt3", "ns_n", "fut_ours_ci")
_CEILING_TEXTS = ("n400_rel", "n400_ceiling", "n400_ceiling_ci")
_ENCODING_TEXTS = ("freq_source", "enc_n", "n400_baseline", "n400_nested", "n400_gain_p",
                   "n400_layer", "n400_share", "n400_lex", "n400_gain", "n400_gain_lex",
                   "n400_gain_lex_p", "n400_fold_layers", "n400_sweep_peak")
#: The Futrell2018 row of the GPT-3 log-probabilities shipped with the corpus.
GPT3_ROW = "GPT-3 davinci (corpus log-probabilities)"


def _not_available(keys):
    """Every text of a section that could not run: ``"n/a"``."""
    return {k: "n/a" for k in keys}


def _interval_text(ci, fmt="{:.3f}", sep=" to "):
    """An interval ``[low, high]`` as text."""
    return fmt.format(ci[0]) + sep + fmt.format(ci[1])


def _optional_float(value):
    """``float(value)``, or ``None`` where it is missing (NaN or absent)."""
    return None if value is None or pd.isna(value) else float(value)


@dataclass(frozen=True)
class DevardaSummary:
    """The de Varda et al. (2023) comparison of one run, as the chapter reports it.

    Attributes
    ----------
    table, published : DataFrame
        Recomputed and published Pearson r, models x measures (:func:`devarda_table`).
    info : dict
        ``n_words``, ``n_excluded``, ``reasons``, ``kept`` (:func:`devarda_table`).
    intervals : dict of str to dict
        ``"ours"`` (the first of our models) and :data:`DEVARDA_INTERVAL_REFERENCE`: the
        r with the N400 and its bootstrap interval over sentences (:func:`r_interval`).
    model : str
        The first of our models (its row is ``f"{model} (ours)"``).
    """

    table: pd.DataFrame
    published: pd.DataFrame
    info: dict
    intervals: dict
    model: str


def devarda_summary(frank, surprisal, n_boot=1000, seed=0):
    """The de Varda et al. (2023) table with intervals on the N400 for the chapter.

    Parameters
    ----------
    frank : WordDataset
        The Frank et al. (2015) table with every row (as :func:`devarda_table`); its
        responses include the ``"N400"`` component.
    surprisal : dict of str to ndarray, each (n_words,)
        Our models' surprisal (nats) by model name; the first gets an interval.
    n_boot, seed : int
        Bootstrap resamples (of sentences) of the two intervals.

    Returns
    -------
    DevardaSummary

    Raises
    ------
    DataError
        No per-word table (:func:`devarda_table`), no ``"N400"`` component, or no model.

    Notes
    -----
    Protocol of de Varda, Marelli & Amenta (2023): Pearson r of surprisal with each
    measure over the words left after their exclusion (full stops, commas, clitics).
    """
    if not surprisal:
        raise DataError(f"{frank.source}: no surprisal given; expected one array per model.")
    if "N400" not in list(frank.ch_names):
        raise DataError(f"{frank.source}: no 'N400' among the components {list(frank.ch_names)}.")
    table, published, info = devarda_table(frank, surprisal)
    kept = info["kept"]
    n400 = frank.responses[:, list(frank.ch_names).index("N400"), 0]
    model = next(iter(surprisal))
    series = {"ours": np.asarray(surprisal[model], float),
              DEVARDA_INTERVAL_REFERENCE:
                  frank.metadata[DEVARDA_INTERVAL_REFERENCE].to_numpy(float)}
    intervals = {name: r_interval(x[kept], n400[kept], np.asarray(frank.sentence)[kept],
                                  n_boot, seed) for name, x in series.items()}
    return DevardaSummary(table, published, info, intervals, model)


def devarda_comparison(summary, measures=DEVARDA_SHOWN):
    """Recomputed beside published r, one row per predictor (the chapter's table).

    Parameters
    ----------
    summary : DevardaSummary
    measures : sequence of str
        Measure labels shown.

    Returns
    -------
    DataFrame
        Columns ``("recomputed here", measure)`` and ``("published", measure)``; NaN
        where nothing is published (our models).
    """
    measures = list(measures)
    return pd.concat({"recomputed here": summary.table[measures],
                      "published": summary.published.reindex(summary.table.index)[measures]},
                     axis=1)


def devarda_max_difference(summary):
    """Largest |recomputed - published| r over the cells both tables hold (float)."""
    pub = summary.published.reindex(columns=summary.table.columns)
    return float(np.nanmax(np.abs(summary.table.loc[summary.published.index] - pub).to_numpy()))


def devarda_texts(summary):
    """The prose's numbers of the de Varda section (``"n/a"`` for each when ``None``).

    Parameters
    ----------
    summary : DevardaSummary | None

    Returns
    -------
    dict of str to str or int
        ``dv_n``, ``dv_ours_n400``, ``dv_gpt2_n400``, ``dv_gpt2_pub``, ``dv_ours_fpass``,
        ``dv_max_diff``, ``dv_ours_n400_ci``, ``dv_gpt2_n400_ci``, ``dv_n_sent``.
    """
    if summary is None:
        return _not_available(_DEVARDA_TEXTS)
    t, ref, ours = summary.table, DEVARDA_INTERVAL_REFERENCE, f"{summary.model} (ours)"
    return {"dv_ours_n400_ci": _interval_text(summary.intervals["ours"]["ci"]),
            "dv_gpt2_n400_ci": _interval_text(summary.intervals[ref]["ci"]),
            "dv_n_sent": summary.intervals["ours"]["n_groups"],
            "dv_n": f"{summary.info['n_words']:,}",
            "dv_ours_n400": f"{t.loc[ours, 'N400']:.3f}",
            "dv_gpt2_n400": f"{t.loc[ref, 'N400']:.3f}",
            "dv_gpt2_pub": f"{summary.published.loc[ref, 'N400']:.3f}",
            "dv_ours_fpass": f"{t.loc[ours, 'FPass']:.3f}",
            "dv_max_diff": f"{devarda_max_difference(summary):.1e}"}


def devarda_results(summary):
    """The chapter's results of the de Varda section (JSON-ready).

    Returns
    -------
    dict
        ``surprisal_vs_erp`` (measure -> model -> r, and ``n_words``),
        ``surprisal_vs_erp_n400_interval`` (``r``, ``ci``, ``unit``, ``n_units`` for ours
        and the reference column) and ``surprisal_vs_erp_published``.
    """
    t, pub = summary.table, summary.published
    erp = {m: {model: float(t.loc[model, m]) for model in t.index} for m in t.columns}
    erp["n_words"] = summary.info["n_words"]
    return {"surprisal_vs_erp": erp,
            "surprisal_vs_erp_n400_interval": {
                k: {"r": v["r"], "ci": v["ci"], "unit": "sentences", "n_units": v["n_groups"]}
                for k, v in summary.intervals.items()},
            "surprisal_vs_erp_published": {
                m: {model: float(pub.loc[model, m]) for model in pub.index}
                for m in pub.columns}}


def futrell2018_texts(table, model):
    """The prose's numbers of the Futrell2018 section (``"n/a"`` for each without a table).

    Parameters
    ----------
    table : DataFrame | None
        :func:`futrell2018_table` with intervals (``n_boot`` > 0).
    model : str
        Our model whose row the prose reads.

    Returns
    -------
    dict of str to str
        ``fut_ours``, ``fut_ours_ci``, ``fut_ours_r``, ``fut_gpt3``, ``ns_n``.
    """
    if table is None:
        return _not_available(_FUTRELL_TEXTS)
    row = table.loc[model]
    return {"fut_ours": f"{row['normalised']:.3f}",
            "fut_ours_ci": _interval_text(
                row[["normalised low", "normalised high"]].astype(float).tolist()),
            "fut_ours_r": f"{row['raw_r']:.3f}",
            "fut_gpt3": f"{table.loc[GPT3_ROW, 'raw_r']:.3f}",
            "ns_n": f"{int(row['n_words']):,}"}


def futrell2018_results(table):
    """The chapter's ``futrell2018`` results: one JSON-ready dict per row of the table.

    Parameters
    ----------
    table : DataFrame
        :func:`futrell2018_table`.

    Returns
    -------
    dict of str to dict
        ``raw_r``, ``ceiling``, ``normalised``, ``n_words`` (None for published rows),
        ``source``, ``normalised_ci`` and ``raw_r_ci`` ([low, high] or None).
    """
    def ci(row, key):
        low = _optional_float(row.get(f"{key} low"))
        return None if low is None else [low, float(row[f"{key} high"])]

    return {name: {"raw_r": float(row["raw_r"]), "ceiling": float(row["ceiling"]),
                   "normalised": float(row["normalised"]),
                   "n_words": None if pd.isna(row["n_words"]) else int(row["n_words"]),
                   "source": row["source"], "normalised_ci": ci(row, "normalised"),
                   "raw_r_ci": ci(row, "raw_r")}
            for name, row in table.iterrows()}


def n400_ceiling(trials, sentences=None, n_splits=100, seed=0):
    """Noise ceiling on r of the readers' average N400, from random split halves.

    Parameters
    ----------
    trials : WordDataset
        The N400 trial by trial (``open_dataset("frank2015_trials")``):
        ``subject_responses`` (n_subjects, n_words, n_channels, n_windows), the N400
        first.
    sentences : array_like | None
        ``sent_id`` values to keep (the sentences of the ERP table); ``None`` keeps all.
    n_splits, seed : int
        Random split halves of the readers (:func:`analysis.stats.split_half_ceiling`).

    Returns
    -------
    dict
        ``{"N400": {...}}`` with ``reliability`` (Spearman-Brown corrected split-half r
        of the average), ``ceiling_r`` (its square root, 0 when negative), ``interval``
        (the spread over splits, on the ceiling's scale), ``n_subjects``, ``n_words``.

    Raises
    ------
    DataError
        No per-reader responses, or ``sentences`` given without a ``sent_id`` column.

    Notes
    -----
    Nothing is published for these data (Frank et al. 2015; trial data of Aurnhammer &
    Frank 2019); the ceiling on r of a model of the true average is the square root of
    the average's reliability.
    """
    from .stats import split_half_ceiling

    if trials.subject_responses is None:
        raise DataError(f"{trials.source}: no per-reader responses (subject_responses); "
                        "expected the trial-by-trial N400 (frank2015_trials).")
    if sentences is not None:
        if trials.metadata is None or "sent_id" not in trials.metadata.columns:
            raise DataError(f"{trials.source}: no 'sent_id' column in the metadata; "
                            "expected one sentence id per word to keep the ERP table's "
                            "sentences.")
        trials = trials.subset(trials.metadata["sent_id"].isin(np.asarray(sentences)).to_numpy(),
                               note="the sentences of the ERP table")
    sh = split_half_ceiling(trials.subject_responses[:, :, 0, 0], n_splits=n_splits, seed=seed)
    return {"N400": {"reliability": sh["mean"],
                     "ceiling_r": float(np.sqrt(max(sh["mean"], 0))),
                     "interval": [float(np.sqrt(max(v, 0))) for v in sh["interval"]],
                     "n_subjects": sh["n_subjects"], "n_words": trials.n_words}}


def ceiling_table(ceiling):
    """The ceilings as a table: one row per component (reliability, ceiling_r, n)."""
    return pd.DataFrame(ceiling).T[["reliability", "ceiling_r", "n_subjects", "n_words"]]


def ceiling_texts(ceiling):
    """``n400_rel``, ``n400_ceiling``, ``n400_ceiling_ci`` for the prose (``"n/a"`` without)."""
    if "N400" not in ceiling:
        return _not_available(_CEILING_TEXTS)
    c = ceiling["N400"]
    return {"n400_rel": f"{c['reliability']:.3f}", "n400_ceiling": f"{c['ceiling_r']:.2f}",
            "n400_ceiling_ci": _interval_text(c["interval"], "{:.2f}", "-")}


def ceiling_results(ceiling):
    """``noise_ceiling`` (component -> ceiling r) and ``noise_ceiling_details``."""
    return {"noise_ceiling": {k: v["ceiling_r"] for k, v in ceiling.items()},
            "noise_ceiling_details": ceiling}


@dataclass(frozen=True)
class ErpEncoding:
    """The encoding of the ERP components on the published words, as the chapter uses it.

    Attributes
    ----------
    dataset : WordDataset
        The Frank et al. (2015) rows left by the de Varda et al. (2023) exclusion.
    hidden : ndarray, shape (n_layers, n_words, d)
        The language model's hidden states of those rows.
    baseline : ndarray, shape (n_words, d_b)
        Nuisance predictors (:func:`analysis.predictors.nuisance_predictors`).
    baseline_info : dict
        What :func:`analysis.predictors.nuisance_predictors` says of them
        (``frequency_source``, ...).
    fit_kw : dict
        The fitting settings (folds, inner folds, threshold, sentence groups), for any
        further fit on the same words.
    fit : dict
        :func:`component_encoding`'s output.
    table : DataFrame
        ``fit["table"]`` with ``ceiling`` and ``share of ceiling`` (with its interval)
        where a ceiling is known (:func:`add_ceiling_share`).
    """

    dataset: object
    hidden: np.ndarray
    baseline: np.ndarray
    baseline_info: dict
    fit_kw: dict
    fit: dict
    table: pd.DataFrame


def swept_layers(n_layers, layer_step=1):
    """Every ``layer_step``-th layer of ``n_layers``, always with layer 0 (sorted list)."""
    if int(layer_step) < 1:
        raise DataError(f"parameter 'layer_step' is {layer_step}; expected an integer >= 1.")
    return sorted(set(range(0, int(n_layers), int(layer_step))) | {0})


def add_ceiling_share(table, ceiling):
    """The encoding table with each component's ceiling and its r as a share of it.

    Parameters
    ----------
    table : DataFrame
        :func:`component_encoding`'s table (rows: components; ``r baseline + LM`` with
        ``low``/``high``).
    ceiling : dict of str to dict
        Component -> ``{"ceiling_r": float, ...}`` (:func:`n400_ceiling`); components
        of the table without one get NaN.

    Returns
    -------
    DataFrame
        A copy; with a known ceiling, ``ceiling`` and ``share of ceiling`` (``r baseline +
        LM`` / ceiling) with ``share of ceiling low``/``high`` (the interval of r over the
        fixed ceiling). Without any, the table unchanged.
    """
    table = table.copy()
    known = [c for c in ceiling if c in table.index]
    if not known:
        return table
    for c in known:
        table.loc[c, "ceiling"] = ceiling[c]["ceiling_r"]
    for col in ("", " low", " high"):
        table["share of ceiling" + col] = table["r baseline + LM" + col] / table["ceiling"]
    return table


def encoding_columns(table):
    """The columns of the encoding table the chapter shows (list of str)."""
    return list(ENCODING_SHOWN) + [c for c in ("ceiling", "share of ceiling") if c in table]


def erp_encoding(frank, features, layer_step=1, ceiling=None, n_permutations=1000,
                 n_boot=1000, seed=0, **fit_kw):
    """The chapter's encoding of the ERP components on the published words.

    Keeps the rows of the de Varda et al. (2023) exclusion (``published_exclusion``),
    builds the nuisance baseline, sweeps every ``layer_step``-th layer with the lexical
    baseline of the static embedding (layer 0) and surprisal, and runs
    :func:`component_encoding` with sentences as the folds' and intervals' groups.

    Parameters
    ----------
    frank : WordDataset
        The Frank et al. (2015) table with every row; ``metadata`` has the bool column
        ``published_exclusion``.
    features : Features
        The language model's features of those rows (:func:`analysis.features.
        extract_features`): ``hidden`` (n_layers, n_words, d) and ``surprisal`` (n_words,)
        in nats.
    layer_step : int
    ceiling : dict | None
        Component -> ceiling (:func:`n400_ceiling`); adds the share of the ceiling.
    n_permutations, n_boot, seed : int
        As :func:`component_encoding`.
    **fit_kw
        ``n_folds``, ``n_inner``, ``p_threshold`` (:func:`analysis.encoding.fit_encoding`).

    Returns
    -------
    ErpEncoding

    Raises
    ------
    DataError
        No ``published_exclusion`` column, or features of other rows.
    """
    from .predictors import nuisance_predictors

    if frank.metadata is None or "published_exclusion" not in frank.metadata.columns:
        raise DataError(f"{frank.source}: no 'published_exclusion' column in the metadata; "
                        "expected the dataset made by load_frank2015 (all_measures.csv).")
    hidden = np.asarray(features.hidden)
    if hidden.shape[1] != frank.n_words:
        raise DataError(f"{frank.source}: features of {hidden.shape[1]} words for "
                        f"{frank.n_words} rows; expected the features of these rows.")
    kept = ~frank.metadata["published_exclusion"].to_numpy(bool)
    erp = frank.subset(kept, note="de Varda et al. (2023) exclusion")
    hidden = hidden[:, kept]
    baseline, baseline_info = nuisance_predictors(erp)
    fit_kw = dict(fit_kw, groups=erp.group_labels("sentence"))
    lexical = {"static": hidden[0], "surprisal": np.asarray(features.surprisal)[kept]}
    fit = component_encoding(erp, hidden, baseline, swept_layers(hidden.shape[0], layer_step),
                             n_permutations=n_permutations, seed=seed, lexical=lexical,
                             n_boot=n_boot, **fit_kw)
    table = add_ceiling_share(fit["table"], ceiling or {})
    return ErpEncoding(erp, hidden, baseline, baseline_info, fit_kw, fit, table)


def lexical_gain_power(encoding, ceiling=None, n_sim=200, seed=0, component="N400"):
    """What the test of the N400's gain over the lexical baseline could detect.

    The minimum detectable effect of the permutation test of a gain in r, simulated on
    data calibrated to these words (:func:`analysis.power.null_power` with
    :func:`analysis.power.dataset_design` and :func:`analysis.power.r_difference_design`).

    Parameters
    ----------
    encoding : ErpEncoding
    ceiling : dict | None
        Component -> ceiling (:func:`n400_ceiling`), caps the simulated r.
    n_sim, seed : int
    component : str
    n_refit : int
        Permutations of the refit null, at most ``n_permutations`` (both models are
        fitted again on ``n_refit`` permuted responses at once; 1,000 give p >= 0.001).

    Returns
    -------
    dict
        As :func:`analysis.power.null_power` (its ``sentence`` is the prose's text).
    """
    from . import power

    erp, fit = encoding.dataset, encoding.fit
    j = list(erp.ch_names).index(component)
    row = encoding.table.loc[component]
    design = {**power.dataset_design(erp.pick([component])),
              **power.r_difference_design(erp.responses[:, j], fit["lexical"].predictions[:, j],
                                          fit["nested"].predictions[:, j]),
              "r_reference": float(row["r lexical"])}
    return power.null_power(row["p gain over lexical"], "r_difference", alternative="greater",
                            ceiling=(ceiling or {}).get(component, {}).get("ceiling_r"),
                            n_sim=n_sim, seed=seed, **design)


def encoding_texts(encoding, lexical_power=None):
    """The prose's numbers of the encoding section (``"n/a"`` for each without a fit).

    Parameters
    ----------
    encoding : ErpEncoding | None
    lexical_power : dict | None
        :func:`lexical_gain_power` (its ``sentence``).

    Returns
    -------
    dict of str to str or int
        ``freq_source``, ``enc_n`` and the N400's ``n400_baseline``, ``n400_lex``,
        ``n400_nested``, ``n400_gain``, ``n400_gain_lex``, ``n400_gain_p``,
        ``n400_gain_lex_p``, ``n400_layer``, ``n400_fold_layers``, ``n400_sweep_peak``,
        ``n400_share``, ``n400_gain_lex_power``.
    """
    if encoding is None:
        return _not_available(_ENCODING_TEXTS + ("n400_gain_lex_power",))
    n = encoding.table.loc["N400"]

    def gain(key):
        return f"{n[key]:+.3f} ({n[key + ' low']:+.3f} to {n[key + ' high']:+.3f})"

    share = "n/a" if "share of ceiling" not in n else (
        f"{n['share of ceiling']:.2f} ({n['share of ceiling low']:.2f} to "
        f"{n['share of ceiling high']:.2f})")
    return {"freq_source": encoding.baseline_info["frequency_source"],
            "enc_n": f"{encoding.dataset.n_words:,}",
            "n400_baseline": f"{n['r baseline']:.3f}", "n400_lex": f"{n['r lexical']:.3f}",
            "n400_nested": f"{n['r baseline + LM']:.3f}", "n400_gain": gain("gain"),
            "n400_gain_lex": gain("gain over lexical"),
            "n400_gain_p": f"{n['p gain']:.2g}",
            "n400_gain_lex_p": f"{n['p gain over lexical']:.2g}",
            "n400_layer": int(n["layer (modal)"]),
            "n400_fold_layers": n["layers per fold"].replace(",", ", "),
            "n400_sweep_peak": int(n["best layer (description)"]),
            "n400_share": share,
            "n400_gain_lex_power": "n/a" if lexical_power is None else lexical_power["sentence"]}


def encoding_results(encoding, lexical_power=None):
    """The chapter's results of the encoding section (JSON-ready).

    Parameters
    ----------
    encoding : ErpEncoding
    lexical_power : dict | None
        :func:`lexical_gain_power`, stored as the N400's ``power_gain_over_lexical``.

    Returns
    -------
    dict
        ``encoding`` (component -> r, gains with intervals, p and q, layers, share of the
        ceiling), ``encoding_sweep`` (layer -> component -> r) and
        ``encoding_sweep_note``.
    """
    fit = encoding.fit

    def interval(row, key):
        return [float(row[key + " low"]), float(row[key + " high"])]

    def share(row, value):
        return None if pd.isna(row.get("share of ceiling", np.nan)) else value()

    out = {c: {"baseline": float(row["r baseline"]),
               "nested": float(row["r baseline + LM"]),
               "nested_ci": interval(row, "r baseline + LM"),
               "baseline_lexical": float(row["r lexical"]),
               "gain": float(row["gain"]), "gain_ci": interval(row, "gain"),
               "gain_over": "length, frequency, position",
               "p_gain": float(row["p gain"]), "q_gain": float(row["q gain"]),
               "gain_over_lexical": float(row["gain over lexical"]),
               "gain_over_lexical_ci": interval(row, "gain over lexical"),
               "p_gain_over_lexical": float(row["p gain over lexical"]),
               "q_gain_over_lexical": float(row["q gain over lexical"]),
               "layer": int(row["layer (modal)"]),
               "layers_per_fold": fit["chosen_layers"][c],
               "best_layer_description": int(row["best layer (description)"]),
               "share_of_ceiling": share(row, lambda: float(row["share of ceiling"])),
               "share_of_ceiling_ci": share(row, lambda: interval(row, "share of ceiling"))}
           for c, row in encoding.table.iterrows()}
    if lexical_power is not None:
        out["N400"]["power_gain_over_lexical"] = lexical_power
    return {"encoding": out,
            "encoding_sweep": {int(k): v for k, v in
                               fit["sweep"].to_dict(orient="index").items()},
            "encoding_sweep_note": ("r of baseline + each layer on all words: a "
                                    "description; its peak is not tested")}


def handed_layer(encoding, model, component="N400"):
    """The layer decision handed to the fine-tuning and models chapters.

    Parameters
    ----------
    encoding : ErpEncoding
    model : str
        The language model's name, as in the chapter's parameters.
    component : str
    n_refit : int
        Permutations of the refit null, at most ``n_permutations`` (both models are
        fitted again on ``n_refit`` permuted responses at once; 1,000 give p >= 0.001).

    Returns
    -------
    analysis.contracts.RealDataLayer
        The modal layer chosen inside the outer folds, with the folds' layers and the
        sweep's peak (a description); write it with ``.write(results_dir)``.
    """
    from .contracts import RealDataLayer

    fit = encoding.fit
    return RealDataLayer(model=model, component=component, layer=fit["layer"][component],
                         rule="modal layer over the outer folds; in each fold the layer was "
                              "chosen from the training words only "
                              "(analysis.encoding.NESTED_RULE)",
                         fold_layers=fit["chosen_layers"][component],
                         best_layer_description=fit["best_layer"][component],
                         n_words=encoding.dataset.n_words)


def finetuned_retest(encoding, tuned_hidden, records, categories, n_permutations=1000,
                     n_sim=200, ceiling=None, seed=0, component="N400", n_refit=1000):
    """The fine-tuned models' layer against the base model's on one ERP component.

    The layer handed on (:func:`handed_layer`) of each fine-tuned model replaces the base
    model's in the nested model (:func:`analysis.finetune.brain_retest`); the difference
    in r is tested against a null that fits both models again on every permuted
    response (:func:`analysis.finetune.refit_r_difference`: holding out-of-fold
    predictions fixed makes the test liberal); the change of each word's error is compared between the
    category words and the rest, and the power of both tests is stated
    (:func:`analysis.power.retest_power`: for Delta r from the spread of the refit null
    the test drew, for the category effect by simulation).

    Parameters
    ----------
    encoding : ErpEncoding
    tuned_hidden : dict of str to ndarray, each (n_words, d)
        Per fine-tuning task, the fine-tuned model's hidden states at the handed layer
        on ``encoding.dataset``'s words.
    records : dict of str to dict
        Per task, the fine-tuning record (:class:`analysis.contracts.FinetunedModels`
        ``models``): ``accuracy``, ``accuracy_base``, ``category`` (``"emotion"`` or
        ``"physical"``).
    categories : dict of str to ndarray of bool, each (n_words,)
        Category words (:func:`word_categories`).
    n_permutations, n_sim, seed : int
    ceiling : dict | None
        Component -> ceiling (:func:`n400_ceiling`), caps the simulated r.
    component : str
    n_refit : int
        Permutations of the refit null, at most ``n_permutations`` (both models are
        fitted again on ``n_refit`` permuted responses at once; 1,000 give p >= 0.001).

    Returns
    -------
    dict of str to dict
        Per task: ``accuracy``, ``accuracy_base``, ``r_base``, ``r_finetuned``,
        ``p_better``, ``p_worse``, ``null`` ("refit" or "fixed predictions"), ``category``, ``category_p`` (None without a category
        test), ``n_category_words`` and ``power``.

    Raises
    ------
    DataError
        A task without hidden states, or hidden states of other words.
    """
    from .encoding import fit_encoding
    from .finetune.retest import brain_retest
    from .power import retest_power

    erp, fit_kw = encoding.dataset, encoding.fit_kw
    layer = encoding.fit["layer"][component]
    dataset = erp.pick([component])
    dataset.categories = categories
    base_fit = fit_encoding(encoding.hidden[layer], dataset, baseline=encoding.baseline,
                            layer=layer, **fit_kw)
    cap = (ceiling or {}).get(component, {}).get("ceiling_r")
    out = {}
    for task, rec in records.items():
        if task not in tuned_hidden:
            raise DataError(f"fine-tuned task '{task}': no hidden states given; expected "
                            "one array per task in tuned_hidden.")
        h = np.asarray(tuned_hidden[task])
        if h.shape[0] != erp.n_words:
            raise DataError(f"fine-tuned task '{task}': hidden states of {h.shape[0]} words; "
                            f"expected {erp.n_words} (the encoding's words).")
        rt = brain_retest(dataset, base_fit, h, n_permutations=n_permutations, seed=seed,
                          category=rec["category"], baseline=encoding.baseline,
                          base_values=encoding.hidden[layer],
                          n_refit=min(n_refit, n_permutations), **fit_kw)
        out[task] = {"accuracy": rec["accuracy"], "accuracy_base": rec["accuracy_base"],
                     "r_base": float(rt["base"].r[0, 0]), "r_finetuned": float(rt["ft"].r[0, 0]),
                     "p_better": float(rt["test"]["p_greater"][0, 0]),
                     "p_worse": float(rt["test"]["p_less"][0, 0]),
                     "null": "refit" if rt["test"]["null"]["refit"] else "fixed predictions",
                     "category": rec["category"],
                     "category_p": None if rt["category"] is None else
                     float(rt["category"]["p"][0]),
                     "n_category_words": int(categories[rec["category"]].sum()),
                     "power": retest_power(rt, dataset, n_sim=n_sim, seed=seed, ceiling=cap)}
    return out


def finetuned_texts(retest, layer=None):
    """``ft_layer``, ``ft_power`` and ``tagger_note`` for the prose.

    Parameters
    ----------
    retest : dict
        :func:`finetuned_retest` (empty when nothing was re-tested).
    layer : int | None
        The layer re-tested; ``None``: nothing was (``ft_layer`` and ``ft_power`` are
        ``"n/a"``).

    Returns
    -------
    dict of str to str or int
        ``tagger_note`` (how the word tagger was set, :data:`TAGGER_NOTE`) always;
        ``ft_findings``: :func:`finetuned_findings`; ``ft_power``: each task's power
        sentences (:func:`analysis.power.retest_power`; the Δr sentence names the refit
        null it comes from, or is marked "predictions held fixed").
    """
    if layer is None:
        return {"ft_layer": "n/a", "ft_power": "n/a", "ft_findings": "n/a",
                "tagger_note": TAGGER_NOTE}

    def r_label(v):  # the fixed-prediction MDE is simulated for that test: say so
        fixed = v["power"]["r"].get("test_null") == "fixed predictions"
        return "Δr (predictions held fixed)" if fixed else "Δr"

    power = "; ".join(f"{task}, {r_label(v)}: {v['power']['r']['sentence']}" + (
        "" if v["power"]["category"] is None else
        f"; {task}, {v['category']} words: {v['power']['category']['sentence']}")
        for task, v in retest.items())
    return {"ft_layer": layer, "ft_power": power or "n/a",
            "ft_findings": finetuned_findings(retest), "tagger_note": TAGGER_NOTE}


def finetuned_table(retest):
    """The fine-tuned models' N400 re-tests as the chapter shows them, a row per model.

    Parameters
    ----------
    retest : dict
        :func:`finetuned_retest`.

    Returns
    -------
    pandas.DataFrame
        Index: the model's display name; columns: held-out accuracy gain (points), r of
        the base and of the fine-tuned model, Δr, its two-sided p, the null used, the
        category tested, its p and its number of words.
    """
    from .finetune.retest import TASK_NAMES

    rows = {}
    for task, v in retest.items():
        rows[TASK_NAMES.get(task, task)] = {
            "accuracy gain (points)": 100.0 * (v["accuracy"] - v["accuracy_base"]),
            "r base": v["r_base"], "r fine-tuned": v["r_finetuned"],
            "Δr": v["r_finetuned"] - v["r_base"],
            "p (two-sided)": min(1.0, 2.0 * min(v["p_better"], v["p_worse"])),
            "null": v.get("null", "fixed predictions"), "category": v["category"],
            "p category": v["category_p"], "category words": v["n_category_words"]}
    return pd.DataFrame.from_dict(rows, orient="index")


def finetuned_findings(retest, component="N400", alpha=0.05):
    """One sentence per re-tested model, the knowledge models read against the control.

    Each model's change in r over the base model is given with its two-sided p (twice
    the smaller one-sided permutation p). A shuffled-answer control that moves the fit
    gets its own sentence, and each knowledge model's change is then set beside the
    control's: the paper's claim needs the knowledge models to beat a fine-tune that
    learned no knowledge, not only the base model (Methods page, fine-tuning and the
    brain re-test).

    Parameters
    ----------
    retest : dict
        :func:`finetuned_retest` (empty when nothing was re-tested).
    component : str
    n_refit : int
        Permutations of the refit null, at most ``n_permutations`` (both models are
        fitted again on ``n_refit`` permuted responses at once; 1,000 give p >= 0.001).
        The component re-tested, for the prose.
    alpha : float
        Two-sided level at which a change is called a change.

    Returns
    -------
    str
        Markdown prose; ``"n/a"`` when nothing was re-tested.
    """
    from .display import format_number
    from .finetune.retest import SHUFFLED_CONTROL, TASK_NAMES

    if not retest:
        return "n/a"

    def change(v):
        d = v["r_finetuned"] - v["r_base"]
        p2 = min(1.0, 2.0 * min(v["p_better"], v["p_worse"]))
        return d, p2

    def said(task, v):
        d, p2 = change(v)
        acc = 100.0 * (v["accuracy"] - v["accuracy_base"])
        return (f"{TASK_NAMES.get(task, task)} (held-out accuracy {acc:+.1f} points): "
                f"Δr {d:+.5f}, two-sided p = {format_number(p2)}")

    refit = all(v.get("null") == "refit" for v in retest.values())
    out = ["Against the base model" + (" (each permutation fits both models again)"
                                       if refit else "") + ": "
           + "; ".join(said(t, v) for t, v in retest.items()) + "."]
    control = retest.get(SHUFFLED_CONTROL)
    if control is not None:
        d_c, p_c = change(control)
        if p_c < alpha:
            out.append(
                f"The shuffled-answer control, trained with the same recipe and budget on "
                f"answers that carry no knowledge, fits the {component} "
                f"{'worse' if d_c < 0 else 'better'} than the base model "
                f"(Δr {d_c:+.5f}, p = {format_number(p_c)}): fine-tuning alone moves the "
                "fit this much, so a knowledge model's change counts only beyond the "
                "control's." + ("" if control.get("null") == "refit" else
                                " This re-test holds the predictions fixed and rejects more "
                                "often than its nominal rate on null data (Methods page)."))
        else:
            out.append(f"The shuffled-answer control does not move the fit of the {component} "
                       f"(Δr {d_c:+.5f}, p = {format_number(p_c)}).")
        beside = [f"{TASK_NAMES.get(t, t)} {change(v)[0] - d_c:+.5f}"
                  for t, v in retest.items() if t != SHUFFLED_CONTROL]
        if beside:
            out.append("Change in r beyond the control's: " + ", ".join(beside) + ".")
    return " ".join(out)
