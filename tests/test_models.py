"""Instruction-conditioned features and the comparison of models (SPEC §7).

The feature tests use a tiny random Llama (2 blocks, width 32) saved with the real
SmolLM2 tokenizer, as in ``test_features.py``; the statistics tests use small planted
data, so every test runs in a few seconds.
"""

import json

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from analysis import features as F
from analysis import instructions as I
from analysis import models as M
from analysis.data import WordDataset
from analysis.encoding import fit_encoding
from analysis.stats import rsa_timecourse

GRID = np.logspace(-1, 5, 7)
FIT = dict(alphas=GRID, n_folds=5, n_inner=3)
WORDS = ("The old sailor pulled the rope hard and the boat turned slowly. She laughed "
         "when the cold wave hit them, and he shouted something nobody heard.").split()


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """A random 2-block Llama with the SmolLM2 tokenizer, saved in HF format."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from analysis.lm import _default_gguf

    gguf = _default_gguf()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=256, initializer_range=0.2,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    folder = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _fail_load(*args, **kwargs):
    raise AssertionError("the model was loaded although every feature was cached")


# --------------------------------------------------------------------- instructions
def test_the_instruction_set():
    assert len(I.INSTRUCTIONS) == 13
    assert len(set(I.INSTRUCTIONS.values())) == 13
    assert set(I.DEFAULT_SUBSET) <= set(I.INSTRUCTIONS) and len(I.DEFAULT_SUBSET) == 4
    assert list(I.resolve_instructions("all")) == list(I.INSTRUCTIONS)
    assert list(I.resolve_instructions(None)) == list(I.DEFAULT_SUBSET)
    assert list(I.resolve_instructions(["grammar", "meaning", "grammar"])) == ["grammar",
                                                                                "meaning"]
    with pytest.raises(ValueError, match="expected names from"):
        I.resolve_instructions(["grammar", "juggling"])


def test_instruction_features_differ_are_cached_apart_and_batch_invariant(
        tiny_dir, tmp_path, monkeypatch):
    names = ["meaning", "emotion"]
    kw = dict(layer=2, model=str(tiny_dir), device="cpu")
    feats, seconds = I.instruction_features(WORDS, names, cache_dir=tmp_path, **kw)
    plain = F.extract_features(WORDS, model=str(tiny_dir), layers=[2], surprisal=False,
                               cache_dir=tmp_path, device="cpu", progress=False).hidden[0]
    assert set(feats) == set(names) == set(seconds) - {"load model"}
    assert feats["meaning"].shape == plain.shape == (len(WORDS), 32)
    for name in names:
        assert not np.allclose(feats[name], plain, atol=1e-3)
    assert not np.allclose(feats["meaning"], feats["emotion"], atol=1e-3)
    # one cache file per instruction, and one for the plain features
    assert len(list(tmp_path.glob("*.npz"))) == 3
    # a second call is served from the cache: no model is loaded
    monkeypatch.setattr(F, "load_model", _fail_load)
    again, _ = I.instruction_features(WORDS, names, cache_dir=tmp_path, **kw)
    for name in names:
        np.testing.assert_array_equal(again[name], feats[name])
    monkeypatch.undo()
    # the batch does not change a word's vector (up to float rounding)
    small, _ = I.instruction_features(WORDS, names, cache_dir=False, batch_size=3, **kw)
    big, _ = I.instruction_features(WORDS, names, cache_dir=False, batch_size=64, **kw)
    for name in names:
        scale = np.abs(big[name]).max()
        np.testing.assert_allclose(small[name], big[name], atol=1e-4 * scale)
        np.testing.assert_allclose(big[name], feats[name], atol=1e-4 * scale)


def _planted(n=400, d=10, seed=0):
    """Plain features, two instruction readings, and responses that only reading A explains.

    Reading A = plain features mixed + 4 new directions; reading B = plain mixed + 4
    other new directions. The responses of window 1 carry a component of A orthogonal to
    the plain features; window 0 carries only a plain-feature signal. Noise everywhere.
    """
    rng = np.random.default_rng(seed)
    plain = rng.standard_normal((n, d))
    new_a, new_b = rng.standard_normal((n, 4)), rng.standard_normal((n, 4))
    a = np.hstack([plain @ rng.standard_normal((d, d)) * 0.5, new_a])
    b = np.hstack([plain @ rng.standard_normal((d, d)) * 0.5, new_b])
    comp = a @ rng.standard_normal((a.shape[1], 3))
    comp -= plain @ np.linalg.lstsq(plain, comp, rcond=None)[0]  # orthogonal to plain
    comp /= comp.std(0)
    y = rng.standard_normal((n, 3, 2))
    y[:, :, 0] += 0.6 * (plain @ rng.standard_normal((d, 3))) / np.sqrt(d)
    y[:, :, 1] += 0.8 * comp
    f32 = lambda v: v.astype(np.float32)  # noqa: E731
    return f32(plain), {"A": f32(a), "B": f32(b)}, f32(y)


def test_planted_instruction_component_is_found_only_under_its_instruction():
    plain, by, y = _planted()
    res = I.compare_instructions(plain, by, y, fit_kw=FIT, n_permutations=300, seed=1,
                                 n_boot=300)
    s, t = res.summary, res.table
    assert list(s.index) == ["A", "B"] and len(t) == 2 * 3 * 2
    assert {"r_plain", "r_instruction", "r_both", "delta", "p_better", "q_better",
            "result", "delta_both", "band_scale"} <= set(t.columns)
    better = t[t["result"] == "better"]
    # found under A, in the window that carries it, on every channel; never under B
    assert set(better["instruction"]) == {"A"}
    assert set(better["window_ms"]) == {1.0} and len(better) == 3
    assert s.loc["A", "share_better"] == 0.5 and s.loc["B", "share_better"] == 0.0
    assert s.loc["A", "q_mean_better"] < 0.01 and s.loc["B", "q_mean_better"] > 0.05
    assert s.loc["A", "delta_ci_low"] > 0
    assert s.loc["B", "delta_ci_low"] < 0 < s.loc["B", "delta_ci_high"]
    # the two-band model finds what A adds and weighs the A band up where it matters
    assert s.loc["A", "both_ci_low"] > 0 and s.loc["A", "q_mean_both"] < 0.01
    a1 = t[(t["instruction"] == "A") & (t["window_ms"] == 1.0)]
    assert (a1["band_scale"] >= 1.0).all() and (a1["q_both"] < 0.05).all()
    assert s.loc["B", "share_both_better"] == 0.0
    assert set(res.fits) == {"plain", "A", "A + plain", "B", "B + plain"}
    assert res.summary_dict()["A"]["n_targets"] == 6


def test_compare_instructions_uses_the_same_permutations_for_every_instruction():
    plain, by, y = _planted(n=200, seed=3)
    one = I.compare_instructions(plain, {"A": by["A"]}, y, fit_kw=FIT, n_permutations=100,
                                 seed=5, n_boot=50)
    two = I.compare_instructions(plain, {"B": by["B"], "A": by["A"]}, y, fit_kw=FIT,
                                 n_permutations=100, seed=5, n_boot=50)
    a1 = one.table[one.table["instruction"] == "A"].reset_index(drop=True)
    a2 = two.table[two.table["instruction"] == "A"].reset_index(drop=True)
    np.testing.assert_array_equal(a1["p_better"], a2["p_better"])


def test_compare_instructions_targets_and_errors():
    plain, by, y = _planted(n=200, seed=4)
    res = I.compare_instructions(plain, {"A": by["A"]}, y, windows=np.array([False, True]),
                                 channels=np.array([True, False, True]), fit_kw=FIT,
                                 n_permutations=50, n_boot=50)
    assert len(res.table) == 2 and set(res.table["channel"]) == {"ch0", "ch2"}
    with pytest.raises(Exception, match="no instruction features"):
        I.compare_instructions(plain, {}, y, fit_kw=FIT)
    with pytest.raises(Exception, match="masks"):
        I.compare_instructions(plain, by, y, windows=np.zeros(2, bool), fit_kw=FIT)
    with pytest.raises(Exception, match="instruction 'A'"):
        I.compare_instructions(plain, {"A": by["A"][:50]}, y, fit_kw=FIT)


# --------------------------------------------------------------------- models
def test_model_compared_with_itself_has_an_interval_covering_zero():
    rng = np.random.default_rng(0)
    n = 300
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = (x @ rng.standard_normal((8, 4)) * 0.3 + rng.standard_normal((n, 4)))[:, :, None]
    base = fit_encoding(x, y, **FIT)
    # the same model; and the same features in another column order (ridge with
    # per-column standardisation does not depend on it)
    same_cols = fit_encoding(x[:, rng.permutation(8)], y, **FIT)
    better = fit_encoding(np.hstack([x, y[:, :, 0] + 0.5 * rng.standard_normal((n, 4))]),
                          y, **FIT)
    table = M.alignment_vs_accuracy(y, base.predictions,
                                    {"itself": base.predictions,
                                     "columns permuted": same_cols.predictions,
                                     "better": better.predictions}, n_boot=500, seed=0,
                                    base_name="the base")
    assert list(table.index) == ["the base", "itself", "columns permuted", "better"]
    for name in ("the base", "itself", "columns permuted"):
        row = table.loc[name]
        assert row["delta_r_ci_low"] <= 0 <= row["delta_r_ci_high"]
        assert abs(row["delta_r"]) < 1e-4
    assert table.loc["better", "delta_r_ci_low"] > 0
    assert np.isnan(table.loc["better", "accuracy"])
    with pytest.raises(Exception, match="reserved|'base' names"):
        M.alignment_vs_accuracy(y, base.predictions, {"base": base.predictions})


def test_registry_lists_hub_models_without_loading_them(monkeypatch):
    import analysis.lm as lm

    monkeypatch.setattr(lm, "load_model", _fail_load)
    monkeypatch.setattr(F, "load_model", _fail_load)
    table = M.registry_table()
    assert {"gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "llama-2-7b"} == set(table.index)
    assert not table["loaded"].any() and table["licence"].str.len().gt(0).all()
    assert "Llama 2 Community License" in table.loc["llama-2-7b", "licence"]
    entries = M.model_registry(None, hub=["gpt2-xl", "someone/small-lm"])
    assert [e.kind for e in entries] == ["packaged", "hub", "hub"]
    assert entries[0].source == "default" and "Apache" in entries[0].licence
    assert entries[1].source == "gpt2-xl" and entries[1].loaded_by_default
    assert entries[2].licence.startswith("unknown")
    # registry entries are plain descriptions: the hub table itself is never opted in
    assert all(not e.loaded_by_default for e in M.HUB_MODELS)


def _finetuned_record(tmp_path, correct_base, correct_final, write_items=True):
    model_dir = tmp_path / "run" / "model"
    model_dir.mkdir(parents=True)
    (model_dir / "config.json").write_text("{}")
    if write_items:
        (model_dir.parent / "result.json").write_text(json.dumps(
            {"correct_base": correct_base, "correct_final": correct_final}))
    n = len(correct_final)
    return {"model_dir": str(model_dir), "accuracy": sum(correct_final) / n,
            "accuracy_base": sum(correct_base) / n, "n_eval": n, "chance": 1 / 3,
            "category": "emotion"}


def test_accuracy_summary_paired_and_unpaired(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2, 80).tolist()
    final = [1 if (b or rng.random() < 0.3) else 0 for b in base]
    paired = M.accuracy_summary(_finetuned_record(tmp_path / "a", base, final), n_boot=2000)
    assert paired["paired"] and paired["gain"] == pytest.approx(np.mean(final) - np.mean(base))
    assert paired["gain_ci"][0] <= paired["gain"] <= paired["gain_ci"][1]
    assert paired["accuracy_ci"][0] < paired["accuracy"] < paired["accuracy_ci"][1]
    unpaired = M.accuracy_summary(_finetuned_record(tmp_path / "b", base, final,
                                                    write_items=False))
    assert not unpaired["paired"] and unpaired["gain"] == pytest.approx(paired["gain"])
    # the unpaired interval ignores that the items are the same: it is wider
    assert np.diff(unpaired["gain_ci"])[0] > np.diff(paired["gain_ci"])[0]
    # a model compared with itself on the same items: the interval covers 0
    same = M.accuracy_summary(_finetuned_record(tmp_path / "c", base, base))
    assert same["gain"] == 0 and same["gain_ci"][0] <= 0 <= same["gain_ci"][1]


def test_rsa_layers_equals_rsa_timecourse_per_layer():
    rng = np.random.default_rng(1)
    hidden = rng.standard_normal((3, 120, 6))
    resp = rng.standard_normal((120, 5, 4))
    resp[:, :, 2] += hidden[1][:, :5]
    got = M.rsa_layers(hidden, resp, n_subset=80, seed=3)
    want = np.stack([rsa_timecourse(hidden[l], resp, n_subset=80, seed=3) for l in range(3)])
    np.testing.assert_allclose(got, want, atol=1e-10)
    assert np.nanargmax(got[:, 2]) == 1


def test_profile_model_finds_the_planted_layer():
    rng = np.random.default_rng(2)
    n = 300
    hidden = rng.standard_normal((5, n, 8)).astype(np.float32)
    y = rng.standard_normal((n, 4, 3)).astype(np.float32)
    y[:, :, 1] += hidden[3][:, :4] * 0.8
    prof = M.profile_model("toy", hidden, y, layers=[0, 1, 3, 4], n_hidden=5, fit_kw=FIT,
                           rsa_words=150)
    assert prof.chosen_layer == 3 and prof.r.shape == (4, 3, 4)
    assert prof.rsa.shape == (4, 3) and prof.layer_time_map().shape == (4, 3)
    summ = prof.summary(channel="ch0")
    assert summ["relative_depth"] == 0.75 and summ["peak_window_ms"] == 1.0
    assert summ["ch0"]["peak_layer"] == 3 and summ["rsa_peak"]["layer"] == 3
    # a dict of layers gives the same profile
    again = M.profile_model("toy", {l: hidden[l] for l in (0, 1, 3, 4)}, y, n_hidden=5,
                            fit_kw=FIT, rsa_words=150)
    np.testing.assert_allclose(again.r, prof.r)


def test_frank_targets_adds_log_reading_times():
    n = 6
    meta = pd.DataFrame({"published_exclusion": [False, True, False, False, False, False],
                         "self_paced_reading_time": np.linspace(250, 300, n),
                         "RTfirstpass": np.linspace(100, 200, n),
                         "RTgopast": np.linspace(150, 400, n)})
    ds = WordDataset(words=list("abcdef"), sentence=np.array([0, 0, 0, 1, 1, 1]),
                     responses=np.arange(n * 6, dtype=np.float32).reshape(n, 6, 1),
                     times=[0.0], ch_names=["ELAN", "LAN", "N400", "EPNP", "P600", "PNP"],
                     context="sentence", metadata=meta, source="toy")
    out = M.frank_targets(ds)
    assert out.n_words == 5 and out.ch_names[-3:] == ["SPR", "FPass", "GoPast"]
    np.testing.assert_allclose(out.responses[:, 6, 0],
                               np.log(meta["self_paced_reading_time"][[0, 2, 3, 4, 5]]),
                               rtol=1e-6)
    bad = ds.subset(np.ones(n, bool))
    bad.metadata = meta.drop(columns="RTgopast")
    with pytest.raises(Exception, match="RTgopast"):
        M.frank_targets(bad)


def test_comparison_table_and_its_description():
    rng = np.random.default_rng(5)
    n = 240
    hidden = rng.standard_normal((3, n, 6)).astype(np.float32)
    y = rng.standard_normal((n, 2, 1)).astype(np.float32)
    y[:, 0, 0] += hidden[1][:, 0]
    prof = M.profile_model("base", hidden, y, n_hidden=3, fit_kw=FIT, rsa_words=100)
    tuned = {"base + task": hidden[1] + 0.1 * rng.standard_normal((n, 6)).astype(np.float32)}
    acc = {"base + task": {"accuracy": 0.6, "accuracy_base": 0.5, "gain": 0.1,
                           "gain_ci": [0.02, 0.18], "n": 100}}
    align = M.finetuned_alignment(y, hidden[1], tuned, acc, fit_kw=FIT, n_boot=200,
                                  base_name="base")
    table = M.comparison_table({"base": prof}, align, channel="ch0")
    assert list(table.index) == ["base", "base + task"]
    assert table.loc["base", "peak_layer"] == 1 and table.loc["base", "ch0_peak_layer"] == 1
    assert table.loc["base", "delta_r"] == 0 and np.isnan(table.loc["base + task", "peak_layer"])
    assert table.loc["base + task", "accuracy_gain"] == 0.1
    assert "peak layer 1 (relative depth 0.50)" in M.describe_row(table, "base")
    assert "accuracy gain of +0.100 [+0.020, +0.180]" in M.describe_row(table, "base + task")
    assert M.describe_row(table, "missing") == "n/a"
    assert M.finetuned_alignment(y, hidden[1], {}, fit_kw=FIT) is None


def test_step_timer_leaves_nested_steps_out(capsys):
    import time

    timer = M.StepTimer()
    with timer("outer"):
        time.sleep(0.02)
        with timer("inner"):
            time.sleep(0.3)
    assert timer.seconds["inner"] >= 0.3 and timer.seconds["outer"] <= 0.1
    assert "[inner:" in capsys.readouterr().out


def test_previous_result(tmp_path):
    (tmp_path / "real_data.json").write_text(json.dumps(
        {"results": {"encoding": {"N400": {"best_layer": 18}}}}))
    assert M.previous_result(tmp_path, "real_data", "encoding", "N400", "best_layer") == 18
    assert M.previous_result(tmp_path, "real_data", "encoding", "P600") is None
    assert M.previous_result(tmp_path, "nothing", "x") is None
