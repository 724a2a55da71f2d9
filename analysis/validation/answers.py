"""Human validation, importing answers: survey-page CSV files and Qualtrics exports, identifying
columns dropped first, every answer coded (Divergent / Equal / Convergent, attention checks
Correct / Incorrect), duplicate answers handled.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .._utils import atomic_write
from .trials import ANSWERS, SurveyError, survey_id, with_kind

__all__ = [
    "CODES", "ATTENTION_CODES", "drop_identifying", "is_identifying", "read_page_answers",
    "read_qualtrics_answers", "read_answers", "code_answers", "drop_duplicate_answers",
    "write_answers",
]


#: The codes, in the order of the stacked bars.
CODES = ("Divergent", "Equal", "Convergent")


#: The codes of attention checks (never mixed with :data:`CODES`).
ATTENTION_CODES = ("Correct", "Incorrect")


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


PAGE_COLUMNS = ["participant_id", "list", "position", "trial_id", "hypothesis",
                "sentence_a_id", "sentence_b_id", "divergent_side", "answer"]


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
    known = with_kind(trials).set_index("trial_id")
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
    meta = with_kind(trials).set_index("trial_id")[["group", "rank", "kind", "expected"]]
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
