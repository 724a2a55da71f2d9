"""Damaged saved files (datasets, chapter contracts, feature cache) name the file and the field."""

import json
import warnings

import numpy as np
import pytest

from analysis._utils import DataError
from analysis.contracts import ContractError, EncodingOutputs, FinetunedModels, HypothesisResults
from analysis.data import WordDataset, load_dataset_file


def _dataset():
    rng = np.random.default_rng(0)
    return WordDataset(words=[f"w{i}" for i in range(12)], sentence=np.repeat(np.arange(3), 4),
                       responses=rng.standard_normal((12, 2, 3)).astype(np.float32),
                       times=np.arange(3) * 25.0, ch_names=["a", "b"], source="small",
                       categories={"physical": np.arange(12) % 3 == 0})


def _rewrite(path, **changes):
    """The same .npz with some members replaced (None removes one)."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _flip_byte_in(path, member):
    """Damage one byte of a stored member's data (its CRC no longer matches)."""
    data = bytearray(path.read_bytes())
    at = data.index(f"{member}.npy".encode()) + len(member) + 4 + 140  # past the .npy header
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def test_saved_dataset_with_damaged_meta_names_the_file_and_field(tmp_path):
    path = _dataset().save(tmp_path / "ds")
    _rewrite(path, meta=np.array('{"window_ms": 25.0, "context": '))
    with pytest.raises(DataError, match=r"ds.npz: field 'meta' is not valid JSON"):
        load_dataset_file(path)
    _rewrite(path, meta=np.array(json.dumps({"window_ms": 25.0, "provenance": {}, "source": "x",
                                             "categories": ["physical"]})))
    with pytest.raises(DataError, match=r"ds.npz: field 'meta' lacks key\(s\) \['context'\]"):
        load_dataset_file(path)


def test_saved_dataset_missing_a_listed_array_names_it(tmp_path):
    path = _dataset().save(tmp_path / "ds")
    _rewrite(path, category__physical=None)
    with pytest.raises(DataError, match=r"ds.npz: field 'category__physical' missing \(listed "
                                        r"in field 'meta'\)"):
        load_dataset_file(path)


def test_saved_dataset_with_a_damaged_array_names_it(tmp_path):
    path = _dataset().save(tmp_path / "ds")
    _flip_byte_in(path, "responses")
    with pytest.raises(DataError, match=r"ds.npz: field 'responses' is damaged \(BadZipFile"):
        load_dataset_file(path)


def test_saved_dataset_with_inconsistent_arrays_names_the_file(tmp_path):
    path = _dataset().save(tmp_path / "ds")
    _rewrite(path, sentence=np.arange(5))
    with pytest.raises(DataError, match=r"ds.npz: .*sentence"):
        load_dataset_file(path)


def _encoding_outputs():
    n, w, c = 6, 2, 3
    return EncodingOutputs(
        dataset={"name": "simulated"}, model="default", model_identity="x", layer=1,
        fit={"n_folds": 5, "n_inner": 3, "p_threshold": 0.05, "cv_groups": None,
             "alphas": [1.0]},
        window=None, channels=["a"], words=[f"w{i}" for i in range(n)],
        sentence=np.zeros(n), times=np.arange(w) * 25.0, ch_names=["a", "b", "c"],
        mse=np.zeros((n, w)), cosine=np.zeros((n, w)), r=np.zeros((c, w)), p=np.ones((c, w)),
        significant=np.zeros((c, w), bool),
        layer_decision={"layer": 1, "rule": "most frequent layer over the outer folds",
                        "fold_layers": [1, 1], "sweep_argmax": 1})


def test_encoding_outputs_with_a_damaged_array_name_the_field(tmp_path):
    path = _encoding_outputs().write(tmp_path)
    assert EncodingOutputs.read(tmp_path).layer == 1
    _flip_byte_in(path, "mse")
    with pytest.raises(ContractError, match=r"encoding_outputs.npz: field 'mse' unreadable "
                                            r"\(BadZipFile.*Re-run"):
        EncodingOutputs.read(tmp_path)


def test_encoding_outputs_with_bad_shapes_or_meta_name_the_file(tmp_path):
    path = _encoding_outputs().write(tmp_path)
    _rewrite(path, mse=np.zeros((2, 2)))
    with pytest.raises(ContractError, match=r"encoding_outputs.npz: .*'mse' has shape"):
        EncodingOutputs.read(tmp_path)
    _rewrite(path, meta=np.array("[1, 2]"))
    with pytest.raises(ContractError, match=r"encoding_outputs.npz: field 'meta' is list"):
        EncodingOutputs.read(tmp_path)


def test_damaged_json_contracts_name_the_file(tmp_path):
    (tmp_path / "finetuned_models.json").write_text('{"base_model": "default", "lay')
    with pytest.raises(ContractError, match=r"finetuned_models.json: not valid JSON"):
        FinetunedModels.read(tmp_path)
    (tmp_path / "finetuned_models.json").write_text('{"base_model": "x", "layer": "top", '
                                                    '"models": {}}')
    with pytest.raises(ContractError, match=r"finetuned_models.json: field 'layer' is 'top'"):
        FinetunedModels.read(tmp_path)
    (tmp_path / "finetuned_models.json").write_text('[]')
    with pytest.raises(ContractError, match=r"finetuned_models.json: holds a JSON list"):
        FinetunedModels.read(tmp_path)


def test_damaged_hypothesis_files_name_the_file(tmp_path):
    import pandas as pd

    sentences = pd.DataFrame({"sentence_id": [0], "text": ["a"], "score": [1.0],
                              "set": ["divergent"], "role": ["proposal"]})
    table = pd.DataFrame({c: [1] for c in HypothesisResults.COLUMNS["table"]})
    scores = pd.DataFrame({"hypothesis": ["h"], "sentence_id": [0], "score": [0.5]})
    paths = HypothesisResults(sentences, table, scores, {"n_per_set": 1}).write(tmp_path)
    paths["meta"].write_text("{")
    with pytest.raises(ContractError, match=r"hypotheses_contract.json: not valid JSON"):
        HypothesisResults.read(tmp_path)
    paths["meta"].write_text("{}")
    paths["scores"].write_text("")
    with pytest.raises(ContractError, match=r"hypotheses_scores.csv: unreadable "
                                            r"\(EmptyDataError"):
        HypothesisResults.read(tmp_path)


def test_feature_cache_whose_meta_is_not_an_object_is_moved_aside(tmp_path):
    from analysis import features as F

    path = tmp_path / "entry.npz"
    np.savez(path, hidden=np.zeros((1, 2, 3), np.float32), surprisal=np.zeros(2),
             layers=np.array([0]), meta=np.array("[]"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert F._load_or_quarantine(path, "key", 2) is None
    assert any("field 'meta' is a JSON list" in str(w.message) for w in caught)
    assert path.with_name("entry.npz.corrupt").exists() and not path.exists()
