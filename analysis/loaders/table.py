"""Any word-level table: one row per word, or one row per participant and word.

This is how a user brings behavioural or electrophysiological measures that are already
summarised per word (self-paced reading times, eye-tracking durations, ERP amplitudes,
...) to the book: a CSV, TSV or Parquet file with a column of words and one or more
numeric measure columns. :func:`load_word_table` says what it understood (printed, and
kept in ``provenance["understood"]``), guesses what is not given, and refuses malformed
tables with a message naming the file, the column and the line.

The rules, in one place
-----------------------
Reading
    Text files are read as UTF-8 (a byte-order mark is ignored). The separator is the
    one of the extension (``.csv`` comma, ``.tsv``/``.tab`` tab) when the header line
    holds it, else the most frequent of tab, comma, semicolon and ``|`` in the header
    line; ``sep=`` overrides both. Comma and semicolon files follow the usual CSV
    quoting rules. In tab- and ``|``-separated files a quote is a character of the
    word (reading corpora have words such as ``'Admiral`` or ``"Stop!``), unless the
    file is visibly quoted (a quoted header line, as R writes, or fields with doubled
    quotes, as pandas writes). Blank lines are skipped; messages give the line number
    in the file (1 = the header). ``.gz`` text files are decompressed. Parquet files
    (``.parquet``, ``.pq``) need pyarrow; spreadsheets (``.xlsx``, ``.xls``, ``.ods``;
    ``sheet=`` picks the sheet) need openpyxl (or xlrd, odfpy); their messages give the
    row number (1-based data rows for Parquet, the spreadsheet's row for spreadsheets).
Order
    Words are put in order by the story, sentence and position columns that are given,
    in that order of priority (numeric labels sort as numbers, other labels in order of
    first appearance in the file). Without a position column, a word's position is its
    rank among the rows of the same participant, story and sentence down the file, so
    the file order is the reading order. Within a sentence (or a story, or the
    whole table when neither is given) the positions of one participant must increase
    down the file: a position that goes back usually means the position column is not
    what it seems (or positions restart at each sentence and the sentence column is
    missing), so it is an error, not something to sort away.
Participants
    With a participant column, each participant has (at most) one row per word, and
    every participant's word at a position must be the same. ``responses`` is the
    per-word mean over the participants with a value; ``subject_responses`` holds each
    participant's values, NaN where a participant has no row or no value (a missing
    trial), for noise ceilings and split halves.
Missing values
    A measure cell that is blank, ``NA``, ``N/A``, ``NaN``, ``null`` or ``None`` is a
    missing value. A word without a value for every measure (after averaging over
    participants) has no row; it stays in the presented text, as context.
Exclusion
    ``exclude`` names one or more columns of flags (true/false, yes/no, 1/0; blank is
    false). A word all of whose rows are flagged is context only: read by the language
    model, left out of the analyses (:meth:`~analysis.data.WordDataset.subset`). In a
    trial-level table, a flagged row of a word whose other rows are not flagged is a
    missing trial (per-trial artefact flags work this way).
Measures and windows
    Each measure is one channel of a single window (``times=[0.]``). With a ``time``
    column (window start in ms after word onset), a table in long format with one row
    per word (and participant) and window gives one window per distinct time.
Sentences and context
    Sentences come from the sentence column (a sentence is a (story, sentence) pair),
    else from :func:`analysis.text.segment_sentences` on each story's words. The
    language-model context is ``"story"`` when there is a story column and no sentence
    column, ``"sentence"`` when there is a sentence column, else ``"running"``.
Preceding text
    Many item tables hold one measured (critical) word per trial, with the text shown
    before it in another column. ``context_column`` names that column: its words are
    presented before the sentence's first measured word as context only (read by the
    language model, not analysed). A later measured word of the same sentence may
    repeat the first one's text, leave the cell blank, or give everything before it
    (the earlier words of the sentence, then any words between them and it, which are
    inserted as context only too). Without it, the loader warns when sentences start at
    a position after 1 with no words before them (the model would read the first
    measured word with no context at all).
Guesses
    An omitted ``word`` is the first column named word, token, words or tokens (any
    case); an omitted participant, story, sentence or position column is one with a
    usual name (``participant``/``subject``/``subj_nr``, ``story``, ``sentence_id``/
    ``sent_nr``/``sentence``, ``position``/``word_pos``/``zone``, ...); pass ``False``
    for "no such column". Omitted ``measures`` are the numeric columns that are neither
    ids (names such as ``*_id``, ``*_nr``, ``item``, ``zone``, ``position``) nor 0/1
    flags. The printed summary ends with the options that reproduce what was
    understood, to paste into ``dataset_options``.

The registry opens such a table as the dataset ``"table"``::

    python -m analysis.run -p dataset table -p data_path my.tsv \\
        -p dataset_options '{word: token, measures: [rt]}'

and ``python -m analysis.loaders.table my.tsv --options '{...}'`` prints what would be
understood; ``python -m analysis.loaders.table --write-example example_rt.tsv`` writes
the project's example table (:func:`write_example_table`).
"""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._utils import DataError, atomic_write
from ..data import CONTEXT_MODES, Stimulus, WordDataset
from ..text import segment_sentences, sentence_positions

__all__ = ["load_word_table", "write_example_table", "EXAMPLE_OPTIONS", "TABLE_SUFFIXES",
           "OPTION_NAMES"]

#: The options of :func:`load_word_table` (besides the path).
OPTION_NAMES = ("word", "measures", "story", "sentence", "position", "participant", "exclude",
                "context", "context_column", "time", "window_ms", "sep", "sheet", "verbose")
#: File name endings the loader knows (other text files are sniffed).
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq", ".xlsx", ".xls",
                  ".xlsm", ".ods")
_SEPARATOR_OF_SUFFIX = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_SEPARATORS = ("\t", ",", ";", "|")
_SEPARATOR_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "'|'"}
_SEPARATOR_WORDS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
_PARQUET = (".parquet", ".pq")
_SPREADSHEET = (".xlsx", ".xls", ".xlsm", ".ods")
_MISSING = frozenset(["", "na", "n/a", "nan", "null", "none"])
_TRUE = frozenset(["true", "t", "yes", "y", "1", "1.0"])
_FALSE = frozenset(["false", "f", "no", "n", "0", "0.0"]) | _MISSING

_WORD_NAMES = ("word", "token", "words", "tokens")
_GUESSES = {
    "participant": ("participant", "participant_id", "subject", "subject_id", "subj",
                    "subj_nr", "subj_id", "sub", "worker_id", "workerid", "reader"),
    "story": ("story", "story_id", "story_nr", "text_id", "passage"),
    "sentence": ("sentence_id", "sent_id", "sentence_nr", "sent_nr", "sentence_number",
                 "sentence"),
    "position": ("position", "word_pos", "word_position", "word_nr", "word_number",
                 "word_index", "word_idx", "pos", "zone", "word_in_sentence"),
}
# the last part of an id-like column name ("sent_nr", "word_pos", "nItem", "story_id")
_ID_PARTS = frozenset(["id", "idx", "index", "nr", "no", "num", "number", "item", "zone",
                       "trial", "line", "row", "pos", "position", "subj", "subject",
                       "participant", "sent", "sentence", "story", "order", "rank", "list"])


# --------------------------------------------------------------------------- reading
@dataclass
class _Table:
    """A table as text: one str column per file column, and where each row came from."""

    path: Path
    frame: object  # pandas.DataFrame of str ("" = empty cell)
    lines: np.ndarray  # number of each row in the file (line, or row for binary formats)
    unit: str  # "line" or "row"
    kind: str  # for the summary: "tab-separated text", "Parquet", ...

    def at(self, i):
        """Where row ``i`` is, for messages (``"line 12"``)."""
        return f"{self.unit} {int(self.lines[i])}"

    @property
    def columns(self):
        return list(self.frame.columns)


def _check_file(path):
    path = Path(path).expanduser()
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected a table file (CSV, TSV or Parquet) "
                        "with one row per word.")
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected a table file (CSV, TSV or Parquet) "
                        "with one row per word.")
    return path


def _suffix(path):
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _decode(path):
    data = path.read_bytes()
    if path.suffix.lower() == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as err:
            raise DataError(f"{path}: cannot decompress ({err}); expected a gzip file.") from err
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise DataError(f"{path}: line {line} is not UTF-8 text ({err.reason}); expected a "
                        "UTF-8 file (re-save the table as UTF-8).") from None


def _separator(path, text, sep, suffix):
    """The separator and how it was chosen."""
    if sep is not None:
        chosen = _SEPARATOR_WORDS.get(str(sep).lower(), str(sep))
        if len(chosen) != 1:
            raise DataError(f"{path}: sep={sep!r}; expected one character (a tab, ',', ';' "
                            "or '|') or one of 'tab', 'comma', 'semicolon', 'pipe'.")
        return chosen, "given"
    lines = text.splitlines()
    number = next((k for k, line in enumerate(lines) if line.strip()), None)
    if number is None:
        raise DataError(f"{path}: the file is empty; expected a header line naming the "
                        "columns, then one row per word.")
    header = lines[number]
    counts = {s: header.count(s) for s in _SEPARATORS}
    expected = _SEPARATOR_OF_SUFFIX.get(suffix)
    if expected is not None and counts[expected]:
        return expected, f"from the extension {suffix}"
    best = max(_SEPARATORS, key=lambda s: counts[s])
    if counts[best] == 0:
        raise DataError(f"{path}: line {number + 1} ({header[:60]!r}) holds a single column; "
                        "expected column names separated by tabs, commas, semicolons or '|' "
                        "(or pass sep=...).")
    how = "sniffed from the header line"
    if expected is not None:
        how += f" (the extension {suffix} says {_SEPARATOR_NAMES[expected]})"
    return best, how


_ESCAPED = re.compile(r'"(?:[^"]|"")*"')


def _visibly_quoted(text, sep):
    """Whether a tab/pipe-separated text uses CSV quoting (R or pandas writers)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    names = [f for f in header.split(sep) if f]
    if names and all(len(f) >= 2 and f[0] == f[-1] == '"' for f in names):
        return True
    if '""' not in text:
        return False
    for line in text.splitlines():
        if '""' in line:
            for field in line.split(sep):
                if _ESCAPED.fullmatch(field) and '""' in field[1:-1]:
                    return True
    return False


def _read_text(path, sep):
    import pandas as pd

    text = _decode(path)
    suffix = _suffix(path)
    sep, how = _separator(path, text, sep, suffix)
    quoted = sep in ",;" or _visibly_quoted(text, sep)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep,
                        quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE)
    header, header_line, rows, lines, last = None, 0, [], [], 0
    try:
        for record in reader:
            start, last = last + 1, reader.line_num
            if not any(field.strip() for field in record):
                continue  # a blank line
            if header is None:
                header, header_line = [h.strip() for h in record], start
                continue
            if len(record) != len(header):
                hint = (" (quote values that hold the separator)" if len(record) > len(header)
                        and sep in ",;" else "")
                raise DataError(f"{path}: line {start} has {len(record)} fields but the header "
                                f"(line {header_line}) has {len(header)}; expected one value per "
                                f"column, separated by {_SEPARATOR_NAMES.get(sep, repr(sep))}"
                                f"{hint}.")
            rows.append(record)
            lines.append(start)
    except csv.Error as err:
        raise DataError(f"{path}: line {last + 1} cannot be read ({err}).") from err
    if header is None:
        raise DataError(f"{path}: the file is empty; expected a header line naming the "
                        "columns, then one row per word.")
    header = [h or f"unnamed_{k + 1}" for k, h in enumerate(header)]
    columns = list(zip(*rows)) if rows else [()] * len(header)
    _check_header(path, header)
    frame = pd.DataFrame({h: pd.Series(list(c), dtype=object) for h, c in zip(header, columns)})
    kind = f"{_SEPARATOR_NAMES.get(sep, repr(sep))}-separated text (separator {how}" + \
        (", CSV quoting)" if quoted and sep not in ",;" else ")")
    return _Table(path, frame, np.asarray(lines, dtype=np.int64), "line", kind)


def _check_header(path, header):
    seen = set()
    for name in header:
        if name in seen:
            raise DataError(f"{path}: the header names column {name!r} twice; expected "
                            "distinct column names.")
        seen.add(name)


def _as_text_frame(frame):
    """Every column as text (missing values -> ""), keeping the column order."""
    import pandas as pd

    out = {}
    for column in frame.columns:
        out[str(column)] = pd.Series(["" if _is_missing(v) else str(v) for v in frame[column]],
                                     dtype=object)
    return pd.DataFrame(out)


def _is_missing(value):
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, arrays: not a missing scalar
        return False


def _read_parquet(path):
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except ImportError as err:
        raise DataError(f"{path}: reading Parquet needs the package pyarrow, which is not "
                        "installed. Install it (.venv/bin/python -m pip install pyarrow) or save "
                        "the table as CSV or TSV.") from err
    except Exception as err:
        raise DataError(f"{path}: cannot read as Parquet ({type(err).__name__}: {err}).") from err
    _check_header(path, [str(c) for c in frame.columns])
    return _Table(path, _as_text_frame(frame), np.arange(1, len(frame) + 1), "row", "Parquet")


def _read_spreadsheet(path, sheet):
    import pandas as pd

    try:
        frame = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, dtype=object)
    except ImportError as err:
        raise DataError(f"{path}: reading a spreadsheet needs openpyxl (xlsx), xlrd (xls) or "
                        "odfpy (ods), which is not installed. Install it or save the sheet as "
                        "CSV or TSV.") from err
    except (ValueError, KeyError) as err:
        raise DataError(f"{path}: cannot read sheet {sheet!r} ({err}).") from err
    except Exception as err:
        raise DataError(f"{path}: cannot read as a spreadsheet ({type(err).__name__}: "
                        f"{err}).") from err
    _check_header(path, [str(c) for c in frame.columns])
    what = "spreadsheet" + (f", sheet {sheet!r}" if sheet is not None else ", first sheet")
    return _Table(path, _as_text_frame(frame), np.arange(2, len(frame) + 2), "row", what)


def _read_table(path, sep=None, sheet=None):
    path = _check_file(path)
    suffix = _suffix(path)
    if suffix in _PARQUET:
        return _read_parquet(path)
    if suffix in _SPREADSHEET:
        return _read_spreadsheet(path, sheet)
    return _read_text(path, sep)


# --------------------------------------------------------------------------- columns
def _unknown_column(table, name, option):
    close = difflib.get_close_matches(str(name), table.columns, n=1, cutoff=0.6)
    folded = [c for c in table.columns if c.lower() == str(name).lower()]
    hint = folded or close
    raise DataError(f"{table.path}: no column {name!r} (option {option}); the table has columns "
                    f"{table.columns}" + (f" (did you mean {hint[0]!r}?)" if hint else "") + ".")


def _numbers(table, column, allow_missing=True, word=None):
    """A column as float64 (NaN for missing cells when allowed); errors name the line."""
    import pandas as pd

    text = table.frame[column].astype(str).str.strip()
    missing = text.str.lower().isin(_MISSING).to_numpy()
    values = pd.to_numeric(text.where(~missing, None), errors="coerce").to_numpy(dtype=float)
    # measures are stored as float32: a value beyond its range would become inf there
    too_big = np.abs(np.nan_to_num(values, nan=0.0)) > np.finfo(np.float32).max
    bad = (np.isnan(values) & ~missing) | too_big
    if not allow_missing:
        bad |= missing
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = (f"a finite number of magnitude at most {np.finfo(np.float32).max:.4g} (the "
                "measures are stored in float32)" if too_big[i]
                else "a number" if not allow_missing
                else "a number (blank, NA or NaN for a missing value)")
        said = f", word {word[i]!r}" if word is not None else ""
        raise DataError(f"{table.path}: column '{column}' {table.at(i)}{said} is "
                        f"{table.frame[column].iloc[i]!r}; expected {what}.")
    return values


def _labels(table, column):
    """Labels of a key column: sort keys (numbers, or rank of first appearance) and text."""
    import pandas as pd

    text = table.frame[column].astype(str).str.strip()
    empty = np.flatnonzero(text.str.lower().isin(_MISSING).to_numpy())
    if empty.size:
        i = int(empty[0])
        raise DataError(f"{table.path}: column '{column}' {table.at(i)} is "
                        f"{table.frame[column].iloc[i]!r}; expected a label in every row.")
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    if np.isfinite(numbers).all():
        return numbers, text.to_numpy(dtype=object), "numbers"
    codes = pd.factorize(text)[0].astype(float)
    return codes, text.to_numpy(dtype=object), "labels in order of first appearance"


def _flags(table, columns):
    """Rows flagged by any of the exclusion columns (true/yes/1; blank is false)."""
    out = np.zeros(len(table.frame), dtype=bool)
    for column in columns:
        text = table.frame[column].astype(str).str.strip().str.lower()
        true = text.isin(_TRUE).to_numpy()
        bad = ~(true | text.isin(_FALSE).to_numpy())
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{table.path}: column '{column}' {table.at(i)} is "
                            f"{table.frame[column].iloc[i]!r}; expected a flag (true/false, "
                            "yes/no, 1/0; blank is false).")
        out |= true
    return out


def _numeric_column(table, column):
    text = table.frame[column].astype(str).str.strip()
    present = text[~text.str.lower().isin(_MISSING)]
    if present.empty:
        return False
    import pandas as pd

    return bool(pd.to_numeric(present, errors="coerce").notna().all())


def _flag_column(table, column):
    text = table.frame[column].astype(str).str.strip().str.lower()
    present = text[~text.isin(_MISSING)]
    return bool(len(present)) and bool(present.isin(_TRUE | (_FALSE - _MISSING)).all())


def _id_like(name):
    parts = [p.lower() for p in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", str(name))]
    if not parts:
        return False
    counted = parts[0] in ("n", "num", "nr") and len(parts) > 1 and parts[1].isalpha()
    return parts[-1] in _ID_PARTS or counted


def _resolve_columns(table, word, measures, story, sentence, position, participant, exclude,
                     time):
    """Map each role to a column (or None) and say how it was found."""
    roles, how = {}, {}
    given = {"word": word, "story": story, "sentence": sentence, "position": position,
             "participant": participant, "time": time}

    def explicit(role, value):
        if value is False or value == "":
            how[role] = "none (option set to no column)"
            return None
        if value is None:
            return None
        if str(value) not in table.columns:
            _unknown_column(table, value, f"{role}={value!r}")
        how[role] = "given"
        return str(value)

    for role, value in given.items():
        roles[role] = explicit(role, value)
    excluded = [] if exclude in (None, False, "") else (
        [exclude] if isinstance(exclude, str) else [str(c) for c in exclude])
    for column in excluded:
        if column not in table.columns:
            _unknown_column(table, column, f"exclude={exclude!r}")
    roles["exclude"] = excluded
    listed = None
    if measures is not None:
        listed = [measures] if isinstance(measures, str) else [str(m) for m in measures]
        if not listed:
            raise DataError(f"{table.path}: measures=[] names no column; expected at least one "
                            "measure column.")
        for column in listed:
            if column not in table.columns:
                _unknown_column(table, column, f"measures={measures!r}")
    # guesses never take a column the options name
    taken = {c for c in roles.values() if isinstance(c, str)} | set(excluded) | set(listed or ())
    if word is None:
        found = next((c for c in table.columns if c.lower() in _WORD_NAMES and c not in taken),
                     None)
        if found is None:
            raise DataError(f"{table.path}: no word column (none of the columns {table.columns} "
                            "is named word, Word, token or tokens); pass word=<column>.")
        roles["word"], how["word"] = found, "guessed from its name"
        taken.add(found)
    if roles["word"] is None:
        raise DataError(f"{table.path}: word={word!r}; expected the name of the column holding "
                        "the words.")
    for role, names in _GUESSES.items():
        if given[role] is None:
            found = next((c for c in table.columns if c.lower() in names and c not in taken),
                         None)
            roles[role] = found
            if found is not None:
                how[role] = "guessed from its name"
                taken.add(found)
    if listed is None:
        found = [c for c in table.columns
                 if c not in taken and not _id_like(c) and _numeric_column(table, c)
                 and not _flag_column(table, c)]
        if not found:
            raise DataError(f"{table.path}: no measure column (no numeric column besides ids and "
                            f"0/1 flags among {table.columns}); pass measures=[<column>, ...].")
        roles["measures"] = found
        how["measures"] = "guessed: numeric columns that are not ids or flags"
    else:
        roles["measures"], how["measures"] = listed, "given"
    used = {}
    for role, value in roles.items():
        for column in (value if isinstance(value, list) else [value]):
            if column and column in used and used[column] != role:
                raise DataError(f"{table.path}: column '{column}' is given as both {used[column]} "
                                f"and {role}; expected one role per column.")
            if column:
                used[column] = role
    return roles, how


# --------------------------------------------------------------------------- the loader
def load_word_table(path, word=None, measures=None, story=None, sentence=None, position=None,
                    participant=None, exclude=None, context=None, time=None, window_ms=None,
                    sep=None, sheet=None, verbose=True, context_column=None, **unknown):
    """Load any word-level table (CSV, TSV, Parquet) as a :class:`~analysis.data.WordDataset`.

    The rules (reading, order, participants, missing values, exclusion, guesses) are in
    the module's documentation (:mod:`analysis.loaders.table`).

    Parameters
    ----------
    path : str | Path
        The table: ``.csv``, ``.tsv``, ``.tab``, ``.txt`` (optionally ``.gz``),
        ``.parquet``/``.pq`` (needs pyarrow) or a spreadsheet (needs openpyxl).
    word : str | None
        Column holding the words as presented (punctuation attached). ``None``: a
        column named word, token, words or tokens.
    measures : str | list of str | None
        Numeric columns to analyse, each one channel. ``None``: every numeric column
        that is neither an id nor a 0/1 flag (the summary lists them).
    story, sentence, position : str | False | None
        Columns giving the order: story label, sentence label (numbers or text) and
        word position (a number, within the sentence or the story). ``None`` guesses a
        column by its usual name; ``False``: no such column.
    participant : str | False | None
        Column of participant labels for trial-level tables (one row per participant and
        word). ``None`` guesses by name; ``False``: a word-level table.
    exclude : str | list of str | None
        Flag column(s); a word whose rows are all flagged is context only.
    context : {"running", "sentence", "story"} | None
        The language model's context; ``None``: ``"story"`` with a story column and no
        sentence column, ``"sentence"`` with a sentence column, else ``"running"``.
    context_column : str | None
        Column of the text presented before the measured word (critical-word designs:
        one measured word per trial, the sentence up to it in this column). Its words
        become context-only presented words before the sentence's first measured word.
        Needs a sentence column (it may be this same column).
    time : str | None
        Column of window starts (ms after word onset) for long tables with several
        windows per word; ``None``: one window at 0 ms.
    window_ms : float | None
        Width of each window; ``None``: the smallest step between times (1 ms, nominal,
        with one window).
    sep : str | None
        Separator of a text file (a character, or ``"tab"``, ``"comma"``,
        ``"semicolon"``, ``"pipe"``); ``None`` sniffs it.
    sheet : str | int | None
        Sheet of a spreadsheet (``None``: the first).
    verbose : bool
        Print the summary of what was understood.
    **unknown
        Refused with a message listing the options (a misspelt option in
        ``dataset_options`` is an error, not silently ignored).

    Returns
    -------
    WordDataset
        ``words`` and ``sentence`` of the analysed words in reading order;
        ``responses`` (n_words, n_measures, n_windows) float32, channel names = the
        measure columns; ``subject_responses`` (n_participants, n_words, n_measures,
        n_windows) with NaN for missing trials (trial-level tables only; participants
        in ``provenance["subjects"]``); ``stimulus``: every word of the table in order
        (flagged words and words without values included); ``groups={"story": ...}``
        with a story column; ``metadata`` per word: the story/sentence/position labels
        of the file, ``word_in_sentence`` (1 = sentence-initial), ``excluded``, the
        other columns (for trial-level tables, those constant across a word's rows),
        and ``line`` (the word's line in the file; ``row`` for Parquet and
        spreadsheets) for word-level tables, ``n_trials`` (participants with a row)
        and ``n_valid_trials`` (with every value) for trial-level tables.
        ``provenance["understood"]`` holds the printed summary (a list of lines) and
        ``provenance["options"]`` the options that reproduce it.

    Raises
    ------
    DataError
        Naming the file, the column and the line (the row for Parquet and
        spreadsheets): a file that cannot be read (not found, not UTF-8, a line with a
        wrong number of fields, Parquet without pyarrow), an unknown column name, a
        missing word, a missing or non-numeric key (position, time) or empty label, a
        non-numeric or infinite measure, a flag that is not true/false, a position
        repeated for one participant (and time), positions that decrease within a
        sentence, a word that differs between participants (or rows) at the same
        position, no measure column, a table with no analysable word, an unknown
        context, a preceding text that differs between a word's rows or does not
        continue the sentence, ``context_column`` without a sentence column.

    Warns
    -----
    UserWarning
        When sentences start at a position after 1 with no preceding words (naming
        how many, an example and ``context_column``).
    """
    if unknown:
        raise DataError(f"{path}: unknown option(s) {sorted(unknown)} for the word table; "
                        f"expected some of {list(OPTION_NAMES)}.")
    if context is not None and context not in CONTEXT_MODES:
        raise DataError(f"{path}: context={context!r}; expected one of {CONTEXT_MODES} or None.")
    table = _read_table(path, sep, sheet)
    if table.frame.empty:
        raise DataError(f"{table.path}: the table has a header but no rows; expected one row "
                        "per word.")
    roles, how = _resolve_columns(table, word, measures, story, sentence, position,
                                  participant, exclude, time)
    roles["context_column"] = _context_column(table, roles, context_column)
    frame, n_rows = table.frame, len(table.frame)

    words = frame[roles["word"]].astype(str).str.strip().to_numpy(dtype=object)
    empty = np.flatnonzero([w == "" for w in words])
    if empty.size:
        i = int(empty[0])
        raise DataError(f"{table.path}: column '{roles['word']}' {table.at(i)} is empty; "
                        "expected a word in every row.")

    keys, labels, label_kind = {}, {}, {}
    for role in ("participant", "story", "sentence"):
        if roles[role]:
            keys[role], labels[role], label_kind[role] = _labels(table, roles[role])
        else:
            keys[role] = np.zeros(n_rows)
    times_of_row = (_numbers(table, roles["time"], allow_missing=False, word=words)
                    if roles["time"] else np.zeros(n_rows))
    group = [keys["participant"], keys["story"], keys["sentence"], times_of_row]
    if roles["position"]:
        pos = _numbers(table, roles["position"], allow_missing=False, word=words)
    else:  # rank in file order within participant, story, sentence and time
        import pandas as pd

        pos = (pd.DataFrame({"p": group[0], "s": group[1], "n": group[2], "t": group[3]})
               .groupby(["p", "s", "n", "t"], sort=False).cumcount().to_numpy() + 1.0)

    _check_duplicates(table, roles, words, labels, group, pos)
    _check_order(table, roles, words, labels, group, pos)

    # presented words: the distinct (story, sentence, position) keys in reading order
    word_key = np.column_stack([keys["story"], keys["sentence"], pos])
    unique_keys, word_of_row = np.unique(word_key, axis=0, return_inverse=True)
    word_of_row = word_of_row.ravel()
    first_row = np.full(len(unique_keys), n_rows, dtype=np.int64)
    np.minimum.at(first_row, word_of_row, np.arange(n_rows))
    _check_words_agree(table, roles, words, labels, pos, word_of_row, first_row)
    presented = [words[r] for r in first_row]
    n_presented = len(presented)

    story_index, sentence_index, sentence_rule = _stories_and_sentences(roles, unique_keys,
                                                                        presented)

    # exclusion: a word whose rows are all flagged is context only; a flagged row of a
    # word that is kept is a missing trial
    flagged_row = _flags(table, roles["exclude"])
    n_flags = np.bincount(word_of_row, weights=flagged_row, minlength=n_presented)
    n_rows_of_word = np.bincount(word_of_row, minlength=n_presented)
    word_excluded = (n_flags == n_rows_of_word) & (n_rows_of_word > 0) if roles["exclude"] \
        else np.zeros(n_presented, dtype=bool)
    trial_dropped = flagged_row & ~word_excluded[word_of_row]
    measure_columns = roles["measures"]
    values_of_row = np.column_stack([_numbers(table, m, word=words) for m in measure_columns])
    values_of_row[trial_dropped] = np.nan
    cube, seen, subject_labels, time_values = _values(roles, keys, labels, times_of_row,
                                                      word_of_row, values_of_row, n_presented)
    counts = np.isfinite(cube).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, np.nansum(cube, axis=0) / np.maximum(counts, 1), np.nan)
    has_value = np.isfinite(mean).all(axis=(1, 2))
    rows = np.flatnonzero(has_value)
    if not (has_value & ~word_excluded).any():
        raise DataError(f"{table.path}: no word has a value for every measure "
                        f"{measure_columns}" + (" outside the excluded rows" if
                                                word_excluded.any() else "")
                        + "; expected numbers in the measure columns.")

    if context is None:
        context = ("sentence" if roles["sentence"] else "story" if roles["story"]
                   else "running")
        context_how = ("default: the table has a sentence column" if roles["sentence"]
                       else "default: the table has a story column and no sentence column"
                       if roles["story"] else "default: no story or sentence column")
    else:
        context_how = "given"
    if window_ms is None:
        window_ms = float(np.diff(time_values).min()) if len(time_values) > 1 else 1.0

    before = (_preceding_words(table, roles, words, labels, pos, word_of_row, first_row,
                               sentence_index, presented)
              if roles["context_column"] else [[] for _ in presented])
    late = _late_starts(table, roles, labels, pos, first_row, story_index, sentence_index,
                        presented, before)
    stimulus, at = _with_preceding(presented, sentence_index, story_index, rows, before,
                                   roles["story"])
    meta, other_columns, varying = _metadata(table, roles, labels, pos, word_of_row, first_row,
                                             sentence_index, word_excluded, cube, seen,
                                             sentence_positions(stimulus.sentence)[at])
    options = _options(roles, context, window_ms if roles["time"] else None)
    n_missing = int((~np.isfinite(cube)).any(axis=(2, 3)).sum())
    summary = dict(
        table=table, how=how, roles=roles, label_kind=label_kind, n_subjects=len(subject_labels),
        n_sentences=int(sentence_index.max()) + 1 if n_presented else 0,
        n_stories=int(story_index.max()) + 1 if n_presented else 0, sentence_rule=sentence_rule,
        times=time_values, window_ms=window_ms, n_missing=n_missing,
        n_no_row=int((~seen).sum()),
        n_trial_dropped=int(trial_dropped.sum()), n_excluded=int(word_excluded.sum()),
        n_no_value=int((~has_value).sum()), n_analysed=int((has_value & ~word_excluded).sum()),
        n_presented=stimulus.n_presented, context=context, context_how=context_how,
        other_columns=other_columns, varying=varying, options=options,
        n_preceding=stimulus.n_presented - n_presented, late=late)
    lines = _summary_lines(**summary)
    if verbose:
        print("\n".join(lines))
    if late:
        warnings.warn(f"{table.path}: {_late_text(late, roles)}", UserWarning, stacklevel=2)
    no_value = [[_plain(labels["story"][first_row[i]]) if roles["story"] else None,
                 _plain(labels["sentence"][first_row[i]]) if roles["sentence"] else None,
                 _plain(pos[first_row[i]]), presented[i]] for i in np.flatnonzero(~has_value)]
    provenance = {
        "loader": "load_word_table",
        "file": str(table.path),
        "format": table.kind,
        "n_table_rows": n_rows,
        "columns": {k: v for k, v in roles.items()},
        "found": how,
        "options": options,
        "understood": lines,
        "subjects": subject_labels,
        "n_presented": stimulus.n_presented,
        "n_preceding_words": stimulus.n_presented - n_presented,
        "n_sentences_starting_late": late["n"] if late else 0,
        "n_missing_trials": n_missing,
        "n_trials_without_row": int((~seen).sum()),
        "n_trials_dropped_by_exclusion": int(trial_dropped.sum()),
        "n_excluded_words": int(word_excluded.sum()),
        "n_dropped_no_value": len(no_value),
        "dropped_no_value": no_value,
        "sentence_rule": sentence_rule,
        "order": _order_text(roles, label_kind),
    }
    dataset = WordDataset(
        words=[presented[i] for i in rows],
        sentence=sentence_index[rows],
        responses=mean[rows],
        times=time_values,
        ch_names=list(measure_columns),
        info=None,
        window_ms=float(window_ms),
        subject_responses=cube[:, rows] if roles["participant"] else None,
        context=context,
        groups={"story": story_index[rows]} if roles["story"] else {},
        metadata=meta.iloc[rows].reset_index(drop=True),
        stimulus=stimulus,
        provenance=provenance,
        source=f"word table ({table.path.name})",
    )
    if word_excluded[rows].any():
        flags = ", ".join(roles["exclude"])
        dataset = dataset.subset(~word_excluded[rows], note=f"rows flagged in {flags}")
    return dataset


def _context_column(table, roles, column):
    """The column of preceding text (or None); it may also be the sentence label."""
    if column in (None, False, ""):
        return None
    column = str(column)
    if column not in table.columns:
        _unknown_column(table, column, f"context_column={column!r}")
    for role, value in roles.items():
        if role != "sentence" and (value == column or (isinstance(value, list)
                                                       and column in value)):
            raise DataError(f"{table.path}: column '{column}' is given as both {role} and "
                            "context_column; expected the text shown before the measured word "
                            "in a column of its own.")
    if not roles["sentence"]:
        raise DataError(f"{table.path}: context_column={column!r} needs a sentence column "
                        "(each trial's sentence: an item or sentence id, or the context column "
                        "itself); pass sentence=<column>.")
    return column


def _tokens(text):
    return [] if text.strip().lower() in _MISSING else text.split()


def _preceding_words(table, roles, words, labels, pos, word_of_row, first_row, sentence_index,
                     presented):
    """Per presented word, the context-only words presented just before it.

    The text of a sentence's first measured word precedes it; a later word's text may
    repeat that one, be blank, or continue the sentence (everything presented before
    it, then the words between, which are returned for it).
    """
    column = roles["context_column"]
    text = table.frame[column].astype(str).str.strip().to_numpy(dtype=object)
    first_text = text[first_row][word_of_row]
    differ = np.flatnonzero(first_text != text)
    if differ.size:
        i = int(differ[0])
        j = int(first_row[word_of_row[i]])
        raise DataError(f"{table.path}: column '{column}' {table.at(i)} (word {words[i]!r}) is "
                        f"{text[i]!r} but {table.at(j)} has {text[j]!r} for the same word "
                        f"({_where_key(table, roles, labels, pos, i, False)}); expected one "
                        "preceding text per word.")
    before = [[] for _ in presented]
    for s in np.unique(sentence_index):
        members = np.flatnonzero(sentence_index == s)
        lead = _tokens(text[first_row[members[0]]])
        before[members[0]] = lead
        so_far = lead + [presented[members[0]]]
        for m in members[1:]:
            cell = _tokens(text[first_row[m]])
            if cell and cell != lead:
                if cell[:len(so_far)] != so_far:
                    r = int(first_row[m])
                    raise DataError(
                        f"{table.path}: column '{column}' {table.at(r)} (word {presented[m]!r}) "
                        f"is {text[r]!r}; expected blank, the text before the sentence's first "
                        f"measured word ({' '.join(lead)!r}) or the whole text before this "
                        f"word, starting {' '.join(so_far)!r}.")
                before[m] = cell[len(so_far):]
            so_far += before[m] + [presented[m]]
    return before


def _late_starts(table, roles, labels, pos, first_row, story_index, sentence_index, presented,
                 before):
    """Sentences whose first word sits at a position after 1 with nothing read before it.

    A sentence whose positions continue the previous sentence's (positions counted
    within the story) is not late. Returns None or ``{"n", "of", "example"}``.
    """
    if not roles["position"]:
        return None
    late, example, previous_end = 0, None, {}
    starts = np.r_[0, np.flatnonzero(np.diff(sentence_index)) + 1]
    for k, f in enumerate(starts):
        end = (starts[k + 1] if k + 1 < len(starts) else len(presented)) - 1
        story, start, stop = story_index[f], pos[first_row[f]], pos[first_row[end]]
        continues = previous_end.get(story) == start - 1
        previous_end[story] = stop
        if start > 1 and not before[f] and not continues:
            late += 1
            if example is None:
                r = int(first_row[f])
                example = (f"sentence {labels['sentence'][r]!s}, " if roles["sentence"] else "") \
                    + f"word {presented[f]!r} at position {_position_text(table, roles, pos, r)}"
    return {"n": late, "of": len(starts), "example": example} if late else None


def _late_text(late, roles):
    fix = ("; the column given as context_column is blank there" if roles["context_column"]
           else "; give the text shown before them with context_column=<column>")
    return (f"{late['n']:,} of {_n(late['of'], 'sentence')} start at a position after 1 with "
            f"no words before them (e.g. {late['example']}): the language model reads their "
            f"first word without the words that preceded it{fix}.")


def _with_preceding(presented, sentence_index, story_index, rows, before, has_story):
    """The presented text with the preceding words inserted, and where each word went."""
    words, sentence, story, at = [], [], [], np.empty(len(presented), dtype=np.int64)
    for i, word in enumerate(presented):
        for token in before[i]:
            words.append(token)
            sentence.append(sentence_index[i])
            story.append(story_index[i])
        at[i] = len(words)
        words.append(word)
        sentence.append(sentence_index[i])
        story.append(story_index[i])
    stimulus = Stimulus(words, np.asarray(sentence, dtype=np.int64), at[rows],
                        np.asarray(story, dtype=np.int64) if has_story else None)
    return stimulus, at


def _stories_and_sentences(roles, unique_keys, presented):
    """Story and sentence index of each presented word, and the sentence rule used.

    ``unique_keys`` (n_presented, 3) holds the sorted (story, sentence, position) keys.
    """
    n_presented = len(presented)
    story_index = (np.unique(unique_keys[:, 0], return_inverse=True)[1].ravel()
                   if roles["story"] else np.zeros(n_presented, dtype=np.int64))
    if roles["sentence"]:  # a sentence is a (story, sentence) pair
        sentence_index = np.unique(unique_keys[:, :2], axis=0, return_inverse=True)[1].ravel()
        return story_index, sentence_index, f"column '{roles['sentence']}'"
    sentence_index = np.zeros(n_presented, dtype=np.int64)
    offset = 0
    for s in np.unique(story_index):  # a story's first word starts a sentence
        members = np.flatnonzero(story_index == s)
        segmented = segment_sentences([presented[i] for i in members])
        sentence_index[members] = segmented + offset
        offset += int(segmented.max()) + 1
    rule = "analysis.text.segment_sentences" + (" within each story" if roles["story"] else "")
    return story_index, sentence_index, rule


def _values(roles, keys, labels, times_of_row, word_of_row, values_of_row, n_presented):
    """Every row's values placed by participant, word, measure and window.

    Returns
    -------
    cube : ndarray, shape (n_participants or 1, n_presented, n_measures, n_windows)
        NaN where there is no row or no value.
    seen : ndarray of bool, shape (n_participants or 1, n_presented)
        Where a row exists.
    subject_labels : list
        Participant labels in order (empty without a participant column).
    time_values : ndarray, shape (n_windows,)
    """
    n_rows = len(word_of_row)
    if roles["participant"]:
        codes, subj_of_row = np.unique(keys["participant"], return_inverse=True)
        subj_of_row = subj_of_row.ravel()
        first = np.full(len(codes), n_rows, dtype=np.int64)
        np.minimum.at(first, subj_of_row, np.arange(n_rows))
        subject_labels = [_plain(labels["participant"][r]) for r in first]
    else:
        subj_of_row = np.zeros(n_rows, dtype=np.int64)
        subject_labels = []
    time_values, time_of_row = np.unique(times_of_row, return_inverse=True)
    n_subj = max(1, len(subject_labels))
    cube = np.full((n_subj, n_presented, len(time_values), values_of_row.shape[1]), np.nan)
    cube[subj_of_row, word_of_row, time_of_row.ravel()] = values_of_row
    seen = np.zeros((n_subj, n_presented), dtype=bool)
    seen[subj_of_row, word_of_row] = True
    return cube.transpose(0, 1, 3, 2), seen, subject_labels, time_values


def _plain(value):
    """A label as a JSON-friendly value: int or float when it is a number, else str."""
    if isinstance(value, (float, np.floating)):
        return int(value) if float(value).is_integer() else float(value)
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and re.fullmatch(r"[+-]?\d+", text) else (
        number if np.isfinite(number) else text)


def _position_text(table, roles, pos, r):
    """Row ``r``'s position as written in the file (or its rank, when derived)."""
    if roles["position"]:
        return str(table.frame[roles["position"]].iloc[r]).strip()
    return f"{_plain(pos[r])} (rank in file order)"


def _where_key(table, roles, labels, pos, r, with_participant=True):
    parts = []
    if with_participant and roles["participant"]:
        parts.append(f"participant {labels['participant'][r]!s}")
    if roles["story"]:
        parts.append(f"story {labels['story'][r]!s}")
    if roles["sentence"]:
        parts.append(f"sentence {labels['sentence'][r]!s}")
    parts.append(f"position {_position_text(table, roles, pos, r)}")
    return ", ".join(parts)


def _check_duplicates(table, roles, words, labels, group, pos):
    import pandas as pd

    key = pd.DataFrame({"p": group[0], "s": group[1], "n": group[2], "t": group[3], "x": pos})
    dup = key.duplicated().to_numpy()
    if not dup.any():
        return
    i = int(np.flatnonzero(dup)[0])
    same = np.flatnonzero((key == key.iloc[i]).all(axis=1).to_numpy())
    j = int(same[0])
    column = roles["position"] or roles["sentence"] or roles["story"] or roles["word"]
    at_time = f", time {_plain(group[3][i])}" if roles["time"] else ""
    who = "participant and word" if roles["participant"] else "word"
    raise DataError(f"{table.path}: column '{column}' {table.at(i)} (word {words[i]!r}) repeats "
                    f"{_where_key(table, roles, labels, pos, i)}{at_time} of {table.at(j)} (word "
                    f"{words[j]!r}); expected one row per {who}"
                    + (" and time" if roles["time"] else "")
                    + ("" if roles["participant"] else
                       " (a trial-level table needs participant=<column>)")
                    + ("; if positions restart at each sentence, pass sentence=<column>"
                       if roles["position"] and not roles["sentence"] else "") + ".")


def _check_order(table, roles, words, labels, group, pos):
    import pandas as pd

    if not roles["position"]:
        return
    frame = pd.DataFrame({"p": group[0], "s": group[1], "n": group[2], "t": group[3], "x": pos})
    previous = frame.groupby(["p", "s", "n", "t"], sort=False)["x"].shift().to_numpy()
    back = np.flatnonzero(pos < previous)
    if back.size == 0:
        return
    i = int(back[0])
    earlier = np.flatnonzero((frame[["p", "s", "n", "t"]] == frame.iloc[i][["p", "s", "n", "t"]])
                             .all(axis=1).to_numpy()[:i])
    j = int(earlier[-1])
    within = ("sentence" if roles["sentence"] else "story" if roles["story"] else "table")
    whose = f" of participant {labels['participant'][i]!s}" if roles["participant"] else ""
    hint = ("" if roles["sentence"] else
            "; if positions restart at each sentence, pass sentence=<column>")
    by = ", ".join(roles[r] for r in ("participant", "story", "sentence", "position") if roles[r])
    raise DataError(f"{table.path}: column '{roles['position']}' {table.at(i)} (word {words[i]!r}) "
                    f"is {table.frame[roles['position']].iloc[i]!r}, after "
                    f"{table.frame[roles['position']].iloc[j]!r} on {table.at(j)} in the same "
                    f"{within}{whose}; expected the words of a {within} in reading order, "
                    f"positions increasing down the file (sort the rows by {by} if the file is "
                    f"in another order){hint}.")


def _check_words_agree(table, roles, words, labels, pos, word_of_row, first_row):
    first_word = np.array([words[first_row[w]] for w in word_of_row], dtype=object)
    differ = np.flatnonzero(first_word != words)
    if differ.size == 0:
        return
    i = int(differ[0])
    j = int(first_row[word_of_row[i]])
    who_i = f" (participant {labels['participant'][i]!s})" if roles["participant"] else ""
    who_j = f" (participant {labels['participant'][j]!s})" if roles["participant"] else ""
    hint = ("" if roles["position"] or not roles["participant"] else
            " Without a position column each participant's rows are numbered in file order, "
            "so one missing row shifts the rest: pass position=<column>.")
    whom = "every participant" if roles["participant"] else "every row"
    raise DataError(f"{table.path}: column '{roles['word']}' {table.at(i)}{who_i} is "
                    f"{words[i]!r} but {table.at(j)}{who_j} has {words[j]!r} at the same "
                    f"position ({_where_key(table, roles, labels, pos, i, False)}); "
                    f"expected {whom} to have the same word at the same position.{hint}")


def _maybe_numbers(values):
    """A column for the metadata: numbers where every present value is one, else text."""
    import pandas as pd

    text = pd.Series(values, dtype=object).astype(str).str.strip()
    missing = text.str.lower().isin(_MISSING)
    numbers = pd.to_numeric(text.where(~missing, None), errors="coerce")
    if numbers[~missing].notna().all() and (~missing).any():
        arr = numbers.to_numpy(dtype=float)
        if np.isfinite(arr).all() and np.all(arr == np.round(arr)):
            return arr.astype(np.int64)
        return arr
    return pd.Series(values, dtype=object).to_numpy()


def _metadata(table, roles, labels, pos, word_of_row, first_row, sentence_index, word_excluded,
              cube, seen, in_sentence):
    """Per presented word: key labels, position in sentence, exclusion, other columns.

    ``in_sentence`` is each word's position in its presented sentence (1 = first),
    preceding context-only words counted.
    """
    import pandas as pd

    meta = pd.DataFrame(index=np.arange(len(first_row)))
    for role in ("story", "sentence"):
        if roles[role]:
            meta[roles[role]] = _maybe_numbers(labels[role][first_row])
    if roles["position"]:
        meta[roles["position"]] = _maybe_numbers(pos[first_row])
    meta["word_in_sentence"] = np.asarray(in_sentence).astype(np.int64)
    meta["excluded"] = word_excluded
    used = {c for r, c in roles.items() if isinstance(c, str) and c} | set(roles["measures"])
    others = [c for c in table.columns if c not in used]
    varying = []
    if roles["participant"] or roles["time"]:
        for column in others:
            text = table.frame[column].astype(str)
            first = text.to_numpy(dtype=object)[first_row][word_of_row]
            if np.array_equal(first, text.to_numpy(dtype=object)):
                meta[column] = _maybe_numbers(text.to_numpy(dtype=object)[first_row])
            else:
                varying.append(column)
    else:
        for column in others:
            meta[column] = _maybe_numbers(table.frame[column].to_numpy(dtype=object)[first_row])
    if roles["participant"]:
        meta["n_trials"] = seen.sum(axis=0)  # participants with a row for the word
        meta["n_valid_trials"] = np.isfinite(cube).all(axis=(2, 3)).sum(axis=0)
    else:
        meta[table.unit] = table.lines[first_row]  # where the word is in the file
    kept = [c for c in others if c not in varying]
    return meta, kept, varying


def _options(roles, context, window_ms):
    """The explicit options that reproduce what was understood (for dataset_options)."""
    out = {"word": roles["word"], "measures": list(roles["measures"])}
    for role in ("story", "sentence", "position", "participant"):
        out[role] = roles[role] or False
    if roles["exclude"]:
        out["exclude"] = (roles["exclude"][0] if len(roles["exclude"]) == 1
                          else list(roles["exclude"]))
    if roles["time"]:
        out["time"] = roles["time"]
        out["window_ms"] = window_ms
    out["context"] = context
    if roles["context_column"]:
        out["context_column"] = roles["context_column"]
    return out


def _order_text(roles, label_kind):
    parts = []
    for role in ("story", "sentence"):
        if roles[role]:
            parts.append(f"{role} '{roles[role]}' ({label_kind[role]})")
    if roles["position"]:
        parts.append(f"position '{roles['position']}'")
    else:
        units = [r for r in ("participant", "story", "sentence") if roles[r]]
        parts.append("file order" + (f" within each {' and '.join(units)}" if units else ""))
    return ", then ".join(parts)


def _n(k, one, many=None):
    return f"{k:,} {one if k == 1 else (many or one + 's')}"


def _summary_lines(table, how, roles, label_kind, n_subjects, n_sentences, n_stories,
                   sentence_rule, times, window_ms, n_missing, n_no_row, n_trial_dropped,
                   n_excluded, n_no_value, n_analysed, n_presented, context, context_how,
                   other_columns, varying, options, n_preceding=0, late=None):
    """The printed summary of what was understood (also kept in the provenance)."""
    def found(role):
        return f" ({how[role]})" if how.get(role, "given") != "given" else ""

    out = [f"Word table {table.path}: {table.kind}, {_n(len(table.frame), 'row')} x "
           f"{_n(len(table.columns), 'column')}"]
    out.append(f"  word:         column '{roles['word']}'{found('word')}")
    if roles["participant"]:
        out.append(f"  participants: column '{roles['participant']}'{found('participant')}: "
                   f"{_n(n_subjects, 'participant')}; responses = per-word mean over them, "
                   "subject_responses = each participant (NaN = missing trial)")
    else:
        out.append("  participants: none (one row per word)")
    out.append(f"  order:        {_order_text(roles, label_kind)}")
    for role in ("story", "sentence", "position"):
        if how.get(role, "").startswith("guessed"):
            out.append(f"                ({role} column '{roles[role]}' guessed from its name)")
    out.append(f"  sentences:    {n_sentences:,} from {sentence_rule}"
               + (f"; {_n(n_stories, 'story', 'stories')} (column '{roles['story']}')"
                  if roles["story"] else ""))
    windows = ("1 window at 0 ms" if not roles["time"] else
               f"{len(times)} windows from column '{roles['time']}' "
               f"({', '.join(f'{t:g}' for t in times[:6])}{' ...' if len(times) > 6 else ''} "
               f"ms; {window_ms:g} ms wide)")
    out.append(f"  measures:     {', '.join(roles['measures'])}{found('measures')} -> "
               f"{_n(len(roles['measures']), 'channel')}, {windows}")
    if roles["participant"]:
        detail = [f"{n_missing - n_no_row:,} blank/NA" + (
            f" or flagged ({n_trial_dropped:,} flagged)" if n_trial_dropped else ""),
            f"{n_no_row:,} with no row"]
        out.append(f"  missing:      {_n(n_missing, 'trial')} without a value "
                   f"({', '.join(detail)})")
    if roles["exclude"]:
        out.append(f"  excluded:     {_n(n_excluded, 'word')} flagged in "
                   f"{', '.join(repr(c) for c in roles['exclude'])}: context only (read by the "
                   "language model, not analysed)")
    if n_no_value:
        out.append(f"  no value:     {_n(n_no_value, 'word')} without a value for every measure: "
                   "context only")
    if roles.get("context_column"):
        out.append(f"  preceding:    {_n(n_preceding, 'word')} from column "
                   f"'{roles['context_column']}': context only (read by the language model "
                   "before the measured words, not analysed)")
    out.append(f"  context:      {context} ({context_how})")
    out.append(f"  analysed:     {n_analysed:,} of {_n(n_presented, 'presented word')}"
               + (f" ({n_presented - n_analysed:,} context only)"
                  if roles.get("context_column") else ""))
    if late:
        out.append(f"  warning:      {_late_text(late, roles)}")
    if other_columns:
        out.append(f"  kept as metadata: {', '.join(other_columns)}")
    if varying:
        out.append(f"  not kept (differ between a word's rows): {', '.join(varying)}")
    flags = [c for c in other_columns if _flag_column(table, c)]
    if flags and not roles["exclude"]:
        out.append(f"  hint: {', '.join(flags)} look(s) like flags; exclude=<column> makes "
                   "flagged words context only")
    out.append(f"  options:      {json.dumps(options)}")
    return out


# --------------------------------------------------------------------------- example
#: The options that open the example table of :func:`write_example_table` (trials).
EXAMPLE_OPTIONS = {"word": "word", "measures": ["rt"], "participant": "participant",
                   "sentence": "sentence", "position": "position", "exclude": "sentence_initial"}


def write_example_table(path, kind="trials", n_participants=5, n_words=600, seed=0,
                        missing=0.02):
    """Write the project's example self-paced reading table (no third-party data).

    The text is the whole sentences within the first ``n_words`` words of the
    project's own story (:func:`analysis.simulate.story_words`); sentences are
    numbered from 1 by :func:`analysis.text.segment_sentences`, positions from 1
    within each sentence. Reading times (ms, whole numbers) carry a planted effect:
    ``rt = b_p + 14 * (letters - mean letters) + 9 * (s - mean s) + e``, where ``b_p``
    is participant p's speed (normal, mean 340 ms, sd 35), ``letters`` the word's
    letters and digits, ``s`` a surprisal-like value per word shared by all
    participants (gamma, shape 2, scale 2; not written to the file) and ``e`` trial
    noise (normal, sd 40), clipped to 120-1500 ms. A share ``missing`` of the trials
    is blank (``NA``). ``sentence_initial`` (1/0) flags the first word of each sentence.

    Parameters
    ----------
    path : str | Path
        Destination: ``.tsv`` (tab), ``.csv`` (comma) or ``.parquet`` (needs pyarrow).
    kind : {"trials", "words"}
        ``"trials"``: one row per participant and word, columns ``participant``
        (``P1``..), ``sentence``, ``position``, ``word``, ``rt``, ``sentence_initial``.
        ``"words"``: one row per word, ``rt`` = mean over the participants with a value
        (written exactly), no participant column.
    n_participants, n_words, seed : int
        Readers, length of the text (whole sentences within it) and the seed.
    missing : float
        Share of blank trials (0 to 0.5).

    Returns
    -------
    Path

    Raises
    ------
    DataError
        An unknown ``kind`` or extension, ``missing`` out of range, fewer than 2 words,
        Parquet without pyarrow.
    """
    import pandas as pd

    from ..simulate import story_words

    path = Path(path)
    if kind not in ("trials", "words"):
        raise DataError(f"write_example_table: kind={kind!r}; expected 'trials' or 'words'.")
    if not 0 <= missing <= 0.5:
        raise DataError(f"write_example_table: missing={missing}; expected a share in 0..0.5.")
    suffix = _suffix(path)
    if suffix not in (".tsv", ".tab", ".txt", ".csv") + _PARQUET:
        raise DataError(f"write_example_table: {path.name}: expected a .tsv, .csv or .parquet "
                        "file name.")
    story = story_words()[0]
    full = segment_sentences(story)
    n_words = min(int(n_words), len(story))
    if n_words < 2:
        raise DataError(f"write_example_table: n_words={n_words}; expected at least 2.")
    cut = full[n_words] if n_words < len(story) else full[-1] + 1
    keep = np.flatnonzero(full < cut)
    if keep.size == 0:
        keep = np.flatnonzero(full == full[0])
    words = [story[i] for i in keep]
    sentence = full[keep] + 1
    position = sentence_positions(sentence).astype(int)
    rng = np.random.default_rng(seed)
    letters = np.array([sum(ch.isalnum() for ch in w) for w in words], dtype=float)
    surprisal = rng.gamma(2.0, 2.0, len(words))
    speed = rng.normal(340.0, 35.0, n_participants)
    rt = (speed[:, None] + 14.0 * (letters - letters.mean())[None]
          + 9.0 * (surprisal - surprisal.mean())[None]
          + rng.normal(0.0, 40.0, (n_participants, len(words))))
    rt = np.round(np.clip(rt, 120.0, 1500.0))
    rt[rng.random(rt.shape) < missing] = np.nan
    initial = (position == 1).astype(int)
    if kind == "trials":
        frame = pd.DataFrame({
            "participant": np.repeat([f"P{p + 1}" for p in range(n_participants)], len(words)),
            "sentence": np.tile(sentence, n_participants),
            "position": np.tile(position, n_participants),
            "word": words * n_participants,
            "rt": rt.ravel(),
            "sentence_initial": np.tile(initial, n_participants)})
    else:
        counts = np.isfinite(rt).sum(axis=0)
        mean = np.where(counts > 0, np.nansum(rt, axis=0) / np.maximum(counts, 1), np.nan)
        frame = pd.DataFrame({"sentence": sentence, "position": position, "word": words,
                              "rt": mean, "sentence_initial": initial})
    if suffix in _PARQUET:
        try:
            frame.to_parquet(path, index=False)
        except ImportError as err:
            raise DataError(f"{path}: writing Parquet needs the package pyarrow, which is not "
                            f"installed ({err}); write a .tsv or .csv instead.") from None
        return path
    sep = "," if suffix == ".csv" else "\t"

    def cell(value):
        if isinstance(value, float):
            return "NA" if np.isnan(value) else (str(int(value)) if value.is_integer()
                                                 else repr(value))
        return str(value)

    rows = [list(frame.columns)] + [[cell(v) for v in record]
                                    for record in frame.itertuples(index=False)]
    if sep == ",":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        text = buffer.getvalue()
    else:  # quotes are characters of the words in a TSV (see the reading rules)
        text = "".join("\t".join(r) + "\n" for r in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


# --------------------------------------------------------------------------- command line
def main(argv=None):
    """``python -m analysis.loaders.table``: write the example table, or show what a table says.

    Returns the exit code (0, or 2 on a data error).
    """
    import argparse
    import sys

    from ..params import parse_text

    parser = argparse.ArgumentParser(
        prog="python -m analysis.loaders.table",
        description="Check what the 'table' dataset understands of a word-level table, or "
                    "write the project's example table.")
    parser.add_argument("path", nargs="?", help="a table to read (CSV, TSV, Parquet)")
    parser.add_argument("--options", default="{}",
                        help="loader options as YAML, as for dataset_options "
                             "(e.g. '{word: token, measures: [rt]}')")
    parser.add_argument("--write-example", metavar="PATH",
                        help="write the example self-paced reading table to PATH")
    parser.add_argument("--kind", choices=("trials", "words"), default="trials",
                        help="example: one row per participant and word, or per word")
    parser.add_argument("--participants", type=int, default=5)
    parser.add_argument("--words", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.path and not args.write_example:
        parser.error("give a table to read, or --write-example PATH")
    try:
        if args.write_example:
            out = write_example_table(args.write_example, kind=args.kind,
                                      n_participants=args.participants, n_words=args.words,
                                      seed=args.seed)
            print(f"wrote {out}; open it with dataset_options {json.dumps(EXAMPLE_OPTIONS)}"
                  if args.kind == "trials" else f"wrote {out}")
        if args.path:
            options = parse_text(args.options) or {}
            if not isinstance(options, dict):
                raise DataError(f"--options {args.options!r}; expected a mapping such as "
                                "'{word: token, measures: [rt]}'.")
            with warnings.catch_warnings():  # the printed summary holds the warning
                warnings.simplefilter("ignore", UserWarning)
                ds = load_word_table(args.path, **options)
            print(ds)
    except (DataError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
