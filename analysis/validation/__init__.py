"""Human validation of the hypotheses (Methods page, human validation): trials, survey exports, answer imports, tests.

The hypothesis chapter ranks natural-language hypotheses ("expresses strong
emotions") by how well they separate the sentences the language model predicts the
brain worst on (divergent) from those it predicts best on (convergent). Here people
judge the same pairs: each trial shows one hypothesis and two sentences, one
divergent and one convergent, and asks for which one the hypothesis is more true.

Pipeline
--------
1. :func:`load_contract` reads the hypothesis chapter's files (layout fixed by the
   contract between chapters 02 and 03).
2. :func:`make_trials` pairs sentences for the top-``n`` and bottom-``n`` hypotheses
   by validity V, skipping word-list hypotheses of the log-odds proposer (a person
   cannot judge "contains words such as ..."), and appends the attention checks
   (:func:`attention_trials`); :func:`make_lists` draws each participant's list of
   random trials and puts a few attention checks in it at seeded positions.
3. :func:`write_survey_page` writes one self-contained HTML file (no server, no
   network, works from ``file://``) that opens with an information and consent
   screen and offers "Withdraw" on every later screen;
   :func:`write_qualtrics_trials` writes the loop-and-merge table for Qualtrics.
4. :func:`read_answers` imports the page's CSV files and Qualtrics exports,
   dropping identifying columns first, and codes every answer as Divergent / Equal /
   Convergent from the side on which the divergent sentence was shown (attention
   checks as Correct / Incorrect); each participant answers each trial once
   (:func:`drop_duplicate_answers`: copies dropped with a note, conflicts refused).
5. :func:`attention_report` counts each participant's failed attention checks and
   :func:`exclude_inattentive` drops those over a threshold; :func:`answer_shares`
   and :func:`top_bottom_test` summarise and test the study trials only; where no
   human answers exist, :func:`simulate_raters` fills in (labelled "simulated").

Answer coding: "More true for Sentence A" is *Divergent* when the divergent sentence
was shown as A and *Convergent* otherwise; "Equally true" is *Equal*. An attention
check is *Correct* when the answer is its ``expected`` answer, else *Incorrect*.

Modules
-------
:mod:`.trials`
    Building the trials: hypotheses chosen, sentence pairs, attention checks,
    per-participant lists, the trial file.
:mod:`.survey`
    The survey kit: consent and instruction texts, the self-contained survey page,
    the Qualtrics loop-and-merge table.
:mod:`.answers`
    Importing answers: survey-page CSV files and Qualtrics exports, identifying
    columns dropped, answers coded, duplicates handled.
:mod:`.raters`
    Simulated raters, where no human answers exist.
:mod:`.stats`
    The statistics: attention checks, shares per hypothesis, the participant-level
    test of top against bottom hypotheses.
:mod:`.chapter`
    What the chapter reports: its texts, tables and warning banners.

Everything public is re-exported here, so ``from analysis import validation`` and
``validation.make_trials(...)`` work as before.
"""

from .trials import (  # noqa: F401
    ANSWERS, SKIPPED_PROPOSERS, ATTENTION_ITEMS, TRIAL_COLUMNS, OPTIONAL_TRIAL_COLUMNS,
    SurveyError, load_contract, select_hypotheses, skipped_hypotheses, choose_split,
    attention_trials, make_trials, with_kind, make_lists, survey_id, write_trials,
    read_trials,
)
from .survey import (  # noqa: F401
    RESOURCES, INSTRUCTIONS, DEFAULT_CONTACT, CONSENT, CONSENT_WHERE, CONSENT_QUESTION,
    SECONDS_PER_TRIAL, PRACTICE, consent_sections, expected_minutes,
    write_qualtrics_trials, survey_payload, write_survey_page, script_json, fill_template,
    write_survey_kit, survey_kit_summary,
)
from .answers import (  # noqa: F401
    CODES, ATTENTION_CODES, IDENTIFYING_EXACT, IDENTIFYING_PATTERN, PAGE_COLUMNS,
    is_identifying, drop_identifying, code_answers, read_page_answers,
    read_qualtrics_answers, read_answers, drop_duplicate_answers, ANSWER_COLUMNS,
    write_answers,
)
from .raters import (  # noqa: F401
    simulate_raters,
)
from .stats import (  # noqa: F401
    study_answers, attention_report, exclude_inattentive, answer_shares,
    participant_differences, TopBottomTest, top_bottom_test, hypothesis_label_test,
)
from .chapter import (  # noqa: F401
    is_development_fixture, banner_html, TrialOverview, trial_overview, survey_texts,
    participant_text, kept_answers, attention_texts, attention_lines,
    failed_attention_table, group_shares, share_texts, shares_percent, top_bottom_texts,
    chapter_results,
)

__all__ = [
    "ANSWERS", "CODES", "ATTENTION_CODES", "PRACTICE", "INSTRUCTIONS", "ATTENTION_ITEMS",
    "DEFAULT_CONTACT", "SKIPPED_PROPOSERS", "SurveyError", "CONSENT", "load_contract",
    "select_hypotheses", "skipped_hypotheses", "choose_split", "attention_trials",
    "make_trials", "make_lists", "expected_minutes", "consent_sections", "survey_id",
    "survey_payload", "write_survey_page", "script_json", "fill_template",
    "write_qualtrics_trials", "write_survey_kit", "is_development_fixture", "banner_html",
    "write_trials", "read_trials", "drop_identifying", "is_identifying",
    "read_page_answers", "read_qualtrics_answers", "read_answers", "code_answers",
    "drop_duplicate_answers", "survey_kit_summary", "write_answers", "simulate_raters",
    "study_answers", "attention_report", "exclude_inattentive", "answer_shares",
    "participant_differences", "top_bottom_test", "hypothesis_label_test", "TrialOverview",
    "trial_overview", "survey_texts", "participant_text", "kept_answers",
    "attention_texts", "attention_lines", "failed_attention_table", "group_shares",
    "share_texts", "shares_percent", "top_bottom_texts", "with_kind", "chapter_results",
]
