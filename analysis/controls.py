"""Positive and null controls: models whose answer we know, run through the same tests.

The fine-tuning chapter asks whether a model with more social and physical knowledge
predicts the brain better. A "no" is only informative if the same test says "yes" for a
model that *does* have the knowledge behind a planted divergence. The simulated study
plants such a component (:func:`analysis.simulate.knowledge_amplitude`): on the emotion
and physical words, a seeded read-out of each word's embedding by another model
(all-MiniLM-L6-v2), orthogonal to the base model's layer. Here:

* :func:`knowledge_features` computes those embeddings (the simulation's input);
* :func:`positive_control` gives the base layer plus the features the component was
  made from (masked to the words that carry it): a model that has the knowledge;
* :func:`null_control` gives the base layer plus random features of the same size and
  mask: a model that has more columns but no knowledge.

Run through :func:`analysis.finetune.brain_retest`, the positive control must come out
"better" in the planted windows and channels and show a category effect on the planted
words, and the null control must not (``tests/test_controls.py``).
"""

from __future__ import annotations

import numpy as np

from .embeddings import KNOWLEDGE_SOURCE, knowledge_features  # noqa: F401  (re-exported)

__all__ = ["KNOWLEDGE_SOURCE", "knowledge_features", "positive_control", "null_control",
           "run_controls"]

def _planted_mask(dataset):
    cats = dataset.categories
    missing = [k for k in ("emotion", "physical") if k not in cats]
    if missing:
        from ._utils import DataError

        raise DataError(f"{dataset.source}: no word categories {missing}; the controls need "
                        "the simulated study's emotion and physical labels.")
    return (cats["emotion"] | cats["physical"]).astype(np.float32)


def positive_control(base, dataset, knowledge):
    """Features of a model that has the knowledge behind the planted component.

    Parameters
    ----------
    base : ndarray, shape (n_words, d)
        The base model's layer (the one the component was made orthogonal to).
    dataset : WordDataset
        The simulated study (its ``emotion`` and ``physical`` labels).
    knowledge : ndarray, shape (n_words, k)
        :func:`knowledge_features` of the same words.

    Returns
    -------
    ndarray, shape (n_words, d + k)
        ``[base, knowledge * planted_mask]``.
    """
    mask = _planted_mask(dataset)
    return np.hstack([np.asarray(base, np.float32),
                      np.asarray(knowledge, np.float32) * mask[:, None]])


def null_control(base, dataset, n_columns=384, seed=0):
    """Features of a model with as many extra columns but no knowledge.

    Parameters
    ----------
    base : ndarray, shape (n_words, d)
    dataset : WordDataset
    n_columns : int
        Extra random columns (the size of the knowledge features).
    seed : int

    Returns
    -------
    ndarray, shape (n_words, d + n_columns)
        ``[base, noise * planted_mask]`` with Gaussian noise (seeded).
    """
    mask = _planted_mask(dataset)
    noise = np.random.default_rng([seed, 7]).standard_normal((len(mask), n_columns))
    return np.hstack([np.asarray(base, np.float32),
                      noise.astype(np.float32) * mask[:, None]])


def run_controls(dataset, features, n_permutations=10000, seed=0, embedder=None, base_fit=None,
                 **fit_kw):
    """The positive and null controls through the brain re-test, at the planted layer.

    The planted component is orthogonal to the base model's layer ``truth_layer``, so
    the controls are fitted there (with the base model at that layer as their
    reference), whatever layer the encoding chapter chose for the fine-tuned models.

    Parameters
    ----------
    dataset : WordDataset
        The encoding study. Only the simulated study with a knowledge component
        (``provenance["truth"]["knowledge"]``) has controls; otherwise nothing is run.
    features : analysis.features.Features
        The base model's features with the planted layer among its layers.
    n_permutations, seed
        Passed to :func:`analysis.finetune.brain_retest`.
    embedder : analysis.hypotheses.EmbeddingVerifier | None
        Reuse a loaded embedding model for :func:`knowledge_features`.
    base_fit : analysis.encoding.EncodingResult | None
        The base model's fit on ``dataset`` with ``fit_kw``, reused when its ``layer``
        is the planted one (otherwise the planted layer is fitted here).
    **fit_kw
        Encoding settings (:func:`analysis.encoding.fit_encoding`).

    Returns
    -------
    dict
        ``tests`` (control name -> brain re-test dict; empty when not run), ``layer``
        (the planted layer or None), ``planted_ms`` ((start, stop) of the planted
        component's window, ms, or None) and ``note`` (why nothing ran, or "").
    """
    from .encoding import fit_encoding
    from .finetune.retest import brain_retest

    truth = dataset.provenance.get("truth") or {}
    if not truth.get("knowledge"):
        return {"tests": {}, "layer": None, "planted_ms": None,
                "note": "(Not run here: only the simulated study has a planted component "
                        "to control on.)"}
    layer = int(truth["truth_layer"])
    base = features.layer(layer)
    if base_fit is None or base_fit.layer != layer:
        base_fit = fit_encoding(base, dataset, layer=layer, **fit_kw)
    know = knowledge_features(dataset.words, embedder=embedder)
    tests = {}
    for name, feats in (("positive control", positive_control(base, dataset, know)),
                        ("null control", null_control(base, dataset, know.shape[1], seed=seed))):
        tests[name] = brain_retest(dataset, base_fit, feats, n_permutations=n_permutations,
                                   seed=seed, category="emotion", base_values=base, **fit_kw)
    comp = next((c for c in truth.get("components", []) if c["name"] == "knowledge"), None)
    planted = None if comp is None else (comp["peak_ms"] - comp["width_ms"],
                                         comp["peak_ms"] + comp["width_ms"])
    return {"tests": tests, "layer": layer, "planted_ms": planted, "note": ""}
