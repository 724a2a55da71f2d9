"""Instruction-conditioned features and the comparison of models (Methods page, beyond the paper).

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
    assert set(res.fits) == {"plain", "A", "A + plain", "B", "B + plain", I.CONTROL_BAND}
    # against a parameter-matched control band (same width, rows permuted): A's two-band
    # gain is the instruction's, B's is not
    assert s.loc["A", "vs_control_ci_low"] > 0 and s.loc["A", "q_mean_vs_control"] < 0.01
    assert s.loc["B", "q_mean_vs_control"] > 0.05
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
    assert prof.chosen_layer == 3 and prof.r.shape == (4, 4, 3)  # (layers, channels, windows)
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
    assert "accuracy gain of +10.0 points [+2.0, +18.0]" in M.describe_row(table, "base + task")
    assert "max r" in M.describe_row(table, "base") and "layer" in table.loc["base", "max_r_target"]
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


def _comparison():
    """A fabricated comparison: two instructions x two ERP targets of one window."""
    table = pd.DataFrame({
        "instruction": ["meaning", "meaning", "emotion", "emotion"],
        "window_ms": [0.0] * 4, "channel": ["N400", "P600"] * 2,
        "delta": [0.01, -0.02, 0.03, 0.0123456789],
        "result": ["better", "same", "worse", "same"]})
    summary = pd.DataFrame({
        "n_targets": [2, 2], "share_better": [0.5, 0.0], "share_worse": [0.0, 0.25],
        "mean_r_plain": [0.2512, 0.2512], "mean_delta": [-0.005, 0.0215],
        "delta_ci_low": [-0.01, 0.001], "delta_ci_high": [0.0, 0.04],
        "q_mean_better": [0.5, 0.01], "q_mean_worse": [0.04, 0.9],
        "q_mean_both": [0.2, 0.03], "mean_delta_both": [0.0, 0.01],
        "q_mean_vs_control": [0.5, 0.2],
        "both_ci_low": [-0.01, 0.0], "both_ci_high": [0.01, 0.02]},
        index=pd.Index(["meaning", "emotion"], name="instruction"))
    return I.InstructionComparison(table=table, summary=summary,
                                   params={"n_words": 1200, "seconds": {}})


class _Setup:
    layer, layer_source, window = 7, "a layer chosen here", (300.0, 425.0)
    groups = np.repeat(np.arange(400), 4)


def test_instruction_texts_and_results_of_a_comparison():
    comp = _comparison()
    fr = I.frank_texts(comp, _Setup(), q=0.05)
    assert fr["frank_layer"] == 7 and fr["frank_layer_source"] == "a layer chosen here"
    assert fr["frank_n"] == "1,200" and fr["fr_n_sent"] == 300 and fr["fr_r_plain"] == "0.251"
    assert fr["fr_best"] == "emotion" and fr["fr_best_delta"] == "+0.0215"
    assert fr["fr_best_ci"] == "+0.0010 to +0.0400"
    assert (fr["fr_n_better"], fr["fr_n_worse"], fr["fr_n_tests"]) == (1, 1, 4)
    assert fr["fr_n_mean_sig"] == 2 and fr["fr_n_both_sig"] == 1 and fr["fr_n_both_vs_control"] == 0
    assert fr["fr_n400_range"] == "+0.0100 to +0.0300"
    assert set(fr) == set(I.FRANK_KEYS)
    sim = I.simulated_texts(comp, _Setup(), q=0.05)
    assert sim["sim_window"] == "300–425 ms" and sim["sim_instr_n"] == "1,200"
    assert sim["sim_max_better"] == "50.0 %" and sim["sim_max_worse"] == "25.0 %"
    assert sim["sim_n_mean_better"] == 1 and sim["sim_n_mean_worse"] == 1
    assert sim["sim_delta_range"] == "-0.0050 to +0.0215" and set(sim) == set(I.SIMULATED_KEYS)
    # a part that did not run: every text is "n/a"
    assert set(I.frank_texts(None, None).values()) == {"n/a"}
    assert set(I.simulated_texts(None, _Setup()).values()) == {"n/a"}
    assert I.setting_texts({"meaning": "Read it."}, 2000, [0.1, 1.0, 10.0]) == {
        "n_instr": 1, "instr_names": 'meaning: "Read it."', "instr_perm": "2,000",
        "band_scales_txt": "0.1, 1, 10"}
    lines = I.instruction_lines({"Frank": comp, "simulated": None})["main_instr"]
    assert lines.startswith("meaning on Frank -0.0050 [-0.0100, +0.0000]; emotion on Frank")
    assert I.instruction_lines({"Frank": None}) == {"main_instr": "n/a"}
    res = comp.to_results(7, per_target=True, targets=["N400", "P600"])
    assert list(res) == ["layer", "n_words", "targets", "summary", "per_target", "params"]
    assert res["n_words"] == 1200 and res["per_target"][3]["delta"] == 0.012346
    assert res["summary"]["meaning"]["n_targets"] == 2
    assert list(comp.to_results(7, window_ms=(300, 425))) == [
        "layer", "n_words", "window_ms", "summary", "params"]
    wide = comp.delta_table(["P600", "N400"], ["meaning", "emotion"])
    assert list(wide.columns) == ["P600", "N400"] and wide.loc["emotion", "N400"] == 0.03


def _profile(name="base", n_hidden=5, ch_names=("N400", "P600"), n_windows=1):
    layers = [0, 2, 4]
    r = np.zeros((3, len(ch_names), n_windows))  # (layers, channels, windows)
    r[1] = 0.2
    r[2, 0, :] = 0.5  # the first channel peaks at the last layer
    rsa = np.array([[0.1] * n_windows, [0.3] * n_windows, [0.2] * n_windows])
    return M.ModelProfile(name=name, layers=layers, n_hidden=n_hidden, r=r, rsa=rsa,
                          times=np.arange(n_windows) * 25.0, ch_names=list(ch_names),
                          chosen_layer=4, predictions=np.zeros((1, len(ch_names), n_windows)))


def test_model_texts_and_results_from_profiles():
    class Sim:
        truth_layer = 3
        channels = np.array([True, False, True])

    profiles = {"simulated": {"base": _profile(n_windows=2)},
                "frank2015": {"base": _profile()}}
    texts = M.profile_texts(profiles, "base", Sim())
    assert texts == {"sim_peak": 4, "sim_depth": "1.00", "sim_peak_ms": "0", "sim_truth": 3,
                     "sim_rsa": "0.300 at layer 2", "fr_peak": 4, "fr_depth": "1.00",
                     "fr_n400_peak": 4, "fr_rsa": "0.300 at layer 2"}
    empty = {"simulated": {}, "frank2015": {}}
    assert set(M.profile_texts(empty, "base").values()) == {"n/a"}
    assert [t for t, _, _ in M.profile_panels(profiles)] == ["simulated: base", "Frank: base"]
    assert M.sweep_texts(5, Sim(), 1000) == {"model_layer_step": 5, "map_n_channels": 2,
                                             "rsa_n": "1,000"}
    assert M.sweep_texts(5, None, 300)["map_n_channels"] == "n/a"

    entries = M.model_registry(None)
    assert M.registry_texts(entries) == {"n_models": 1, "n_finetuned": 0}
    main = M.main_tables(profiles, {})
    assert list(main) == ["simulated", "frank2015"]
    texts = M.main_texts(main, entries)
    assert texts["main_fr_n400_layer"] == "n/a"  # the base is named after the packaged model
    named = {k: {entries[0].name: p["base"]} for k, p in profiles.items()}
    main = M.main_tables(named, {})
    texts = M.main_texts(main, entries)
    assert texts["main_fr_n400_layer"] == 4
    assert texts["main_fr_base"].startswith("peak layer 4 (relative depth 1.00), max r 0.500")
    assert texts["main_ft"] == "no fine-tuned model was compared"
    assert M.main_display(main).index.names == ["dataset", "model"]
    res = M.models_results(main, named, entries)
    assert list(res) == ["models", "model_profiles", "registry", "hub_models_documented"]
    row = res["models"]["frank2015"][entries[0].name]
    assert row["N400_peak_layer"] == 4 and row["rsa_peak"] == 0.3
    assert res["model_profiles"]["simulated"][entries[0].name]["peak_layer"] == 4
    assert len(res["hub_models_documented"]) == len(M.HUB_MODELS)
    nothing = M.models_results({}, empty, entries)
    assert nothing["models"] == {} and "model_profiles" not in nothing
    assert M.main_tables(empty, {}) == {}


def test_finetuned_texts_and_no_alignment_without_finetuned_models():
    class Sim:
        def first(self, n):
            return n if 0 < n < 500 else 500

    base = M.model_registry(None)
    tuned = base + [M.ModelEntry("base + task", "x", "finetuned", "", "", "", "", True,
                                 "task", {"method": "paired bootstrap"})]
    assert M.finetuned_texts(tuned, Sim(), 0) == {"ft_sim_n": "500",
                                                  "acc_method": "paired bootstrap"}
    assert M.finetuned_texts(tuned, Sim(), 150)["ft_sim_n"] == "150"
    assert M.finetuned_texts(tuned, None, 150)["ft_sim_n"] == "n/a"
    assert M.finetuned_texts(base, Sim(), 150) == {"ft_sim_n": "n/a",
                                                   "acc_method": "no fine-tuned model"}
    # without a fine-tuned model nothing is computed (the set-ups are not touched)
    assert M.finetuned_alignments(base, simulated=object(), frank=object()) == {}
    assert M.swept_entries(tuned) == base and M.swept_entries(tuned, finetuned=True) == tuned
    table = M.registry_overview(base, hub=["gpt2"])
    assert "gpt2" not in table.index and "gpt2-xl" in table.index
    assert list(table.columns) == ["kind", "parameters", "task", "accuracy", "licence",
                                   "origin", "loaded"]


def test_lazy_model_loads_once_and_only_when_called(monkeypatch):
    calls = []
    monkeypatch.setattr(F, "load_model", lambda source, device: calls.append(source) or "lm")
    timer = M.StepTimer()
    lazy = M.LazyModel("default", device="cpu", timer=timer)
    assert calls == []
    assert lazy() == "lm" and lazy() == "lm" and calls == ["default"]
    assert "load the default model" in timer.seconds
    from analysis.lm import DEFAULT_MODEL

    assert lazy.loader_for("default") is lazy and lazy.loader_for(DEFAULT_MODEL) is lazy
    assert lazy.loader_for("gpt2") is None


def test_frank_setup_says_when_the_data_are_missing(tmp_path):
    from analysis.datasets import DataError

    with pytest.raises(DataError):
        M.frank_setup(tmp_path / "nowhere" / "all_measures.csv")



def test_open_functions_turn_missing_inputs_into_an_escaped_notice(tmp_path):
    timer = M.StepTimer()
    fr, notice = M.open_frank(tmp_path / "no_where" / "all_measures.csv", timer=timer)
    assert fr is None and notice.startswith("**Frank et al. (2015): data not found.** ")
    assert notice.endswith(" The real-data parts of this chapter are skipped.")
    assert "no\\_where" in notice  # the error's text is escaped Markdown
    assert "open Frank et al. (2015)" in timer.seconds
    sim, notice = M.open_simulated(tmp_path, timer=timer)
    assert sim is None and notice.startswith("*The encoding chapter's outputs are missing (")
    assert notice.endswith("); the simulated parts are skipped.*")
    tuned, notice = M.open_finetuned(tmp_path)
    assert tuned is None and notice.startswith("*No fine-tuned models to compare (")
    # other errors are not swallowed
    with pytest.raises(ZeroDivisionError):
        M.chapter._opened(lambda: 1 / 0, M.DataError, "{err}")
    assert M.chapter._opened(lambda: 3, M.DataError, "{err}") == (3, None)


def test_power_texts_name_the_instruction_or_say_n_a():
    assert I.power_texts(None) == {"fr_power": "n/a"}
    text = I.power_texts({"instruction": "sound", "sentence": "an MDE of 0.01"})["fr_power"]
    assert text == "for *sound*, the largest change of the mean r: an MDE of 0.01"

def test_model_chapter_figures():
    import matplotlib.pyplot as plt

    from analysis import plots

    assert plots.plot_instruction_deltas({"a": None}) is None
    assert plots.plot_model_profiles([]) is None and plots.plot_alignment_vs_accuracy({}) is None
    fig = plots.plot_instruction_deltas({"Frank": _comparison(), "simulated": None})
    assert len(fig.axes) == 1
    panels = M.profile_panels({"simulated": {"m": _profile(n_windows=2)},
                               "frank2015": {"m": _profile()}})
    fig2 = plots.plot_model_profiles(panels, window_ms=25.0)
    assert len(fig2.axes) == 6  # two maps with their colour bars, two depth plots
    align = {"sim": pd.DataFrame({"accuracy_gain": [np.nan, 0.1], "gain_ci_low": [np.nan, 0.0],
                                  "gain_ci_high": [np.nan, 0.2], "delta_r": [0.0, 0.01],
                                  "delta_r_ci_low": [0.0, -0.01],
                                  "delta_r_ci_high": [0.0, 0.03]}, index=["base", "ft"])}
    fig3 = plots.plot_alignment_vs_accuracy(align)
    assert [t.get_text() for t in fig3.axes[0].get_legend().get_texts()] == ["ft"]
    plt.close("all")
