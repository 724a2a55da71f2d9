"""The columns of a word table: their roles (given or guessed) and their cells as values.

Missing-value, flag and id-name conventions; the role of each column
(:func:`_resolve_columns`, :func:`_context_column`); cells read as numbers, labels or
flags, with errors naming the file, the column and the line.
"""

from __future__ import annotations

import difflib
import re

import numpy as np

from ..._utils import DataError

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
