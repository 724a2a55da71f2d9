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


# --------------------------------------------------------------------------- the chapter's numbers
def _frank(n_sent=40, per=6, seed=3):
    """A Frank-like table: six components, reading measures, shipped surprisal columns.

    The N400 falls with surprisal (``s_GPT2``); the last word of each sentence holds a
    full stop, so the published exclusion leaves it out.
    """
    from analysis.reference import DEVARDA_MEASURES, DEVARDA_REFERENCE_COLUMNS

    rng = np.random.default_rng(seed)
    n = n_sent * per
    words = [f"w{i}." if i % per == per - 1 else f"w{i}" for i in range(n)]
    s = rng.gamma(2.0, 2.0, n)
    meta = pd.DataFrame({"word": words, "sent_id": np.repeat(np.arange(n_sent), per) + 1})
    for col in DEVARDA_REFERENCE_COLUMNS:
        meta[col] = s + rng.normal(0, 0.5, n)
    erps = [c for c in DEVARDA_MEASURES if c in ("ELAN", "LAN", "N400", "EPNP", "P600", "PNP")]
    for c in DEVARDA_MEASURES:
        if c not in erps:
            meta[c] = 200 + 10 * s + rng.normal(0, 20, n)
    resp = rng.standard_normal((n, len(erps)))
    resp[:, erps.index("N400")] = -0.5 * s + rng.standard_normal(n)
    meta["published_exclusion"] = [w.endswith(".") for w in words]
    ds = WordDataset(words=words, sentence=np.repeat(np.arange(n_sent), per),
                     responses=resp[:, :, None], times=[0.0], ch_names=erps, metadata=meta)
    return ds, s


def test_devarda_summary_texts_and_results_agree_with_the_table():
    frank, s = _frank()
    ours = s + np.random.default_rng(0).normal(0, 1, len(s))
    dv = real_data.devarda_summary(frank, {"m": ours}, n_boot=200, seed=0)
    kept = ~frank.metadata["published_exclusion"].to_numpy()
    assert dv.info["n_words"] == kept.sum() == 200
    r = np.corrcoef(ours[kept], frank.responses[kept, 2, 0])[0, 1]
    assert dv.table.loc["m (ours)", "N400"] == pytest.approx(r)
    assert dv.intervals["ours"]["r"] == pytest.approx(r)
    assert dv.intervals["ours"]["n_groups"] == 40
    lo, hi = dv.intervals["s_GPT2"]["ci"]
    assert lo < dv.table.loc["s_GPT2", "N400"] < hi < 0  # planted: negative
    texts = real_data.devarda_texts(dv)
    assert texts["dv_ours_n400"] == f"{r:.3f}" and texts["dv_n"] == "200"
    assert texts["dv_n_sent"] == 40 and texts["dv_ours_n400_ci"].count(" to ") == 1
    diff = np.abs(dv.table.loc["s_GPT2", "N400"] - dv.published.loc["s_GPT2", "N400"])
    assert real_data.devarda_max_difference(dv) >= diff
    both = real_data.devarda_comparison(dv)
    assert both[("published", "N400")].isna()["m (ours)"]
    res = real_data.devarda_results(dv)
    assert res["surprisal_vs_erp"]["N400"]["m (ours)"] == pytest.approx(r)
    assert res["surprisal_vs_erp"]["n_words"] == 200
    assert res["surprisal_vs_erp_n400_interval"]["ours"]["unit"] == "sentences"
    assert set(real_data.devarda_texts(None).values()) == {"n/a"}
    with pytest.raises(real_data.DataError, match="no surprisal"):
        real_data.devarda_summary(frank, {})


def test_futrell2018_texts_and_results():
    rng = np.random.default_rng(4)
    n = 200
    sentence = np.repeat(np.arange(n // 10), 10)
    s = rng.gamma(2.0, 2.0, n)
    meta = pd.DataFrame({"word_within_sentence": np.tile(np.arange(1, 11), n // 10),
                         "gpt3_surprisal_bits": s / np.log(2) + rng.normal(0, 1, n)})
    ns = WordDataset(words=[f"w{i}" for i in range(n)], sentence=sentence,
                     responses=(300 + 8 * s + rng.normal(0, 30, n))[:, None, None],
                     times=[0.0], ch_names=["rt"], metadata=meta)
    fut = real_data.futrell2018_table(ns, {"m": s}, groups=sentence, n_boot=100)
    texts = real_data.futrell2018_texts(fut, "m")
    assert texts["fut_ours_r"] == f"{fut.loc['m', 'raw_r']:.3f}" and texts["ns_n"] == "180"
    assert texts["fut_gpt3"] == f"{fut.loc[real_data.GPT3_ROW, 'raw_r']:.3f}"
    res = real_data.futrell2018_results(fut)
    assert res["m"]["n_words"] == 180 and len(res["m"]["normalised_ci"]) == 2
    published = [k for k in res if k.endswith("(published)")]
    assert published and all(res[k]["n_words"] is None and res[k]["raw_r_ci"] is None
                             for k in published)
    assert set(real_data.futrell2018_texts(None, "m").values()) == {"n/a"}


def test_n400_ceiling_keeps_the_sentences_and_matches_split_halves():
    rng = np.random.default_rng(5)
    n_sub, n = 12, 120
    true = rng.standard_normal(n)
    sub = (true + 2.0 * rng.standard_normal((n_sub, n)))[:, :, None, None]
    meta = pd.DataFrame({"sent_id": np.repeat(np.arange(12), 10)})
    trials = WordDataset(words=[f"w{i}" for i in range(n)], sentence=meta["sent_id"].to_numpy(),
                         responses=sub.mean(axis=0), times=[0.0], ch_names=["N400"],
                         metadata=meta, subject_responses=sub)
    c = real_data.n400_ceiling(trials, n_splits=50, seed=0)["N400"]
    # Spearman-Brown reliability of a 12-reader mean with noise variance 4: 12 / (12 + 4)
    assert c["reliability"] == pytest.approx(0.75, abs=0.12)
    assert c["ceiling_r"] == pytest.approx(np.sqrt(c["reliability"]))
    assert c["interval"][0] <= c["ceiling_r"] <= c["interval"][1]
    few = real_data.n400_ceiling(trials, sentences=[0, 1, 2], n_splits=20, seed=0)["N400"]
    assert few["n_words"] == 30 and c["n_words"] == n and c["n_subjects"] == n_sub
    texts = real_data.ceiling_texts({"N400": c})
    assert texts["n400_ceiling"] == f"{c['ceiling_r']:.2f}" and "-" in texts["n400_ceiling_ci"]
    assert set(real_data.ceiling_texts({}).values()) == {"n/a"}
    assert real_data.ceiling_results({"N400": c})["noise_ceiling"] == {"N400": c["ceiling_r"]}
    assert list(real_data.ceiling_table({"N400": c}).index) == ["N400"]
    with pytest.raises(real_data.DataError, match="sent_id"):
        real_data.n400_ceiling(WordDataset(words=trials.words, sentence=trials.sentence,
                                           responses=trials.responses, times=[0.0],
                                           ch_names=["N400"], subject_responses=sub),
                               sentences=[0])


def test_add_ceiling_share_and_swept_layers():
    table = pd.DataFrame({"r baseline + LM": [0.2, 0.1], "r baseline + LM low": [0.1, 0.0],
                          "r baseline + LM high": [0.3, 0.2]}, index=["N400", "PNP"])
    out = real_data.add_ceiling_share(table, {"N400": {"ceiling_r": 0.5}})
    assert out.loc["N400", "share of ceiling"] == pytest.approx(0.4)
    assert out.loc["N400", "share of ceiling high"] == pytest.approx(0.6)
    assert np.isnan(out.loc["PNP", "share of ceiling"]) and "ceiling" not in table
    assert real_data.add_ceiling_share(table, {}).equals(table)
    assert "share of ceiling" in real_data.encoding_columns(out)
    assert real_data.swept_layers(7, 3) == [0, 3, 6] and real_data.swept_layers(3) == [0, 1, 2]
    with pytest.raises(real_data.DataError, match="layer_step"):
        real_data.swept_layers(5, 0)


def test_erp_encoding_texts_results_and_handed_layer(tmp_path):
    from types import SimpleNamespace

    from analysis.contracts import RealDataLayer

    ds, hidden, base, surprisal, sentence = _components(2)
    meta = pd.DataFrame({"word": ds.words, "published_exclusion": np.arange(N) % 8 == 7})
    frank = WordDataset(words=ds.words, sentence=sentence, responses=ds.responses,
                        times=[0.0], ch_names=ds.ch_names, metadata=meta)
    feats = SimpleNamespace(hidden=hidden, surprisal=surprisal)
    fit = real_data.erp_encoding(frank, feats, layer_step=2, ceiling={"N400": {"ceiling_r": 0.8}},
                                 n_permutations=19, n_boot=50, seed=0, alphas=GRID, n_folds=4,
                                 n_inner=3)
    assert fit.dataset.n_words == N - N // 8 and fit.hidden.shape == (N_LAYERS, N - N // 8, D)
    assert list(fit.fit["sweep"].index) == [0, 2, 4]
    n400 = fit.table.loc["N400"]
    assert n400["share of ceiling"] == pytest.approx(n400["r baseline + LM"] / 0.8)
    texts = real_data.encoding_texts(fit)
    assert texts["n400_nested"] == f"{n400['r baseline + LM']:.3f}"
    assert texts["enc_n"] == f"{N - N // 8:,}" and texts["n400_gain_lex_power"] == "n/a"
    assert texts["n400_layer"] == fit.fit["layer"]["N400"]
    res = real_data.encoding_results(fit, {"sentence": "x"})
    assert res["encoding"]["N400"]["power_gain_over_lexical"] == {"sentence": "x"}
    assert res["encoding"]["PNP"]["share_of_ceiling"] is None
    assert res["encoding"]["N400"]["gain"] == pytest.approx(n400["gain"])
    assert set(res["encoding_sweep"]) == {0, 2, 4}
    rec = real_data.handed_layer(fit, "m")
    rec.write(tmp_path)
    assert RealDataLayer.read(tmp_path).layer == fit.fit["layer"]["N400"]
    assert set(real_data.encoding_texts(None).values()) == {"n/a"}
    with pytest.raises(real_data.DataError, match="published_exclusion"):
        real_data.erp_encoding(ds, feats)


def _erp_fit(seed=2):
    """:func:`real_data.erp_encoding` on the synthetic components (every 8th word excluded)."""
    from types import SimpleNamespace

    ds, hidden, base, surprisal, sentence = _components(seed)
    meta = pd.DataFrame({"word": ds.words, "published_exclusion": np.arange(N) % 8 == 7})
    frank = WordDataset(words=ds.words, sentence=sentence, responses=ds.responses,
                        times=[0.0], ch_names=ds.ch_names, metadata=meta)
    feats = SimpleNamespace(hidden=hidden, surprisal=surprisal)
    return real_data.erp_encoding(frank, feats, layer_step=2, n_permutations=19, n_boot=0,
                                  seed=0, alphas=GRID, n_folds=4, n_inner=3)


def test_finetuned_retest_sees_a_better_layer_and_its_category():
    fit = _erp_fit()
    layer = fit.fit["layer"]["N400"]
    n = fit.dataset.n_words
    rng = np.random.default_rng(7)
    y = fit.dataset.responses[:, 0, 0]
    cats = {"emotion": np.arange(n) % 3 == 0, "physical": np.zeros(n, bool)}
    # a "fine-tuned" layer that carries the response itself: better, most on emotion words
    better = fit.hidden[layer] + np.outer(y * (1 + 2 * cats["emotion"]), np.ones(D)) / 2
    noise = rng.standard_normal(fit.hidden[layer].shape)
    records = {"social": {"accuracy": 0.7, "accuracy_base": 0.5, "category": "emotion"},
               "noise": {"accuracy": 0.6, "accuracy_base": 0.5, "category": "physical"}}
    out = real_data.finetuned_retest(fit, {"social": better, "noise": noise}, records, cats,
                                     n_permutations=49, n_sim=4, seed=0)
    assert out["social"]["r_finetuned"] > out["social"]["r_base"]
    assert out["social"]["p_better"] <= 0.05 and out["social"]["n_category_words"] == cats[
        "emotion"].sum()
    assert out["noise"]["r_finetuned"] < out["noise"]["r_base"]
    assert out["noise"]["n_category_words"] == 0 and "r" in out["social"]["power"]
    # one target: the re-test drew the refit null, and the power belongs to it
    assert {out[t]["null"] for t in out} == {"refit"}
    assert {out[t]["power"]["r"]["test_null"] for t in out} == {"refit"}
    texts = real_data.finetuned_texts(out, layer)
    assert texts["ft_layer"] == layer and texts["ft_power"].startswith("social, Δr: ")
    assert real_data.finetuned_texts({}, None) == {"ft_layer": "n/a", "ft_power": "n/a",
                                                   "ft_findings": "n/a",
                                                   "tagger_note": real_data.TAGGER_NOTE}
    assert "threshold 0.3," in texts["tagger_note"]
    assert real_data.finetuned_texts({}, layer)["ft_power"] == "n/a"
    with pytest.raises(real_data.DataError, match="no hidden states"):
        real_data.finetuned_retest(fit, {}, records, cats)


def test_open_real_datasets_reports_what_is_missing(tmp_path):
    data = real_data.open_real_datasets(tmp_path / "no.csv", tmp_path / "no_trials.csv",
                                        tmp_path / "no_stories")
    assert data.frank is None and data.trials is None and data.naturalstories is None
    assert list(data.missing) == ["Frank et al. (2015)", "Frank et al. (2015), trial by trial",
                                  "Natural Stories"]
    assert all(isinstance(v, str) and v for v in data.missing.values())


def test_open_real_datasets_keeps_the_first_stories():
    from analysis.datasets import DataError, open_dataset

    try:
        whole = open_dataset("naturalstories")
    except DataError:
        pytest.skip("Natural Stories is not in the shared data")
    data = real_data.open_real_datasets(naturalstories_path=None, n_stories=2)
    kept = data.naturalstories
    assert set(np.unique(kept.groups["story"])) == {0, 1}
    assert kept.n_words == int((whole.groups["story"] < 2).sum())


def test_finetuned_findings_give_the_control_its_sentence():
    # the default book's N400 re-tests (1,487 words): the shuffled-answer control fit the
    # N400 worse (one-sided p 0.0126) and the page had no sentence for it
    base = 0.3755315080609661
    retest = {
        "siqa": {"accuracy": 0.375, "accuracy_base": 0.355, "r_base": base,
                 "r_finetuned": 0.3755120921680252, "p_better": 0.5732, "p_worse": 0.4382},
        "piqa": {"accuracy": 0.61, "accuracy_base": 0.625, "r_base": base,
                 "r_finetuned": 0.3755208871172965, "p_better": 0.3254, "p_worse": 0.6939},
        "siqa_shuffled": {"accuracy": 0.365, "accuracy_base": 0.355, "r_base": base,
                          "r_finetuned": 0.37467830260716306, "p_better": 0.9889,
                          "p_worse": 0.0126}}
    text = real_data.finetuned_findings(retest)
    assert "Social IQa (held-out accuracy +2.0 points): Δr -0.00002, two-sided p = 0.876" in text
    assert "fits the N400 worse than the base model (Δr -0.00085, p = 0.0252)" in text
    assert "beyond the control's: Social IQa +0.00083, PIQA +0.00084." in text
    quiet = dict(retest, siqa_shuffled=dict(retest["siqa_shuffled"], p_worse=0.3, p_better=0.7))
    assert "does not move the fit of the N400" in real_data.finetuned_findings(quiet)
    alone = {k: v for k, v in retest.items() if k != "siqa_shuffled"}
    assert "control" not in real_data.finetuned_findings(alone)
    assert real_data.finetuned_findings({}) == "n/a"
    table = real_data.finetuned_table(dict(retest, siqa_shuffled=dict(
        retest["siqa_shuffled"], null="refit", category="emotion", category_p=0.883,
        n_category_words=77)) | {k: dict(v, category="emotion", category_p=0.5,
                                          n_category_words=3) for k, v in alone.items()})
    row = table.loc["Social IQa, shuffled answers"]
    assert row["Δr"] == pytest.approx(-0.000853, abs=1e-6)
    assert row["p (two-sided)"] == pytest.approx(0.0252) and row["null"] == "refit"
    assert table.loc["PIQA", "accuracy gain (points)"] == pytest.approx(-1.5)
    assert table.loc["PIQA", "null"] == "fixed predictions"
