"""The word-table loader, :func:`load_word_table`: reads the file, resolves the columns,
checks the rows and assembles the :class:`~analysis.data.WordDataset`.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..._utils import DataError
from ...data import CONTEXT_MODES, WordDataset
from ...text import sentence_positions
from ._assemble import _metadata, _stories_and_sentences, _values
from ._checks import _check_duplicates, _check_order, _check_words_agree, _plain
from ._columns import _context_column, _flags, _labels, _numbers, _resolve_columns
from ._preceding import _late_starts, _preceding_words, _with_preceding
from ._read import _read_table
from ._summary import _late_text, _options, _order_text, _summary_lines

#: The options of :func:`load_word_table` (besides the path).
OPTION_NAMES = ("word", "measures", "story", "sentence", "position", "participant", "exclude",
                "context", "context_column", "time", "window_ms", "sep", "sheet", "verbose")


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
