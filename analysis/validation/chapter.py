"""Human validation, what the chapter reports: the numbers its prose quotes, its tables and
warning banners, assembled in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .trials import SKIPPED_PROPOSERS, skipped_hypotheses, survey_id
from .survey import (
    CONSENT_QUESTION, DEFAULT_CONTACT, INSTRUCTIONS, PRACTICE, SECONDS_PER_TRIAL,
    consent_sections, expected_minutes,
)
from .answers import CODES
from .stats import answer_shares, exclude_inattentive, study_answers

__all__ = [
    "is_development_fixture", "banner_html", "TrialOverview", "trial_overview",
    "survey_texts", "participant_text", "kept_answers", "attention_texts",
    "attention_lines", "failed_attention_table", "group_shares", "share_texts",
    "shares_percent", "top_bottom_texts", "chapter_results",
]


def is_development_fixture(contract):
    """Whether the hypothesis files are a development fixture (tests only).

    Parameters
    ----------
    contract : HypothesisResults
    """
    return bool(contract.meta["development_fixture"])


def banner_html(simulated, fixture=False):
    """Warning boxes (HTML, styled as the book's admonitions) for simulated results."""
    out = ""
    if fixture:
        out += ('<div class="admonition danger"><p class="admonition-title">Development '
                "fixture</p><p>The hypothesis files this chapter read are a made-up "
                "development fixture (<code>tests/contract_fixture.py</code>), not results of "
                "the hypothesis chapter. Every number below is meaningless; run the hypothesis "
                "chapter first.</p></div>")
    if simulated:
        out += ('<div class="admonition warning"><p class="admonition-title">Simulated '
                "raters</p><p>No human answers were given (<code>answers_path = None</code>). "
                "The answers, tables and figures of this chapter come from <b>simulated "
                "raters</b>: the verifier's scores plus noise. They show what the analysis "
                "does, not what people think.</p></div>")
    return out


@dataclass(frozen=True)
class TrialOverview:
    """The trial set and the participant lists, summarised for the chapter's prose.

    Built by :func:`trial_overview`. ``study`` and ``checks`` are the study trials and
    the attention checks of the trial table; ``in_lists`` marks, for each row of the
    lists table, whether it is an attention check; ``checks_per_list`` counts them per
    list and ``study_per_list`` the study trials per list (Series indexed by list
    number); ``n_word_lists`` counts the word-list
    hypotheses of the table; ``skipped`` holds the word-list hypotheses that would
    have ranked among the chosen ones and are not shown (columns of
    :func:`skipped_hypotheses`); ``shown_word_lists`` the word-list hypotheses a
    trial file shows all the same (only an older trial file can).
    """

    study: pd.DataFrame
    checks: pd.DataFrame
    in_lists: pd.Series
    checks_per_list: pd.Series
    study_per_list: pd.Series
    n_word_lists: int
    skipped: pd.DataFrame
    shown_word_lists: list

    def texts(self, attention_per_100):
        """The glued values of the trials section, by glue name.

        Parameters
        ----------
        attention_per_100 : float
            The attention checks per 100 study trials the lists were drawn with.

        Returns
        -------
        dict
            ``n_word_lists``, ``skipped_txt``, ``n_top_used``, ``n_bottom_used``,
            ``pairs_used``, ``split_used``, ``share_div_a`` (percent, as text),
            ``n_per_list``, ``n_trials``, ``n_checks_per_list``, ``attention_rate``
            and ``n_check_items``.
        """
        study, skipped = self.study, self.skipped
        used = study.groupby("group")["hypothesis"].nunique()
        skipped_txt = (
            f"{len(skipped)} of them would have ranked among the chosen hypotheses "
            f"({(skipped['group'] == 'top').sum()} top, {(skipped['group'] == 'bottom').sum()} "
            "bottom); they were skipped and the sets filled from the next ranks."
            if len(skipped) else
            "None of them ranked among the chosen hypotheses, so none was skipped.")
        return {
            "n_word_lists": self.n_word_lists,
            "skipped_txt": skipped_txt,
            "n_top_used": int(used.get("top", 0)),
            "n_bottom_used": int(used.get("bottom", 0)),
            "pairs_used": int(study.groupby("hypothesis").size().max()),
            "split_used": study["split"].iloc[0],
            "share_div_a": f"{100 * (study['divergent_side'] == 'A').mean():.0f} %",
            "n_per_list": int(self.study_per_list.iloc[0]),
            "n_trials": len(study),
            "n_checks_per_list": int(self.checks_per_list.iloc[0]),
            "attention_rate": f"{attention_per_100:g}",
            "n_check_items": len(self.checks),
        }

    def notes(self):
        """Warnings and notes on the trial set for the reader, one string per line."""
        lines = []
        if self.shown_word_lists:
            lines.append(f"Warning: the trial file shows {len(self.shown_word_lists)} word-list "
                         "hypotheses (written before they were skipped); their answers are "
                         "analysed like the others.")
        if len(self.skipped):
            lines.append(f"{len(self.skipped)} word-list hypotheses skipped (log-odds proposer):")
            lines.append(self.skipped[["rank", "group", "hypothesis"]].to_string(index=False))
        if self.checks.empty:
            lines.append("This trial file has no attention checks (written before they "
                         "existed); the lists have none.")
        return lines


def trial_overview(table, trials, lists, n_top=10, n_bottom=10,
                   skip_proposers=SKIPPED_PROPOSERS):
    """Summarise a trial set and its lists for the chapter (Methods page, human validation).

    Parameters
    ----------
    table : DataFrame
        The hypothesis table (columns ``hypothesis``, ``V``, ``proposer``, ...), as
        :func:`load_contract` returns it.
    trials : DataFrame
        From :func:`make_trials` or :func:`read_trials` (``kind``, ``hypothesis``,
        ``group``, ``split``, ``divergent_side``, ``trial_id``).
    lists : DataFrame
        From :func:`make_lists` (``list``, ``trial_id``).
    n_top, n_bottom : int
        The numbers of hypotheses asked for at each end of the ranking.
    skip_proposers : tuple of str
        Proposers whose hypotheses are word lists and are never shown.

    Returns
    -------
    TrialOverview
        Its ``texts`` and ``notes`` give what the prose and the output quote.
    """
    study = trials[trials["kind"] == "study"]
    checks = trials[trials["kind"] == "attention"]
    is_word_list = table["proposer"].isin(skip_proposers)
    skipped = skipped_hypotheses(table, n_top, n_bottom, skip_proposers)
    skipped = skipped[~skipped["hypothesis"].isin(set(study["hypothesis"]))]
    word_lists = set(table.loc[is_word_list, "hypothesis"])
    in_lists = lists["trial_id"].isin(set(checks["trial_id"]))
    return TrialOverview(
        study=study, checks=checks, in_lists=in_lists,
        checks_per_list=in_lists.groupby(lists["list"]).sum(),
        study_per_list=(~in_lists).groupby(lists["list"]).sum(),
        n_word_lists=int(is_word_list.sum()), skipped=skipped,
        shown_word_lists=sorted(set(study["hypothesis"]) & word_lists))


def survey_texts(n_items, contact=None):
    """The glued values of the survey-kit section, by glue name.

    Parameters
    ----------
    n_items : int
        Items in the longest list (study trials and attention checks).
    contact : str or None
        The ``survey_contact`` parameter; None uses :data:`DEFAULT_CONTACT`.

    Returns
    -------
    dict
        ``minutes_per_list`` (:func:`expected_minutes`), ``seconds_per_trial``
        (:data:`SECONDS_PER_TRIAL`) and ``contact_txt`` (quoted; marked "(the
        default)" when no contact was set).
    """
    return {"minutes_per_list": expected_minutes(n_items),
            "seconds_per_trial": SECONDS_PER_TRIAL,
            "contact_txt": f'"{contact or DEFAULT_CONTACT}"'
                           + ("" if contact else " (the default)")}


def participant_text(post_url=None, contact=None, n_items=None):
    """What a participant reads before and at the start of the survey, as plain text.

    The information shown before consent (:func:`consent_sections`), the consent
    question, the instructions and the practice item, in the page's order.

    Parameters
    ----------
    post_url, contact, n_items
        As for :func:`consent_sections`.

    Returns
    -------
    str
    """
    lines = ["Information before consent (list of this length):"]
    lines += [f"  {heading} {text}"
              for heading, text in consent_sections(post_url, contact, n_items)]
    lines.append(f"  {CONSENT_QUESTION} [I agree] [I do not agree]")
    return "\n".join(lines) + f"\n\nInstructions: {INSTRUCTIONS}\n\nPractice: {PRACTICE}"


def kept_answers(answers, exclude=True, max_failures=0):
    """The answers the analysis uses: inattentive participants left out when asked.

    Parameters
    ----------
    answers : DataFrame
        From :func:`read_answers` or :func:`simulate_raters`.
    exclude : bool
        Leave out participants who failed more than ``max_failures`` attention checks
        (:func:`exclude_inattentive`); False keeps everyone.
    max_failures : int

    Returns
    -------
    kept : DataFrame
        The answers kept (attention checks included).
    n_excluded : int
        Participants left out.
    """
    kept = exclude_inattentive(answers, max_failures)[0] if exclude else answers
    return kept, int(answers["participant_id"].nunique() - kept["participant_id"].nunique())


def attention_texts(report, kept, n_excluded, exclude=True, max_failures=0, simulated=True):
    """The glued values of the attention-check section, by glue name.

    Parameters
    ----------
    report : DataFrame
        From :func:`attention_report` (every participant).
    kept : DataFrame
        The answers analysed (:func:`kept_answers`).
    n_excluded : int
        Participants left out.
    exclude : bool
        Whether participants over the limit were left out.
    max_failures : int
    simulated : bool
        The answers come from :func:`simulate_raters`.

    Returns
    -------
    dict
        ``n_checked_people``, ``n_all_people``, ``n_failed_people``,
        ``max_fail_txt``, ``exclusion_txt``, ``n_answers`` (study answers kept),
        ``n_people`` (participants kept) and ``raters_word``.
    """
    return {
        "n_checked_people": int((report["n_checks"] > 0).sum()),
        "n_all_people": len(report),
        "n_failed_people": int(report["excluded"].sum()),
        "max_fail_txt": f"{max_failures} check" + ("" if max_failures == 1 else "s"),
        "exclusion_txt": (
            f"They were excluded ({n_excluded} {'person' if n_excluded == 1 else 'people'}) "
            "from everything that follows: the shares, the figure and both tests."
            if exclude else "They were kept (exclude_failed_attention = False)."),
        "n_answers": int(len(study_answers(kept))),
        "n_people": int(kept["participant_id"].nunique()),
        "raters_word": "simulated raters" if simulated else "participants",
    }


def attention_lines(report, n_excluded, exclude=True, max_failures=0, label="Raters"):
    """A two-line account of the attention checks for the chapter's output.

    Parameters
    ----------
    report : DataFrame
        From :func:`attention_report`.
    n_excluded : int
    exclude : bool
    max_failures : int
    label : str
        Who answered ("SIMULATED raters", "Human raters").

    Returns
    -------
    str
    """
    first = (f"{label}: {n_excluded} of {len(report)} excluded for failing more than "
             f"{max_failures} attention check(s)" if exclude else
             f"{label}: no exclusion (exclude_failed_attention = False)")
    counts = report["n_failed"].value_counts().sort_index().to_dict()
    return f"{first}\nparticipants by the number of checks they failed: {counts}"


def failed_attention_table(report):
    """The participants who failed at least one attention check, with readable columns.

    Parameters
    ----------
    report : DataFrame
        From :func:`attention_report`.

    Returns
    -------
    DataFrame
        Columns ``checks seen``, ``checks failed``, ``over the limit``.
    """
    return report[report["n_failed"] > 0].rename(columns={
        "n_checks": "checks seen", "n_failed": "checks failed", "excluded": "over the limit"})


def group_shares(answers):
    """Share (0-1) of each answer code over the study answers of each hypothesis group.

    Parameters
    ----------
    answers : DataFrame
        Coded answers (columns ``group``, ``code``; attention checks are left out).

    Returns
    -------
    DataFrame
        Index ``group`` (``top``, ``bottom``); one column per code that occurs.
    """
    study = study_answers(answers)
    return study.groupby("group")["code"].value_counts(normalize=True).unstack()


def share_texts(by_group):
    """The glued shares of Divergent and Convergent answers in the top and bottom groups.

    Parameters
    ----------
    by_group : DataFrame
        From :func:`group_shares`; both ``top`` and ``bottom`` must be present.

    Returns
    -------
    dict
        ``top_div``, ``top_con``, ``bottom_div``, ``bottom_con`` as percent text ("62 %").

    Raises
    ------
    KeyError
        A group without answers.
    """
    return {f"{g}_{code[:3].lower()}": f"{100 * by_group.loc[g].get(code, 0):.0f} %"
            for g in ("top", "bottom") for code in ("Divergent", "Convergent")}


def shares_percent(shares):
    """:func:`answer_shares` with the code columns in percent (one decimal) for display."""
    return shares.assign(**{c: 100 * shares[c] for c in CODES}).round(1)


def top_bottom_texts(test, hyp_test):
    """The glued values of the top-versus-bottom tests, by glue name.

    Parameters
    ----------
    test : TopBottomTest
        From :func:`top_bottom_test` (participants as the unit).
    hyp_test : dict
        From :func:`hypothesis_label_test` (hypotheses as the unit).

    Returns
    -------
    dict
        ``n_test_people``, ``mean_diff`` and ``hyp_diff`` (percentage points, signed),
        ``diff_ci`` (the 95 % bootstrap interval), ``p_people`` and ``p_hyp``.
    """
    return {
        "n_test_people": test.n_participants,
        "mean_diff": f"{100 * test.mean_difference:+.1f} percentage points",
        "diff_ci": f"{100 * test.ci_low:+.1f} to {100 * test.ci_high:+.1f}",
        "p_people": f"{test.p_value:.2g}",
        "hyp_diff": f"{100 * hyp_test['difference']:+.1f} percentage points",
        "p_hyp": f"{hyp_test['p_value']:.2g}",
    }


def chapter_results(overview, trials, lists, page, answers, report, n_excluded, test, hyp_test,
                    *, simulated, fixture, answers_path=None, contact=None,
                    exclude_failed=True, max_failures=0):
    """The human-validation chapter's results (``human_validation.json``,
    :class:`analysis.results.HumanValidationResults`).

    Parameters
    ----------
    overview : TrialOverview
        :func:`trial_overview` of ``trials`` and ``lists``.
    trials : DataFrame
        The trial table (:func:`make_trials` or :func:`read_trials`).
    lists : DataFrame
        The participants' lists (:func:`make_lists`).
    page : str | Path
        The survey page, relative to the results folder.
    answers : DataFrame
        The coded answers analysed (:func:`kept_answers`: inattentive participants left
        out when asked to).
    report : DataFrame
        :func:`attention_report` of every answer (index: participant).
    n_excluded : int
        Participants left out for failed attention checks.
    test : TopBottomTest
        :func:`top_bottom_test` of ``answers`` (participants as the unit).
    hyp_test : dict | None
        :func:`hypothesis_label_test` of ``answers`` (hypotheses as the unit).
    simulated : bool
        Whether the answers come from simulated raters.
    fixture : bool
        Whether the hypothesis files are a development fixture
        (:func:`is_development_fixture`).
    answers_path : str | Path | None
        Where the human answers were read from; None for simulated raters.
    contact : str | None
        The survey's contact (only whether it was set is recorded).
    exclude_failed : bool
        Whether participants over ``max_failures`` failed checks were left out.
    max_failures : int
        Failed attention checks allowed.

    Returns
    -------
    dict
        ``simulated``, ``development_fixture``, ``answers_path``, ``survey`` (page, survey
        id, trial and list counts, minutes per list, split, share of trials showing the
        divergent sentence as A), ``skipped_word_list_hypotheses``, ``attention`` (the
        exclusion rule and each participant's checks and failures), ``n_answers`` (study
        answers analysed), ``n_raters``, ``shares_by_group`` and ``shares_by_hypothesis``
        (shares 0-1 of each answer code), ``participant_test`` and ``hypothesis_test``.
    """
    study, skipped = overview.study, overview.skipped
    by_group, shares = group_shares(answers), answer_shares(answers)
    return {
        "simulated": simulated,
        "development_fixture": fixture,
        "answers_path": None if answers_path is None else str(answers_path),
        "survey": {"page": str(page),
                   "survey_id": survey_id(trials),
                   "n_trials": len(study), "n_attention_items": len(overview.checks),
                   "n_lists": int(lists["list"].nunique()),
                   "trials_per_list": int(overview.study_per_list.iloc[0]),
                   "attention_checks_per_list": int(overview.checks_per_list.iloc[0]),
                   "minutes_per_list": expected_minutes(int(lists.groupby("list").size().max())),
                   "contact_set": contact is not None,
                   "split": study["split"].iloc[0],
                   "share_divergent_shown_as_A": float((study["divergent_side"] == "A").mean())},
        "skipped_word_list_hypotheses": {"in_table": overview.n_word_lists,
                                         "n_skipped": len(skipped),
                                         "skipped": skipped["hypothesis"].tolist()},
        "attention": {"exclude_failed": exclude_failed, "max_failures": max_failures,
                      "n_flagged": int(report["excluded"].sum()), "n_excluded": n_excluded,
                      "failures_by_participant": {p: int(r["n_failed"])
                                                  for p, r in report.iterrows()},
                      "checks_by_participant": {p: int(r["n_checks"])
                                                for p, r in report.iterrows()}},
        "n_answers": int(len(study_answers(answers))),
        "n_raters": int(answers["participant_id"].nunique()),
        "shares_by_group": {g: {c: float(by_group.loc[g].get(c, 0.0)) for c in CODES}
                            for g in by_group.index},
        "shares_by_hypothesis": {h: {c: float(r[c]) for c in CODES} | {"n": int(r["n"])}
                                 for h, r in shares.iterrows()},
        "participant_test": test.summary(),
        "hypothesis_test": hyp_test,
    }
