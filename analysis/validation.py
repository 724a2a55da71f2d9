"""Human validation of the hypotheses (SPEC §5): trials, survey exports, answer imports, tests.

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
   by validity V; :func:`make_lists` draws each participant's list of random trials.
3. :func:`write_survey_page` writes one self-contained HTML file (no server, no
   network, works from ``file://``); :func:`write_qualtrics_trials` writes the
   loop-and-merge table for Qualtrics.
4. :func:`read_answers` imports the page's CSV files and Qualtrics exports,
   dropping identifying columns first, and codes every answer as Divergent / Equal /
   Convergent from the side on which the divergent sentence was shown.
5. :func:`answer_shares` and :func:`top_bottom_test` summarise and test; where no
   human answers exist, :func:`simulate_raters` fills in (labelled "simulated").

Answer coding: "More true for Sentence A" is *Divergent* when the divergent sentence
was shown as A and *Convergent* otherwise; "Equally true" is *Equal*.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ._utils import DataError, atomic_write
from .contracts import HypothesisResults

__all__ = [
    "ANSWERS", "CODES", "PRACTICE", "INSTRUCTIONS", "SurveyError",
    "load_contract", "select_hypotheses", "choose_split", "make_trials", "make_lists",
    "survey_id", "survey_payload", "write_survey_page", "write_qualtrics_trials",
    "write_survey_kit", "is_development_fixture", "banner_html",
    "write_trials", "read_trials", "drop_identifying", "is_identifying",
    "read_page_answers", "read_qualtrics_answers", "read_answers", "code_answers",
    "write_answers",
    "simulate_raters", "answer_shares", "participant_differences", "top_bottom_test",
    "hypothesis_label_test",
]

RESOURCES = Path(__file__).resolve().parent / "resources" / "survey"

#: The three answers, exactly as the survey shows them (and as Qualtrics exports them
#: with "Use choice text").
ANSWERS = ("More true for Sentence A", "Equally true", "More true for Sentence B")
#: The codes, in the order of the stacked bars.
CODES = ("Divergent", "Equal", "Convergent")

INSTRUCTIONS = (
    "On each screen you see a short description (for example \"mentions an animal\") "
    "and two sentences from a story, Sentence A and Sentence B. Decide for which sentence "
    "the description is more true. If it fits both equally well, or neither, choose "
    "\"Equally true\". There are no right or wrong answers in the main part; go with your "
    "first impression. One practice screen comes first and tells you what we expected."
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
                 "sentence_b_id", "sentence_a", "sentence_b"]
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

def select_hypotheses(table, n_top=10, n_bottom=10):
    """The top-``n_top`` and bottom-``n_bottom`` hypotheses by validity V.

    Parameters
    ----------
    table : DataFrame
        The hypothesis table (``rank``, ``hypothesis``, ``V``).
    n_top, n_bottom : int
        With fewer than ``n_top + n_bottom`` hypotheses the table is split in two
        halves instead (the middle one of an odd number is left out).

    Returns
    -------
    DataFrame
        ``hypothesis``, ``rank``, ``V`` and ``group`` (``"top"`` | ``"bottom"``).
    """
    table = table.sort_values("V", ascending=False, kind="stable").reset_index(drop=True)
    table = table.drop_duplicates("hypothesis")
    n = len(table)
    if n < 2:
        raise SurveyError(f"the hypothesis table has {n} hypothesis(es); the validation "
                          "needs at least 2 (one top, one bottom).")
    k_top, k_bottom = min(n_top, n // 2), min(n_bottom, n // 2)
    top = table.head(k_top).assign(group="top")
    bottom = table.tail(k_bottom).assign(group="bottom")
    return pd.concat([top, bottom])[["hypothesis", "rank", "V", "group"]].reset_index(drop=True)


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


def make_trials(table, sentences, n_top=10, n_bottom=10, pairs_per_hypothesis=20,
                split="auto", min_per_group=5, seed=0):
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

    Returns
    -------
    DataFrame
        One row per trial with :data:`TRIAL_COLUMNS`; ``loop`` is the 1-based row
        number (Qualtrics' loop number), ``divergent_side`` is ``"A"`` or ``"B"``.
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
    for _, h in select_hypotheses(table, n_top, n_bottom).iterrows():
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
                         "sentence_a": str(a["text"]), "sentence_b": str(b["text"])})
    trials = pd.DataFrame(rows)
    trials.insert(0, "loop", np.arange(1, len(trials) + 1))
    trials.insert(0, "trial_id", [f"t{i:04d}" for i in range(1, len(trials) + 1)])
    return trials[TRIAL_COLUMNS]


def make_lists(trials, n_lists, n_per_list=100, seed=0):
    """Per-participant trial lists: each a random draw of trials in random order.

    Parameters
    ----------
    trials : DataFrame
        From :func:`make_trials`.
    n_lists : int
        Number of lists (one per planned participant; lists can be reused).
    n_per_list : int
        Trials per list; all trials (shuffled) when there are fewer.
    seed : int

    Returns
    -------
    DataFrame
        ``list`` (1-based, the page's ``?list=`` number), ``position`` (1-based) and
        ``trial_id``.
    """
    if n_lists < 1 or n_per_list < 1:
        raise ValueError(f"n_lists={n_lists} and n_per_list={n_per_list}; both must be >= 1.")
    rng = np.random.default_rng(seed)
    k = min(n_per_list, len(trials))
    ids = trials["trial_id"].to_numpy()
    rows = [(li + 1, pos + 1, tid) for li in range(n_lists)
            for pos, tid in enumerate(rng.choice(ids, size=k, replace=False))]
    return pd.DataFrame(rows, columns=["list", "position", "trial_id"])


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
    """Read a trial table written by :func:`write_trials`, checking its columns."""
    path = Path(path)
    if not path.exists():
        raise SurveyError(f"{path}: trial file not found.")
    trials = pd.read_csv(path, dtype={"trial_id": str, "divergent_side": str})
    missing = [c for c in TRIAL_COLUMNS if c not in trials.columns]
    if missing:
        raise SurveyError(f"{path}: column(s) {missing} missing; expected {TRIAL_COLUMNS}.")
    bad = ~trials["divergent_side"].isin(["A", "B"])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SurveyError(f"{path}: row {i + 2}, column 'divergent_side': "
                          f"{trials['divergent_side'].iloc[i]!r}; expected 'A' or 'B'.")
    return trials


def write_qualtrics_trials(trials, path):
    """The loop-and-merge table for Qualtrics, one row per loop (= trial).

    Columns, in the order of Qualtrics' fields: ``hypothesis`` (Field 1),
    ``sentence_a`` (Field 2), ``sentence_b`` (Field 3), then hidden fields
    ``trial_id`` (Field 4), ``divergent_side`` (Field 5), ``sentence_a_id`` (Field 6),
    ``sentence_b_id`` (Field 7). Row *k* (after the header) is loop *k*: Qualtrics
    exports the answer of loop *k* in the column ``k_<question>`` (e.g. ``3_Q1``),
    which :func:`read_qualtrics_answers` maps back through the ``loop`` column of the
    trial file. How to set the survey up is described in the chapter.
    """
    cols = ["hypothesis", "sentence_a", "sentence_b", "trial_id", "divergent_side",
            "sentence_a_id", "sentence_b_id"]
    atomic_write(path, lambda tmp: trials.sort_values("loop")[cols].to_csv(
        tmp, index=False, quoting=csv.QUOTE_ALL))
    return Path(path)


def survey_payload(trials, lists, post_url=None, title="Which sentence fits the description?"):
    """The data the survey page embeds (JSON-serialisable dict)."""
    fields = ["trial_id", "hypothesis", "sentence_a", "sentence_b", "sentence_a_id",
              "sentence_b_id", "divergent_side"]
    by_list = lists.sort_values(["list", "position"]).groupby("list")["trial_id"]
    return {
        "survey_id": survey_id(trials),
        "title": title,
        "instructions": INSTRUCTIONS,
        "answers": list(ANSWERS),
        "practice": PRACTICE,
        "trials": {r["trial_id"]: {f: (int(r[f]) if f.endswith("_id") and f != "trial_id"
                                       else str(r[f])) for f in fields}
                   for _, r in trials.iterrows()},
        "lists": {str(int(k)): list(v) for k, v in by_list},
        "post_url": post_url or "",
    }


def write_survey_page(path, trials, lists, post_url=None, **kwargs):
    """Write the self-contained survey page (HTML with inline CSS, JS and trials).

    The template lives in ``analysis/resources/survey/`` (``survey.html``,
    ``survey.css``, ``survey.js``); this fills it in. The page needs no server and no
    network: open it from ``file://`` or any static web host.

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
    **kwargs
        Passed to :func:`survey_payload` (``title``).

    Returns
    -------
    Path
    """
    payload = survey_payload(trials, lists, post_url=post_url, **kwargs)
    # "<" is escaped so that no sentence can close the <script> element.
    data = json.dumps(payload, ensure_ascii=False).replace("<", "\\u003c")
    page = (RESOURCES / "survey.html").read_text(encoding="utf-8")
    for key, value in (("/*__CSS__*/", (RESOURCES / "survey.css").read_text(encoding="utf-8")),
                       ("/*__JS__*/", (RESOURCES / "survey.js").read_text(encoding="utf-8")),
                       ("/*__DATA__*/", data),
                       ("__TITLE__", payload["title"])):
        if key not in page:
            raise RuntimeError(f"{RESOURCES / 'survey.html'}: placeholder {key} missing.")
        page = page.replace(key, value)
    atomic_write(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return Path(path)


def write_survey_kit(survey_dir, trials, lists, post_url=None):
    """Write everything a study needs into ``survey_dir``.

    Files: ``index.html`` (:func:`write_survey_page`), ``qualtrics_loop_merge.csv``
    (:func:`write_qualtrics_trials`), ``trials.csv`` (the full trial table, the key
    for imports), ``lists.csv``, and ``archive/<survey id>/trials.csv``: a copy kept
    for every trial set ever written, so the trials of a deployed survey survive a
    later run with other hypotheses (its content is fixed by its name, so rewriting
    it changes nothing).

    Returns
    -------
    dict of str to Path
    """
    survey_dir = Path(survey_dir)
    out = {"page": write_survey_page(survey_dir / "index.html", trials, lists, post_url),
           "qualtrics": write_qualtrics_trials(trials, survey_dir / "qualtrics_loop_merge.csv"),
           "trials": write_trials(trials, survey_dir / "trials.csv"),
           "archive": write_trials(trials, survey_dir / "archive" / survey_id(trials)
                                   / "trials.csv"),
           "lists": survey_dir / "lists.csv"}
    atomic_write(out["lists"], lambda tmp: lists.to_csv(tmp, index=False))
    return out


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
        ``list``, ``position`` and ``rt_ms`` when present.
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
    return out.reset_index(drop=True)


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
    known = trials.set_index("trial_id")
    for row, r in frame.iterrows():
        if r["trial_id"] not in known.index:
            raise SurveyError(f"{path}: row {row}, column 'trial_id': {r['trial_id']!r} is not "
                              "in the trial file.")
        if known.at[r["trial_id"], "divergent_side"] != r["divergent_side"]:
            raise SurveyError(f"{path}: row {row}, column 'divergent_side': "
                              f"{r['divergent_side']!r} differs from the trial file "
                              f"({known.at[r['trial_id'], 'divergent_side']!r}).")


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
        (or a ``participant_id`` / ``pid`` embedded-data field when present).
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
    return result


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
        All answers with ``group`` and ``rank`` of their hypothesis added; no
        identifying column survives.
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
    answers = pd.concat(frames, ignore_index=True)
    meta = trials.set_index("trial_id")[["group", "rank"]]
    answers = answers.join(meta, on="trial_id")
    answers["participant_id"] = answers["participant_id"].astype(str)
    return drop_identifying(answers)


ANSWER_COLUMNS = ["participant_id", "source", "list", "position", "loop", "trial_id",
                  "hypothesis", "group", "rank", "divergent_side", "answer", "code", "rt_ms"]


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
                    seed=0):
    """Simulated answers: the verifier's scores plus rater noise.

    For a trial of hypothesis *h* with divergent sentence *d* and convergent sentence
    *c*, rater *i* perceives ``x = s(h, d) - s(h, c) + b_i + e`` with ``s`` the
    verifier's score, ``b_i ~ N(0, rater_bias_sd)`` the rater's constant leaning
    and ``e ~ N(0, rater_noise)`` fresh per trial. The answer is "Equally true" when
    ``|x| < equal_band``, else the sentence the rater leans to. Rater *i* answers
    list *i* (cycling over the lists).

    Parameters
    ----------
    trials, lists : DataFrame
    scores : DataFrame
        Long format ``hypothesis``, ``sentence_id``, ``score``.
    rater_noise, equal_band, rater_bias_sd : float
    seed : int

    Returns
    -------
    DataFrame
        The columns of :func:`read_answers` (``participant_id`` = ``sim-001``...).
    """
    rng = np.random.default_rng(seed)
    lookup = scores.set_index(["hypothesis", "sentence_id"])["score"]
    t = trials.set_index("trial_id")
    s_div = lookup.reindex(pd.MultiIndex.from_arrays([t["hypothesis"], t["divergent_id"]]))
    s_con = lookup.reindex(pd.MultiIndex.from_arrays([t["hypothesis"], t["convergent_id"]]))
    if s_div.isna().any() or s_con.isna().any():
        raise SurveyError("hypotheses_scores.csv lacks the verifier score of some trial "
                          "sentences; it must cover every hypothesis x selected sentence.")
    diff = pd.Series(s_div.to_numpy() - s_con.to_numpy(), index=t.index)
    n_lists = int(lists["list"].max())
    bias = rng.normal(0.0, rater_bias_sd, n_lists)
    lst = lists.sort_values(["list", "position"])
    x = diff.loc[lst["trial_id"]].to_numpy() + bias[lst["list"].to_numpy() - 1] \
        + rng.normal(0.0, rater_noise, len(lst))
    code = np.where(np.abs(x) < equal_band, "Equal", np.where(x > 0, "Divergent", "Convergent"))
    side = t.loc[lst["trial_id"], "divergent_side"].to_numpy()
    other = np.where(side == "A", "B", "A")
    picked = np.where(code == "Divergent", side, other)
    answer = np.where(code == "Equal", ANSWERS[1],
                      np.where(picked == "A", ANSWERS[0], ANSWERS[2]))
    out = pd.DataFrame({
        "participant_id": [f"sim-{i:03d}" for i in lst["list"]],
        "list": lst["list"].to_numpy(), "position": lst["position"].to_numpy(),
        "trial_id": lst["trial_id"].to_numpy(),
        "hypothesis": t.loc[lst["trial_id"], "hypothesis"].to_numpy(),
        "divergent_side": side, "answer": answer, "code": code, "source": "simulated",
    })
    return out.join(t[["group", "rank"]], on="trial_id").reset_index(drop=True)


# --------------------------------------------------------------------------- analysis

def answer_shares(answers):
    """Per hypothesis, the share (0-1) of Divergent / Equal / Convergent answers.

    Returns
    -------
    DataFrame
        Index ``hypothesis``; columns ``group``, ``rank``, ``n`` and one per code;
        sorted by group (top first) and rank.
    """
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

    Participants without answers in both groups are left out.

    Returns
    -------
    Series
        Indexed by ``participant_id``.
    """
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
