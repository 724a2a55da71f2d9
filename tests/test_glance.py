"""The verdicts at a glance of the introduction, from fabricated results files."""

import json

import pytest

from analysis.contracts import ContractError
from analysis.glance import BLOCKS, at_a_glance, claim_answers, glance_rows
from results_examples import results_example


def _write(folder, name, results):
    (folder / f"{name}.json").write_text(json.dumps({"section": name, "results": results,
                                                     "provenance": {}}))


def _book(folder, siqa_ci=(-0.013, 0.06), real=True):
    """A results folder of every chapter, from the hand-made valid examples."""
    for name in ("encoding", "hypotheses", "human_validation"):
        _write(folder, name, results_example(name))
    fin = results_example("finetuning")
    fin["accuracy"]["siqa"]["gain_ci"] = list(siqa_ci)
    if siqa_ci[0] > 0:
        fin["verdicts"]["siqa"].update(answer="closer to the brain",
                                       reason="better than both controls")
    _write(folder, "finetuning", fin)
    if real:
        _write(folder, "real_data", results_example("real_data"))
        _write(folder, "models", results_example("models"))


def test_three_blocks_each_row_with_a_verdict_and_a_link(tmp_path):
    _book(tmp_path)
    rows = glance_rows(tmp_path)
    assert [b for b in BLOCKS if any(r.block == b for r in rows)] == list(BLOCKS)
    assert len(rows) <= 11 and all(r.verdict and r.evidence and r.chapter for r in rows)
    verdict = {r.question: r.verdict for r in rows}
    assert verdict["the encoding model finds the planted layer and latency"] == "pass"
    enc_row = [r for r in rows if r.question.startswith("the encoding model")][0]
    assert "in 9 of 10 outer folds" in enc_row.evidence
    assert verdict["the hypotheses name the planted categories"] == "pass"
    assert verdict["the brain re-test says yes to planted knowledge and no to random columns"] == "pass"
    assert verdict["N400: what the language model adds"] == "+0.131 in r"
    assert verdict["a language model's states predict word-by-word brain responses"] == "replicated (EEG)"
    assert verdict["people agree with the hypotheses"] == "untestable here"
    chain = [r for r in rows if r.question.startswith("poorly predicted")][0]
    assert "80 % power" in chain.evidence  # a null is shown with its power
    text = at_a_glance(tmp_path)
    for heading in BLOCKS.values():
        assert heading in text
    assert "{doc}`N400: what the language model adds <../notebooks/05_real_data>`" in text
    assert "instruction(s)" not in text and "4 instruction" not in text


def test_the_planted_layer_fails_when_its_margin_interval_includes_zero(tmp_path):
    _book(tmp_path)
    enc = results_example("encoding")
    enc["layer_margin"] = {"runner_up": 3, "margin": 0.0008, "ci": [-0.0027, 0.0027]}
    _write(tmp_path, "encoding", enc)
    (row,) = [r for r in glance_rows(tmp_path) if r.question.startswith("the encoding model")]
    assert row.verdict == "fail"
    assert "the runner-up (layer 3) errs more on held-out words by 0.0008, " \
           "95 % CI -0.0027 to +0.0027" in row.evidence


def test_a_model_that_did_not_learn_is_untestable_not_a_null(tmp_path):
    _book(tmp_path, siqa_ci=(-0.013, 0.06))
    rows = [r for r in glance_rows(tmp_path) if r.question.startswith("fine-tuning on")]
    (row,) = rows  # the shuffled-answer control is no claim of its own
    assert row.verdict == "untestable here"
    assert "does not exclude 0" in row.evidence and "`full` profile on a GPU" in row.evidence
    _book(tmp_path, siqa_ci=(0.01, 0.06))
    (row,) = [r for r in glance_rows(tmp_path) if r.question.startswith("fine-tuning on")]
    assert row.verdict == "replicated"


def test_answers_open_with_the_claims_in_plain_words(tmp_path):
    _book(tmp_path)
    answers = claim_answers(glance_rows(tmp_path))
    assert answers.startswith("- *A language model's states predict")
    assert at_a_glance(tmp_path).startswith("**The book's answers to the paper's claims**")


def test_method_checks_only_on_the_simulated_study(tmp_path):
    _book(tmp_path)
    enc = json.loads((tmp_path / "encoding.json").read_text())
    enc["results"]["dataset"] = {"source": "frank2015"}
    del enc["results"]["truth_check"]
    (tmp_path / "encoding.json").write_text(json.dumps(enc))
    assert not [r for r in glance_rows(tmp_path) if r.block == "method"]


def test_a_missing_field_names_the_file(tmp_path):
    _book(tmp_path)
    _write(tmp_path, "human_validation", results_example("human_validation"))
    glance_rows(tmp_path)
    res = results_example("human_validation")
    del res["participant_test"]
    _write(tmp_path, "human_validation", res)
    with pytest.raises(ContractError, match=r"human_validation\.json.*participant_test"):
        glance_rows(tmp_path)


@pytest.mark.parametrize("section, field", [
    ("encoding", "chosen_layer"), ("hypotheses", "n_confirmed"), ("finetuning", "verdicts"),
    ("real_data", "finetuned_on_n400"), ("models", "instructions")])
def test_glance_fails_loudly_on_any_removed_required_field(tmp_path, section, field):
    # the old reader dropped the row (or the whole block) when a field was missing
    _book(tmp_path)
    glance_rows(tmp_path)
    res = results_example(section)
    del res[field]
    _write(tmp_path, section, res)
    with pytest.raises(ContractError, match=rf"{section}\.json.*{field}"):
        glance_rows(tmp_path)


def test_futrell_rows_come_from_every_model_the_chapter_ran(tmp_path):
    _book(tmp_path)
    real = results_example("real_data")
    ours = real["futrell2018"].pop("SmolLM2-135M-Instruct")
    real["futrell2018"]["default"] = ours
    real["futrell2018"]["gpt2"] = dict(ours, normalised=0.2)
    _write(tmp_path, "real_data", real)
    names = [r.question for r in glance_rows(tmp_path) if "Futrell2018" in r.question]
    assert names == ["reading times, Brain-Score Futrell2018 (default)",
                     "reading times, Brain-Score Futrell2018 (gpt2)"]


def test_no_results_yet(tmp_path):
    assert "No chapter" in at_a_glance(tmp_path)


def test_names_from_results_carry_no_markup(tmp_path):
    _book(tmp_path)
    fin = json.loads((tmp_path / "finetuning.json").read_text())
    fin["results"]["verdicts"]["siqa"]["model"] = "<img src=x onerror=alert(1)>`"
    (tmp_path / "finetuning.json").write_text(json.dumps(fin))
    text = at_a_glance(tmp_path)
    assert "<img" not in text and "img srcx onerroralert1" in text
