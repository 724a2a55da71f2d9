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
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._utils import DataError, atomic_write
from ..contracts import HypothesisResults

__all__ = [
    "ANSWERS", "CODES", "ATTENTION_CODES", "PRACTICE", "INSTRUCTIONS", "ATTENTION_ITEMS",
    "DEFAULT_CONTACT", "SKIPPED_PROPOSERS", "SurveyError",
    "CONSENT", "load_contract", "select_hypotheses", "skipped_hypotheses", "choose_split",
    "attention_trials", "make_trials", "make_lists", "expected_minutes", "consent_sections",
    "survey_id", "survey_payload", "write_survey_page", "script_json", "fill_template",
    "write_qualtrics_trials", "write_survey_kit", "is_development_fixture", "banner_html",
    "write_trials", "read_trials", "drop_identifying", "is_identifying",
    "read_page_answers", "read_qualtrics_answers", "read_answers", "code_answers",
    "drop_duplicate_answers", "survey_kit_summary",
    "write_answers",
    "simulate_raters", "study_answers", "attention_report", "exclude_inattentive",
    "answer_shares", "participant_differences", "top_bottom_test", "hypothesis_label_test",
    "TrialOverview", "trial_overview", "survey_texts", "participant_text", "kept_answers",
    "attention_texts", "attention_lines", "failed_attention_table", "group_shares",
    "share_texts", "shares_percent", "top_bottom_texts",
]

RESOURCES = Path(__file__).resolve().parents[1] / "resources" / "survey"

#: The three answers, exactly as the survey shows them (and as Qualtrics exports them
#: with "Use choice text").
ANSWERS = ("More true for Sentence A", "Equally true", "More true for Sentence B")
#: The codes, in the order of the stacked bars.
CODES = ("Divergent", "Equal", "Convergent")
#: The codes of attention checks (never mixed with :data:`CODES`).
ATTENTION_CODES = ("Correct", "Incorrect")

INSTRUCTIONS = (
    "On each screen you see a short description (for example \"mentions an animal\") "
    "and two sentences, Sentence A and Sentence B. Decide for which sentence the "
    "description is more true. If it fits both equally well, or neither, choose "
    "\"Equally true\". Most questions have no right or wrong answer; go with your first "
    "impression. A few are easy checks with one clear answer, which help us see that the "
    "answers were given with care. One practice screen comes first and tells you what we "
    "expected."
)

#: Who participants can write to, when the chapter names nobody (``survey_contact``).
DEFAULT_CONTACT = "the researcher who sent you this link"

#: The information screen before consent: (heading, text). ``{duration}`` and
#: ``{n_questions}`` are filled in for the list shown, ``{where}`` from
#: :data:`CONSENT_WHERE` and ``{contact}`` by :func:`consent_sections`.
CONSENT = (
    ("What is this study about?",
     "We are researchers studying how language models (computer programs that work with "
     "text) and the human brain process sentences. You will judge which of two sentences a "
     "short description fits better. Your answers help us check descriptions that a "
     "computer suggested."),
    ("How long does it take?",
     "About {duration}: {n_questions} short questions and one practice question, at a few "
     "seconds each."),
    ("Do I have to take part?",
     "No. Taking part is voluntary, and you can stop at any time without giving a reason. "
     "Every screen has a \"Withdraw\" button at the top: it deletes the answers you have "
     "given and sends nothing. You can also just close this page; nothing is sent then, and "
     "the answers given so far stay only in this browser (choose \"Withdraw\" to delete "
     "them)."),
    ("What is stored?",
     "Only your answers, the list number, your participant id (the one you type in or the "
     "page makes up for you), the time you agreed, the time of each answer and how long it "
     "took. Nothing else: the page does not record your name, your IP address or your "
     "location. While you take part, this is kept in this browser so that you can continue "
     "after a reload. {where}"),
    ("Questions?", "Please contact {contact}."),
)
#: Where the answers go, for the "What is stored?" paragraph.
CONSENT_WHERE = {
    "download": "At the end, you download your answers as a file (CSV) and send it to the "
                "research team as they asked you to.",
    "post": "At the end, your answers are sent to the research team's server ({host}), and "
            "you can also download them as a file (CSV).",
}
#: The sentence above the two buttons "I agree" and "I do not agree".
CONSENT_QUESTION = ("Choosing \"I agree\" means that you have read this and would like to "
                    "take part.")
#: Seconds per question in the duration the consent screen states.
SECONDS_PER_TRIAL = 5
#: Proposers whose hypotheses are not shown to people: the log-odds proposer's
#: hypotheses are word lists ("contains words such as ..."), not judgeable properties.
SKIPPED_PROPOSERS = ("log-odds",)

#: Attention checks: (description, a sentence it clearly fits, a sentence it does not
#: fit). Written for this project; none comes from the story or the study's sentences.
ATTENTION_ITEMS = (
    ("mentions a dog", "A small brown dog barked at the postman.",
     "The kettle clicked off in the quiet kitchen."),
    ("describes rain or snow", "Heavy snow covered the parked cars by morning.",
     "He tied his shoes and walked to work."),
    ("mentions a colour", "She painted the garden fence bright red.",
     "They talked about the plan for an hour."),
    ("mentions something to eat", "He ate a bowl of soup with fresh bread.",
     "The train left the station on time."),
    ("asks a question", "Where did you leave the car keys?",
     "The car keys are on the kitchen table."),
    ("mentions music", "The band played loud songs until midnight.",
     "The shop closed early on Sunday."),
    ("mentions a tree", "An old oak tree shaded the whole garden.",
     "She counted the coins in her purse."),
    ("mentions a number", "Three boats were tied up at the pier.",
     "The sea stayed calm all afternoon."),
)

#: The practice item: not from the study, with an obvious answer and feedback.
PRACTICE = {
    "hypothesis": "mentions an animal",
    "sentence_a": "The old dog slept by the door while the rain fell.",
    "sentence_b": "She read the letter twice before putting it away.",
    "expected": ANSWERS[0],
    "feedback": "Sentence A mentions a dog; Sentence B mentions no animal, so we expected "
                "\"More true for Sentence A\".",
}

#: Identifying columns of survey exports (matched case-insensitively, ignoring
#: spaces, underscores and dashes). They are dropped before anything else is read.
IDENTIFYING_EXACT = {
    "ipaddress", "ip", "locationlatitude", "locationlongitude", "latitude", "longitude",
    "recipientfirstname", "recipientlastname", "recipientemail", "externalreference",
    "externaldatareference", "email", "emailaddress", "firstname", "lastname", "name",
    "fullname", "phone", "phonenumber", "useragent", "browsermetainfo", "qurl",
    "prolificpid", "workerid", "mturkworkerid", "assignmentid", "hitid", "geolocation",
}
IDENTIFYING_PATTERN = re.compile(
    r"(ipaddress|latitude|longitude|recipient|email|externalreference|externaldatareference"
    r"|geolocation|phonenumber|prolificpid|workerid)$")

TRIAL_COLUMNS = ["trial_id", "loop", "hypothesis", "rank", "group", "split",
                 "divergent_id", "convergent_id", "divergent_side", "sentence_a_id",
                 "sentence_b_id", "sentence_a", "sentence_b", "kind", "expected"]
#: Columns a trial file written before attention checks existed may lack; they are
#: filled in as study trials.
OPTIONAL_TRIAL_COLUMNS = {"kind": "study", "expected": ""}
PAGE_COLUMNS = ["participant_id", "list", "position", "trial_id", "hypothesis",
                "sentence_a_id", "sentence_b_id", "divergent_side", "answer"]


class SurveyError(DataError):
    """A survey file (trials or answers) does not have the expected layout.

    The message names the file, the row (1-based line number in the file) and the
    column at fault, and says what was expected.
    """


# --------------------------------------------------------------------------- contract

def load_contract(results_dir):
    """The hypothesis chapter's outputs (:class:`analysis.contracts.HypothesisResults`).

    Parameters
    ----------
    results_dir : str | Path

    Returns
    -------
    HypothesisResults
        ``sentences``, ``table`` (sorted by rank), ``scores`` and ``meta``.

    Raises
    ------
    ContractError
        Naming the missing file or column, and telling the user to run the hypothesis
        chapter first.
    """
    return HypothesisResults.read(results_dir)


# --------------------------------------------------------------------------- trials

def _ranked(table):
    table = table.sort_values("V", ascending=False, kind="stable").reset_index(drop=True)
    return table.drop_duplicates("hypothesis")


def _split_top_bottom(table, n_top, n_bottom):
    n = len(table)
    k_top, k_bottom = min(n_top, n // 2), min(n_bottom, n // 2)
    return table.head(k_top).assign(group="top"), table.tail(k_bottom).assign(group="bottom")


def _is_skipped(table, skip_proposers):
    if "proposer" not in table.columns or not skip_proposers:
        return pd.Series(False, index=table.index)
    return table["proposer"].isin(list(skip_proposers))


def select_hypotheses(table, n_top=10, n_bottom=10, skip_proposers=SKIPPED_PROPOSERS):
    """The top-``n_top`` and bottom-``n_bottom`` judgeable hypotheses by validity V.

    Hypotheses of the proposers in ``skip_proposers`` (by default the log-odds
    proposer, whose hypotheses are word lists such as "contains words such as
    'door', 'dark'") are not shown to people: a word list is not a property a
    person can judge. They are left out before the ranking is cut, so the top and
    bottom sets are filled from the next ranks. :func:`skipped_hypotheses` lists
    those that would otherwise have been chosen.

    Parameters
    ----------
    table : DataFrame
        The hypothesis table (``rank``, ``hypothesis``, ``V`` and, when present,
        ``proposer``).
    n_top, n_bottom : int
        With fewer than ``n_top + n_bottom`` judgeable hypotheses the judgeable ones
        are split in two halves instead (the middle one of an odd number is left out).
    skip_proposers : sequence of str
        Values of ``proposer`` whose hypotheses are skipped; empty to keep all.

    Returns
    -------
    DataFrame
        ``hypothesis``, ``rank``, ``V`` and ``group`` (``"top"`` | ``"bottom"``).

    Raises
    ------
    SurveyError
        Fewer than two judgeable hypotheses.
    """
    table = _ranked(table)
    skipped = _is_skipped(table, skip_proposers)
    judgeable = table[~skipped]
    n = len(judgeable)
    if n < 2:
        raise SurveyError(f"the hypothesis table has {n} hypothesis(es) people can judge "
                          f"({int(skipped.sum())} word-list hypotheses of the proposer(s) "
                          f"{list(skip_proposers)} are not shown); the validation needs at "
                          "least 2 (one top, one bottom).")
    top, bottom = _split_top_bottom(judgeable, n_top, n_bottom)
    return pd.concat([top, bottom])[["hypothesis", "rank", "V", "group"]].reset_index(drop=True)


def skipped_hypotheses(table, n_top=10, n_bottom=10, skip_proposers=SKIPPED_PROPOSERS):
    """The skipped hypotheses that would have been in the top or bottom set.

    Cuts the ranking by V as if no hypothesis were skipped and returns those of the
    chosen ones whose proposer is in ``skip_proposers`` (see
    :func:`select_hypotheses`, which replaces them with the next ranks).

    Parameters
    ----------
    table : DataFrame
    n_top, n_bottom : int
    skip_proposers : sequence of str

    Returns
    -------
    DataFrame
        ``hypothesis``, ``rank``, ``V``, ``proposer`` and ``group`` (``"top"`` |
        ``"bottom"``: where it would have been); empty when none was skipped.
    """
    table = _ranked(table)
    cols = ["hypothesis", "rank", "V", "proposer", "group"]
    if len(table) < 2 or "proposer" not in table.columns:
        return pd.DataFrame(columns=cols)
    top, bottom = _split_top_bottom(table, n_top, n_bottom)
    chosen = pd.concat([top, bottom])
    return chosen[_is_skipped(chosen, skip_proposers)][cols].reset_index(drop=True)


def choose_split(sentences, min_per_group=5):
    """The role whose sentences the trials use: validation when it is big enough.

    The validation sentences are preferred (they took no part in proposing or ranking
    the hypotheses, so people judge unseen pairs); they are used when they hold at
    least ``min_per_group`` divergent and ``min_per_group`` convergent sentences, else
    the research sentences are used.

    Returns
    -------
    str
        ``"validation"`` or ``"research"``.
    """
    val = sentences[sentences["role"] == "validation"]
    counts = val["group"].value_counts()
    if min(counts.get("divergent", 0), counts.get("convergent", 0)) >= min_per_group:
        return "validation"
    return "research"


def attention_trials(seed=0, items=ATTENTION_ITEMS):
    """Attention-check trials: a description that clearly fits one of two sentences.

    Each item of ``items`` becomes one trial shown like a study trial. Which sentence
    is shown as "Sentence A" is drawn (seeded) and recorded. The trial columns are
    those of study trials with these meanings: ``kind`` is ``"attention"``,
    ``expected`` is the right answer ("More true for Sentence A" or "... B"),
    ``divergent_side`` is the side of the sentence the description fits (so the
    page and the imports check sides as for any trial), ``divergent_id`` /
    ``convergent_id`` are the fitting / other sentence, with negative ids
    (item *i*, 1-based: ``-(2i - 1)`` and ``-2i``) that no story sentence has;
    ``group`` and ``split`` are ``"attention"`` and ``rank`` is 0.

    Parameters
    ----------
    seed : int
    items : sequence of (str, str, str)
        ``(description, fitting sentence, other sentence)``.

    Returns
    -------
    DataFrame
        :data:`TRIAL_COLUMNS`; ``trial_id`` ``a01``, ``a02``, ...; ``loop`` is left
        to :func:`make_trials`.
    """
    rng = np.random.default_rng([seed, 101])
    rows = []
    for i, (description, fits, other) in enumerate(items, start=1):
        fit_id, other_id = -(2 * i - 1), -2 * i
        side = "A" if rng.random() < 0.5 else "B"
        (a, a_id), (b, b_id) = (((fits, fit_id), (other, other_id)) if side == "A"
                                else ((other, other_id), (fits, fit_id)))
        rows.append({"trial_id": f"a{i:02d}", "loop": 0, "hypothesis": description, "rank": 0,
                     "group": "attention", "split": "attention", "divergent_id": fit_id,
                     "convergent_id": other_id, "divergent_side": side,
                     "sentence_a_id": a_id, "sentence_b_id": b_id, "sentence_a": a,
                     "sentence_b": b, "kind": "attention",
                     "expected": ANSWERS[0] if side == "A" else ANSWERS[2]})
    return pd.DataFrame(rows, columns=TRIAL_COLUMNS)


def make_trials(table, sentences, n_top=10, n_bottom=10, pairs_per_hypothesis=20,
                split="auto", min_per_group=5, seed=0, attention=True,
                skip_proposers=SKIPPED_PROPOSERS):
    """Trials: per selected hypothesis, random (divergent, convergent) sentence pairs.

    Parameters
    ----------
    table, sentences : DataFrame
        The contract's hypothesis table and selected sentences.
    n_top, n_bottom : int
        How many hypotheses from the top and the bottom of the ranking.
    pairs_per_hypothesis : int
        Distinct pairs per hypothesis (fewer when the split has fewer pairs).
    split : {"auto", "validation", "research"}
        ``"auto"`` applies :func:`choose_split`.
    min_per_group : int
        See :func:`choose_split`.
    seed : int
        Seeds the pairs and which sentence is shown as "Sentence A".
    attention : bool
        Append the attention checks of :func:`attention_trials` after the study
        trials (:func:`make_lists` puts a few of them in each list).
    skip_proposers : sequence of str
        See :func:`select_hypotheses` (word-list hypotheses are never shown).

    Returns
    -------
    DataFrame
        One row per trial with :data:`TRIAL_COLUMNS`; ``loop`` is the 1-based row
        number (Qualtrics' loop number), ``divergent_side`` is ``"A"`` or ``"B"``,
        ``kind`` is ``"study"`` (``expected`` empty) or ``"attention"``.
    """
    rng = np.random.default_rng(seed)
    if split == "auto":
        split = choose_split(sentences, min_per_group)
    pool = sentences[sentences["role"] == split]
    div = pool[pool["group"] == "divergent"].sort_values("sentence_id")
    con = pool[pool["group"] == "convergent"].sort_values("sentence_id")
    if len(div) == 0 or len(con) == 0:
        raise SurveyError(f"the {split} split has {len(div)} divergent and {len(con)} "
                          "convergent sentences; trials need at least one of each.")
    n_pairs = min(pairs_per_hypothesis, len(div) * len(con))
    rows = []
    for _, h in select_hypotheses(table, n_top, n_bottom, skip_proposers).iterrows():
        flat = rng.choice(len(div) * len(con), size=n_pairs, replace=False)
        for f in flat:
            d, c = div.iloc[f // len(con)], con.iloc[f % len(con)]
            side = "A" if rng.random() < 0.5 else "B"
            a, b = (d, c) if side == "A" else (c, d)
            rows.append({"hypothesis": h["hypothesis"], "rank": int(h["rank"]),
                         "group": h["group"], "split": split,
                         "divergent_id": int(d["sentence_id"]),
                         "convergent_id": int(c["sentence_id"]), "divergent_side": side,
                         "sentence_a_id": int(a["sentence_id"]),
                         "sentence_b_id": int(b["sentence_id"]),
                         "sentence_a": str(a["text"]), "sentence_b": str(b["text"]),
                         "kind": "study", "expected": ""})
    trials = pd.DataFrame(rows)
    trials.insert(0, "loop", 0)
    trials.insert(0, "trial_id", [f"t{i:04d}" for i in range(1, len(trials) + 1)])
    if attention:
        trials = pd.concat([trials[TRIAL_COLUMNS], attention_trials(seed)], ignore_index=True)
    trials["loop"] = np.arange(1, len(trials) + 1)
    return trials[TRIAL_COLUMNS]


def _with_kind(trials):
    """``trials`` with the columns of :data:`OPTIONAL_TRIAL_COLUMNS` (older files lack them)."""
    missing = {c: v for c, v in OPTIONAL_TRIAL_COLUMNS.items() if c not in trials.columns}
    if missing:
        trials = trials.assign(**missing)
    return trials.assign(kind=trials["kind"].fillna("study"),
                         expected=trials["expected"].fillna(""))


def _attention_slots(length, n, rng):
    """``n`` distinct 0-based positions in a list of ``length``, one per equal segment."""
    edges = (np.arange(n + 1) * length) // n
    return [int(rng.integers(lo, hi)) for lo, hi in zip(edges[:-1], edges[1:])]


def make_lists(trials, n_lists, n_per_list=100, attention_per_100=3, seed=0):
    """Per-participant trial lists: random study trials plus a few attention checks.

    Each list is a random draw (without repeats) of ``n_per_list`` study trials in
    random order. When ``trials`` holds attention checks (``kind == "attention"``,
    see :func:`attention_trials`), ``ceil(attention_per_100 * n_per_list / 100)``
    of them (at least one, at most all) are drawn for each list and put at seeded
    positions, one in each equal stretch of the list, so they are spread over it.
    They come in addition to the study trials, so a list of 100 study trials with
    the default rate has 103 items. The study draws do not depend on the attention
    checks (they use their own random stream).

    Parameters
    ----------
    trials : DataFrame
        From :func:`make_trials` (or :func:`read_trials`).
    n_lists : int
        Number of lists (one per planned participant; lists can be reused).
    n_per_list : int
        Study trials per list; all study trials (shuffled) when there are fewer.
    attention_per_100 : float
        Attention checks per 100 study trials; 0 for none.
    seed : int

    Returns
    -------
    DataFrame
        ``list`` (1-based, the page's ``?list=`` number), ``position`` (1-based) and
        ``trial_id``.
    """
    if n_lists < 1 or n_per_list < 1:
        raise ValueError(f"n_lists={n_lists} and n_per_list={n_per_list}; both must be >= 1.")
    if attention_per_100 < 0:
        raise ValueError(f"attention_per_100={attention_per_100}; must be >= 0.")
    trials = _with_kind(trials)
    study = trials.loc[trials["kind"] == "study", "trial_id"].to_numpy()
    checks = trials.loc[trials["kind"] == "attention", "trial_id"].to_numpy()
    rng = np.random.default_rng(seed)
    attention_rng = np.random.default_rng([seed, 202])
    k = min(n_per_list, len(study))
    n_checks = 0
    if len(checks) and attention_per_100 > 0:
        n_checks = min(len(checks), max(1, math.ceil(attention_per_100 * k / 100)))
    rows = []
    for li in range(n_lists):
        ids = list(rng.choice(study, size=k, replace=False))
        if n_checks:
            picked = attention_rng.choice(checks, size=n_checks, replace=False)
            for pos, tid in zip(_attention_slots(k + n_checks, n_checks, attention_rng), picked):
                ids.insert(pos, tid)
        rows.extend((li + 1, pos + 1, tid) for pos, tid in enumerate(ids))
    return pd.DataFrame(rows, columns=["list", "position", "trial_id"])


def consent_sections(post_url=None, contact=None, n_items=None,
                     seconds_per_trial=SECONDS_PER_TRIAL):
    """The information shown before consent, filled in (:data:`CONSENT`).

    Parameters
    ----------
    post_url : str | None
        Where the page sends the answers; ``None`` says they are downloaded.
    contact : str | None
        Whom to write to; ``None`` or empty gives :data:`DEFAULT_CONTACT`.
    n_items : int | None
        Questions in the list; ``None`` leaves ``{duration}`` and ``{n_questions}``
        for the page to fill in for the list it shows.
    seconds_per_trial : float

    Returns
    -------
    list of (str, str)
        ``(heading, text)`` pairs.
    """
    from urllib.parse import urlparse

    contact = (contact or "").strip() or DEFAULT_CONTACT
    where = (CONSENT_WHERE["post"].format(host=urlparse(post_url).netloc or post_url)
             if post_url else CONSENT_WHERE["download"])
    fill = {"where": where, "contact": contact}
    if n_items is not None:
        m = expected_minutes(n_items, seconds_per_trial)
        fill.update(duration=f"{m} minute{'' if m == 1 else 's'}", n_questions=str(n_items))
    out = []
    for heading, text in CONSENT:
        for key, value in fill.items():
            text = text.replace("{" + key + "}", value)
        out.append((heading, text))
    return out


def expected_minutes(n_items, seconds_per_trial=SECONDS_PER_TRIAL):
    """The duration the consent screen states for a list of ``n_items`` questions.

    The list plus the practice question at ``seconds_per_trial`` each, rounded up to
    whole minutes (at least 1). The page applies the same rule to the list it shows.

    Parameters
    ----------
    n_items : int
        Questions in the list, attention checks included.
    seconds_per_trial : float

    Returns
    -------
    int
    """
    return max(1, math.ceil((n_items + 1) * seconds_per_trial / 60))


def survey_id(trials):
    """A short fingerprint of a trial set, recorded with every answer of the page.

    An import checks it, so answers are never matched against different trials.
    """
    text = trials[["trial_id", "hypothesis", "sentence_a_id", "sentence_b_id",
                   "divergent_side"]].to_csv(index=False)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------- exports

def write_trials(trials, path):
    """Write the full trial table (hidden columns included) as CSV, atomically."""
    atomic_write(path, lambda tmp: trials.to_csv(tmp, index=False))
    return Path(path)


def read_trials(path):
    """Read a trial table written by :func:`write_trials`, checking its columns.

    A file written before attention checks existed (no ``kind`` / ``expected``
    columns) is read as study trials only.
    """
    path = Path(path)
    if not path.exists():
        raise SurveyError(f"{path}: trial file not found.")
    trials = pd.read_csv(path, dtype={"trial_id": str, "divergent_side": str, "kind": str,
                                      "expected": str})
    trials = _with_kind(trials)
    missing = [c for c in TRIAL_COLUMNS if c not in trials.columns]
    if missing:
        raise SurveyError(f"{path}: column(s) {missing} missing; expected {TRIAL_COLUMNS}.")
    bad = ~trials["divergent_side"].isin(["A", "B"])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SurveyError(f"{path}: row {i + 2}, column 'divergent_side': "
                          f"{trials['divergent_side'].iloc[i]!r}; expected 'A' or 'B'.")
    bad = ~trials["kind"].isin(["study", "attention"])
    bad |= (trials["kind"] == "attention") & ~trials["expected"].isin([ANSWERS[0], ANSWERS[2]])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SurveyError(f"{path}: row {i + 2}, column 'kind' / 'expected': "
                          f"{trials['kind'].iloc[i]!r} / {trials['expected'].iloc[i]!r}; expected "
                          f"'study', or 'attention' with one of {[ANSWERS[0], ANSWERS[2]]}.")
    return trials[TRIAL_COLUMNS + [c for c in trials.columns if c not in TRIAL_COLUMNS]]


def write_qualtrics_trials(trials, path):
    """The loop-and-merge table for Qualtrics, one row per loop (= trial).

    Columns, in the order of Qualtrics' fields: ``hypothesis`` (Field 1),
    ``sentence_a`` (Field 2), ``sentence_b`` (Field 3), then hidden fields
    ``trial_id`` (Field 4), ``divergent_side`` (Field 5), ``sentence_a_id`` (Field 6),
    ``sentence_b_id`` (Field 7) and ``kind`` (Field 8: ``study`` or ``attention``).
    Attention checks are loops like any other (the last rows). Row *k* (after the
    header) is loop *k*: Qualtrics exports the answer of loop *k* in the column
    ``k_<question>`` (e.g. ``3_Q1``), which :func:`read_qualtrics_answers` maps back
    through the ``loop`` column of the trial file. How to set the survey up is
    described in the chapter.
    """
    cols = ["hypothesis", "sentence_a", "sentence_b", "trial_id", "divergent_side",
            "sentence_a_id", "sentence_b_id", "kind"]
    trials = _with_kind(trials)
    atomic_write(path, lambda tmp: trials.sort_values("loop")[cols].to_csv(
        tmp, index=False, quoting=csv.QUOTE_ALL))
    return Path(path)


def survey_payload(trials, lists, post_url=None, contact=None,
                   title="Which sentence fits the description?",
                   seconds_per_trial=SECONDS_PER_TRIAL):
    """The data the survey page embeds (JSON-serialisable dict).

    Parameters
    ----------
    trials, lists : DataFrame
    post_url : str | None
    contact : str | None
        Whom participants can write to (the consent screen and the withdrawal
        message name it); ``None`` or empty gives :data:`DEFAULT_CONTACT`.
    title : str
    seconds_per_trial : float
        For the duration stated on the consent screen (:func:`expected_minutes`).

    Returns
    -------
    dict
        Trials carry their ``kind`` (the page's CSV records it) but not the
        ``expected`` answer of attention checks.
    """
    trials = _with_kind(trials)
    fields = ["trial_id", "hypothesis", "sentence_a", "sentence_b", "sentence_a_id",
              "sentence_b_id", "divergent_side", "kind"]
    by_list = lists.sort_values(["list", "position"]).groupby("list")["trial_id"]
    return {
        "survey_id": survey_id(trials),
        "title": title,
        "contact": (contact or "").strip() or DEFAULT_CONTACT,
        "seconds_per_trial": float(seconds_per_trial),
        "consent": [list(pair) for pair in consent_sections(post_url, contact)],
        "consent_question": CONSENT_QUESTION,
        "instructions": INSTRUCTIONS,
        "answers": list(ANSWERS),
        "practice": PRACTICE,
        "trials": {r["trial_id"]: {f: (int(r[f]) if f.endswith("_id") and f != "trial_id"
                                       else str(r[f])) for f in fields}
                   for _, r in trials.iterrows()},
        "lists": {str(int(k)): list(v) for k, v in by_list},
        "post_url": post_url or "",
    }


def write_survey_page(path, trials, lists, post_url=None, contact=None, **kwargs):
    """Write the self-contained survey page (HTML with inline CSS, JS and trials).

    The template lives in ``analysis/resources/survey/`` (``survey.html``,
    ``survey.css``, ``survey.js``); this fills it in. The page needs no server and no
    network: open it from ``file://`` or any static web host.

    Information and consent come first: what the study is for, how long the list
    takes (:func:`expected_minutes`), that taking part is voluntary and how to stop,
    what is stored and where, and whom to contact (``contact``). "I do not agree"
    ends the page with nothing stored or sent; "I agree" continues. From then on
    every screen has a "Withdraw" button which, after a confirmation, deletes the
    participant's saved progress from the browser, sends nothing and offers no
    download. Nothing is written to the browser's storage before consent.

    Participants: ``index.html?list=3`` shows list 3 (1-based); without ``list`` the
    page draws a list at random and records it. ``?pid=ABC`` pre-fills the
    participant id (else the participant types one or lets the page generate one).
    At the end the page offers the answers as a CSV download and, when ``post_url``
    is set, also POSTs them there: a JSON body ``{"survey_id", "participant_id",
    "csv", "answers"}`` sent as ``text/plain`` (a simple cross-origin request, no
    preflight; the server must reply with ``Access-Control-Allow-Origin``). A failed
    POST is shown to the participant and the download is still offered.

    Parameters
    ----------
    path : str | Path
        Output file (``.../survey/index.html``).
    trials, lists : DataFrame
        From :func:`make_trials` and :func:`make_lists`.
    post_url : str | None
    contact : str | None
        Whom participants can write to; ``None`` gives :data:`DEFAULT_CONTACT`.
    **kwargs
        Passed to :func:`survey_payload` (``title``, ``seconds_per_trial``).

    Returns
    -------
    Path
    """
    payload = survey_payload(trials, lists, post_url=post_url, contact=contact, **kwargs)
    page = fill_template((RESOURCES / "survey.html").read_text(encoding="utf-8"), {
        "/*__CSS__*/": (RESOURCES / "survey.css").read_text(encoding="utf-8"),
        "/*__JS__*/": (RESOURCES / "survey.js").read_text(encoding="utf-8"),
        "/*__DATA__*/": script_json(payload),
        "__TITLE__": html.escape(payload["title"]),
    }, source=RESOURCES / "survey.html")
    atomic_write(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return Path(path)


#: Characters that JSON may hold verbatim but that can end or confuse an HTML
#: ``<script>`` element ("</script>", "<!--") or a JavaScript string (U+2028/U+2029).
_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                   "\u2029": "\\u2029"}


def script_json(data):
    """``data`` as JSON that is safe inside an HTML ``<script>`` element.

    ``<``, ``>``, ``&``, U+2028 and U+2029 are written as ``\\u003c`` etc.; JSON
    allows them only inside strings, where the escape means the same character, so
    ``JSON.parse`` (and :func:`json.loads`) give back ``data`` unchanged, while no
    text in it can close the element (``</script>``) or open a comment.

    Parameters
    ----------
    data : JSON-serialisable object (NaN and infinities are refused)

    Returns
    -------
    str
    """
    text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _SCRIPT_ESCAPES[m.group(0)], text)


def fill_template(template, values, source="template"):
    """Replace each placeholder of ``template`` by its value, in one pass.

    The template is scanned once (:func:`re.sub` over all placeholders together),
    so text that was put in is never scanned again: a sentence or hypothesis that
    contains a placeholder such as ``__TITLE__`` stays as it is.

    Parameters
    ----------
    template : str
    values : dict of str to str
        Placeholder to its (already escaped) value; each placeholder must occur in
        the template exactly once.
    source : str | Path
        Named in the error message.

    Returns
    -------
    str

    Raises
    ------
    RuntimeError
        A placeholder that is missing from the template or occurs more than once.
    """
    for key in values:
        if template.count(key) != 1:
            raise RuntimeError(f"{source}: placeholder {key} occurs {template.count(key)} "
                               "times; expected once.")
    pattern = "|".join(re.escape(k) for k in sorted(values, key=len, reverse=True))
    return re.sub(pattern, lambda m: values[m.group(0)], template)


def write_survey_kit(survey_dir, trials, lists, post_url=None, contact=None):
    """Write everything a study needs into ``survey_dir``.

    Files: ``index.html`` (:func:`write_survey_page`), ``qualtrics_loop_merge.csv``
    (:func:`write_qualtrics_trials`), ``trials.csv`` (the full trial table, the key
    for imports), ``lists.csv``, and ``archive/<survey id>/trials.csv``: a copy kept
    for every trial set ever written, so the trials of a deployed survey survive a
    later run with other hypotheses (its content is fixed by its name, so rewriting
    it changes nothing).

    Parameters
    ----------
    survey_dir : str | Path
    trials, lists : DataFrame
    post_url : str | None
        See :func:`write_survey_page`.
    contact : str | None
        Whom participants can write to (see :func:`write_survey_page`).

    Returns
    -------
    dict of str to Path
    """
    survey_dir = Path(survey_dir)
    out = {"page": write_survey_page(survey_dir / "index.html", trials, lists, post_url,
                                     contact=contact),
           "qualtrics": write_qualtrics_trials(trials, survey_dir / "qualtrics_loop_merge.csv"),
           "trials": write_trials(trials, survey_dir / "trials.csv"),
           "archive": write_trials(trials, survey_dir / "archive" / survey_id(trials)
                                   / "trials.csv"),
           "lists": survey_dir / "lists.csv"}
    atomic_write(out["lists"], lambda tmp: lists.to_csv(tmp, index=False))
    return out


def survey_kit_summary(kit, trials):
    """What the chapter prints about a written kit, with paths a reader can redo.

    Paths go through :func:`analysis.provenance.portable_path` (``<repo>/...`` and the
    like), so the page shows no absolute path of the machine that built it.

    Parameters
    ----------
    kit : dict of str to Path
        From :func:`write_survey_kit`.
    trials : DataFrame
        The trials the kit was written from (for the survey id).

    Returns
    -------
    list of str
        Two lines: the page (size, survey id) and the folder of the other files.
    """
    from ..provenance import portable_path

    page = Path(kit["page"])
    return [f"survey page: {portable_path(page)} ({page.stat().st_size / 1024:.0f} kB, "
            f"survey id {survey_id(trials)})",
            "Qualtrics loop-and-merge table, trial file and lists: "
            f"{portable_path(page.parent)}"]


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


# --------------------------------------------------------------------------- imports

def _norm(name):
    return re.sub(r"[\s_\-]", "", str(name)).lower()


def is_identifying(column):
    """Whether an export column identifies a person (IP, location, name, e-mail, ...)."""
    n = _norm(column)
    return n in IDENTIFYING_EXACT or bool(IDENTIFYING_PATTERN.search(n))


def drop_identifying(frame):
    """``frame`` without its identifying columns (see :func:`is_identifying`)."""
    return frame[[c for c in frame.columns if not is_identifying(c)]]


def _read_rows(path):
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SurveyError(f"{path}: file not found.") from None
    except UnicodeDecodeError as err:
        raise SurveyError(f"{path}: not UTF-8 text ({err}); export the CSV as UTF-8.") from None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as err:
        raise SurveyError(f"{path}: not a readable CSV ({err}).") from None
    if not rows or not rows[0]:
        raise SurveyError(f"{path}: empty file; expected a header row.")
    return rows


def _frame(path, rows, header_rows):
    """Rows to a string DataFrame (identifying columns dropped), with file line numbers."""
    header = rows[0]
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise SurveyError(f"{path}: row 1: duplicate column name(s) {dup}.")
    body = rows[header_rows:]
    for i, row in enumerate(body):
        if row and len(row) != len(header):
            raise SurveyError(f"{path}: row {i + header_rows + 1}: {len(row)} fields, "
                              f"expected {len(header)} (one per column of row 1).")
    lines = [i + header_rows + 1 for i, row in enumerate(body) if row]
    frame = pd.DataFrame([r for r in body if r], columns=header, dtype=str)
    frame = drop_identifying(frame)
    frame.index = pd.Index(lines, name="row")
    return frame


def _answer_error(path, row, column, value):
    return SurveyError(f"{path}: row {row}, column '{column}': {value!r} is not an answer; "
                       f"expected one of {list(ANSWERS)} (export the choice text, not "
                       "numeric values).")


def code_answers(answer, divergent_side):
    """Map answer texts to Divergent / Equal / Convergent using the recorded side.

    Parameters
    ----------
    answer : array-like of str
        Each one of :data:`ANSWERS`.
    divergent_side : array-like of {"A", "B"}
        Where the divergent sentence was shown.

    Returns
    -------
    ndarray of str
    """
    answer = np.asarray(answer, dtype=object)
    side = np.asarray(divergent_side, dtype=object)
    picked = np.where(answer == ANSWERS[0], "A", np.where(answer == ANSWERS[2], "B", ""))
    return np.where(picked == "", "Equal", np.where(picked == side, "Divergent", "Convergent"))


def read_page_answers(path, trials=None):
    """Import one CSV downloaded from the survey page.

    Parameters
    ----------
    path : str | Path
    trials : DataFrame | None
        The trial table; when given, every answer's trial must be in it with the
        same sides (and the survey id must match).

    Returns
    -------
    DataFrame
        One row per answered trial: ``participant_id``, ``trial_id``, ``hypothesis``,
        ``divergent_side``, ``answer``, ``code``, ``source`` (file name), ``row``,
        ``list``, ``position`` and ``rt_ms`` when present. A row that repeats an
        earlier one (same participant, trial and answer) is dropped, with a note in
        ``attrs["import_notes"]`` (:func:`drop_duplicate_answers`).

    Raises
    ------
    SurveyError
        A malformed file (naming row and column), or one participant answering one
        trial twice with different answers.
    """
    path = Path(path)
    frame = _frame(path, _read_rows(path), header_rows=1)
    missing = [c for c in PAGE_COLUMNS if c not in frame.columns]
    if missing:
        raise SurveyError(f"{path}: row 1: column(s) {missing} missing; expected the survey "
                          f"page's columns {PAGE_COLUMNS}.")
    for col, allowed in (("answer", ANSWERS), ("divergent_side", ("A", "B"))):
        bad = ~frame[col].isin(allowed)
        if bad.any():
            row = frame.index[np.flatnonzero(bad)[0]]
            if col == "answer":
                raise _answer_error(path, row, col, frame.at[row, col])
            raise SurveyError(f"{path}: row {row}, column '{col}': {frame.at[row, col]!r}; "
                              f"expected one of {list(allowed)}.")
    for col in ("participant_id", "trial_id"):
        empty = frame[col].str.strip() == ""
        if empty.any():
            raise SurveyError(f"{path}: row {frame.index[np.flatnonzero(empty)[0]]}, column "
                              f"'{col}': empty; expected a value.")
    if trials is not None:
        _check_against_trials(path, frame, trials)
    out = frame.assign(code=code_answers(frame["answer"], frame["divergent_side"]),
                       source=path.name, row=frame.index.to_numpy())
    for col in ("list", "position", "rt_ms"):
        if col in out:
            out[col] = pd.to_numeric(out[col], errors="coerce")
    return _with_notes(*drop_duplicate_answers(out.reset_index(drop=True)))


def _with_notes(answers, notes):
    """``answers`` (a fresh index) with ``notes`` in ``answers.attrs["import_notes"]``."""
    answers = answers.reset_index(drop=True)
    answers.attrs["import_notes"] = list(notes)
    return answers


def _check_against_trials(path, frame, trials):
    if "survey_id" in frame.columns:
        expected = survey_id(trials)
        bad = frame["survey_id"] != expected
        if bad.any():
            row = frame.index[np.flatnonzero(bad)[0]]
            raise SurveyError(
                f"{path}: row {row}, column 'survey_id': {frame.at[row, 'survey_id']!r}, but "
                f"the current trials have survey id {expected!r}. These answers were "
                "collected with other trials: pass the trial file used then as trials_path "
                f"(survey/archive/{frame.at[row, 'survey_id']}/trials.csv keeps it).")
    known = _with_kind(trials).set_index("trial_id")
    for row, r in frame.iterrows():
        if r["trial_id"] not in known.index:
            raise SurveyError(f"{path}: row {row}, column 'trial_id': {r['trial_id']!r} is not "
                              "in the trial file.")
        if known.at[r["trial_id"], "divergent_side"] != r["divergent_side"]:
            raise SurveyError(f"{path}: row {row}, column 'divergent_side': "
                              f"{r['divergent_side']!r} differs from the trial file "
                              f"({known.at[r['trial_id'], 'divergent_side']!r}).")
        if "kind" in frame.columns and r["kind"] != known.at[r["trial_id"], "kind"]:
            raise SurveyError(f"{path}: row {row}, column 'kind': {r['kind']!r} differs from "
                              f"the trial file ({known.at[r['trial_id'], 'kind']!r}).")


_LOOP_COLUMN = re.compile(r"^(\d+)_(.+)$")
_QUALTRICS_ID = ("ResponseId", "ResponseID", "_recordId")


def read_qualtrics_answers(path, trials, question=None):
    """Import a Qualtrics CSV export of the loop-and-merge survey.

    The export has three header rows (column names, question texts, ImportId JSON)
    and one row per response. Loop *k*'s answer is in column ``k_<question>``
    (``3_Q1``); *k* is matched to the ``loop`` column of ``trials``. Identifying
    columns (IP address, location, recipient name and e-mail, external reference,
    ...) are dropped before anything else is read. Empty loop cells (loops a
    participant was not shown) are skipped.

    Parameters
    ----------
    path : str | Path
    trials : DataFrame
        The trial table the survey was built from (:func:`make_trials`).
    question : str | None
        The question's export tag (``"Q1"``); ``None`` finds it when the loop
        columns use one tag only.

    Returns
    -------
    DataFrame
        As :func:`read_page_answers`; ``participant_id`` is Qualtrics' ResponseId
        (or a ``participant_id`` / ``pid`` embedded-data field when present). A
        response whose ResponseId repeats gives each answer once when the copies agree
        and a :class:`SurveyError` when they differ (:func:`drop_duplicate_answers`).
    """
    path = Path(path)
    rows = _read_rows(path)
    if len(rows) < 3:
        raise SurveyError(f"{path}: {len(rows)} row(s); a Qualtrics export has three header "
                          "rows (column names, question texts, ImportId JSON) before the data.")
    header = rows[0]
    for j, cell in enumerate(rows[2]):
        if cell.strip() and not cell.lstrip().startswith("{"):
            raise SurveyError(f"{path}: row 3, column '{header[j] if j < len(header) else j}': "
                              f"{cell[:40]!r}; expected ImportId JSON such as "
                              '{"ImportId":"QID1"} (Qualtrics "CSV" export, not "legacy").')
    frame = _frame(path, rows, header_rows=3)
    loops = {}
    for col in frame.columns:
        m = _LOOP_COLUMN.match(col)
        if m and (question is None or m.group(2) == question):
            loops.setdefault(m.group(2), {})[int(m.group(1))] = col
    if not loops:
        raise SurveyError(f"{path}: row 1: no loop-and-merge answer columns such as '1_Q1'"
                          + (f" for question {question!r}" if question else "") + ".")
    if len(loops) > 1:
        raise SurveyError(f"{path}: row 1: loop columns for several questions "
                          f"{sorted(loops)}; pass question= to choose one.")
    cols = next(iter(loops.values()))
    pid_col = next((c for c in ("participant_id", "pid", *_QUALTRICS_ID) if c in frame), None)
    if pid_col is None:
        raise SurveyError(f"{path}: row 1: no ResponseId column; expected Qualtrics' "
                          "'ResponseId' (or an embedded 'participant_id').")
    by_loop = trials.set_index("loop")
    out = []
    for row, r in frame.iterrows():
        for k, col in sorted(cols.items()):
            value = r[col].strip()
            if not value:
                continue
            if value not in ANSWERS:
                raise _answer_error(path, row, col, value)
            if k not in by_loop.index:
                raise SurveyError(f"{path}: row 1, column '{col}': loop {k} is not in the trial "
                                  f"file (loops 1-{len(trials)}).")
            t = by_loop.loc[k]
            out.append({"participant_id": r[pid_col], "trial_id": t["trial_id"],
                        "hypothesis": t["hypothesis"], "divergent_side": t["divergent_side"],
                        "answer": value, "source": path.name, "row": row, "loop": k})
    result = pd.DataFrame(out, columns=["participant_id", "trial_id", "hypothesis",
                                        "divergent_side", "answer", "source", "row", "loop"])
    result["code"] = code_answers(result["answer"], result["divergent_side"])
    return _with_notes(*drop_duplicate_answers(result))


def _detect_format(path):
    rows = _read_rows(path)
    if set(PAGE_COLUMNS) <= set(rows[0]):
        return "page"
    if len(rows) >= 3 and any(c.lstrip().startswith('{"ImportId"') for c in rows[2]):
        return "qualtrics"
    raise SurveyError(f"{path}: row 1: neither a survey-page CSV (columns {PAGE_COLUMNS}) nor "
                      "a Qualtrics export (three header rows, the third with ImportId JSON).")


def read_answers(path, trials, answers_format="auto", question=None):
    """Import answers from a file or a folder of ``.csv`` files (page and/or Qualtrics).

    Parameters
    ----------
    path : str | Path
        A CSV file, or a folder whose ``*.csv`` files are all answer files.
    trials : DataFrame
        The trial table the answers were collected with.
    answers_format : {"auto", "page", "qualtrics"}
        ``"auto"`` decides per file from its header rows.
    question : str | None
        Qualtrics question tag (see :func:`read_qualtrics_answers`).

    Returns
    -------
    DataFrame
        All answers, attention checks included, with ``group``, ``rank``, ``kind``
        and ``expected`` of their trial added (from ``trials``); attention checks
        are coded ``Correct`` / ``Incorrect``. No identifying column survives. Each
        participant answers each trial once: identical copies (a page CSV saved twice,
        a response exported twice, within or across files) are dropped and described
        in ``attrs["import_notes"]`` (and a ``UserWarning``).

    Raises
    ------
    SurveyError
        A malformed file, or conflicting answers of one participant to one trial
        (naming both files and rows; see :func:`drop_duplicate_answers`).
    """
    path = Path(path)
    if answers_format not in ("auto", "page", "qualtrics"):
        raise ValueError(f"answers_format={answers_format!r}; expected 'auto', 'page' or "
                         "'qualtrics'.")
    if path.is_dir():
        files = sorted(path.glob("*.csv"))
        if not files:
            raise SurveyError(f"{path}: folder holds no .csv answer files.")
    elif path.exists():
        files = [path]
    else:
        raise SurveyError(f"{path}: answers file or folder not found.")
    frames = []
    for f in files:
        fmt = _detect_format(f) if answers_format == "auto" else answers_format
        frames.append(read_page_answers(f, trials) if fmt == "page"
                      else read_qualtrics_answers(f, trials, question))
    notes = [n for f in frames for n in f.attrs.get("import_notes", [])]
    answers = pd.concat(frames, ignore_index=True)
    answers["participant_id"] = answers["participant_id"].astype(str)
    answers, across = drop_duplicate_answers(answers)
    notes += across
    meta = _with_kind(trials).set_index("trial_id")[["group", "rank", "kind", "expected"]]
    answers = answers.drop(columns=[c for c in meta.columns if c in answers.columns])
    answers = answers.join(meta, on="trial_id")
    answers["code"] = _code_attention(answers)
    answers = drop_identifying(answers)
    answers.attrs["import_notes"] = notes
    return answers


def _rows_text(rows):
    """``2-5, 9`` for the line numbers [2, 3, 4, 5, 9]."""
    rows, out, start = sorted({int(r) for r in rows}), [], None
    for i, r in enumerate(rows):
        start = r if start is None else start
        if i + 1 == len(rows) or rows[i + 1] != r + 1:
            out.append(str(r) if r == start else f"{start}-{r}")
            start = None
    return ", ".join(out)


def drop_duplicate_answers(answers):
    """Keep one answer per participant and trial: drop identical copies, refuse conflicts.

    The same participant can reach the import twice: a page CSV downloaded or copied
    twice (``p1.csv`` and ``p1 (1).csv``), a Qualtrics response exported twice, or a
    ``ResponseId`` that repeats within one export. Counting such copies would weigh
    that participant double in every share and test. Answers are matched on
    (``participant_id``, ``trial_id``), within a file and across files.

    Parameters
    ----------
    answers : DataFrame
        Imported answers with ``participant_id``, ``trial_id``, ``answer``, ``source``
        (file name) and ``row`` (1-based line number in that file).

    Returns
    -------
    answers : DataFrame
        The first answer of each (participant, trial), in the order given (files in
        name order, rows in file order); the index is kept.
    notes : list of str
        One note per pair of files (or per file) whose identical copies were dropped,
        naming the files, the rows and the number of answers; also issued as a
        ``UserWarning``. Empty when nothing repeats.

    Raises
    ------
    SurveyError
        The same participant answered the same trial differently: the message names
        the participant, the trial and each file and row with its answer.
    """
    key = ["participant_id", "trial_id"]
    repeated = answers[answers.duplicated(key, keep=False)]
    if repeated.empty:
        return answers, []
    for (pid, tid), group in repeated.groupby(key, sort=True):
        if group["answer"].nunique() > 1:
            shown = "; ".join(f"{s} row {r}: {a!r}" for s, r, a in
                              zip(group["source"], group["row"], group["answer"]))
            raise SurveyError(
                f"participant {pid!r}, trial {tid!r}: conflicting answers ({shown}). One "
                "person answered the same trial twice with different answers; keep the "
                "file (or response) that counts and remove the other.")
    first = answers.groupby(key, sort=False)[["source", "row"]].transform("first")
    dropped = answers.duplicated(key, keep="first")
    copies = answers[dropped].assign(kept_source=first.loc[dropped, "source"],
                                     kept_row=first.loc[dropped, "row"])
    notes = []
    for (src, kept), group in copies.groupby(["source", "kept_source"], sort=True):
        n_people = group["participant_id"].nunique()
        what = (f"{kept} rows {_rows_text(group['kept_row'])}" if kept != src
                else f"rows {_rows_text(group['kept_row'])} of the same file")
        notes.append(f"{src} rows {_rows_text(group['row'])}: {len(group)} answer(s) of "
                     f"{n_people} participant(s) repeat {what} (same participant, trial and "
                     "answer); the copies were dropped.")
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    return answers[~dropped], notes


def _code_attention(answers):
    """``answers["code"]`` with attention checks coded Correct / Incorrect."""
    check = answers["kind"] == "attention"
    right = np.where(answers["answer"] == answers["expected"], *ATTENTION_CODES)
    return pd.Series(np.where(check, right, answers["code"]), index=answers.index)


ANSWER_COLUMNS = ["participant_id", "source", "list", "position", "loop", "trial_id",
                  "kind", "hypothesis", "group", "rank", "divergent_side", "answer",
                  "expected", "code", "rt_ms"]


def write_answers(answers, path):
    """Write coded answers as CSV, atomically; only the known, non-identifying columns.

    The columns are a fixed list (:data:`ANSWER_COLUMNS`, those present), so nothing
    an import did not explicitly keep can reach the disk.
    """
    cols = [c for c in ANSWER_COLUMNS if c in answers.columns and not is_identifying(c)]
    atomic_write(path, lambda tmp: answers[cols].to_csv(tmp, index=False))
    return Path(path)


# --------------------------------------------------------------------------- simulated raters

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
    trials = _with_kind(trials)
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


# --------------------------------------------------------------------------- analysis

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


# --- What the chapter reports: the numbers its prose quotes, assembled in one place ----


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
