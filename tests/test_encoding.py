"""Encoding models: planted truth recovered, null calibrated, out-of-fold, bad inputs."""

import numpy as np
from conftest import standin_hidden
import pytest
from threadpoolctl import threadpool_limits

from analysis.data import DataError
from analysis.encoding import (DEFAULT_ALPHAS, compare_models, contiguous_folds, fit_encoding,
                               fit_encoding_reference, layer_sweep, ridge_oof,
                               split_half_encoding, word_errors)
from analysis.simulate import SimulationConfig, simulate_study, story_words
from analysis.stats import binomial_false_positive_bound

N_WORDS = 900
GRID = np.logspace(-1, 7, 9)  # coarser than the default to keep the tests fast


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """Small products run faster on one thread, and far faster on a busy machine."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def hidden():
    return standin_hidden(N_WORDS)


@pytest.fixture(scope="module")
def study(hidden):
    words, cats = story_words()
    cats = {k: v[:N_WORDS] for k, v in cats.items()}
    cfg = SimulationConfig(seed=7, n_subjects=3, truth_layer=3)
    return simulate_study(words[:N_WORDS], hidden, cats, cfg, model_identity="stand-in")


@pytest.fixture(scope="module")
def sweep(hidden, study):
    return layer_sweep(hidden, study, alphas=GRID)


def _toy(n=240, d=6, t=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = x @ rng.standard_normal((d, t)) * 0.5 + rng.standard_normal((n, t))
    return x.astype(np.float32), (y * 3.0 + 10.0).astype(np.float32)


# ------------------------------------------------------------- planted truth
def test_sweep_recovers_planted_layer_and_latency(sweep, study):
    truth = study.provenance["truth"]
    assert sweep.r.shape == (6, 306, 20) and sweep.p.shape == sweep.r.shape
    assert sweep.chosen_layer == truth["truth_layer"] == 3
    assert sweep.best.layer == 3
    assert abs(sweep.best.peak_window() - truth["lm_peak_window"]) <= 1
    assert sweep.layer_time_map().shape == (6, 20)
    summ = sweep.summary()
    assert summ["chosen_layer"] == 3 and summ["margin"] > 0 and "argmax" in summ["rule"]
    # the decision handed on: the layer chosen inside the folds, here in every fold
    decision = summ["layer_decision"]
    assert decision["layer"] == 3 and decision["fold_layers"] == [3] * 10
    # the planted layer beats its runner-up on held-out words, with an interval above 0
    margin = sweep.margin(n_boot=200)
    assert margin["chosen"] == 3 and margin["runner_up"] != 3 and margin["ci"][0] > 0, margin
    assert sweep.nested.chosen_layers.shape == (10, 306, 20)
    best = sweep.best
    assert best.predictions.shape == study.responses.shape
    assert best.best_alphas_.shape == (10, 306, 20)
    assert best.significant.dtype == bool
    assert best.significant[:, truth["lm_peak_window"]].sum() > 50
    assert 0.05 < np.nanmax(np.nanmean(best.r, axis=0)) < 0.6
    assert best.alpha_edge_share()["low"] < 0.01  # nobody wants less shrinkage than 0.1


def test_word_errors_of_the_fit(sweep, study):
    best = sweep.best
    assert best.mse.shape == best.cosine.shape == (N_WORDS, 20)
    empty = ~best.significant.any(axis=0)
    assert np.isnan(best.mse[:, empty]).all() and np.isfinite(best.mse[:, ~empty]).all()
    peak = study.provenance["truth"]["lm_peak_window"]
    assert np.nanmean(best.cosine[:, peak]) > np.nanmean(best.cosine[:, 0])


def test_compare_models_runs_one_sweep_per_model(hidden, study):
    resp = study.responses[:, ::10, ::5]
    out = compare_models({"a": hidden[:2], "b": hidden[2:4]}, resp, alphas=GRID)
    assert set(out) == {"a", "b"} and out["b"].r.shape == (2, 31, 4)
    assert out["b"].chosen_layer == 1  # layer 3 of the stand-in


def test_split_half_reliability_of_r_maps(hidden, study):
    sub = study.subset(np.arange(N_WORDS))
    sub.responses = sub.responses[:, ::3]
    sub.subject_responses = sub.subject_responses[:, :, ::3]
    out = split_half_encoding(hidden[3], sub, seed=0, alphas=GRID)
    assert out["r_a"].shape == (102, 20)
    assert 0 < out["half_r"] < out["reliability"] < 1


# ------------------------------------------------------------- calibration
def test_null_false_positives_within_binomial_range(hidden):
    rng = np.random.default_rng(3)
    n, n_ch, n_win = 600, 50, 20
    noise = rng.standard_normal((n, n_ch, n_win)).astype(np.float32)
    res = fit_encoding(hidden[3][:n], noise, alphas=GRID)
    bound = binomial_false_positive_bound(n_ch * n_win, 1e-3, 0.999)
    assert res.significant.sum() <= bound
    assert np.isnan(res.mse).sum() >= n * (n_win - bound)  # NaN where nothing significant


# ------------------------------------------------------------- out-of-fold
def test_predictions_are_out_of_fold():
    x, y = _toy()
    pred, _ = ridge_oof(x, y, GRID)
    folds = contiguous_folds(len(y), 10)
    test = folds[4]
    y2 = y.copy()
    y2[test] = 1e3 * np.random.default_rng(1).standard_normal(y2[test].shape) - 500.0
    pred2, _ = ridge_oof(x, y2, GRID)
    np.testing.assert_allclose(pred2[test], pred[test], rtol=1e-4, atol=1e-4)
    assert not np.allclose(pred2[folds[0]], pred[folds[0]])  # the change is seen elsewhere


def test_matches_brute_force_nested_cv():
    """Every step redone by hand: training-only standardisation, per-target penalty."""
    x, y = _toy(n=200, d=4, t=3, seed=5)
    pred, choice = ridge_oof(x, y, GRID, n_folds=4, n_inner=3)
    x, y = x.astype(np.float64), y.astype(np.float64)
    for k, test in enumerate(contiguous_folds(len(y), 4)):
        train = np.setdiff1d(np.arange(len(y)), test)
        xs = (x - x[train].mean(0)) / x[train].std(0)
        my, sy = y[train].mean(0), y[train].std(0)
        ys = (y[train] - my) / sy
        xt = xs[train]
        err = np.zeros((len(GRID), y.shape[1]))
        for val in contiguous_folds(len(train), 3):
            tr = np.setdiff1d(np.arange(len(train)), val)
            for i, a in enumerate(GRID):
                w = np.linalg.solve(xt[tr].T @ xt[tr] + a * np.eye(4), xt[tr].T @ ys[tr])
                err[i] += ((ys[val] - xt[val] @ w) ** 2).sum(0)
        np.testing.assert_array_equal(choice[k], err.argmin(0))
        for j, i in enumerate(err.argmin(0)):
            w = np.linalg.solve(xt.T @ xt + GRID[i] * np.eye(4), xt.T @ ys[:, j])
            np.testing.assert_allclose(pred[test, j], xs[test] @ w * sy[j] + my[j], rtol=1e-4)


def test_torch_path_matches_numpy():
    pytest.importorskip("torch")
    x, y = _toy(n=300, d=8, t=12, seed=2)
    p_np, c_np = ridge_oof(x, y, DEFAULT_ALPHAS, backend="numpy")
    p_t, c_t = ridge_oof(x, y, DEFAULT_ALPHAS, backend="torch", device="cpu")
    assert (c_np == c_t).mean() > 0.95
    np.testing.assert_allclose(p_t, p_np, rtol=1e-3, atol=1e-3 * y.std())


# ------------------------------------------------------------- bad inputs
def test_word_count_mismatch_is_a_clear_error(hidden, study):
    with pytest.raises(DataError, match=r"'features' has shape \(899, 48\); expected \(900, any\)"):
        fit_encoding(hidden[0][:-1], study)


def test_nan_in_features_names_the_word_and_column(hidden, study):
    """One NaN used to reach numpy's eigh ("Eigenvalues did not converge")."""
    x = np.array(hidden[0], dtype=float)
    x[17, 5] = np.nan
    with pytest.raises(DataError, match=rf"first at index \(17, 5\): word 17 \({study.words[17]!r}\), "
                                        r"column 5"):
        fit_encoding(x, study)
    x[17, 5] = np.inf
    with pytest.raises(DataError, match="NaN/inf"):
        ridge_oof(x, study.responses.reshape(study.n_words, -1))


def test_constant_channel_is_named():
    x, _ = _toy()
    resp = np.random.default_rng(0).standard_normal((240, 4, 3)).astype(np.float32)
    resp[:, 2, 1] = 7.0
    with pytest.raises(DataError, match=r"channel 'ch2' \(index 2\) in window 1.*constant"):
        fit_encoding(x, resp, alphas=GRID)


def test_layer_out_of_range(hidden, study):
    with pytest.raises(ValueError, match=r"layers \[6\] outside 0..5"):
        layer_sweep(hidden, study, layers=[1, 6])
    with pytest.raises(ValueError, match=r"expected \(n_layers, n_words, d\)"):
        layer_sweep(hidden[0], study)


def test_bad_grid_and_folds():
    x, y = _toy()
    with pytest.raises(ValueError, match="positive penalties"):
        ridge_oof(x, y, [0.0, 1.0])
    with pytest.raises(ValueError, match="expected 2 <= folds"):
        ridge_oof(x, y, GRID, n_folds=1)


# ------------------------------------------------------------- per-word errors
def test_mse_uses_a_boolean_channel_mask():
    rng = np.random.default_rng(0)
    resp = rng.standard_normal((50, 12, 2))
    pred = resp + rng.standard_normal(resp.shape)
    sig = np.zeros((12, 2), bool)
    sig[[5, 9], 0] = True
    mse, cos = word_errors(pred, resp, sig)
    z = lambda a: (a - resp.mean(0)) / resp.std(0)  # noqa: E731
    expected = ((z(pred)[:, [5, 9], 0] - z(resp)[:, [5, 9], 0]) ** 2).mean(axis=1)
    np.testing.assert_allclose(mse[:, 0], expected)
    assert np.isnan(mse[:, 1]).all()  # no significant channel in window 1
    zp, zr = z(pred)[:, :, 1], z(resp)[:, :, 1]
    np.testing.assert_allclose(cos[:, 1], (zp * zr).sum(1) / np.linalg.norm(zp, axis=1)
                               / np.linalg.norm(zr, axis=1))
    with pytest.raises(ValueError, match="boolean mask"):
        word_errors(pred, resp, sig.astype(int))


def test_every_per_target_array_has_the_responses_target_axes():
    """r, p, significant and the per-fold arrays are (n_channels, n_windows) like the
    responses' targets (before, they were (n_windows, n_channels)); r[c, w] is the
    within-fold r of channel c in window w."""
    from analysis.encoding import centre_within_folds, cv_splits

    rng = np.random.default_rng(1)
    n, n_ch, n_win = 160, 3, 2
    x = rng.standard_normal((n, 4))
    resp = (x[:, :1, None] * rng.standard_normal((1, n_ch, n_win))
            + rng.standard_normal((n, n_ch, n_win)))
    res = fit_encoding(x, resp, alphas=GRID, n_folds=4, n_inner=3,
                       error_channels=np.array([True, False, True]))
    for name in ("r", "p", "significant"):
        assert getattr(res, name).shape == (n_ch, n_win), name
    for name in ("best_alphas_", "fold_r", "inner_error"):
        assert getattr(res, name).shape == (4, n_ch, n_win), name
    splits = cv_splits(n, 4)
    pc, rc = centre_within_folds(res.predictions, splits), centre_within_folds(resp, splits)
    for c in range(n_ch):
        for w in range(n_win):
            assert res.r[c, w] == pytest.approx(np.corrcoef(pc[:, c, w], rc[:, c, w])[0, 1],
                                                abs=1e-10)
    assert res.peak_window() == int(np.argmax(res.r.mean(axis=0)))


def test_reference_mode_reproduces_the_int_mask_quirk():
    x, y = _toy(n=200, d=4, t=6)
    resp = y.reshape(200, 3, 2)
    ref = fit_encoding_reference(x, resp)
    assert ref.params["mode"] == "reference" and set(np.unique(ref.best_alphas_)) <= {0.1, 100.0}
    w = int(np.argmax(ref.significant.sum(axis=0)))
    z = (resp - resp.mean(0)) / resp.std(0)
    idx = ref.significant[:, w].astype(int)  # what the public code indexed with
    quirk = ((ref.predictions[:, idx, w] - z[:, idx, w]) ** 2).mean(axis=1)
    np.testing.assert_allclose(ref.mse[:, w], quirk, rtol=1e-4)


def test_encoding_outputs_round_trip(tmp_path):
    from analysis import encoding
    from analysis.contracts import ContractError, EncodingOutputs
    from analysis.data import WordDataset
    from analysis.datasets import DatasetRecord

    rng = np.random.default_rng(0)
    n, n_ch, n_win = 120, 4, 3
    ds = WordDataset(words=[f"w{i}" for i in range(n)], sentence=np.arange(n) // 10,
                     responses=rng.standard_normal((n, n_ch, n_win)).astype(np.float32),
                     times=np.arange(n_win) * 25.0, ch_names=[f"c{i}" for i in range(n_ch)])
    ds.provenance["dataset_record"] = DatasetRecord("saved", "x.npz", {}, n, "f").to_dict()
    res = encoding.fit_encoding(rng.standard_normal((n, 5)), ds, n_folds=4, n_inner=3, layer=2)
    fit = dict(n_folds=4, n_inner=3, p_threshold=1e-3, cv_groups="sentence",
               alphas=encoding.DEFAULT_ALPHAS)
    chans = np.array([True, True, False, True])
    mse, note = encoding.errors_of_interest(res, ds.responses, chans, np.ones(n_win, bool))
    out = encoding.encoding_outputs(res, ds, "default", "id", fit, None, chans, mse)
    out.write(tmp_path)
    back = EncodingOutputs.read(tmp_path)
    np.testing.assert_array_equal(back.mse, mse)
    assert back.significant.dtype == bool and back.layer == 2 and back.words == ds.words
    assert back.channels == ["c0", "c1", "c3"] and back.dataset["name"] == "saved"
    assert back.fit_kwargs(ds)["groups"].tolist() == ds.sentence.tolist()
    with pytest.raises(ContractError, match="encoding_outputs.npz not found: run the encoding"):
        EncodingOutputs.read(tmp_path / "nowhere")


def test_errors_of_interest_fall_back_when_nothing_is_significant():
    from analysis import encoding

    rng = np.random.default_rng(3)
    x = rng.standard_normal((200, 4))
    resp = rng.standard_normal((200, 3, 2))  # pure noise: nothing significant
    res = encoding.fit_encoding(x, resp, n_folds=4, n_inner=3)
    assert not res.significant.any()
    mse, note = encoding.errors_of_interest(res, resp, np.array([True, False, True]),
                                            np.array([False, True]))
    assert note and np.isnan(mse[:, 0]).all() and np.isfinite(mse[:, 1]).all()
    expected, _ = encoding.word_errors(res.predictions, resp,
                                       np.array([[0, 1], [0, 0], [0, 1]], bool))
    np.testing.assert_allclose(mse, expected, rtol=1e-4, atol=1e-9)


def test_grouped_folds_never_split_a_group():
    from analysis.encoding import contiguous_folds, cv_splits

    story = np.repeat(np.arange(10), [110, 95, 105, 99, 101, 98, 102, 100, 97, 93])
    folds = contiguous_folds(story.size, 10, story)
    assert len(folds) == 10
    for f in folds:
        assert np.all(np.diff(f) == 1)  # contiguous
        inside = set(story[f])
        assert all(set(np.flatnonzero(story == g)) <= set(f) for g in inside)
    three = contiguous_folds(story.size, 3, story)
    assert len(three) == 3 and sum(len(f) for f in three) == story.size
    few = contiguous_folds(40, 10, np.repeat([0, 1, 2], [10, 20, 10]))
    assert [len(f) for f in few] == [10, 20, 10]  # fewer groups than folds: one each
    with pytest.raises(ValueError, match="several blocks"):
        contiguous_folds(6, 2, np.array([0, 0, 1, 1, 0, 0]))
    from sklearn.model_selection import GroupKFold

    splits = cv_splits(story.size, groups=story, cv=GroupKFold(5))
    assert len(splits) == 5 and sorted(np.concatenate([t for _, t in splits])) == \
        list(range(story.size))
    with pytest.raises(ValueError, match="cover every sample exactly once"):
        cv_splits(10, cv=[(np.arange(5, 10), np.arange(5))])


def test_grouped_fit_keeps_stories_apart():
    """With groups, a story's words are never in the training set of its own fold."""
    rng = np.random.default_rng(0)
    story = np.repeat(np.arange(6), 40)
    x = rng.standard_normal((240, 3))
    y = (x @ rng.standard_normal((3, 2)) + rng.standard_normal((240, 2)))
    grouped, _ = ridge_oof(x, y, GRID, n_folds=6, n_inner=3, groups=story)
    # perturbing story 2's responses leaves its own predictions unchanged
    y2 = y.copy()
    y2[story == 2] += 50.0
    again, _ = ridge_oof(x, y2, GRID, n_folds=6, n_inner=3, groups=story)
    np.testing.assert_allclose(again[story == 2], grouped[story == 2], rtol=1e-4, atol=1e-4)


def test_sentence_positions_restart_at_each_sentence():
    from analysis.text import sentence_positions

    pos = sentence_positions(np.array([0, 0, 0, 1, 1, 2, 5, 5]))
    assert pos.tolist() == [1, 2, 3, 1, 2, 1, 1, 2]


def test_baseline_model_is_out_of_fold_least_squares():
    from analysis.encoding import cv_splits, fit_baseline

    rng = np.random.default_rng(4)
    xb = rng.standard_normal((120, 3))
    y = (xb @ [[1.0], [-0.5], [0.2]] + 0.5 * rng.standard_normal((120, 1)))[:, :, None]
    res = fit_baseline(xb, y, n_folds=4, n_inner=3)
    manual = np.empty(120)
    for train, test in cv_splits(120, 4):
        design = np.c_[np.ones(len(train)), xb[train]]
        coef = np.linalg.lstsq(design, y[train, 0, 0], rcond=None)[0]
        manual[test] = np.c_[np.ones(len(test)), xb[test]] @ coef
    np.testing.assert_allclose(res.predictions[:, 0, 0], manual, rtol=1e-4, atol=1e-4)
    assert res.params["mode"] == "nested" and res.params["d"] == 0


def test_nested_model_gains_only_where_the_features_carry_signal():
    rng = np.random.default_rng(5)
    n = 600
    xb = rng.standard_normal((n, 3))
    lm = rng.standard_normal((n, 40))
    y = np.stack([xb[:, 0] + rng.standard_normal(n),                   # baseline only
                  xb[:, 0] + lm[:, :5].sum(1) + rng.standard_normal(n)], axis=1)[:, :, None]
    from analysis.encoding import fit_baseline

    baseline_fit = fit_baseline(xb, y, n_folds=5, n_inner=3)
    nested = fit_encoding(lm, y, n_folds=5, n_inner=3, baseline=xb)
    gain = nested.r[:, 0] - baseline_fit.r[:, 0]
    assert abs(gain[0]) < 0.03 and gain[1] > 0.3
    with pytest.raises(DataError, match="no column and no unpenalized band"):
        ridge_oof(np.zeros((n, 0)), y[:, :, 0])


def test_swept_layers_steps_from_zero_or_keeps_the_given_layers():
    from analysis.encoding import swept_layers

    assert swept_layers(31, layer_step=5) == [0, 5, 10, 15, 20, 25, 30]
    assert swept_layers(4) == [0, 1, 2, 3]
    assert swept_layers(31, layers=(3, 7), layer_step=5) == [3, 7]
    with pytest.raises(ValueError, match="layer_step must be a positive integer, got 0"):
        swept_layers(31, layer_step=0)


def test_compare_models_sweeps_every_step_th_layer_and_says_so(hidden, study, capsys):
    resp = study.responses[:, ::10, ::5]
    out = compare_models({"a": hidden[:4]}, resp, layer_step=2, alphas=GRID, progress=True)
    assert out["a"].layers == [0, 2]
    assert "model a: 4 hidden states" in capsys.readouterr().out


def test_layer_choice_text_quotes_the_decision_and_the_margin():
    from analysis.encoding import layer_choice_text

    decision = {"layer": 12, "fold_layers": [12, 12, 11], "sweep_argmax": 11,
                "nested_mean_r": 0.123456}
    margin = {"runner_up": 9, "margin": 0.00912, "ci": [0.0031, 0.0112], "n_units": 1423,
              "unit": "group", "ci_folds": [0.0031, 0.011], "n_folds": 10}
    text = layer_choice_text(decision, margin, n_swept=7, n_layers_model=30)
    assert text["fold_layers"] == "12, 12, 11" and text["nested_mean_r"] == "0.1235"
    assert text["margin_txt"] == ("0.0091 (95 % interval 0.0031 to 0.0112; the wider of a "
                                  "bootstrap over 1,423 sentences and the corrected t interval "
                                  "over 10 folds)")
    assert text["margin_verdict"].startswith("The interval excludes 0")
    below = layer_choice_text(decision, {**margin, "margin": -0.004, "ci": [-0.006, -0.002]},
                              7, 30)
    assert below["margin_verdict"].startswith("The interval lies below 0")
    assert (text["chosen_layer"], text["n_swept"], text["n_layers_model"]) == (12, 7, 30)
    # without a nested fit or fold results: the argmax stands alone and the tie is said
    plain = layer_choice_text({"layer": 4, "fold_layers": None, "sweep_argmax": 4,
                               "nested_mean_r": None},
                              {"runner_up": 3, "margin": -0.001, "ci": [-0.002, 0.001]}, 2, 5)
    assert plain["fold_layers"] == "4" and plain["nested_mean_r"] == "n/a"
    assert plain["margin_verdict"].startswith("The interval includes 0")
    one = layer_choice_text({"layer": 4, "fold_layers": None, "sweep_argmax": 4,
                             "nested_mean_r": None},
                            {"runner_up": None, "margin": None, "ci": None}, 1, 5)
    assert one["margin_txt"] == "n/a (one layer swept)"


def test_error_text_names_the_window_channels_and_fallback():
    from analysis.encoding import error_text

    text = error_text(1.234, (300.0, 425.0), np.array([True, False, True]), ["a", "b", "c"],
                      note="no channel is significant")
    assert text == {"err_ratio": "1.23", "window_txt": "300-425 ms", "channels_txt": "a, c",
                    "fallback_txt": "(Here no channel is significant.)"}
    text = error_text(float("nan"), None, np.ones(2, bool), ["a", "b"])
    assert text == {"err_ratio": "n/a (no word labels)", "window_txt": "every window",
                    "channels_txt": "all channels", "fallback_txt": ""}
    with pytest.raises(ValueError, match="channels has shape \\(2,\\) but there are 3"):
        error_text(1.0, None, np.ones(2, bool), ["a", "b", "c"])


def test_word_squared_error_is_the_mean_over_targets_of_z_scored_errors():
    from analysis.encoding import word_squared_error

    rng = np.random.default_rng(0)
    y = rng.standard_normal((40, 30, 40)) * 5 + 2  # 1,200 targets: three blocks of 512
    pred = y + rng.standard_normal(y.shape)
    flat, err = y.reshape(40, -1), (pred - y).reshape(40, -1)
    np.testing.assert_allclose(word_squared_error(pred, y),
                               ((err / flat.std(0)) ** 2).mean(1), rtol=1e-10)
    y[:, 3, 7] = 1.0
    with pytest.raises(DataError, match="target 127 .* constant"):
        word_squared_error(pred, y)
    with pytest.raises(DataError, match="expected the responses' shape"):
        word_squared_error(pred[:, :2], y)


def test_chapter_results_are_what_the_schema_accepts(sweep, study):
    """The encoding chapter's results dict, from one call, passes the declared schema and
    checks the planted truth on the simulated study."""
    from analysis.encoding import chapter_results
    from analysis.provenance import to_jsonable
    from analysis.results import validate_results

    decision, best = sweep.layer_decision(), sweep.best
    n_windows = len(study.times)
    out = chapter_results(
        study, {"stand-in": sweep}, decision, best, margin=sweep.margin(n_boot=50),
        chance_bound=3, error_ratio=1.2, window=[300.0, 400.0], channels=study.ch_names[:2],
        cv_groups="sentence", error_note=None, rsa=np.zeros(n_windows),
        rsa_ceiling=(np.zeros(n_windows), np.ones(n_windows)),
        noise_ceiling={"ceiling_r": np.full(best.r.shape, 0.5)}, share_median=0.3)
    rec = validate_results("encoding", to_jsonable(out))
    assert rec.chosen_layer == decision["layer"] and rec.layer_decision == decision
    assert rec.peak_window == best.peak_window()
    assert rec.peak_ms == study.times[best.peak_window()]
    assert sum(rec.significant_channels_per_window) == best.significant.sum()
    assert rec.rsa_noise_ceiling["upper"] == [1.0] * n_windows
    assert rec.noise_ceiling_median == (0.5 if best.significant.any() else None)
    truth = study.provenance["truth"]
    assert rec.truth_check["truth_layer"] == truth["truth_layer"] == 3
    assert rec.truth_check["layer_recovered"] == (decision["layer"] == 3)
    assert set(rec.models) == {"stand-in"}
