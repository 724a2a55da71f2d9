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
* :func:`component_encoding` -- per ERP component, the layer sweep of the nested model
  (baseline + language-model layer), the baseline alone, and the gain of the language
  model with a permutation test (shared permutations, SPEC §6);
* :func:`word_categories` -- social/emotional and physical words of a text by an
  automatic tagger (the real data have no hand labels), with its agreement with the
  project's hand-labelled story.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._utils import DataError

__all__ = ["devarda_table", "futrell2018_table", "component_encoding", "word_categories",
           "TAGGER_THRESHOLD"]

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
        ``n_words`` (kept), ``n_excluded`` and the reasons counted.
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
                          "reasons": reasons}


# --------------------------------------------------------------------------- Futrell2018
def futrell2018_table(ns, surprisal_nats):
    """Brain-Score's Futrell2018 score for our models, GPT-3 and the published models.

    Parameters
    ----------
    ns : WordDataset
        Natural Stories (``open_dataset("naturalstories")``): ``responses`` are the mean
        reading times, ``metadata`` has ``word_within_sentence`` and
        ``gpt3_surprisal_bits``.
    surprisal_nats : dict of str to ndarray, each (n_words,)
        Our models' surprisal of every row (nats), with the preceding story as context.

    Returns
    -------
    DataFrame
        One row per model: ``raw_r`` (signed Pearson), ``ceiling``, ``normalised``
        (|r| / ceiling, clipped to [0, 1]), ``n_words``, ``source`` ("computed here" or
        the published reference).
    """
    from .reference import FUTRELL2018_CEILING, FUTRELL2018_PUBLISHED, futrell2018_score

    rt = ns.responses[:, 0, 0].astype(float)
    initial = ns.metadata["word_within_sentence"].to_numpy() == 1
    rows = {}
    for name, s in surprisal_nats.items():
        sc = futrell2018_score(np.asarray(s, float) / LN2, rt, initial)
        rows[name] = {"raw_r": sc["raw_r"], "ceiling": sc["ceiling"],
                      "normalised": sc["normalised"], "n_words": sc["n_words"],
                      "source": "computed here (preceding story as context)"}
    gpt3 = ns.metadata["gpt3_surprisal_bits"].to_numpy(dtype=float)
    sc = futrell2018_score(gpt3, rt, initial)
    rows["GPT-3 davinci (corpus log-probabilities)"] = {
        "raw_r": sc["raw_r"], "ceiling": sc["ceiling"], "normalised": sc["normalised"],
        "n_words": sc["n_words"],
        "source": "computed here from all_stories_gpt3.csv (each story read alone)"}
    for name, pub in FUTRELL2018_PUBLISHED.items():
        rows[f"{name} (published)"] = {
            "raw_r": pub["raw"] if pub["raw"] is not None else pub["raw_implied"],
            "ceiling": FUTRELL2018_CEILING, "normalised": pub["normalised"],
            "n_words": np.nan, "source": pub["source"]}
    return pd.DataFrame(rows).T


# --------------------------------------------------------------------------- encoding
def component_encoding(dataset, hidden, baseline, layers, n_permutations=1000, seed=0,
                       **fit_kw):
    """Per component: a layer sweep over baseline + layer, the baseline alone, the gain.

    Parameters
    ----------
    dataset : WordDataset
        Components (channels) of one window.
    hidden : ndarray, shape (n_layers, n_words, d)
        Language-model hidden states of the rows.
    baseline : ndarray, shape (n_words, d_b)
        Nuisance predictors (:func:`analysis.predictors.nuisance_predictors`).
    layers : list of int
        Layers swept.
    n_permutations : int
        Permutations of the test of the gain (word order shuffled, the same for both
        models).
    seed : int
    **fit_kw
        Passed to :func:`analysis.encoding.fit_encoding` (folds, groups, threshold).

    Returns
    -------
    dict
        ``sweep`` (DataFrame layer x component of r of the nested model), ``best_layer``
        (component -> layer), ``baseline`` (EncodingResult), ``joint`` (component ->
        EncodingResult of the nested model at its best layer), ``table`` (DataFrame per
        component: r of the baseline, of baseline + LM, the gain, its permutation p and
        BH q over components, the best layer).
    """
    from .datasets import null_design
    from .encoding import fit_baseline, fit_encoding
    from .stats import fdr_bh, permutation_r_difference

    names = list(dataset.ch_names)
    base = fit_baseline(baseline, dataset, **fit_kw)
    sweep, fits = {}, {}
    for layer in layers:
        fits[layer] = fit_encoding(hidden[layer], dataset, baseline=baseline, layer=layer,
                                   **fit_kw)
        sweep[layer] = fits[layer].r[0]
    sweep = pd.DataFrame(sweep, index=names).T.rename_axis("layer")
    best = {c: int(sweep[c].idxmax()) for c in names}
    joint = {c: fits[best[c]] for c in names}
    rows = []
    for j, c in enumerate(names):
        y = dataset.responses[:, j:j + 1, 0]
        test = permutation_r_difference(y, base.predictions[:, j:j + 1, 0],
                                        joint[c].predictions[:, j:j + 1, 0],
                                        n_permutations=n_permutations, seed=seed,
                                        **null_design(dataset))
        rows.append({"component": c, "r baseline": float(base.r[0, j]),
                     "r baseline + LM": float(joint[c].r[0, j]),
                     "gain": float(test["delta"][0]), "p gain": float(test["p_greater"][0]),
                     "best layer": best[c]})
    table = pd.DataFrame(rows).set_index("component")
    table["q gain"] = fdr_bh(table["p gain"].to_numpy())[1]
    return {"sweep": sweep, "best_layer": best, "baseline": base, "joint": joint,
            "table": table}


# --------------------------------------------------------------------------- categories
#: Cosine threshold of the word tagger, set once on the project's hand-labelled story
#: (at 0.3 the emotion tags have precision 0.43 / recall 0.51 and the physical tags
#: 0.50 / 0.29 against the story's labels; measured by tests/test_real_data.py).
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
