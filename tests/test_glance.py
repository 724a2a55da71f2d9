"""The results-at-a-glance table of the introduction, from fabricated results files."""

import json

from analysis.glance import at_a_glance, glance_rows


def _write(folder, name, results):
    (folder / f"{name}.json").write_text(json.dumps({"results": results, "provenance": {}}))


def test_rows_come_from_whatever_chapters_have_results(tmp_path):
    assert "No chapter" in at_a_glance(tmp_path) or at_a_glance(tmp_path).strip()
    _write(tmp_path, "human_validation", {"simulated": True, "participant_test": {
        "mean_difference": 0.258, "p_value": 2e-5}})
    _write(tmp_path, "finetuning", {
        "accuracy": {"siqa": {"base": 0.35, "fine_tuned": 0.4, "gain": 0.05,
                              "gain_ci": [0.013, 0.087], "n": 300}},
        "positive_control": {"percent_better": 22.0, "percent_worse": 12.0,
                             "category_windows_ms": [250.0, 275.0]},
        "null_control": {"percent_better": 0.0, "percent_worse": 30.0,
                         "category_windows_ms": []},
        "better_worse": {}})
    _write(tmp_path, "models", {
        "instructions": {"frank2015": {"summary": {
            "emotion": {"mean_delta": 0.0077, "delta_ci_low": -0.0218, "delta_ci_high": 0.033,
                        "q_mean_better": 0.27, "q_mean_worse": 0.73},
            "grammar": {"mean_delta": -0.001, "delta_ci_low": -0.01, "delta_ci_high": 0.008,
                        "q_mean_better": 0.9, "q_mean_worse": 0.4}}}},
        "models": {"frank2015": {
            "base": {"peak_layer": 20.0, "relative_depth": 0.667, "rsa_peak_layer": 0.0,
                     "delta_r": 0.0},
            "base + siqa": {"peak_layer": None, "delta_r": 0.0002, "delta_r_ci_low": -0.0001,
                            "delta_r_ci_high": 0.0004, "accuracy_gain": 0.05}}}})
    rows = glance_rows(tmp_path)
    text = {(r[0], r[1]): r[2] for r in rows}
    assert "p < 0.001" in text[("Human validation", "do raters see the top hypotheses in "
                                "divergent sentences more often")]
    assert "0.350 -> 0.400" in text[("Fine-tuning", "does the training move the model")]
    null = text[("Fine-tuning", "does it stay silent without knowledge (null control)")]
    assert null.startswith("0.0 % of tests better, 30.0 % worse")
    inst = text[("Models", "does an instruction change alignment")]
    assert "'emotion' +0.0077" in inst and "q = 0.270" in inst and "2 instruction(s)" in inst
    assert text[("Models", "where base aligns best (ridge; RSA)")].startswith("layer 20 ")
    assert "+5.0 points" in text[("Models", "base + siqa: alignment vs base, accuracy gain")]
    assert all(r[3] for r in rows)
    assert "| Models |" in at_a_glance(tmp_path)
