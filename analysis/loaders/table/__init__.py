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

One module per concept: :mod:`._read` (file formats), :mod:`._columns` (column roles and
cells), :mod:`._checks` (row keys), :mod:`._preceding` (preceding text, late starts),
:mod:`._assemble` (sentences, values, metadata), :mod:`._summary` (the printed summary),
:mod:`.loader` (:func:`load_word_table`), :mod:`.example` (the example table) and
:mod:`.cli` (the command line; ``__main__``).
"""

from ._read import TABLE_SUFFIXES
from .cli import main
from .example import EXAMPLE_OPTIONS, write_example_table
from .loader import OPTION_NAMES, load_word_table

__all__ = ["load_word_table", "write_example_table", "EXAMPLE_OPTIONS", "TABLE_SUFFIXES",
           "OPTION_NAMES"]
