"""Human validation, the statistics: attention-check failures and exclusions, answer shares per
hypothesis, the participant-level test of top against bottom hypotheses and the label test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .trials import SurveyError
from .answers import CODES

__all__ = [
    "study_answers", "attention_report", "exclude_inattentive", "answer_shares",
    "participant_differences", "top_bottom_test", "hypothesis_label_test",
]


def study_answers(answers):
    """The answers to study trials: attention checks left out.

    Answers without a ``kind`` column (an older import) are all study answers.
    Every summary and test below applies this first, so attention checks never
    enter the shares or the tests.
    """
    if "kind" not in answers.columns:
        return answers
    return answers[answers["kind"].fillna("study") == "study"]


def attention_report(answers, max_failures=0):
    """Per participant: attention checks answered and failed, and who is over the limit.

    A check is failed when the answer differs from its ``expected`` answer.

    Parameters
    ----------
    answers : DataFrame
        From :func:`read_answers` or :func:`simulate_raters` (``kind`` and
        ``expected`` present); answers without ``kind`` hold no checks.
    max_failures : int
        Participants with more failed checks than this are flagged.

    Returns
    -------
    DataFrame
        Index ``participant_id`` (every participant in ``answers``, sorted); columns
        ``n_checks``, ``n_failed`` and ``excluded`` (``n_failed > max_failures``).
        Participants who saw no check have ``n_checks = 0`` and are never flagged.

    Raises
    ------
    SurveyError
        Attention answers without their ``expected`` answer (import them with
        :func:`read_answers` and the trial file).
    """
    pids = pd.Index(sorted(answers["participant_id"].astype(str).unique()),
                    name="participant_id")
    if "kind" in answers.columns:
        checks = answers[answers["kind"] == "attention"]
    else:
        checks = answers.iloc[:0]
    if len(checks) and ("expected" not in checks.columns
                        or checks["expected"].fillna("").eq("").any()):
        raise SurveyError("attention-check answers lack their expected answer; import the "
                          "answers with read_answers() and the trial file they were "
                          "collected with.")
    pid = checks["participant_id"].astype(str)
    failed = (checks["answer"] != checks["expected"]) if len(checks) else pd.Series(dtype=bool)
    report = pd.DataFrame({
        "n_checks": pid.value_counts().reindex(pids, fill_value=0),
        "n_failed": failed.groupby(pid).sum().reindex(pids, fill_value=0),
    }).astype(int)
    report.index.name = "participant_id"
    report["excluded"] = report["n_failed"] > max_failures
    return report


def exclude_inattentive(answers, max_failures=0):
    """Drop every answer of participants who failed more than ``max_failures`` checks.

    Parameters
    ----------
    answers : DataFrame
    max_failures : int

    Returns
    -------
    kept : DataFrame
        The answers (attention checks included) of the other participants.
    report : DataFrame
        :func:`attention_report`; its ``excluded`` column names who was dropped.
    """
    report = attention_report(answers, max_failures)
    out = report.index[report["excluded"]]
    return answers[~answers["participant_id"].astype(str).isin(out)], report


def answer_shares(answers):
    """Per hypothesis, the share (0-1) of Divergent / Equal / Convergent answers.

    Only study trials count (:func:`study_answers`).

    Returns
    -------
    DataFrame
        Index ``hypothesis``; columns ``group``, ``rank``, ``n`` and one per code;
        sorted by group (top first) and rank.
    """
    answers = study_answers(answers)
    counts = pd.crosstab(answers["hypothesis"], answers["code"]).reindex(columns=CODES,
                                                                       fill_value=0)
    n = counts.sum(axis=1)
    shares = counts.div(n, axis=0)
    meta = answers.groupby("hypothesis")[["group", "rank"]].first()
    out = meta.join(shares).assign(n=n)
    out["_g"] = out["group"].map({"top": 0, "bottom": 1})
    return out.sort_values(["_g", "rank"]).drop(columns="_g")[["group", "rank", "n", *CODES]]


def participant_differences(answers, code="Divergent"):
    """Each participant's top-minus-bottom difference in the share of ``code`` answers.

    Only study trials count (:func:`study_answers`). Participants without answers
    in both groups are left out.

    Returns
    -------
    Series
        Indexed by ``participant_id``.
    """
    answers = study_answers(answers)
    is_code = (answers["code"] == code).astype(float)
    share = is_code.groupby([answers["participant_id"], answers["group"]]).mean().unstack()
    share = share.reindex(columns=["top", "bottom"]).dropna()
    return (share["top"] - share["bottom"]).rename(f"{code.lower()}_share_top_minus_bottom")


@dataclass
class TopBottomTest:
    """Result of :func:`top_bottom_test`."""

    mean_difference: float
    p_value: float
    n_participants: int
    ci_low: float
    ci_high: float
    alternative: str

    def summary(self):
        """Plain dict for the results file."""
        return dict(mean_difference=self.mean_difference, p_value=self.p_value,
                    n_participants=self.n_participants, ci95=[self.ci_low, self.ci_high],
                    alternative=self.alternative,
                    test="participant-level sign-flip permutation test")


def top_bottom_test(answers, n_resamples=9999, alternative="two-sided", seed=0):
    """Do top hypotheses get more Divergent answers than bottom ones, across people?

    Each participant contributes one number, the difference between their share of
    Divergent answers on top-10 and on bottom-10 trials. Under the null hypothesis
    that the answers do not depend on the hypothesis group, each difference is
    symmetric about zero, so its sign can be flipped: the test is a one-sample
    sign-flip permutation test of the mean difference
    (``scipy.stats.permutation_test`` with ``permutation_type="samples"``; exact
    when ``2**n`` is at most ``n_resamples``). Treating participants, not answers, as
    the unit respects that answers of one person are correlated. The 95 % interval
    is a participant bootstrap (percentile).

    Returns
    -------
    TopBottomTest
    """
    from scipy import stats as st

    diff = participant_differences(answers).to_numpy()
    if len(diff) < 2:
        raise SurveyError(f"{len(diff)} participant(s) answered both top and bottom trials; "
                          "the test needs at least 2.")
    res = st.permutation_test((diff,), np.mean, permutation_type="samples",
                              n_resamples=n_resamples, alternative=alternative,
                              rng=np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    boots = diff[rng.integers(0, len(diff), (2000, len(diff)))].mean(axis=1)
    return TopBottomTest(float(diff.mean()), float(res.pvalue), int(len(diff)),
                         float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975)),
                         alternative)


def hypothesis_label_test(answers, n_resamples=9999, seed=0):
    """Secondary test with hypotheses as the unit: permute the top/bottom labels.

    The statistic is the difference between the mean Divergent share of top and
    bottom hypotheses; the p-value (two-sided) comes from permuting which
    hypotheses are called top. It generalises to other hypotheses of the same
    ranks, where :func:`top_bottom_test` generalises to other participants.

    Returns
    -------
    dict
        ``difference``, ``p_value``, ``n_top``, ``n_bottom`` (``p_value`` is NaN with
        fewer than two answered hypotheses in a group).
    """
    from scipy import stats as st

    shares = answer_shares(answers)
    top = shares.loc[shares["group"] == "top", "Divergent"].to_numpy()
    bottom = shares.loc[shares["group"] == "bottom", "Divergent"].to_numpy()
    if min(len(top), len(bottom)) < 2:  # too few hypotheses answered to permute labels
        return {"difference": float(top.mean() - bottom.mean()) if len(top) and len(bottom)
                else float("nan"), "p_value": float("nan"),
                "n_top": int(len(top)), "n_bottom": int(len(bottom))}
    res = st.permutation_test((top, bottom), lambda a, b: np.mean(a) - np.mean(b),
                              permutation_type="independent", n_resamples=n_resamples,
                              rng=np.random.default_rng(seed))
    return {"difference": float(top.mean() - bottom.mean()), "p_value": float(res.pvalue),
            "n_top": int(len(top)), "n_bottom": int(len(bottom))}
