"""The simulated study: determinism and a truth that the data really carry."""

import numpy as np
from conftest import standin_hidden
import pytest

from analysis.simulate import SimulationConfig, simulate_study, story_words

N_WORDS = 900


@pytest.fixture(scope="module")
def story():
    words, cats = story_words()
    return words[:N_WORDS], {k: v[:N_WORDS] for k, v in cats.items()}


@pytest.fixture(scope="module")
def hidden(story):
    return standin_hidden(len(story[0]))


@pytest.fixture(scope="module")
def study(story, hidden):
    cfg = SimulationConfig(seed=7, n_subjects=3, truth_layer=3)
    return simulate_study(story[0], hidden, story[1], cfg, model_identity="stand-in")


def test_story_and_annotations_line_up():
    words, cats = story_words()
    assert len(words) > 4000
    assert set(cats) == {"emotion", "figurative", "physical"}
    assert all(v.shape == (len(words),) for v in cats.values())
    assert 0.02 < cats["emotion"].mean() < 0.15 and 0.04 < cats["physical"].mean() < 0.15


def test_same_seed_same_data_bit_for_bit(story, hidden, study):
    again = simulate_study(story[0], hidden, story[1], SimulationConfig(seed=7, n_subjects=3,
                                                                      truth_layer=3))
    assert again.responses.tobytes() == study.responses.tobytes()
    assert again.subject_responses.tobytes() == study.subject_responses.tobytes()
    other = simulate_study(story[0], hidden, story[1], SimulationConfig(seed=8, n_subjects=3,
                                                                      truth_layer=3))
    assert not np.array_equal(other.responses, study.responses)


def test_shapes_units_and_saved_truth(study):
    assert study.responses.shape == (N_WORDS, 306, 20)
    assert study.subject_responses.shape == (3, N_WORDS, 306, 20)
    np.testing.assert_allclose(study.subject_responses.mean(axis=0), study.responses, rtol=1e-5,
                               atol=1e-16)
    mags = np.array(study.info.get_channel_types()) == "mag"
    assert 1e-14 < study.responses[:, mags].std() < 1e-11  # tens of fT
    truth = study.provenance["truth"]
    assert truth["truth_layer"] == 3 and truth["seed"] == 7
    assert truth["planted_categories"]["emotion"] == int(study.categories["emotion"].sum())
    assert {c["name"] for c in truth["components"]} >= {"visual", "emotion", "physical"}
    assert len(truth["topographies"]["emotion"]) == 306


def _cv_pred(x, y, alpha=100.0, folds=5):
    """Out-of-fold ridge predictions with contiguous folds (a fixed penalty is enough here)."""
    pred = np.empty_like(y, dtype=float)
    for test in np.array_split(np.arange(len(y)), folds):
        train = np.setdiff1d(np.arange(len(y)), test)
        mu, sd = x[train].mean(0), x[train].std(0) + 1e-8
        xt = (x[train] - mu) / sd
        w = np.linalg.solve(xt.T @ xt + alpha * np.eye(x.shape[1]), xt.T @ (y[train] - y[train].mean(0)))
        pred[test] = (x[test] - mu) / sd @ w + y[train].mean(0)
    return pred


def _cv_r(x, y):
    pred = _cv_pred(x, y)
    yc, pc = y - y.mean(0), pred - pred.mean(0)
    return (yc * pc).sum(0) / np.sqrt((yc ** 2).sum(0) * (pc ** 2).sum(0))


def test_truth_layer_wins_and_peaks_at_planted_latency(study, hidden):
    truth = study.provenance["truth"]
    peak = truth["lm_peak_window"]
    z = study.responses / study.responses.std(axis=(0, 2), keepdims=True)
    r_layers = [_cv_r(hidden[l], z[:, :, peak]).mean() for l in range(hidden.shape[0])]
    assert int(np.argmax(r_layers)) == truth["truth_layer"]
    r_time = [_cv_r(hidden[3], z[:, :, w]).mean() for w in range(0, 20, 2)]
    assert abs(2 * int(np.argmax(r_time)) - peak) <= 2
    assert 0.03 < max(r_time) < 0.5  # realistic range of MEG encoding r


def test_planted_words_carry_unpredictable_late_responses(study, hidden):
    planted = study.categories["emotion"] | study.categories["physical"]
    z = study.responses / study.responses.std(axis=(0, 2), keepdims=True)
    late = [w for w in range(20) if 300 <= study.times[w] <= 400]
    early = [w for w in range(20) if study.times[w] < 100]
    def err(windows):
        out = []
        for w in windows:
            y = z[:, :, w]
            pred = _cv_pred(hidden[3], y)
            out.append(((y - pred) ** 2).mean(axis=1))
        return np.mean(out, axis=0)
    late_err, early_err = err(late), err(early)
    assert late_err[planted].mean() > 1.2 * late_err[~planted].mean()
    assert early_err[planted].mean() < 1.15 * early_err[~planted].mean()


def test_bad_inputs(story, hidden):
    with pytest.raises(ValueError, match="cover 900 words but the text has 899"):
        simulate_study(story[0][:-1], hidden, story[1])
    with pytest.raises(ValueError, match="truth_layer=9 outside"):
        simulate_study(story[0], hidden, story[1], SimulationConfig(truth_layer=9))


def _shared_stream_hidden(n_words, n_layers=4, d=160, seed=3):
    """Layers like a transformer's residual stream: the top 64 principal components are
    one component common to every layer; each layer adds its own weaker part."""
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal((n_words, 64)) @ rng.standard_normal((64, d)) * 0.5
    return np.stack([shared + rng.standard_normal((n_words, d)) for _ in range(n_layers)])


def test_planted_layer_is_identifiable_when_layers_share_their_top_components(story):
    """A read-out of the top components (the old simulation) is predicted as well by every
    layer; skipping them plants what only the truth layer has."""
    hidden = _shared_stream_hidden(len(story[0]))

    def layer_r(**kw):
        cfg = SimulationConfig(seed=7, n_subjects=2, truth_layer=2, **kw)
        ds = simulate_study(story[0], hidden, story[1], cfg)
        peak = ds.provenance["truth"]["lm_peak_window"]
        z = ds.responses / ds.responses.std(axis=(0, 2), keepdims=True)
        return np.array([_cv_r(hidden[l], z[:, :, peak]).mean() for l in range(4)]), ds

    old, _ = layer_r(pc_skip=0, n_pcs=64)
    new, ds = layer_r()
    assert ds.provenance["truth"]["lm_principal_components"] == {"first": 32, "stop": 128,
                                                                 "skipped_top": 32}
    others = np.delete(new, 2)
    assert int(np.argmax(new)) == 2 and new[2] - others.max() > 0.3 * new[2], new
    assert abs(old[2] - np.delete(old, 2).max()) < 0.1 * old[2], old  # no better than a tie


def test_noise_is_autocorrelated_across_words(story, hidden, study):
    """Window 0 (0-25 ms) holds almost only noise: its lag-one correlation across words
    follows ``word_ar`` (0.5 by default, scaled by the noise share; 0 when switched off)."""
    def lag_one(ds):
        x = ds.responses[:, :, 0] / ds.responses[:, :, 0].std(axis=0)
        x = x - x.mean(axis=0)
        return float(((x[1:] * x[:-1]).sum(0) / (x ** 2).sum(0)).mean())

    assert study.provenance["truth"]["noise"]["ar1_words"] == 0.5
    white = simulate_study(story[0], hidden, story[1],
                           SimulationConfig(seed=7, n_subjects=3, truth_layer=3, word_ar=0.0))
    assert 0.3 < lag_one(study) < 0.55 and abs(lag_one(white)) < 0.1


def test_truth_text_quotes_the_planted_truth_and_n_a_on_real_data():
    from analysis.simulate import TRUTH_TEXT_KEYS, truth_text

    truth = {"truth_layer": 12, "n_layers": 31, "lm_peak_ms": 250.0,
             "noise": {"sources": 40, "ar1_words": 0.3}, "n_subjects": 4,
             "unnamed_category": {"n_words": 17, "found_in_text": list("abcdefg")},
             "knowledge": {"orthogonalised_against": "all 576 dimensions of layer 12",
                           "r_before": 0.4567}}
    text = truth_text(truth)
    assert set(text) == {"truth_intro", *TRUTH_TEXT_KEYS}
    assert (text["n_layers"], text["lm_peak_ms"], text["noise_word_ar"]) == (30, "250", "0.3")
    assert text["sound_examples"] == "a, b, c, d, e"
    assert (text["knowledge_dims"], text["knowledge_r"]) == ("576", "0.46")
    del truth["knowledge"]
    assert truth_text(truth)["knowledge_dims"] == "n/a"
    real = truth_text(None)
    assert real["truth_intro"].startswith("Real data have no planted truth")
    assert all(real[k] == "n/a" for k in TRUTH_TEXT_KEYS)
