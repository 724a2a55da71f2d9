"""Small hand-made results of each chapter, with the keys the notebooks write (test helper).

Each is what a quick-book run of the chapter writes on the simulated study, with fewer
entries and round numbers; ``results_example(section, **override)`` returns a fresh copy.
"""

import copy

SIM = {"source": "simulated reading study", "n_words": 600, "n_channels": 8}
_DECISION = {"layer": 12, "rule": "modal layer over the outer folds",
             "fold_layers": [12] * 9 + [9], "nested_mean_r": 0.2, "sweep_argmax": 12}

_EXAMPLES = {
    "data": {
        "glued": {"n_words": "600"},
        "dataset": SIM,
        "dataset_record": {"name": "simulated", "path": None, "options": {}, "n_words": 600,
                           "fingerprint": "abc"},
        "truth": {"truth_layer": 12, "lm_peak_ms": 250.0},
        "variance_ratio_peak_ms": 400.0,
    },
    "encoding": {
        "dataset": SIM, "models": {"smollm2-135m": {"best_layer": 12}}, "chosen_layer": 12,
        "layer_decision": _DECISION, "peak_window": 5, "peak_ms": 250.0, "peak_mean_r": 0.21,
        "max_r": 0.4, "significant_channels_per_window": [0, 3, 8],
        "chance_bound_significant": 1, "alpha_edge_share": {"low": 0.0, "high": 0.1},
        "planted_word_error_ratio": 1.3, "window_of_interest_ms": [200.0, 300.0],
        "channels_of_interest": ["Cz"], "cv_groups": None, "per_word_error_note": None,
        "rsa": [0.1, 0.2], "rsa_noise_ceiling": {"lower": [0.3], "upper": [0.4]},
        "layer_margin": {"runner_up": 3, "margin": 0.004, "ci": [0.001, 0.007]},
        "noise_ceiling_median": 0.5, "share_of_ceiling_median": None,
        "truth_check": {"truth_layer": 12, "truth_peak_ms": 250.0, "layer_recovered": True,
                        "peak_recovered": True},
    },
    "hypotheses": {
        "n_sentences": 60, "n_scored": 60, "n_per_set": 10, "set_note": "",
        "n_per_role": {"proposal": 20, "research": 20, "validation": 20},
        "window_ms": [200.0, 300.0], "proposer": "keyword", "verifier": "embedding",
        "llm": None, "embedding_calibration": None, "encoding_layer": 12,
        "encoding_layer_decision": _DECISION, "n_hypotheses": 41, "n_significant": 6,
        "n_confirmed": 1, "top": [{"hypothesis": "mentions food", "q": 0.01}],
        "domains": {"top 10": {"social": 3}},
        "domain_enrichment": {"k": 3, "n": 10, "K": 12, "N": 41, "expected": 2.9, "p": 0.004},
        "planted_truth": {"share_of_words": {"emotion": 0.1}},
        "unnamed_category": {"found": False, "hypotheses": [], "n_top": 10, "significant": []},
    },
    "human_validation": {
        "simulated": True, "development_fixture": False, "answers_path": None,
        "survey": {"page": "survey/index.html", "n_trials": 40},
        "skipped_word_list_hypotheses": {"in_table": 0, "n_skipped": 0, "skipped": []},
        "attention": {"exclude_failed": True, "n_excluded": 0},
        "n_answers": 400, "n_raters": 20,
        "shares_by_group": {"top": {"A": 0.6}}, "shares_by_hypothesis": {},
        "participant_test": {"mean_difference": 0.258, "p_value": 2e-5},
        "hypothesis_test": {"difference": 0.2, "p_value": 0.01, "n_top": 5, "n_bottom": 5},
    },
    "finetuning": {
        "layer": 12, "base_model": "smollm2-135m", "n_words": 600, "n_permutations": 200,
        "recipe": {"lora": True, "lora_rank": 16, "lr": 3e-4, "epochs": 1, "n_train": 400},
        "accuracy": {"siqa": {"base": 0.39, "fine_tuned": 0.413, "gain": 0.023,
                              "gain_ci": [-0.013, 0.06], "n": 300}},
        "positive_control": {"percent_better": 22.4, "percent_worse": 12.3,
                             "percent_better_ci": [20.1, 24.0],
                             "category_windows_ms": [250.0, 275.0]},
        "null_control": {"percent_better": 0.2, "percent_worse": 30.6,
                         "percent_better_ci": [0.0, 0.6], "category_windows_ms": []},
        "better_worse": {"siqa": {"percent_better": 0.2, "percent_worse": 0.0}},
        "power": {"siqa": {"sentence": "detects 0.05 with 80 % power"}},
        "verdicts": {
            "siqa": {"model": "Social IQa", "answer": "uninformative at this budget",
                     "reason": "its held-out accuracy gain does not exclude 0"},
            "siqa_shuffled": {"model": "Social IQa, shuffled answers", "answer": "control",
                              "reason": "the control"}},
        "lm_loss": [], "times": [0.0, 25.0], "tasks": {"siqa": {"best_step": 10}},
    },
    "real_data": {
        "encoding": {"N400": {"baseline": 0.256, "nested": 0.387, "gain": 0.131,
                              "gain_ci": [0.05, 0.2], "p_gain": 1e-4, "layer": 18,
                              "gain_over_lexical": 0.016, "gain_over_lexical_ci": [-0.05, 0.08],
                              "p_gain_over_lexical": 0.33,
                              "power_gain_over_lexical": {"sentence": "detects 0.03"}}},
        "encoding_sweep": {"0": {"N400": 0.2}}, "encoding_sweep_note": "a description",
        "futrell2018": {
            "SmolLM2-135M-Instruct": {"raw_r": 0.316, "ceiling": 0.86, "normalised": 0.368,
                                      "n_words": 9775, "normalised_ci": [0.33, 0.4],
                                      "raw_r_ci": [0.29, 0.34],
                                      "source": "computed here (preceding story as context)"},
            "gpt2-xl (published)": {"raw_r": 0.27, "ceiling": 0.86, "normalised": 0.318,
                                    "n_words": None, "normalised_ci": None, "raw_r_ci": None,
                                    "source": "brain-score"}},
        "noise_ceiling": {"N400": 0.5}, "noise_ceiling_details": {"N400": {"ceiling_r": 0.5}},
        "divergence_chain": {"n_significant": 0, "n_hypotheses": 36, "n_confirmed": 0,
                             "power": {"sentence": "not significant (q = 0.41); this test "
                                                   "detects V >= 0.08 with 80 % power"}},
        "finetuned_on_n400": {},
    },
    "models": {
        "instructions": {"frank2015": {"layer": 18, "summary": {
            "emotion": {"mean_delta": 0.0077, "delta_ci_low": -0.0218, "delta_ci_high": 0.033,
                        "q_mean_better": 0.27, "q_mean_worse": 0.73},
            "grammar": {"mean_delta": -0.001, "delta_ci_low": -0.01, "delta_ci_high": 0.008,
                        "q_mean_better": 0.9, "q_mean_worse": 0.4}}}},
        "models": {"frank2015": {}}, "registry": [], "hub_models_documented": [],
        "timings_s": {"open Frank et al. (2015)": 1.0},
    },
}


def results_example(section, **override):
    """A valid ``results`` of ``section`` (a deep copy), with ``override`` applied."""
    return {**copy.deepcopy(_EXAMPLES[section]), **override}
