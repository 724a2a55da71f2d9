"""Natural Stories self-paced reading times (Futrell et al. 2021), from the published files.

The corpus: 10 stories (10,256 words) read word by word in a moving-window self-paced
reading task by about 180 participants; ``processed_wordinfo.tsv`` gives each word's
mean reading time over the participants who passed the filters (median 84 readers per
word). This is the corpus behind Brain-Score language's "Futrell2018" reading-time
benchmark, whose sentence segmentation :func:`naturalstories_sentences` reproduces.
"""

from __future__ import annotations

import csv

import numpy as np

from .._utils import SHARED_DATA, DataError, check_finite, shared_data_path
from ..data import Stimulus, WordDataset

__all__ = ["load_naturalstories", "naturalstories_gpt3_surprisal", "naturalstories_sentences",
           "NATURALSTORIES_FILES", "SENTENCE_END_SUFFIXES"]

NATURALSTORIES_FILES = {
    "words": "all_stories.tok",
    "rts": "processed_wordinfo.tsv",
    "gpt3": "all_stories_gpt3.csv",
}
#: Word endings that close a sentence in Brain-Score's Futrell2018 packaging.
SENTENCE_END_SUFFIXES = (".", "?", "!", ".'", "?'", "!'", ";'")
_MISSING = ("", "NA", "NaN", "nan")
_HOWTO = ("Get all_stories.tok (words/), processed_wordinfo.tsv (naturalstories_RTS/) and "
          "all_stories_gpt3.csv (probs/) from the public repository "
          "'languageMIT/naturalstories' (Futrell et al. 2021; licence CC BY-NC-SA 4.0) into "
          "one folder; pass its path or set NATURALSTORIES_PATH.")
_REFERENCES = [
    "Futrell, Gibson, Tily, Blank, Vishnevetsky, Piantadosi & Fedorenko (2021), Language "
    "Resources and Evaluation 55:63-77 (licence CC BY-NC-SA 4.0)",
    "Brain-Score language, benchmark Futrell2018 (sentence segmentation)",
]


def _folder(path):
    found = shared_data_path("naturalstories", "NATURALSTORIES_PATH", path)
    if found is None:
        raise DataError(f"Natural Stories data not found (looked for "
                        f"{SHARED_DATA / 'naturalstories'}). {_HOWTO}")
    if found.is_file():
        found = found.parent
    if not found.is_dir():
        raise DataError(f"{found}: folder not found. {_HOWTO}")
    return found


def _read_tsv(path, required, what):
    import pandas as pd

    if not path.is_file():
        raise DataError(f"{path}: file not found ({what}). {_HOWTO}")
    try:  # words hold quotes ('Admiral): no quoting
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False,
                            quoting=csv.QUOTE_NONE)
    except Exception as err:
        raise DataError(f"{path}: cannot read as a tab-separated table "
                        f"({type(err).__name__}: {err}).") from err
    missing = [c for c in required if c not in table.columns]
    if missing:
        hint = (" The file has one column: expected tab-separated values."
                if len(table.columns) == 1 else "")
        raise DataError(f"{path}: missing columns {missing}; expected {what} with columns "
                        f"{list(required)} (tab-separated).{hint}")
    return table


def _numbers(table, column, path, integer=False, allow_missing=True):
    """A numeric column (NaN for blank/NA when allowed); errors name row, line and word."""
    import pandas as pd

    text = table[column].str.strip()
    blank = text.isin(_MISSING).to_numpy()
    values = pd.to_numeric(text.where(~blank), errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(values) & ~blank
    if integer or not allow_missing:
        bad |= blank
    if integer:
        bad |= np.isfinite(values) & (values != np.round(values))
    bad = np.flatnonzero(bad)
    if bad.size:
        i = int(bad[0])
        want = ("an integer" if integer else "a number" if not allow_missing
                else "a number (blank or NA for a missing value)")
        word = f", word {table['word'].iloc[i]!r}" if "word" in table.columns else ""
        raise DataError(f"{path}: column '{column}' row {i} (line {i + 2}{word}) is "
                        f"{table[column].iloc[i]!r}; expected {want}.")
    return values.astype(np.int64) if integer else values


def naturalstories_sentences(words, story=None):
    """Sentence index and position in sentence of each word, by Brain-Score's Futrell2018 rule.

    A word closes its sentence when it ends with one of :data:`SENTENCE_END_SUFFIXES`
    (``. ? ! .' ?' !' ;'``), unless the next word is all lower-case (Python's
    ``str.islower``: it has cased letters and all of them are lower-case, e.g. after
    "ended!'" comes "he") or the word is "Mr.". The first word of each story always
    starts a sentence. On the published ``all_stories.tok`` this gives 481 sentences.

    Parameters
    ----------
    words : sequence of str
        The words in reading order, punctuation attached.
    story : array_like of int, shape (n_words,) | None
        Story of each word (non-decreasing); ``None``: one story.

    Returns
    -------
    sentence : ndarray of int64, shape (n_words,)
        Sentence index from 0, non-decreasing, never shared by two stories.
    word_within_sentence : ndarray of int64, shape (n_words,)
        1 for the first word of a sentence, then 2, 3, ...
    """
    words = [str(w) for w in words]
    n = len(words)
    story = np.zeros(n, dtype=np.int64) if story is None else np.asarray(story)
    sentence = np.zeros(n, dtype=np.int64)
    within = np.zeros(n, dtype=np.int64)
    current, position = 0, 0
    for i, word in enumerate(words):
        if i and story[i] != story[i - 1]:  # a new story: a new sentence
            current, position = current + (position > 0), 0
        position += 1
        sentence[i], within[i] = current, position
        nxt = words[i + 1] if i + 1 < n else None
        if word.endswith(SENTENCE_END_SUFFIXES) and word != "Mr." \
                and (nxt is None or not nxt.islower()):
            current, position = current + 1, 0
    return sentence, within


def _read_words(folder):
    """The stories' words in story order (stories then zones ascending)."""
    path = folder / NATURALSTORIES_FILES["words"]
    table = _read_tsv(path, ("word", "zone", "item"), "the words of the stories")
    table["zone"] = _numbers(table, "zone", path, integer=True)
    table["item"] = _numbers(table, "item", path, integer=True)
    table["line"] = np.arange(len(table)) + 2
    dup = table.duplicated(["item", "zone"])
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise DataError(f"{path}: row {i} (line {i + 2}, word {table['word'].iloc[i]!r}) repeats "
                        f"item {table['item'].iloc[i]} zone {table['zone'].iloc[i]}; expected one "
                        "word per (item, zone).")
    if table.empty:
        raise DataError(f"{path}: no words; expected the words of the stories.")
    return table.sort_values(["item", "zone"], kind="stable").reset_index(drop=True), path


def _join_rts(words, words_path, folder):
    """The per-word reading-time row of each word, joined on (item, zone)."""
    path = folder / NATURALSTORIES_FILES["rts"]
    table = _read_tsv(path, ("word", "zone", "item", "nItem", "meanItemRT", "sdItemRT"),
                      "per-word reading times")
    table["zone"] = _numbers(table, "zone", path, integer=True)
    table["item"] = _numbers(table, "item", path, integer=True)
    row_of = {}
    for i, key in enumerate(zip(table["item"], table["zone"])):
        if key in row_of:
            raise DataError(f"{path}: row {i} (line {i + 2}) repeats item {key[0]} zone {key[1]} "
                            f"of row {row_of[key]}; expected one row per word.")
        row_of[key] = i
    order = np.empty(len(words), dtype=np.int64)
    for k, (item, zone, word, line) in enumerate(zip(words["item"], words["zone"], words["word"],
                                                     words["line"])):
        i = row_of.pop((item, zone), None)
        if i is None:
            raise DataError(f"{path}: no row for item {item} zone {zone} (word {word!r}, line "
                            f"{line} of {words_path.name}); expected one row per word.")
        if table["word"].iloc[i].strip() != str(word).strip():
            raise DataError(f"{path}: row {i} (line {i + 2}, item {item}, zone {zone}) has word "
                            f"{table['word'].iloc[i]!r} but {words_path.name} line {line} has "
                            f"{word!r}; expected the same word at the same (item, zone).")
        order[k] = i
    if row_of:
        (item, zone), i = next(iter(row_of.items()))
        raise DataError(f"{path}: row {i} (line {i + 2}) is item {item} zone {zone}, which "
                        f"{words_path.name} does not have; expected the words of the same "
                        "release.")
    out = {}
    for col in ("meanItemRT", "nItem", "sdItemRT", "gmeanItemRT", "gsdItemRT"):
        if col in table.columns:
            out[col] = _numbers(table, col, path)[order]
    return out, path


def _gpt3_per_word(folder, words, story_items):
    """GPT-3 surprisal (bits) of each presented word, or None when the file is absent.

    ``words`` are the presented words in story order and ``story_items`` their item
    numbers. Returns (surprisal, notes).
    """
    import pandas as pd

    path = folder / NATURALSTORIES_FILES["gpt3"]
    if not path.is_file():
        return None, {"gpt3_file": None}
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as err:
        raise DataError(f"{path}: cannot read as CSV ({type(err).__name__}: {err}).") from err
    required = ("token", "logprob", "offset", "story")
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing columns {missing}; expected the GPT-3 token table "
                        f"of the Natural Stories release with columns {list(required)}.")
    logprob = _numbers(table, "logprob", path)
    offset = _numbers(table, "offset", path, integer=True)
    story = _numbers(table, "story", path, integer=True)
    tokens = table["token"].tolist()
    story_items = np.asarray(story_items)
    surprisal = np.full(len(words), np.nan)
    mismatched, unassigned = [], 0
    for s in np.unique(story):
        rows = np.flatnonzero(story == s)
        item = int(s) + 1  # the file's story is 0-based: story 0 is item 1
        members = np.flatnonzero(story_items == item)
        if members.size == 0:
            raise DataError(f"{path}: story {s} (row {rows[0]}, line {rows[0] + 2}) would be item "
                            f"{item}, which the words file does not have; expected story "
                            "0..9 for items 1..10.")
        story_words = [words[j] for j in members]
        text = " ".join(story_words)
        starts = np.cumsum([0] + [len(w) + 1 for w in story_words[:-1]])
        ends = starts + np.array([len(w) for w in story_words])
        total = np.zeros(members.size)
        lacking = np.zeros(members.size, dtype=bool)
        has_token = np.zeros(members.size, dtype=bool)
        expected = 0
        for r in rows:
            token, at = tokens[r], int(offset[r])
            if at != expected:
                raise DataError(f"{path}: row {r} (line {r + 2}, story {s}, token {token!r}) has "
                                f"offset {at}; expected {expected}, the end of the previous "
                                "token (offsets index the story's words joined by spaces).")
            expected = at + len(token)
            if text[at:at + len(token)] != token:
                mismatched.append({"story": int(s), "line": int(r + 2), "token": token,
                                   "text": text[at:at + len(token)]})
            stripped = len(token) - len(token.lstrip())
            if stripped == len(token):
                unassigned += 1
                continue
            pos = at + stripped
            k = int(np.searchsorted(starts, pos, side="right")) - 1
            if pos >= len(text) or k < 0 or pos >= ends[k]:
                raise DataError(f"{path}: row {r} (line {r + 2}, story {s}, token {token!r}) "
                                f"starts at character {pos}, which is not inside a word of "
                                f"item {item} ({len(text)} characters); expected the tokens to "
                                "follow the story's text.")
            has_token[k] = True
            if np.isnan(logprob[r]):
                lacking[k] = True
            else:
                total[k] += logprob[r]
        if expected != len(text):
            raise DataError(f"{path}: the tokens of story {s} cover {expected} characters but "
                            f"item {item} of the words file has {len(text)}; expected the "
                            "same text.")
        values = np.where(lacking | ~has_token, np.nan, -total / np.log(2.0))
        surprisal[members] = values
    if len(mismatched) > max(10, 0.01 * len(tokens)):
        raise DataError(f"{path}: {len(mismatched)} tokens differ from the story text (first: "
                        f"{mismatched[0]}); expected the same stories.")
    return surprisal, {"gpt3_file": str(path), "gpt3_tokens": len(tokens),
                       "gpt3_tokens_differing_from_text": mismatched,
                       "gpt3_whitespace_tokens_ignored": unassigned}


def load_naturalstories(path=None):
    """Load the Natural Stories corpus: mean self-paced reading time per word.

    Reads the files as published in the repository ``languageMIT/naturalstories``:
    ``all_stories.tok`` (tab-separated ``word, zone, item``: each word, its position in
    the story and the story 1..10) and ``processed_wordinfo.tsv`` (per ``item, zone``:
    ``nItem`` readers, ``meanItemRT``, ``sdItemRT``, ``gmeanItemRT``, ``gsdItemRT``, in
    ms, after the corpus' filters: 100-3000 ms, readers with more than 4 correct
    comprehension answers). The rows of the latter are not in story order: they are
    joined on ``(item, zone)`` and their words must agree. When
    ``all_stories_gpt3.csv`` is in the folder, the GPT-3 surprisal of each word is added
    (:func:`naturalstories_gpt3_surprisal`).

    Parameters
    ----------
    path : str | Path | None
        The folder holding the files (a file in it is accepted too). ``None`` uses the
        environment variable ``NATURALSTORIES_PATH``, else
        ``../shared/data/naturalstories``.

    Returns
    -------
    WordDataset
        Words in story order (stories 1..10, zones ascending). ``responses``
        (n_words, 1, 1): ``meanItemRT`` in ms, channel ``"RT"``, ``times=[0.]``,
        ``window_ms=1`` (nominal: a reading time has no window). ``sentence`` from
        :func:`naturalstories_sentences` (481 sentences in the published files);
        ``groups={"story": 0..9}``; ``context="story"``: a word's language-model
        context is all the preceding words of its story. ``metadata`` per row: ``item``,
        ``zone``, ``nItem``, ``sdItemRT`` (and ``gmeanItemRT``, ``gsdItemRT`` when
        present), ``word_within_sentence`` (1 = sentence-initial, the words Brain-Score
        leaves out of its score) and ``gpt3_surprisal_bits`` (NaN where there is none:
        the first word of each story, or no GPT-3 file). A word whose ``meanItemRT`` is
        blank or NA has no row (it stays in the presented text) and is counted in
        ``provenance["n_dropped_no_rt"]``.

    Raises
    ------
    DataError
        Folder or file not found, missing columns, non-numeric values (naming file,
        column, row, line and word), repeated (item, zone), a word without a
        reading-time row or whose word differs between the two files (naming both
        lines), a GPT-3 table that does not follow the stories' text.

    Notes
    -----
    Alignment caveat. The corpus README (commit 4700daa, May 2025) says the original
    self-paced reading release was misaligned by one position and has been corrected;
    that change touched the per-trial ``processed_RTs.tsv`` only, and
    ``processed_wordinfo.tsv`` (2021) was not regenerated, nor was Brain-Score's
    packaging of the data (2022). On this file a word's surprisal and length still
    correlate with the reading time of the previous word more than expected in a
    masked moving-window task (research notes: length r = 0.25 with RT[i-1], 0.32 with
    RT[i]), which suggests residual mis-registration. The data are read as published,
    without any shift.
    """
    import pandas as pd

    folder = _folder(path)
    words_table, words_path = _read_words(folder)
    rts, rts_path = _join_rts(words_table, words_path, folder)
    words = words_table["word"].tolist()
    items = words_table["item"].to_numpy()
    story = np.unique(items, return_inverse=True)[1]
    sentence, within = naturalstories_sentences(words, story)
    gpt3, gpt3_notes = _gpt3_per_word(folder, words, items)
    meta = pd.DataFrame({"item": items, "zone": words_table["zone"].to_numpy(),
                         "nItem": rts["nItem"], "sdItemRT": rts["sdItemRT"]})
    for col in ("gmeanItemRT", "gsdItemRT"):
        if col in rts:
            meta[col] = rts[col]
    meta["word_within_sentence"] = within
    meta["gpt3_surprisal_bits"] = np.full(len(words), np.nan) if gpt3 is None else gpt3
    mean = rts["meanItemRT"]
    check_finite(np.where(np.isnan(mean), 0.0, mean), "meanItemRT", str(rts_path))
    rows = np.flatnonzero(np.isfinite(mean))
    dropped = [[int(items[i]), int(words_table["zone"][i]), words[i]]
               for i in np.flatnonzero(~np.isfinite(mean))]
    return WordDataset(
        words=[words[i] for i in rows],
        sentence=sentence[rows],
        responses=mean[rows, None, None],
        times=np.array([0.0]),
        ch_names=["RT"],
        info=None,
        window_ms=1.0,
        context="story",
        groups={"story": story[rows]},
        metadata=meta.iloc[rows].reset_index(drop=True),
        stimulus=Stimulus(words, sentence, rows, story),
        provenance={
            "loader": "load_naturalstories",
            "folder": str(folder),
            "files": [str(words_path), str(rts_path)],
            "measure": "meanItemRT (ms): mean self-paced reading time over readers",
            "n_presented": len(words),
            "n_stories": int(story.max() + 1),
            "items": [int(i) for i in np.unique(items)],
            "n_dropped_no_rt": len(dropped),
            "dropped_no_rt": dropped,
            "sentence_rule": "Brain-Score Futrell2018: a word ending with . ? ! .' ?' !' ;' "
                             "ends a sentence unless the next word is lower-case or the word "
                             "is 'Mr.'; a story's first word starts a sentence",
            "gpt3_surprisal": "bits = -(sum of the word's token log-probabilities, natural "
                              "log)/ln 2; a token belongs to the word holding its first "
                              "non-space character; NaN where a token has no log-probability",
            **gpt3_notes,
            "alignment_caveat": "processed_wordinfo.tsv predates the 2025 realignment notice "
                                "of the Natural Stories README; read as published",
            "licence": "CC BY-NC-SA 4.0",
            "references": list(_REFERENCES),
        },
        source=f"Natural Stories SPR ({folder.name})",
    )


def naturalstories_gpt3_surprisal(path=None, dataset=None):
    """GPT-3 (davinci) surprisal of each word, from the corpus' published token table.

    ``all_stories_gpt3.csv`` (comma-separated ``token, logprob, offset, model, time,
    id, story``) holds one token per row, each story scored separately (``story`` is
    0-based: 0 is item 1). ``logprob`` is a natural log; ``offset`` is the token's
    character position (its leading space included) in the story's words joined by
    single spaces. A token belongs to the word whose characters hold the token's first
    non-space character; a word's surprisal is minus the sum of its tokens'
    log-probabilities divided by ln 2. The first token of each story has no
    log-probability, so the story's first word is NaN. One same-length spelling
    difference (story index 1: "peeked" in the GPT-3 text, "peaked" in
    ``all_stories.tok``) keeps the offsets aligned; such differences are listed in the
    loader's ``provenance["gpt3_tokens_differing_from_text"]``.

    Parameters
    ----------
    path : str | Path | None
        The Natural Stories folder (as :func:`load_naturalstories`); ``None`` uses the
        folder ``dataset`` was read from, else the default location.
    dataset : WordDataset | None
        A dataset from :func:`load_naturalstories` (possibly a subset or
        :meth:`~WordDataset.first_sentences`); ``None`` loads it from ``path``.

    Returns
    -------
    ndarray of float64, shape (dataset.n_words,)
        Surprisal in bits, aligned with the dataset's rows.

    Raises
    ------
    DataError
        The GPT-3 file is missing or malformed, or the dataset's presented text is not
        the text of the folder's stories.
    """
    if path is None and dataset is not None:
        path = dataset.provenance.get("folder")
    folder = _folder(path)
    if dataset is None:
        dataset = load_naturalstories(folder)
    gpt3_path = folder / NATURALSTORIES_FILES["gpt3"]
    if not gpt3_path.is_file():
        raise DataError(f"{gpt3_path}: file not found (GPT-3 token log-probabilities). {_HOWTO}")
    words_table, _ = _read_words(folder)
    words = words_table["word"].tolist()
    surprisal, _ = _gpt3_per_word(folder, words, words_table["item"].to_numpy())
    presented = dataset.presented()
    differ = [i for i, (a, b) in enumerate(zip(presented.words, words)) if a != b]
    if differ or presented.n_presented > len(words):
        k = differ[0] if differ else len(words)
        raise DataError(f"{dataset.source}: presented word {k} is not word {k} of "
                        f"{folder / NATURALSTORIES_FILES['words']}; expected a dataset read "
                        "from the same folder.")
    return surprisal[presented.index]
