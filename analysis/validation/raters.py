"""Human validation, simulated raters: answers drawn from the verifier's scores plus noise, for
when no human answers exist (always labelled "simulated").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .trials import ANSWERS, SurveyError, with_kind
from .answers import ATTENTION_CODES

__all__ = ["simulate_raters"]


def simulate_raters(trials, lists, scores, rater_noise=0.15, equal_band=0.1, rater_bias_sd=0.05,
                    attention_correct=0.95, seed=0):
    """Simulated answers: the verifier's scores plus rater noise.

    For a study trial of hypothesis *h* with divergent sentence *d* and convergent
    sentence *c*, rater *i* perceives ``x = s(h, d) - s(h, c) + b_i + e`` with ``s``
    the verifier's score, ``b_i ~ N(0, rater_bias_sd)`` the rater's constant
    leaning and ``e ~ N(0, rater_noise)`` fresh per trial. The answer is "Equally
    true" when ``|x| < equal_band``, else the sentence the rater leans to. An
    attention check is answered with its expected answer with probability
    ``attention_correct`` and otherwise with one of the two other answers (both
    drawn from a separate seeded stream, so the study answers do not depend on the
    checks). Rater *i* answers list *i* (cycling over the lists).

    Parameters
    ----------
    trials, lists : DataFrame
    scores : DataFrame
        Long format ``hypothesis``, ``sentence_id``, ``score`` (study trials only).
    rater_noise, equal_band, rater_bias_sd : float
    attention_correct : float
        Probability of answering an attention check correctly.
    seed : int

    Returns
    -------
    DataFrame
        The columns of :func:`read_answers` (``participant_id`` = ``sim-001``...).
    """
    rng = np.random.default_rng(seed)
    trials = with_kind(trials)
    t = trials.set_index("trial_id")
    lists = lists.sort_values(["list", "position"])
    lst = lists[lists["trial_id"].map(t["kind"]).to_numpy() == "study"]
    st_ = t[t["kind"] == "study"]
    lookup = scores.set_index(["hypothesis", "sentence_id"])["score"]
    s_div = lookup.reindex(pd.MultiIndex.from_arrays([st_["hypothesis"], st_["divergent_id"]]))
    s_con = lookup.reindex(pd.MultiIndex.from_arrays([st_["hypothesis"], st_["convergent_id"]]))
    if s_div.isna().any() or s_con.isna().any():
        raise SurveyError("hypotheses_scores.csv lacks the verifier score of some trial "
                          "sentences; it must cover every hypothesis x selected sentence.")
    diff = pd.Series(s_div.to_numpy() - s_con.to_numpy(), index=st_.index)
    n_lists = int(lists["list"].max())
    bias = rng.normal(0.0, rater_bias_sd, n_lists)
    x = diff.loc[lst["trial_id"]].to_numpy() + bias[lst["list"].to_numpy() - 1] \
        + rng.normal(0.0, rater_noise, len(lst))
    code = np.where(np.abs(x) < equal_band, "Equal", np.where(x > 0, "Divergent", "Convergent"))
    side = t.loc[lst["trial_id"], "divergent_side"].to_numpy()
    other = np.where(side == "A", "B", "A")
    picked = np.where(code == "Divergent", side, other)
    answer = np.where(code == "Equal", ANSWERS[1],
                      np.where(picked == "A", ANSWERS[0], ANSWERS[2]))
    study = pd.DataFrame({"list": lst["list"].to_numpy(), "position": lst["position"].to_numpy(),
                          "trial_id": lst["trial_id"].to_numpy(), "answer": answer,
                          "code": code})

    att = lists[lists["trial_id"].map(t["kind"]).to_numpy() == "attention"]
    arng = np.random.default_rng([seed, 303])
    expected = t.loc[att["trial_id"], "expected"].to_numpy()
    right = arng.random(len(att)) < attention_correct
    wrong = np.array([[a for a in ANSWERS if a != e][j]
                      for e, j in zip(expected, arng.integers(0, 2, len(att)))], dtype=object)
    checks = pd.DataFrame({"list": att["list"].to_numpy(), "position": att["position"].to_numpy(),
                           "trial_id": att["trial_id"].to_numpy(),
                           "answer": np.where(right, expected, wrong),
                           "code": np.where(right, *ATTENTION_CODES)})

    out = pd.concat([study, checks], ignore_index=True).sort_values(["list", "position"])
    out.insert(0, "participant_id", [f"sim-{i:03d}" for i in out["list"]])
    meta = t[["hypothesis", "divergent_side", "group", "rank", "kind", "expected"]]
    out = out.join(meta, on="trial_id").assign(source="simulated")
    return out[["participant_id", "list", "position", "trial_id", "kind", "hypothesis",
                "divergent_side", "answer", "expected", "code", "source", "group",
                "rank"]].reset_index(drop=True)
