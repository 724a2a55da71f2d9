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
* :func:`r_interval` -- a correlation with a bootstrap interval over sentences or stories;
* :func:`word_categories` -- social/emotional and physical words of a text by an
  automatic tagger (the real data have no hand labels), with its agreement with the
  project's hand-labelled story.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._utils import DataError

__all__ = ["devarda_table", "futrell2018_table", "component_encoding", "gain_test",
           "r_interval", "word_categories", "TAGGER_THRESHOLD"]

LN2 = float(np.log(2.0))


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


def r_interval(x, y, groups=None, n_boot=1000, seed=0, level=0.95):
    """Pearson r of two word-level series with a bootstrap interval over groups of words.

    Words of one sentence (or story) are not independent, so whole groups are resampled
    (:func:`analysis.stats.bootstrap_mean_r`). Rows where either value is not finite are
    left out.

    Parameters
    ----------
    x, y : array_like of float, shape (n_words,)
    groups : array_like, shape (n_words,) | None
        Resampling units (sentences, stories); ``None`` resamples words.
    n_boot, seed : int
    level : float

    Returns
    -------
    dict
        ``r``, ``ci`` ([low, high], percentile), ``se``, ``n_words``, ``n_groups``.
    """
    from .stats import bootstrap_mean_r

    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    g = None if groups is None else np.asarray(groups)[ok]
    b = bootstrap_mean_r(y[ok, None], {"x": x[ok, None]}, n_boot=n_boot, seed=seed,
                         groups=g, level=level)["x"]
    return {"r": b["mean_r"], "ci": b["ci"], "se": b["se"], "n_words": int(ok.sum()),
            "n_groups": int(ok.sum() if g is None else len(np.unique(g)))}


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
    base = fit_baseline(baseline, dataset, **fit_kw)
    band = baseline  # unpenalized band of the language-model fits
    if lexical is not None:
        band = np.column_stack([baseline, np.asarray(lexical["surprisal"], float)])
    fits = {layer: fit_encoding(hidden[layer], dataset, baseline=band, layer=layer, **fit_kw)
            for layer in layers}
    sweep = pd.DataFrame({layer: pearson_columns(c(f.predictions), y) for layer, f in
                          fits.items()}, index=names).T.rename_axis("layer")
    nested = nested_layer_choice(fits, dataset, per_target=True, **fit_kw)
    preds = {"baseline": c(base.predictions), "nested": c(nested.predictions)}
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
        chosen = [int(v) for v in nested.chosen_layers[:, 0, j]]
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
            "chosen_layers": {k: [int(v) for v in nested.chosen_layers[:, 0, j]]
                              for j, k in enumerate(names)},
            "layer": {k: int(table.loc[k, "layer (modal)"]) for k in names},
            "baseline": base, "nested": nested, "lexical": lex, "splits": splits,
            "table": table}


# --------------------------------------------------------------------------- categories
#: Cosine threshold of the word tagger, set once on the project's hand-labelled story
#: (at 0.3 the emotion tags have precision 0.43 / recall 0.51 and the physical tags
#: 0.50 / 0.29 against the story's labels in resources/story_annotations.csv, measured once
#: when the threshold was set).
TAGGER_THRESHOLD = 0.3


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
