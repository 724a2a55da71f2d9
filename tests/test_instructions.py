"""Unit tests of analysis.instructions: names, target masks, input checks and the feature loop.

The planted-effect comparison and the chapter texts are tested in tests/test_models.py.
"""

import types

import numpy as np
import pytest

from analysis import features
from analysis import instructions as I
from analysis._utils import DataError


# --------------------------------------------------------------------------- names
def test_resolve_instructions_default_single_and_order():
    assert I.resolve_instructions("default") == {k: I.INSTRUCTIONS[k] for k in I.DEFAULT_SUBSET}
    assert I.resolve_instructions("sound") == {"sound": "Listen for the sounds the text describes."}
    assert list(I.resolve_instructions(("speaker", "agents"))) == ["speaker", "agents"]


def test_resolve_instructions_errors_list_the_known_names():
    with pytest.raises(ValueError, match=r"instructions \['juggling'\]: expected names from "
                                         r"\['agents', 'emotion'"):
        I.resolve_instructions(["meaning", "juggling"])
    with pytest.raises(ValueError, match=r"instructions \[\]: expected names"):
        I.resolve_instructions([])
    with pytest.raises(ValueError, match=r"\['All'\]"):  # names are case-sensitive
        I.resolve_instructions("All")


def test_instructions_are_short_single_sentences():
    for name, text in I.INSTRUCTIONS.items():
        assert text.endswith(".") and text.count(".") == 1, name
        assert 4 <= len(text.split()) <= 8, name


# --------------------------------------------------------------------------- targets
def test_select_targets_of_an_array_masks_channels_and_windows():
    resp = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    y, times, names = I.select_targets(resp, [False, True, True, False], [True, False, True])
    assert y.dtype == np.float32 and y.flags.c_contiguous
    np.testing.assert_array_equal(y, resp[:, [0, 2]][:, :, [1, 2]])
    np.testing.assert_array_equal(times, [1.0, 2.0])
    assert names == ["ch0", "ch2"]
    y, times, names = I.select_targets(resp, None, None)
    assert y.shape == (2, 3, 4) and names == ["ch0", "ch1", "ch2"]


def test_select_targets_of_a_dataset_uses_its_times_and_channel_names():
    data = types.SimpleNamespace(responses=np.ones((5, 2, 3)), times=[0, 25, 50],
                                 ch_names=["Cz", "Pz"])
    y, times, names = I.select_targets(data, np.array([False, False, True]), [False, True])
    assert y.shape == (5, 1, 1)
    np.testing.assert_array_equal(times, [50.0])
    assert names == ["Pz"]


@pytest.mark.parametrize("windows, channels", [
    ([True, True], None),               # wrong length
    ([False, False, False], None),      # selects nothing
    (None, [False, False]),
    (None, [True, True, True]),
])
def test_select_targets_rejects_bad_masks(windows, channels):
    with pytest.raises(DataError, match=r"expected boolean masks of shapes \(3,\) and \(2,\) "
                                        "selecting at least one target each"):
        I.select_targets(np.zeros((4, 2, 3)), windows, channels)


def test_select_targets_rejects_responses_that_are_not_three_dimensional():
    with pytest.raises(DataError, match=r"'compare_instructions responses' has shape \(4, 2\)"):
        I.select_targets(np.zeros((4, 2)), None, None)
    bad = np.zeros((4, 2, 3))
    bad[2, 1, 0] = np.nan
    with pytest.raises(DataError, match=r"first at index \(2, 1, 0\)"):
        I.select_targets(bad, None, None)


def test_compare_instructions_checks_its_inputs_before_fitting():
    y = np.zeros((6, 2, 3))
    with pytest.raises(DataError, match="no instruction features given"):
        I.compare_instructions(np.zeros((6, 4)), {}, y)
    with pytest.raises(DataError, match=r"'plain features' has shape \(5, 4\); expected "
                                        r"\(6, any\)"):
        I.compare_instructions(np.zeros((5, 4)), {"meaning": np.zeros((6, 4))}, y)
    with pytest.raises(DataError, match=r"features under instruction 'meaning'' has shape "
                                        r"\(6,\)"):
        I.compare_instructions(np.zeros((6, 4)), {"meaning": np.zeros(6)}, y)


# --------------------------------------------------------------------------- feature loop
class _FakeExtraction:
    """Stands in for analysis.features.extract_features: a cache of instruction texts."""

    def __init__(self, cached):
        self.cached = set(cached)
        self.calls = []

    def __call__(self, data, model, instruction, cache_only=False, layers=None, **kw):
        self.calls.append((instruction, cache_only, model if isinstance(model, str) else "loaded"))
        if cache_only and instruction not in self.cached:
            return None
        value = float(len(instruction))
        return types.SimpleNamespace(hidden=np.full((1, len(data), 2), value, np.float64))


def test_instruction_features_load_the_model_once_and_only_for_a_cache_miss(monkeypatch):
    from analysis.lm import LoadedModel

    meaning, emotion = I.INSTRUCTIONS["meaning"], I.INSTRUCTIONS["emotion"]
    fake = _FakeExtraction(cached=[meaning])
    monkeypatch.setattr(features, "extract_features", fake)
    loads = []
    loaded = LoadedModel(spec=None, tokenizer=None, model=None, device="cpu", dtype="float32")

    def loader():
        loads.append(1)
        return loaded

    words = ["a", "b", "c"]
    feats, seconds = I.instruction_features(words, ["meaning", "emotion", "physical"],
                                            layer=3, loader=loader)
    assert loads == [1]
    assert list(feats) == ["meaning", "emotion", "physical"]
    assert feats["emotion"].dtype == np.float32 and feats["emotion"].shape == (3, 2)
    assert feats["meaning"][0, 0] == len(meaning) and feats["emotion"][0, 0] == len(emotion)
    assert set(seconds) == {"meaning", "emotion", "physical", "load model"}
    # a cache hit, a miss (then the model is loaded), and after that no more cache-only calls
    assert fake.calls == [(meaning, True, "default"), (emotion, True, "default"),
                          (emotion, False, "loaded"),
                          (I.INSTRUCTIONS["physical"], False, "loaded")]


def test_instruction_features_without_cache_never_ask_it(monkeypatch):
    fake = _FakeExtraction(cached=list(I.INSTRUCTIONS.values()))
    monkeypatch.setattr(features, "extract_features", fake)
    feats, seconds = I.instruction_features(["a"], "meaning", cache_dir=False,
                                            loader=lambda: "loaded")
    assert [c[1] for c in fake.calls] == [False]
    assert "load model" in seconds and list(feats) == ["meaning"]


def test_null_text_names_the_null_the_comparison_drew():
    from types import SimpleNamespace

    refit = SimpleNamespace(params={"null": "refit", "n_refit": 500})
    assert I.null_text(refit).startswith("the refit null") and "500 permuted" in I.null_text(refit)
    fixed = SimpleNamespace(params={"null": "fixed predictions", "n_refit": 0})
    assert "held fixed" in I.null_text(fixed) and "control band" in I.null_text(fixed)
