"""Unit tests of analysis.contracts: each record round-trips, a missing file or field names it.

Damaged files (bad JSON, flipped bytes, wrong shapes) are covered in tests/test_damaged_files.py.
"""

import json

import numpy as np
import pandas as pd
import pytest

from analysis._utils import DataError
from analysis.contracts import (ENCODING_FILE, ENCODING_TARGET_AXES, FINETUNED_FILE,
                                HYPOTHESIS_FILES, REAL_DATA_LAYER_FILE, ContractError,
                                EncodingOutputs, FinetunedModels, HypothesisResults,
                                RealDataLayer)


def _encoding(n=5, w=3, c=2):
    rng = np.random.default_rng(0)
    mse = rng.random((n, w))
    mse[0, 1] = np.nan  # no significant channel in that window
    return EncodingOutputs(
        dataset={"name": "simulated", "params": {"seed": 3}}, model="default",
        model_identity="smollm2-135m@abc", layer=4,
        fit={"n_folds": 5, "n_inner": 3, "p_threshold": 0.05, "cv_groups": "story",
             "alphas": [0.1, 10.0, 1000.0]},
        window=[300.0, 500.0], channels=["Cz"], words=[f"w{i}" for i in range(n)],
        sentence=[0, 0, 1, 1, 1], times=np.arange(w) * 25.0, ch_names=["Cz", "Pz"],
        mse=mse, cosine=rng.random((n, w)), r=rng.random((c, w)), p=rng.random((c, w)),
        significant=rng.random((c, w)) < 0.5,
        layer_decision={"layer": 4, "rule": "modal layer of the outer folds",
                        "fold_layers": [4, 4, 3, 4, 4], "sweep_argmax": 3})


def test_contract_error_is_both_a_data_error_and_file_not_found():
    assert issubclass(ContractError, DataError) and issubclass(ContractError, FileNotFoundError)


# --------------------------------------------------------------------------- encoding
def test_encoding_outputs_round_trip(tmp_path):
    enc = _encoding()
    path = enc.write(tmp_path)
    assert path == tmp_path / ENCODING_FILE
    back = EncodingOutputs.read(tmp_path)
    for name in EncodingOutputs._META:
        assert getattr(back, name) == getattr(enc, name), name
    for name in EncodingOutputs._ARRAYS:
        np.testing.assert_array_equal(getattr(back, name), getattr(enc, name), err_msg=name)
    assert back.sentence.dtype == np.int64 and back.significant.dtype == bool
    kw = back.fit_kwargs()
    assert (kw["n_folds"], kw["n_inner"], kw["p_threshold"]) == (5, 3, 0.05)
    np.testing.assert_array_equal(kw["alphas"], [0.1, 10.0, 1000.0])
    assert "groups" not in kw  # no dataset given: no groups


def test_encoding_outputs_of_the_earlier_axis_order_are_read_transposed(tmp_path):
    """A file without ``target_axes`` holds r, p and significant as (n_windows, n_channels);
    it is read in the responses' order (n_channels, n_windows), even when both are equal in
    size, and an unknown order is refused with the field named."""
    for w, c in ((3, 2), (2, 2)):
        enc = _encoding(w=w, c=c)
        path = enc.write(tmp_path)
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
        assert str(arrays.pop("target_axes")) == ENCODING_TARGET_AXES
        with open(path, "wb") as fh:  # as the earlier version wrote it
            np.savez(fh, **{**arrays, **{k: arrays[k].T for k in ("r", "p", "significant")}})
        back = EncodingOutputs.read(tmp_path)
        for name in ("r", "p", "significant"):
            np.testing.assert_array_equal(getattr(back, name), getattr(enc, name), err_msg=name)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays, target_axes=np.array("n_windows, n_channels"))
    with pytest.raises(ContractError, match=rf"{ENCODING_FILE}: field 'target_axes' is "
                                            r"'n_windows, n_channels'; expected 'n_channels, "
                                            r"n_windows'.*Re-run"):
        EncodingOutputs.read(tmp_path)


def test_encoding_outputs_fit_kwargs_take_the_groups_from_the_dataset():
    class Data:
        def group_labels(self, name):
            return {"story": np.array([0, 0, 1, 1, 1])}[name]

    kw = _encoding().fit_kwargs(Data(), backend="torch")
    np.testing.assert_array_equal(kw["groups"], [0, 0, 1, 1, 1])
    assert kw["backend"] == "torch"


def test_encoding_outputs_missing_file_or_field_names_it(tmp_path):
    with pytest.raises(ContractError, match=rf"{ENCODING_FILE} not found: run the encoding "
                                            r"chapter first \(python -m analysis.run "
                                            r"--only encoding"):
        EncodingOutputs.read(tmp_path)
    path = _encoding().write(tmp_path)
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["meta"]))
    del meta["model_identity"]
    with open(path, "wb") as fh:
        np.savez(fh, **{**arrays, "meta": np.array(json.dumps(meta))})
    with pytest.raises(ContractError, match=rf"{ENCODING_FILE}: field\(s\) \['model_identity'\] "
                                            "missing"):
        EncodingOutputs.read(tmp_path)
    arrays.pop("cosine")
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.raises(ContractError, match=rf"{ENCODING_FILE}: field\(s\) \['cosine'\] missing"):
        EncodingOutputs.read(tmp_path)


def test_encoding_outputs_check_their_layer_decision():
    enc = _encoding()
    kwargs = {k: getattr(enc, k) for k in EncodingOutputs._META + EncodingOutputs._ARRAYS}
    with pytest.raises(ContractError, match=r"layer 4 but layer_decision says 2"):
        EncodingOutputs(**{**kwargs, "layer_decision": {**enc.layer_decision, "layer": 2}})
    with pytest.raises(ContractError, match=r"'layer_decision': field\(s\) \['rule'\] missing"):
        EncodingOutputs(**{**kwargs, "layer_decision": {"layer": 4, "fold_layers": None,
                                                        "sweep_argmax": 4}})
    with pytest.raises(ContractError, match=r"'fit': field\(s\) \['alphas'\] missing"):
        EncodingOutputs(**{**kwargs, "fit": {k: v for k, v in enc.fit.items() if k != "alphas"}})


# --------------------------------------------------------------------------- hypotheses
def _hypotheses():
    sentences = pd.DataFrame({"sentence_id": [3, 8], "text": ["He ran, fast.", "It rained."],
                              "score": [1.25, 0.5], "set": ["divergent", "convergent"],
                              "role": ["research", "validation"]})
    table = pd.DataFrame({"rank": [2, 1], "hypothesis": ["mentions rain", "describes motion"],
                          "proposer": ["bank", "llm"], "domain": ["physical", "physical"],
                          "V": [0.1, 0.3], "p": [0.2, 0.01], "q": [0.2, 0.02],
                          "significant": [False, True], "V_validation": [0.0, 0.25],
                          "p_validation": [0.5, 0.03], "q_validation": [0.5, 0.06]})
    scores = pd.DataFrame({"hypothesis": ["describes motion"] * 2, "sentence_id": [3, 8],
                           "score": [0.9, 0.1]})
    return HypothesisResults(sentences, table, scores, {"n_per_set": 1, "window": [300, 500]})


def test_hypothesis_results_round_trip_sorted_by_rank(tmp_path):
    res = _hypotheses()
    paths = res.write(tmp_path)
    assert {k: p.name for k, p in paths.items()} == HYPOTHESIS_FILES
    back = HypothesisResults.read(tmp_path)
    pd.testing.assert_frame_equal(back.sentences, res.sentences)
    pd.testing.assert_frame_equal(back.scores, res.scores)
    expected = res.table.sort_values("rank").reset_index(drop=True)
    pd.testing.assert_frame_equal(back.table, expected)
    assert back.table["significant"].dtype == bool
    assert back.meta == res.meta
    sentences, table, scores = back
    assert table is back.table


def test_hypothesis_results_read_files_that_call_the_set_column_group(tmp_path):
    """Sentence files written before the column was renamed to ``set`` still read."""
    res = _hypotheses()
    paths = res.write(tmp_path)
    res.sentences.rename(columns={"set": "group"}).to_csv(paths["sentences"], index=False)
    back = HypothesisResults.read(tmp_path)
    pd.testing.assert_frame_equal(back.sentences, res.sentences)


def test_hypothesis_results_missing_file_or_column_names_it(tmp_path):
    paths = _hypotheses().write(tmp_path)
    paths["meta"].unlink()
    with pytest.raises(ContractError, match=r"hypotheses_contract.json not found: run the "
                                            "hypotheses chapter"):
        HypothesisResults.read(tmp_path)
    paths["table"].unlink()
    with pytest.raises(ContractError, match=r"hypotheses_table.csv not found"):
        HypothesisResults.read(tmp_path)
    res = _hypotheses()
    with pytest.raises(ContractError, match=r"scores lack column\(s\) \['score'\]"):
        HypothesisResults(res.sentences, res.table, res.scores.drop(columns="score"))
    bad = res.sentences.assign(set=["divergent", "neutral"])
    with pytest.raises(ContractError, match=r"column 'set' holds \['neutral'\]"):
        HypothesisResults(bad, res.table, res.scores)
    bad = res.sentences.assign(role=["proposal", "test"])
    with pytest.raises(ContractError, match=r"column 'role' holds \['test'\]"):
        HypothesisResults(bad, res.table, res.scores)


# --------------------------------------------------------------------------- fine-tuning
def _finetuned(tmp_path):
    ckpt = tmp_path / "ckpt_siqa"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")
    rec = {"model_dir": str(ckpt), "accuracy": 0.61, "accuracy_base": 0.4, "n_eval": 200,
           "chance": 1 / 3, "category": "emotion", "params": {"epochs": 1}, "control": None}
    return FinetunedModels("default", 5, {"siqa": rec})


def test_finetuned_models_round_trip(tmp_path):
    ft = _finetuned(tmp_path)
    assert ft.write(tmp_path) == tmp_path / FINETUNED_FILE
    back = FinetunedModels.read(tmp_path)
    assert back == ft


def test_finetuned_models_missing_file_field_or_checkpoint_names_it(tmp_path):
    with pytest.raises(ContractError, match=rf"{FINETUNED_FILE} not found: run the finetuning"):
        FinetunedModels.read(tmp_path)
    ft = _finetuned(tmp_path)
    path = ft.write(tmp_path)
    data = json.loads(path.read_text())
    path.write_text(json.dumps({k: v for k, v in data.items() if k != "layer"}))
    with pytest.raises(ContractError, match=rf"{FINETUNED_FILE}: field\(s\) \['layer'\] missing"):
        FinetunedModels.read(tmp_path)
    rec = dict(data["models"]["siqa"])
    del rec["chance"]
    path.write_text(json.dumps({**data, "models": {"siqa": rec}}))
    with pytest.raises(ContractError, match=r"fine-tuned model 'siqa': field\(s\) \['chance'\] "
                                            "missing"):
        FinetunedModels.read(tmp_path)
    path.write_text(json.dumps(data))
    (tmp_path / "ckpt_siqa" / "config.json").unlink()
    with pytest.raises(ContractError, match=r"the siqa checkpoint .*ckpt_siqa is gone"):
        FinetunedModels.read(tmp_path)
    path.write_text(json.dumps({**data, "models": ["siqa"]}))
    with pytest.raises(ContractError, match=r"field 'models' is not a mapping"):
        FinetunedModels.read(tmp_path)


# --------------------------------------------------------------------------- real data
def test_real_data_layer_round_trip_and_checks(tmp_path):
    layer = RealDataLayer(model="default", component="N400", layer=6, rule="modal fold layer",
                          fold_layers=[6, 5, 6], best_layer_description=5, n_words=1200)
    assert layer.write(tmp_path) == tmp_path / REAL_DATA_LAYER_FILE
    assert RealDataLayer.read(tmp_path) == layer
    data = json.loads((tmp_path / REAL_DATA_LAYER_FILE).read_text())
    del data["fold_layers"], data["n_words"]
    (tmp_path / REAL_DATA_LAYER_FILE).write_text(json.dumps(data))
    with pytest.raises(ContractError, match=r"real_data_layer.json: field\(s\) \['fold_layers', "
                                            r"'n_words'\] missing"):
        RealDataLayer.read(tmp_path)
    (tmp_path / REAL_DATA_LAYER_FILE).unlink()
    with pytest.raises(ContractError, match=r"real_data_layer.json not found: run the real_data"):
        RealDataLayer.read(tmp_path)
    with pytest.raises(ContractError, match=r"layer 7 is not among the fold layers \[6, 5\]"):
        RealDataLayer("default", "N400", 7, "modal", [6, 5], 5, 10)
    with pytest.raises(ContractError, match=r"not among the fold layers \[\]"):
        RealDataLayer("default", "N400", 7, "modal", [], 5, 10)
