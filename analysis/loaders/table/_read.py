"""Reading a word table's file: text (separator, quoting, UTF-8, gzip), Parquet, spreadsheets.

Every format becomes a :class:`_Table` of text cells that knows where each row came
from (line or row number, for messages). The rules are in the package's documentation
(:mod:`analysis.loaders.table`, "Reading").
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..._utils import DataError

#: File name endings the loader knows (other text files are sniffed).
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq", ".xlsx", ".xls",
                  ".xlsm", ".ods")
_SEPARATOR_OF_SUFFIX = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_SEPARATORS = ("\t", ",", ";", "|")
_SEPARATOR_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "'|'"}
_SEPARATOR_WORDS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
_PARQUET = (".parquet", ".pq")
_SPREADSHEET = (".xlsx", ".xls", ".xlsm", ".ods")


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
