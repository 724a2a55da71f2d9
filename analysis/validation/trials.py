"""Human validation, building the trials: the hypotheses shown, divergent/convergent sentence
pairs, attention checks, per-participant lists and the trial file.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .._utils import DataError, atomic_write
from ..contracts import HypothesisResults

__all__ = [
    "ANSWERS", "ATTENTION_ITEMS", "SKIPPED_PROPOSERS", "SurveyError", "load_contract",
    "select_hypotheses", "skipped_hypotheses", "choose_split", "attention_trials",
    "make_trials", "make_lists", "with_kind", "survey_id", "write_trials", "read_trials",
]


#: The three answers, exactly as the survey shows them (and as Qualtrics exports them
#: with "Use choice text").
ANSWERS = ("More true for Sentence A", "Equally true", "More true for Sentence B")


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


TRIAL_COLUMNS = ["trial_id", "loop", "hypothesis", "rank", "group", "split",
                 "divergent_id", "convergent_id", "divergent_side", "sentence_a_id",
                 "sentence_b_id", "sentence_a", "sentence_b", "kind", "expected"]


#: Columns a trial file written before attention checks existed may lack; they are
#: filled in as study trials.
OPTIONAL_TRIAL_COLUMNS = {"kind": "study", "expected": ""}


class SurveyError(DataError):
    """A survey file (trials or answers) does not have the expected layout.

    The message names the file, the row (1-based line number in the file) and the
    column at fault, and says what was expected.
    """


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


def choose_split(sentences, min_per_set=5):
    """The role whose sentences the trials use: validation when it is big enough.

    The validation sentences are preferred (they took no part in proposing or ranking
    the hypotheses, so people judge unseen pairs); they are used when they hold at
    least ``min_per_set`` divergent and ``min_per_set`` convergent sentences, else
    the research sentences are used.

    Returns
    -------
    str
        ``"validation"`` or ``"research"``.
    """
    val = sentences[sentences["role"] == "validation"]
    counts = val["set"].value_counts()
    if min(counts.get("divergent", 0), counts.get("convergent", 0)) >= min_per_set:
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
                split="auto", min_per_set=5, seed=0, attention=True,
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
    min_per_set : int
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
        split = choose_split(sentences, min_per_set)
    pool = sentences[sentences["role"] == split]
    div = pool[pool["set"] == "divergent"].sort_values("sentence_id")
    con = pool[pool["set"] == "convergent"].sort_values("sentence_id")
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


def with_kind(trials):
    """``trials`` with the columns of :data:`OPTIONAL_TRIAL_COLUMNS` (older files lack them).

    Shared by the survey kit, the answer imports and the simulated raters, which all
    tell study trials from attention checks by ``kind``.

    Parameters
    ----------
    trials : DataFrame
        One row per trial (:data:`TRIAL_COLUMNS`; ``kind`` and ``expected`` may be
        missing or empty).

    Returns
    -------
    DataFrame
        A copy with ``kind`` (missing: ``"study"``) and ``expected`` (missing: ``""``).
    """
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
    trials = with_kind(trials)
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


def survey_id(trials):
    """A short fingerprint of a trial set, recorded with every answer of the page.

    An import checks it, so answers are never matched against different trials.
    """
    text = trials[["trial_id", "hypothesis", "sentence_a_id", "sentence_b_id",
                   "divergent_side"]].to_csv(index=False)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


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
    trials = with_kind(trials)
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
