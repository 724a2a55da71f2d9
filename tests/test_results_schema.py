"""The declared schema of each chapter's results file: writer and reader agree."""

import dataclasses
import json

import pytest

from analysis.contracts import ContractError
from analysis.provenance import Chapter
from analysis.results import (RESULTS_SCHEMAS, EncodingResults, read_results,
                              validate_results)
from results_examples import results_example

SECTIONS = sorted(RESULTS_SCHEMAS)


def _write(folder, section, results):
    (folder / f"{section}.json").write_text(json.dumps(
        {"section": section, "results": results, "provenance": {}}))


def _required(section):
    return [n for n, f in RESULTS_SCHEMAS[section].schema().items() if "why" not in f.metadata]


@pytest.mark.parametrize("section", SECTIONS)
def test_each_section_reads_what_its_chapter_writes(tmp_path, section):
    _write(tmp_path, section, results_example(section))
    rec = read_results(tmp_path, section)
    assert isinstance(rec, RESULTS_SCHEMAS[section]) and rec.path == tmp_path / f"{section}.json"
    for name in _required(section):
        assert getattr(rec, name) == results_example(section)[name]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(rec, _required(section)[0], None)


@pytest.mark.parametrize("section", SECTIONS)
def test_every_required_field_missing_is_named(tmp_path, section):
    for name in _required(section):
        res = results_example(section)
        del res[name]
        _write(tmp_path, section, res)
        with pytest.raises(ContractError, match=rf"{section}\.json \(section '{section}'\).*"
                                                rf"required field\(s\) \['{name}'\] missing"):
            read_results(tmp_path, section)


def test_a_wrongly_typed_field_is_named(tmp_path):
    _write(tmp_path, "encoding", results_example("encoding", chosen_layer="12"))
    with pytest.raises(ContractError, match=r"encoding\.json.*'chosen_layer' is str.*expected "
                                            r"<class 'int'>"):
        read_results(tmp_path, "encoding")
    _write(tmp_path, "human_validation", results_example("human_validation", simulated=1))
    with pytest.raises(ContractError, match="'simulated' is int"):
        read_results(tmp_path, "human_validation")
    _write(tmp_path, "encoding", results_example("encoding", chosen_layer=True))
    with pytest.raises(ContractError, match="'chosen_layer' is bool"):
        read_results(tmp_path, "encoding")
    # a float field takes an integer, and None where the number was NaN
    _write(tmp_path, "encoding", results_example("encoding", peak_ms=250, max_r=None))
    assert read_results(tmp_path, "encoding").peak_ms == 250


def test_nested_keys_a_reader_relies_on(tmp_path):
    real = results_example("real_data")
    del real["encoding"]["N400"]["power_gain_over_lexical"]
    _write(tmp_path, "real_data", real)
    with pytest.raises(ContractError, match="'encoding' lacks 'N400.power_gain_over_lexical'"):
        read_results(tmp_path, "real_data")
    real = results_example("real_data")
    del real["futrell2018"]["gpt2-xl (published)"]["source"]
    _write(tmp_path, "real_data", real)
    with pytest.raises(ContractError, match=r"'futrell2018', entry 'gpt2-xl \(published\)' "
                                            r"lacks \['source'\]"):
        read_results(tmp_path, "real_data")


def test_optional_fields_say_why_they_may_be_absent(tmp_path):
    real = {k: v for k, v in results_example("real_data").items()
            if not RESULTS_SCHEMAS["real_data"].schema()[k].metadata.get("why")}
    _write(tmp_path, "real_data", real)  # no dataset found: only the required blocks
    rec = read_results(tmp_path, "real_data")
    assert rec.optional("futrell2018") is None and rec.optional("divergence_chain") is None
    assert "Natural Stories" in rec.why_optional("futrell2018")
    with pytest.raises(ContractError, match="not an optional field"):
        rec.optional("noise_ceiling")
    enc = results_example("encoding")
    del enc["truth_check"]  # real data: nothing was planted
    assert validate_results("encoding", enc).optional("truth_check") is None
    assert "simulated" in EncodingResults.why_optional("truth_check")


def test_an_undeclared_field_is_refused(tmp_path):
    # a renamed optional field would otherwise read as "absent" and drop its row silently
    _write(tmp_path, "real_data", results_example("real_data", futrell_2018={}))
    with pytest.raises(ContractError, match=r"\['futrell_2018'\] are not declared"):
        read_results(tmp_path, "real_data")


def test_missing_damaged_or_foreign_files(tmp_path):
    with pytest.raises(ContractError, match="models.json not found: run the models chapter"):
        read_results(tmp_path, "models")
    (tmp_path / "models.json").write_text("{not json")
    with pytest.raises(ContractError, match="not valid JSON"):
        read_results(tmp_path, "models")
    (tmp_path / "models.json").write_text(json.dumps(
        {"section": "data", "results": results_example("models")}))
    with pytest.raises(ContractError, match="field 'section' is 'data'"):
        read_results(tmp_path, "models")
    with pytest.raises(ContractError, match="no declared results schema"):
        read_results(tmp_path, "chapter_x")


def _chapter(tmp_path, section):
    return Chapter(section=section, parameters={}, results_dir=tmp_path, device="cpu")


def test_chapter_save_validates_before_writing(tmp_path):
    res = results_example("hypotheses")
    del res["n_confirmed"]
    with pytest.raises(ContractError, match=r"hypotheses\.json.*\['n_confirmed'\] missing"):
        _chapter(tmp_path, "hypotheses").save(**res)
    assert not (tmp_path / "hypotheses.json").exists()  # nothing half-valid is written
    path = _chapter(tmp_path, "hypotheses").save(**results_example("hypotheses"))
    assert read_results(tmp_path, "hypotheses").n_confirmed == 1
    assert json.loads(path.read_text())["section"] == "hypotheses"
