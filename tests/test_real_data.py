"""The real-data chapter's functions (:mod:`analysis.real_data`) on small synthetic inputs.

The chapter itself runs on the Frank et al. (2015) and Natural Stories files in the slow
book test; these fixtures take a second or two each.
"""

import numpy as np
import pandas as pd
import pytest

from analysis import real_data
from analysis.data import WordDataset

GRID = np.logspace(-1, 5, 7)
N, N_LAYERS, D = 240, 5, 10


def _components(seed=0, planted=2):
    """Two components: 'N400' planted from one layer (plus surprisal), 'PNP' noise."""
    rng = np.random.default_rng(seed)
    h = [rng.standard_normal((N, D))]
    for _ in range(N_LAYERS - 1):
        h.append(0.7 * h[-1] + 0.7 * rng.standard_normal((N, D)))
    hidden = np.stack(h)
    surprisal = rng.gamma(2.0, 2.0, N)
    base = rng.standard_normal((N, 3))
    n400 = (0.8 * hidden[planted] @ rng.standard_normal(D) / np.sqrt(D) - 0.2 * surprisal
            + base @ np.array([0.3, 0.0, 0.1]) + rng.standard_normal(N))
    resp = np.stack([n400, rng.standard_normal(N)], axis=1)[:, :, None]
    sentence = np.repeat(np.arange(N // 8), 8)
    ds = WordDataset(words=[f"w{i}" for i in range(N)], sentence=sentence, responses=resp,
                     times=[0.0], ch_names=["N400", "PNP"])
    return ds, hidden, base, surprisal, sentence


def test_component_encoding_chooses_the_layer_inside_the_folds():
    ds, hidden, base, surprisal, sentence = _components()
    enc = real_data.component_encoding(
        ds, hidden, base, list(range(N_LAYERS)), n_permutations=99, seed=0,
        lexical={"static": hidden[0], "surprisal": surprisal}, n_boot=100, alphas=GRID,
        n_folds=5, n_inner=4, groups=sentence)
    t = enc["table"]
    n400 = t.loc["N400"]
    folds = [int(v) for v in n400["layers per fold"].split(",")]
    assert len(folds) == 5 and enc["chosen_layers"]["N400"] == folds
    assert np.mean(np.array(folds) == 2) >= 0.6
    assert n400["layer (modal)"] == enc["layer"]["N400"] == 2
    assert n400["best layer (description)"] == int(enc["sweep"]["N400"].idxmax())
    # the planted component gains over both baselines, the noise one does not
    assert n400["gain"] > 0.1 and n400["p gain"] <= 0.02
    assert n400["gain low"] < n400["gain"] < n400["gain high"] and n400["gain low"] > 0
    assert n400["r baseline + LM low"] < n400["r baseline + LM"] < n400["r baseline + LM high"]
    assert n400["gain over lexical"] > 0 and n400["r lexical"] > n400["r baseline"]
    assert n400["gain over lexical low"] < n400["gain over lexical"] < n400["gain over lexical high"]
    assert t.loc["PNP", "p gain"] > 0.05
    # the reported r belong to the nested predictions, on r within folds
    from analysis.encoding import centre_within_folds
    from analysis.stats import pearson_columns

    y = centre_within_folds(ds.responses[:, :, 0], enc["splits"])
    pred = centre_within_folds(enc["nested"].predictions[:, :, 0], enc["splits"])
    assert np.allclose(pearson_columns(pred, y), t["r baseline + LM"].to_numpy(), atol=1e-6)
    assert np.allclose(t["gain"], t["r baseline + LM"] - t["r baseline"], atol=1e-5)
    assert set(t.columns) >= {"q gain", "q gain over lexical", "p gain over lexical"}


def test_component_encoding_without_lexical_baseline_or_intervals():
    ds, hidden, base, _, sentence = _components(1)
    enc = real_data.component_encoding(ds, hidden, base, [0, 2, 4], n_permutations=19,
                                       n_boot=0, alphas=GRID, n_folds=4, n_inner=3,
                                       groups=sentence)
    assert "r lexical" not in enc["table"] and "gain low" not in enc["table"]
    assert enc["lexical"] is None and list(enc["sweep"].index) == [0, 2, 4]
    assert set(enc["chosen_layers"]["PNP"]) <= {0, 2, 4}


def test_r_interval_resamples_whole_groups():
    rng = np.random.default_rng(0)
    x = np.repeat(rng.standard_normal(30), 10)  # ten copies of each unit: dependent words
    y = x + np.repeat(rng.standard_normal(30), 10)
    groups = np.repeat(np.arange(30), 10)
    x[3] = np.nan  # left out
    by_group = real_data.r_interval(x, y, groups, n_boot=300, seed=1)
    by_word = real_data.r_interval(x, y, None, n_boot=300, seed=1)
    assert by_group["n_words"] == 299 and by_group["n_groups"] == 30
    assert by_group["ci"][0] < by_group["r"] < by_group["ci"][1]
    width = lambda d: d["ci"][1] - d["ci"][0]  # noqa: E731
    assert width(by_group) > 2 * width(by_word)  # words of a unit are not independent


def test_futrell2018_table_intervals():
    rng = np.random.default_rng(2)
    n = 400
    sentence = np.repeat(np.arange(n // 10), 10)
    within = np.tile(np.arange(1, 11), n // 10)
    surprisal = rng.gamma(2.0, 2.0, n)
    rt = 300 + 8 * surprisal + rng.normal(0, 30, n)
    meta = pd.DataFrame({"word_within_sentence": within,
                         "gpt3_surprisal_bits": surprisal / np.log(2) + rng.normal(0, 1, n)})
    ns = WordDataset(words=[f"w{i}" for i in range(n)], sentence=sentence,
                     responses=rt[:, None, None], times=[0.0], ch_names=["rt"], metadata=meta)
    fut = real_data.futrell2018_table(ns, {"m": surprisal}, groups=sentence, n_boot=200)
    row = fut.loc["m"]
    assert row["raw_r low"] < row["raw_r"] < row["raw_r high"]
    assert row["normalised low"] <= row["normalised"] <= row["normalised high"] <= 1.0
    assert row["n_words"] == n - n // 10  # sentence-initial words left out
    assert np.isfinite(fut.loc["GPT-3 davinci (corpus log-probabilities)", "raw_r low"])
    plain = real_data.futrell2018_table(ns, {"m": surprisal})
    assert "raw_r low" not in plain.columns
    assert plain.loc["m", "raw_r"] == pytest.approx(row["raw_r"])


def test_abs_interval_spanning_zero_starts_at_zero():
    assert real_data._abs_interval([-0.1, 0.3]) == [0.0, 0.3]
    assert real_data._abs_interval([-0.4, -0.2]) == [0.2, 0.4]


def test_layer_decisions_travel_through_the_contracts(tmp_path):
    from analysis.contracts import ContractError, EncodingOutputs, RealDataLayer

    rec = RealDataLayer(model="default", component="N400", layer=12, rule="modal fold layer",
                        fold_layers=[12, 12, 9, 12], best_layer_description=18, n_words=1487)
    rec.write(tmp_path)
    back = RealDataLayer.read(tmp_path)
    assert back == rec
    with pytest.raises(ContractError, match="not among the fold layers"):
        RealDataLayer("default", "N400", 18, "x", [12, 12], 18, 10)
    with pytest.raises(ContractError, match="real_data_layer.json not found: run the real_data"):
        RealDataLayer.read(tmp_path / "nowhere")
    # the encoding contract refuses a decision that names another layer
    kw = dict(dataset={}, model="m", model_identity="i", layer=3,
              fit=dict(n_folds=2, n_inner=2, p_threshold=1e-3, cv_groups=None, alphas=[1.0]),
              window=None, channels=[], words=["a"], sentence=[0], times=[0.0],
              ch_names=["c"], mse=np.zeros((1, 1)), cosine=np.zeros((1, 1)),
              r=np.zeros((1, 1)), p=np.ones((1, 1)), significant=np.zeros((1, 1), bool))
    ok = EncodingOutputs(**kw, layer_decision={"layer": 3, "rule": "r", "fold_layers": [3, 3],
                                               "sweep_argmax": 5})
    assert ok.layer_decision["sweep_argmax"] == 5
    with pytest.raises(ContractError, match="layer 3 but layer_decision says 5"):
        EncodingOutputs(**kw, layer_decision={"layer": 5, "rule": "r", "fold_layers": None,
                                              "sweep_argmax": 5})
    with pytest.raises(ContractError, match="layer_decision"):
        EncodingOutputs(**kw)
