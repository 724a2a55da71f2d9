"""The verdicts at a glance of the introduction, from fabricated results files."""

import json

import pytest

from analysis.glance import BLOCKS, at_a_glance, claim_answers, glance_rows


def _write(folder, name, results):
    (folder / f"{name}.json").write_text(json.dumps({"results": results, "provenance": {}}))


SIM = {"source": "simulated reading study"}


def _book(folder, siqa_ci=(-0.013, 0.06), real=True):
    _write(folder, "encoding", {
        "dataset": SIM, "chosen_layer": 12, "peak_ms": 250.0,
        "layer_margin": {"runner_up": 3, "margin": 0.004, "ci": [0.001, 0.007]},
        "layer_decision": {"layer": 12, "fold_layers": [12] * 9 + [9]},
        "truth_check": {"truth_layer": 12, "truth_peak_ms": 250.0, "layer_recovered": True,
                        "peak_recovered": True}})
    _write(folder, "hypotheses", {
        "planted_truth": {"emotion": 10}, "domain_enrichment": {"p": 0.004},
        "n_significant": 6, "n_hypotheses": 41, "n_confirmed": 1,
        "unnamed_category": {"found": False}})
    _write(folder, "human_validation", {"simulated": True, "participant_test": {
        "mean_difference": 0.258, "p_value": 2e-5}})
    _write(folder, "finetuning", {
        "dataset": SIM,
        "accuracy": {"siqa": {"base": 0.39, "fine_tuned": 0.413, "gain": 0.023,
                              "gain_ci": list(siqa_ci), "n": 300}},
        "positive_control": {"percent_better": 22.4, "percent_worse": 12.3,
                             "category_windows_ms": [250.0, 275.0]},
        "null_control": {"percent_better": 0.2, "percent_worse": 30.6,
                         "category_windows_ms": []},
        "better_worse": {"siqa": {"percent_better": 0.2, "percent_worse": 0.0}},
        "verdicts": {
            "siqa": {"model": "Social IQa", "answer": "uninformative at this budget"
                     if siqa_ci[0] <= 0 else "closer to the brain",
                     "reason": "its held-out accuracy gain does not exclude 0"
                     if siqa_ci[0] <= 0 else "better than both controls"},
            "siqa_shuffled": {"model": "Social IQa, shuffled answers", "answer": "control",
                              "reason": "the control"}}})
    if real:
        _write(folder, "real_data", {
            "encoding": {"N400": {"baseline": 0.256, "baseline_lm": 0.387, "gain": 0.131,
                                  "gain_ci": [0.05, 0.2], "p_gain": 1e-4, "layer": 18,
                                  "gain_over_lexical": 0.016, "gain_over_lexical_ci": [-0.05, 0.08],
                                  "p_gain_over_lexical": 0.33}},
            "futrell2018": {
                "SmolLM2-135M-Instruct": {"raw_r": 0.316, "normalised": 0.368, "n_words": 9775,
                                          "normalised_ci": [0.33, 0.4],
                                          "source": "computed here (preceding story as context)"},
                "gpt2-xl (published)": {"raw_r": 0.27, "normalised": 0.318, "n_words": None,
                                        "normalised_ci": None, "source": "brain-score"}},
            "divergence_chain": {"n_significant": 0, "n_hypotheses": 36, "n_confirmed": 0,
                                 "power": {"sentence": "not significant (q = 0.41); this test "
                                                       "detects V >= 0.08 with 80 % power"}}})
        _write(folder, "models", {"instructions": {"frank2015": {"summary": {
            "emotion": {"mean_delta": 0.0077, "delta_ci_low": -0.0218, "delta_ci_high": 0.033,
                        "q_mean_better": 0.27, "q_mean_worse": 0.73},
            "grammar": {"mean_delta": -0.001, "delta_ci_low": -0.01, "delta_ci_high": 0.008,
                        "q_mean_better": 0.9, "q_mean_worse": 0.4}}}}})


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
    (tmp_path / "encoding.json").write_text(json.dumps(enc))
    assert not [r for r in glance_rows(tmp_path) if r.block == "method"]


def test_a_missing_field_names_the_file(tmp_path):
    _book(tmp_path)
    _write(tmp_path, "human_validation", {"simulated": True})
    with pytest.raises(KeyError, match=r"human_validation\.json.*participant_test"):
        glance_rows(tmp_path)


def test_no_results_yet(tmp_path):
    assert "No chapter" in at_a_glance(tmp_path)


def test_names_from_results_carry_no_markup(tmp_path):
    _book(tmp_path)
    fin = json.loads((tmp_path / "finetuning.json").read_text())
    fin["results"]["verdicts"]["siqa"]["model"] = "<img src=x onerror=alert(1)>`"
    (tmp_path / "finetuning.json").write_text(json.dumps(fin))
    text = at_a_glance(tmp_path)
    assert "<img" not in text and "img srcx onerroralert1" in text
