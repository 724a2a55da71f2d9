"""A BIDS MEG/EEG study: every subject, session and story, streamed one recording at a time.

Public naturalistic-language MEG datasets ship as BIDS (MEG-MASC: 27 subjects, 2 sessions,
4 stories on a KIT/Yokogawa system). :func:`load_bids` reads such a study through
:func:`mne_bids.read_raw_bids`, so any system MNE reads works (KIT/Yokogawa, CTF,
Neuromag FIF, EEG caps), and returns one :class:`~analysis.data.WordDataset` with a subject
axis.

The rules, in one place
-----------------------
Recordings
    Every ``sub-*/[ses-*/]<datatype>/*_<datatype>.<ext>`` file (or CTF ``.ds`` folder) of
    the root whose entities match the ``subject``, ``session``, ``task`` and ``run``
    options (``None``: all) is a recording; split FIF files count once.
Stories
    A story is a (task, run) pair: the recordings of one story are expected to present
    the same words. Stories are the cross-validation groups (``groups["story"]``).
Word events
    Words come from each recording's ``*_events.tsv``, read as text (a BIDS events file
    has no quoting). Without ``word_column``, a ``word`` column is used when present,
    else ``trial_type``. A column whose cells hold dictionary-like strings (MEG-MASC:
    ``{'kind': 'word', 'word': 'the', ...}``) is parsed with :func:`ast.literal_eval`
    (never ``eval``), anything but a dictionary of literals being an error naming the
    file, line and column; the word is the value under ``word_key``, and an event is a
    word when it matches ``select`` (default for dictionaries: ``kind`` equal to
    ``word`` where the dictionaries have a ``kind`` key). A plain column holds the word
    itself (``n/a``, empty, ``BAD*``, ``EDGE*`` and ``boundary`` are not words;
    ``description_prefix`` keeps only values starting with it and strips it).
Alignment
    The words of each story are those of most of its recordings. A recording whose
    words differ (another count, or another word at some position) is left out, and
    named, with the first difference, in the summary and ``provenance["left_out"]``;
    so is a recording without word events. A subject (or session) that has no
    recording of a story has missing values (NaN) there, named as well.
Sentences
    Segmented from each story's punctuation (:func:`analysis.text.segment_sentences`),
    or, with ``sentence_key``, from a label of the events (a key of the dictionaries,
    or a column): a new sentence starts where it changes. Unpunctuated transcripts
    have no sentence ends, which the summary says.
Windows
    Each word's response is averaged in ``(tmax - tmin) / window_ms`` windows (20 x 25
    ms after onset, as the registry's MEG datasets), one recording at a time, reading
    the recording in blocks of ``block_s`` seconds (``raw.get_data``), so that no more
    than one block of raw data is in memory (a band-pass filter, ``l_freq``/``h_freq``,
    loads one whole recording, one at a time). Words whose windows run past the
    recording, and channels the recording marks bad (``channels.tsv``), are NaN for
    that recording. Each recording's windows are cached on disk (see ``cache_dir``),
    keyed by the data files' paths, sizes and modification times, the checksums of its
    events and channels files, the windows, the channels and the filter.
Subjects
    Within a subject the sessions are averaged (``average_sessions=False`` keeps each
    subject-session as its own row of the subject axis); ``subject_responses`` holds
    each subject (NaN = missing), ``responses`` the mean over the subjects with a value.
    A channel without any value is left out; a word without a value on every kept
    channel stays in the presented text, as context.

The printed summary (also ``provenance["understood"]``) ends with the options that
reproduce what was understood, to paste into ``dataset_options``.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._utils import DataError, atomic_savez, atomic_write, sha256_file
from ..provenance import portable_path
from ..data import Stimulus, WordDataset
from ..text import segment_sentences
from ._io import _window_edges, _window_means

__all__ = ["load_bids", "read_word_events", "parse_event_dict", "BIDS_OPTION_NAMES",
           "BIDS_CACHE_VERSION"]

#: The options of :func:`load_bids` (besides the root).
BIDS_OPTION_NAMES = ("subject", "session", "task", "run", "datatype", "word_column", "word_key",
                     "select", "description_prefix", "sentence_key", "window_ms", "tmin", "tmax",
                     "picks",
                     "l_freq", "h_freq", "average_sessions", "keep_subjects", "block_s",
                     "cache_dir", "verbose")
#: Version of the windowing code; part of every cache key. Bump it when values change.
BIDS_CACHE_VERSION = 1
_DATATYPES = ("meg", "eeg")
_NON_WORD_PREFIXES = ("BAD", "EDGE", "bad", "edge")
_NON_WORDS = frozenset(["", "n/a", "boundary"])
_MAX_LITERAL_CHARS = 10_000  # a longer cell is refused before parsing


# --------------------------------------------------------------------------- events
def parse_event_dict(text, source, line, column):
    """Parse one dictionary-like events cell (``{'kind': 'word', 'word': 'the'}``) safely.

    Uses :func:`ast.literal_eval`, which evaluates literals only (no names, calls or
    operators), and accepts nothing but a dictionary.

    Parameters
    ----------
    text : str
        The cell.
    source : str | Path
        The events file (for messages).
    line : int
        Line of the cell in the file (1 = header).
    column : str
        Column of the cell.

    Returns
    -------
    dict
        Keys and values are Python literals (str, numbers, tuples, lists, dicts, ...).

    Raises
    ------
    DataError
        A cell longer than 10,000 characters, one that is not a literal, or a literal
        that is not a dictionary (the message names the file, line and column).
    """
    at = f"{source}: line {line}, column '{column}'"
    shown = text if len(text) <= 80 else text[:77] + "..."
    if len(text) > _MAX_LITERAL_CHARS:
        raise DataError(f"{at}: a cell of {len(text):,} characters; expected a short "
                        "dictionary such as {'kind': 'word', 'word': 'the'}.")
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as err:
        raise DataError(f"{at}: {shown!r} is not a dictionary of literals "
                        f"({type(err).__name__}); expected e.g. "
                        "{'kind': 'word', 'word': 'the'}.") from None
    if not isinstance(value, dict):
        raise DataError(f"{at}: {shown!r} is a {type(value).__name__}; expected a dictionary "
                        "such as {'kind': 'word', 'word': 'the'}.")
    return value


def _read_tsv(path):
    """Header and (line number, fields) of a BIDS TSV file.

    Hand-written rather than pandas: BIDS TSV files have no quoting (a dictionary-like
    cell holds quotes that are characters), and messages need each row's line number.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; expected the BIDS events table of the "
                        "recording.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read as a UTF-8 BIDS events table ({err}).") from err
    header, rows = None, []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if header is None:
            header = [f.strip() for f in fields]
            continue
        if len(fields) != len(header):
            raise DataError(f"{path}: line {number} has {len(fields)} tab-separated fields; "
                            f"expected {len(header)} as in the header {header}.")
        rows.append((number, fields))
    if header is None:
        raise DataError(f"{path}: the file is empty; expected a BIDS events table with "
                        "'onset' and the word events.")
    return header, rows


def _is_plain_word(value, prefix):
    if prefix is not None:
        return value.startswith(prefix)
    return value not in _NON_WORDS and not value.startswith(_NON_WORD_PREFIXES)


@dataclass
class WordEvents:
    """The word events of one recording (:func:`read_word_events`)."""

    words: list
    onsets: np.ndarray  # seconds from the first sample of the recording
    how: str  # what was read, for the summary
    column: str
    dict_style: bool
    select: dict = field(default_factory=dict)
    n_skipped: int = 0  # events that are not words
    sentences: list | None = None  # sentence label of each word (``sentence_key``)


def read_word_events(events_tsv, word_column=None, word_key="word", select=None,
                     description_prefix=None, sentence_key=None):
    """Word events of one BIDS ``*_events.tsv`` file, in both usual styles.

    Parameters
    ----------
    events_tsv : str | Path
    word_column : str | None
        Column holding the word, or the dictionary-like string holding it. ``None``:
        ``word`` when the file has it, else ``trial_type``.
    word_key : str
        Key of the word in dictionary-like cells.
    select : dict | None
        Which events are words: keys (of the dictionaries, or columns for a plain
        column) and the values they must have. ``None``: for dictionaries that have a
        ``kind`` key, ``{"kind": "word"}``; otherwise every event with a word.
    description_prefix : str | None
        Plain column only: words are the values starting with this prefix (stripped).
    sentence_key : str | None
        Key of the dictionaries (or column, for a plain column) holding each word's
        sentence label (a new sentence starts where the label changes).

    Returns
    -------
    WordEvents

    Raises
    ------
    DataError
        Naming the file, line and column: unreadable file, a missing column, an onset
        that is not a number, a dictionary-like cell that is not a dictionary of
        literals, a selected event without ``word_key``.
    """
    header, rows = _read_tsv(events_tsv)
    if word_column is None:
        word_column = "word" if "word" in header else "trial_type"
    for col in ("onset", word_column):
        if col not in header:
            raise DataError(f"{events_tsv}: no '{col}' column (columns: {header}); expected "
                            f"word events with 'onset' and '{word_column}' (set word_column).")
    icol, ionset = header.index(word_column), header.index("onset")
    cells = [(n, f[icol].strip(), f) for n, f in rows]
    dict_style = any(c.startswith("{") for _, c, _ in cells)
    words, onsets, labels, skipped = [], [], [], 0
    if dict_style:
        parsed = [(n, parse_event_dict(c, events_tsv, n, word_column), f)
                  for n, c, f in cells if c.startswith("{")]
        skipped = len(cells) - len(parsed)
        if select is None:
            select = {"kind": "word"} if any("kind" in d for _, d, _ in parsed) else {}
        for n, d, f in parsed:
            if any(str(d.get(k)) != str(v) for k, v in select.items()):
                skipped += 1
                continue
            if word_key not in d:
                raise DataError(f"{events_tsv}: line {n}, column '{word_column}': no key "
                                f"'{word_key}' in {sorted(map(str, d))}; expected the word "
                                "there (set word_key, or select to leave such events out).")
            if sentence_key is not None and sentence_key not in d:
                raise DataError(f"{events_tsv}: line {n}, column '{word_column}': no key "
                                f"'{sentence_key}' (sentence_key) in {sorted(map(str, d))}.")
            words.append(str(d[word_key]).strip())
            onsets.append((n, f[ionset]))
            labels.append(None if sentence_key is None else str(d[sentence_key]))
        how = (f"key '{word_key}' of the dictionaries in column '{word_column}'"
               + (f", events with {select}" if select else ""))
    else:
        select = dict(select or {})
        unknown = [k for k in list(select) + [sentence_key] if k is not None and k not in header]
        if unknown:
            raise DataError(f"{events_tsv}: select or sentence_key names column(s) {unknown} "
                            f"that the file does not have (columns: {header}).")
        idx = {k: header.index(k) for k in select}
        for n, c, f in cells:
            ok = _is_plain_word(c, description_prefix) and all(
                f[idx[k]].strip() == str(v) for k, v in select.items())
            if not ok:
                skipped += 1
                continue
            words.append(c[len(description_prefix):] if description_prefix else c)
            onsets.append((n, f[ionset]))
            labels.append(None if sentence_key is None else f[header.index(sentence_key)].strip())
        how = (f"column '{word_column}'" + (f" (values after '{description_prefix}')"
                                            if description_prefix else "")
               + (f", events with {select}" if select else ""))
    values = np.empty(len(onsets))
    for i, (n, text) in enumerate(onsets):
        try:
            values[i] = float(text)
        except ValueError:
            values[i] = np.nan
        if not np.isfinite(values[i]):
            raise DataError(f"{events_tsv}: line {n}, column 'onset' is {text!r}; expected "
                            "the word's onset in seconds.")
    order = np.argsort(values, kind="stable")
    return WordEvents([words[i] for i in order], values[order], how, word_column, dict_style,
                      dict(select), skipped,
                      None if sentence_key is None else [labels[i] for i in order])


# --------------------------------------------------------------------------- recordings
def _natural(text):
    """Sort key: numbers as numbers ('2' < '10'), then text."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", str(text))]


def _as_list(value, name):
    if value is None:
        return None
    values = [value] if isinstance(value, (str, int)) else list(value)
    if not values:
        raise DataError(f"{name}=[]: expected None (all), one label or a list of labels.")
    return [str(v) for v in values]


@dataclass
class _Recording:
    bids_path: object  # mne_bids.BIDSPath
    fpath: Path
    subject: str
    session: str | None
    task: str | None
    run: str | None
    events: WordEvents | None = None

    @property
    def label(self):
        parts = [f"sub-{self.subject}"]
        for ent, val in (("ses", self.session), ("task", self.task), ("run", self.run)):
            if val is not None:
                parts.append(f"{ent}-{val}")
        return " ".join(parts)

    @property
    def story(self):
        return (self.task, self.run)

    def unit(self, average_sessions):
        return (self.subject,) if average_sessions else (self.subject, self.session)


def _story_name(story):
    task, run = story
    return " ".join(p for p in (f"task-{task}" if task is not None else None,
                                f"run-{run}" if run is not None else None) if p) or "(no task)"


def _unit_name(unit):
    return f"sub-{unit[0]}" + (f" ses-{unit[1]}" if len(unit) > 1 and unit[1] is not None else "")


def _find_recordings(root, subject, session, task, run, datatype, notes):
    import mne_bids
    from mne_bids.config import ALLOWED_DATATYPE_EXTENSIONS

    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: folder not found; expected the root of a BIDS dataset "
                        "(with sub-*/ folders).")
    datatypes = _DATATYPES if datatype is None else (datatype,)
    wanted = {"subject": _as_list(subject, "subject"), "session": _as_list(session, "session"),
              "task": _as_list(task, "task"), "run": _as_list(run, "run")}
    found, seen = [], {k: set() for k in wanted}
    for dt in datatypes:
        exts = set(ALLOWED_DATATYPE_EXTENSIONS.get(dt, ()))
        files = [*root.glob(f"sub-*/{dt}/*_{dt}.*"), *root.glob(f"sub-*/ses-*/{dt}/*_{dt}.*")]
        for path in sorted(files):
            if path.suffix not in exts:
                continue
            bp = mne_bids.get_bids_path_from_fname(path, check=False)
            if bp.split not in (None, "01"):
                continue  # the later parts of a split FIF file
            bp.update(root=root, datatype=dt, check=False)
            values = {k: getattr(bp, k) for k in wanted}
            for k, v in values.items():
                if v is not None:
                    seen[k].add(v)
            if all(w is None or values[k] in w for k, w in wanted.items()):
                found.append(_Recording(bp, path, bp.subject, bp.session, bp.task, bp.run))
    if not found:
        asked = {k: v for k, v in wanted.items() if v is not None}
        have = {k: sorted(v, key=_natural) for k, v in seen.items() if v}
        raise DataError(f"{root}: no {'/'.join(datatypes)} recording"
                        + (f" matches {asked}" if asked else "")
                        + (f"; the dataset has {have}" if have else
                           "; expected sub-*/[ses-*/]meg|eeg/*_meg|eeg.<ext> files") + ".")
    for k, values in wanted.items():
        matched = {getattr(r, k) for r in found}
        for v in values or ():
            if v not in matched:
                notes.append({"recording": f"{k} {v}", "story": "-",
                              "reason": "asked for, but no recording matches it and the other "
                                        f"options (the dataset has {k}s "
                                        f"{sorted(seen[k], key=_natural)}); left out"})
    found.sort(key=lambda r: (_natural(r.subject), _natural(r.session or ""),
                              _natural(r.task or ""), _natural(r.run or "")))
    return found


def _align(recordings, notes):
    """Reference words of each story; recordings that disagree are left out (noted)."""
    stories = {}
    for rec in recordings:
        stories.setdefault(rec.story, []).append(rec)
    reference, kept = {}, []
    for story in sorted(stories, key=lambda s: (_natural(s[0] or ""), _natural(s[1] or ""))):
        recs = stories[story]
        counts = Counter(tuple(r.events.words) for r in recs)
        best = max(counts.values())
        ref = next(tuple(r.events.words) for r in recs if counts[tuple(r.events.words)] == best)
        reference[story] = list(ref)
        for rec in recs:
            words = rec.events.words
            if tuple(words) == ref:
                kept.append(rec)
                continue
            diff = next((i for i, (a, b) in enumerate(zip(words, ref)) if a != b), None)
            why = (f"word {diff} is {words[diff]!r} where the other recordings of "
                   f"{_story_name(story)} have {ref[diff]!r}" if diff is not None else
                   f"{len(words)} words where the other recordings of {_story_name(story)} "
                   f"have {len(ref)}")
            notes.append({"recording": rec.label, "story": _story_name(story),
                          "reason": f"its words disagree ({why}); left out"})
    return reference, kept


def _missing_notes(recordings, stories, average_sessions, notes):
    """Name each subject, or subject-session, that lacks a story."""
    by_subject = {}
    for rec in recordings:
        by_subject.setdefault(rec.subject, {}).setdefault(rec.session, set()).add(rec.story)
    for subject, sessions in by_subject.items():
        has_any = set().union(*sessions.values())
        for story in stories:
            lacking = [ses for ses, have in sessions.items() if story not in have]
            if not lacking:
                continue
            name = _story_name(story)
            if average_sessions and story not in has_any:
                notes.append({"recording": f"sub-{subject}", "story": name,
                              "reason": f"has no recording of {name}; its words are missing "
                                        f"values (NaN) for sub-{subject}"})
                continue
            for ses in lacking:
                label = _unit_name((subject, ses))
                notes.append({"recording": label, "story": name, "reason": (
                    f"has no recording of {name}; sub-{subject}'s {name} is the mean of its "
                    "other sessions" if average_sessions else
                    f"has no recording of {name}; its words are missing values (NaN) for {label}")})


# --------------------------------------------------------------------------- windows
def _file_identity(rec):
    """(name, size, mtime_ns) of every file of the recording's data (a .ds folder, splits)."""
    path = rec.fpath
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
    else:
        stem = path.name.replace("_split-01", "_split-*") if "_split-01" in path.name else None
        files = sorted(path.parent.glob(stem)) if stem else [path]
    out = []
    for p in files:
        st = p.stat()
        out.append([str(p.relative_to(path.parent)), st.st_size, st.st_mtime_ns])
    return out


def _sidecar(rec, suffix):
    return rec.bids_path.copy().update(suffix=suffix, extension=".tsv", split=None,
                                       check=False).fpath


def _cache_key(rec, settings):
    channels = _sidecar(rec, "channels")
    payload = {
        "version": BIDS_CACHE_VERSION,
        "path": str(rec.fpath.resolve()),
        "data": _file_identity(rec),
        "events": sha256_file(_sidecar(rec, "events")),
        "channels": sha256_file(channels) if Path(channels).is_file() else None,
        "onsets": hashlib.sha256(np.ascontiguousarray(rec.events.onsets).tobytes()).hexdigest(),
        **settings,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _window_recording(rec, settings):
    """Window means (n_words, n_channels, n_windows) of one recording, read in blocks."""
    import mne_bids

    try:
        raw = mne_bids.read_raw_bids(rec.bids_path, verbose="error")
    except Exception as err:
        raise DataError(f"{rec.fpath}: cannot read the BIDS recording ({type(err).__name__}: "
                        f"{err}).") from err
    try:
        raw.pick(settings["picks"])
    except ValueError as err:
        raise DataError(f"{rec.fpath}: picks={settings['picks']!r} selects no valid channel "
                        f"({err}).") from err
    if settings["l_freq"] is not None or settings["h_freq"] is not None:
        raw.load_data(verbose="error")  # MNE's FIR filter needs the whole recording
        raw.filter(settings["l_freq"], settings["h_freq"], picks="all", n_jobs=1,
                   verbose="error")
    sfreq = float(raw.info["sfreq"])
    n_windows = settings["n_windows"]
    edges = _window_edges(n_windows, settings["window_ms"], sfreq, rec.fpath)
    # BIDS onsets count from the recording's first sample, as get_data's start does
    starts = np.rint(rec.events.onsets * sfreq).astype(np.int64) \
        + int(np.round(settings["tmin"] * sfreq))
    inside = np.flatnonzero((starts >= 0) & (starts + edges[-1] <= raw.n_times))
    values = np.full((len(starts), len(raw.ch_names), n_windows), np.nan, dtype=np.float32)
    block = max(int(settings["block_s"] * sfreq), int(edges[-1]))
    order = inside[np.argsort(starts[inside], kind="stable")]
    ends = starts[order] + edges[-1]
    i = 0
    while i < order.size:
        lo = int(starts[order[i]])
        j = max(i + 1, int(np.searchsorted(ends, lo + block, side="right")))
        hi = int(ends[j - 1])
        data = raw.get_data(start=lo, stop=hi)  # (channels, samples) of this block only
        values[order[i:j]] = _window_means(data.T, starts[order[i:j]] - lo, edges)
        i = j
    bads = [k for k, c in enumerate(raw.ch_names) if c in raw.info["bads"]]
    values[:, bads] = np.nan
    return values, raw.info


def _cached_windows(rec, settings, folder):
    """Windows of a recording from the cache, or computed and cached; (values, info, hit)."""
    import mne

    if folder is None:
        values, info = _window_recording(rec, settings)
        return values, info, False
    key = _cache_key(rec, settings)
    slug = rec.label.replace(" ", "_")
    npz, fif = folder / f"{slug}-{key[:20]}.npz", folder / f"{slug}-{key[:20]}-info.fif"
    if npz.is_file() and fif.is_file():
        try:
            with np.load(npz, allow_pickle=False) as f:
                values, stored = f["values"], str(f["key"])
            info = mne.io.read_info(fif, verbose="error")
            if stored == key and values.shape == (len(rec.events.words), len(info["ch_names"]),
                                                  settings["n_windows"]):
                return values, info, True
        except Exception:  # an unreadable cache file is recomputed and replaced
            pass
    values, info = _window_recording(rec, settings)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(fif, lambda tmp: mne.io.write_info(tmp, info))
    atomic_savez(npz, values=values, key=np.array(key))
    return values, info, False


# --------------------------------------------------------------------------- loader
def _settings(window_ms, tmin, tmax, picks, l_freq, h_freq, block_s, word_options):
    n_float = (tmax - tmin) * 1000.0 / window_ms
    n_windows = int(round(n_float))
    if n_windows < 1 or abs(n_float - n_windows) > 1e-6:
        raise DataError(f"tmin={tmin}, tmax={tmax} s is {n_float:g} windows of {window_ms} ms; "
                        "expected a whole, positive number of windows.")
    return {"window_ms": float(window_ms), "tmin": float(tmin), "tmax": float(tmax),
            "n_windows": n_windows, "picks": picks if isinstance(picks, str) else list(picks),
            "l_freq": l_freq, "h_freq": h_freq, "block_s": float(block_s), **word_options}


def load_bids(bids_root, subject=None, session=None, task=None, run=None, datatype=None,
              word_column=None, word_key="word", select=None, description_prefix=None,
              sentence_key=None, window_ms=25.0, tmin=0.0, tmax=0.5, picks="data", l_freq=None,
              h_freq=None,
              average_sessions=True, keep_subjects=True, block_s=60.0, cache_dir=None,
              verbose=True, **unknown):
    """Load a BIDS MEG/EEG study with word events as one :class:`WordDataset`.

    The rules (recordings, stories, word events, alignment, windows, subjects) are in
    the module's documentation (:mod:`analysis.loaders.bids`).

    Parameters
    ----------
    bids_root : str | Path
        Root of the BIDS dataset.
    subject, session, task, run : str | list of str | None
        BIDS entities to read (``None``: every one found).
    datatype : {"meg", "eeg"} | None
        ``None``: both.
    word_column : str | None
        Column holding the word, or the dictionary-like string holding it
        (:func:`read_word_events`; ``None``: ``word`` when present, else ``trial_type``).
    word_key : str
        Key of the word in dictionary-like cells.
    select : dict | None
        Which events are words (``None``: ``{"kind": "word"}`` for dictionaries with a
        ``kind`` key, else every event with a word).
    description_prefix : str | None
        Plain column only: words are the values starting with this prefix.
    sentence_key : str | None
        Key (or column) of each word's sentence label; ``None``: sentences are segmented
        from the words' punctuation (:func:`analysis.text.segment_sentences`), which
        finds none in unpunctuated transcripts.
    window_ms : float
        Window width in ms; each window averages its samples.
    tmin, tmax : float
        Span binned into windows, in s from word onset (a whole number of windows).
    picks : str | list
        Channels kept (:meth:`mne.io.Raw.pick`; default: data channels).
    l_freq, h_freq : float | None
        Optional band-pass (MNE's default FIR) applied to each recording before
        windowing; loads one whole recording at a time.
    average_sessions : bool
        One row per subject (sessions averaged); ``False``: one per subject and session.
    keep_subjects : bool
        Keep ``subject_responses``; ``False`` keeps only the mean (less memory).
    block_s : float
        Seconds of raw data read at a time.
    cache_dir : str | Path | None | False
        Folder of the per-recording window cache (default ``$LIVING_PAPER_CACHE/bids``
        or ``<repo>/cache/bids``); ``False`` disables it.
    verbose : bool
        Print the summary of what was understood.
    **unknown
        Refused with a message listing the options.

    Returns
    -------
    WordDataset
        ``responses`` (n_words, n_channels, n_windows): mean over subjects, window
        starts ``tmin*1000 + k*window_ms`` ms; ``subject_responses`` (n_subjects,
        n_words, n_channels, n_windows), NaN where a subject lacks the story or the word
        (subjects in ``provenance["subjects"]``); ``info``: the first recording's
        ``mne.Info`` (sensor geometry) for the kept channels; ``groups["story"]``;
        ``context="running"``; ``provenance``: ``understood`` (the summary lines),
        ``options`` (what reproduces it), ``recordings``, ``left_out`` (recordings or
        subjects left out, and why), ``dropped_words`` ([presented index, word]
        without a value), ``dropped_channels``, ``cache``.

    Raises
    ------
    DataError
        Unknown options, no matching recording, no word events anywhere, malformed
        events files (:func:`read_word_events`), unreadable recordings, a span that is
        not a whole number of windows, no channel with values.
    """
    import mne

    from ..provenance import cache_dir as default_cache_dir

    if unknown:
        raise DataError(f"{bids_root}: unknown option(s) {sorted(unknown)} for the BIDS study; "
                        f"expected some of {list(BIDS_OPTION_NAMES)}.")
    word_options = {"word_column": word_column, "word_key": word_key, "select": select,
                    "description_prefix": description_prefix, "sentence_key": sentence_key}
    settings = _settings(window_ms, tmin, tmax, picks, l_freq, h_freq, block_s, word_options)
    folder = None if cache_dir is False else Path(cache_dir or default_cache_dir("bids"))
    notes = []
    recordings = _find_recordings(bids_root, subject, session, task, run, datatype, notes)
    with_words = []
    for rec in recordings:
        rec.events = read_word_events(_sidecar(rec, "events"), **word_options)
        if rec.events.words:
            with_words.append(rec)
        else:
            notes.append({"recording": rec.label, "story": _story_name(rec.story),
                          "reason": f"no word events in {rec.events.how}; left out"})
    if not with_words:
        raise DataError(f"{bids_root}: no word events found in "
                        f"{recordings[0].events.how} of {_sidecar(recordings[0], 'events')}"
                        + (f" or the other {len(recordings) - 1} recordings" if len(recordings) > 1
                           else "") + "; set word_column, word_key or select.")
    reference, kept = _align(with_words, notes)
    stories = list(reference)
    _missing_notes(kept, stories, average_sessions, notes)

    offsets = np.cumsum([0] + [len(reference[s]) for s in stories])
    presented = [w for s in stories for w in reference[s]]
    story_of_word = np.repeat(np.arange(len(stories)), np.diff(offsets))
    units = sorted({r.unit(average_sessions) for r in kept},
                   key=lambda u: [_natural(x or "") for x in u])

    sub, grand, ch_names, info, n_cached = _stream(
        kept, units, average_sessions, stories, offsets, settings, folder, keep_subjects, notes)

    has_channel = np.isfinite(grand).any(axis=(0, 2))
    if not has_channel.any():
        raise DataError(f"{bids_root}: no channel has a value in any recording (every word's "
                        "windows run past its recording, or every channel is bad).")
    dropped_channels = [c for c, ok in zip(ch_names, has_channel) if not ok]
    keep_ch = np.flatnonzero(has_channel)
    has_value = np.isfinite(grand[:, keep_ch]).all(axis=(1, 2))
    rows = np.flatnonzero(has_value)
    if rows.size == 0:
        raise DataError(f"{bids_root}: no word has a value on every channel; expected word "
                        "onsets inside the recordings.")
    dropped_words = [[int(i), presented[i]] for i in np.flatnonzero(~has_value)]

    sentence = np.zeros(len(presented), dtype=np.int64)
    for k, story in enumerate(stories):
        lo, hi = offsets[k], offsets[k + 1]
        if sentence_key is None:
            codes = segment_sentences(presented[lo:hi])
        else:  # the labels of the first recording of the story (its words are the story's)
            labels = next(r for r in kept if r.story == story).events.sentences
            codes = np.r_[0, np.cumsum([a != b for a, b in zip(labels[1:], labels[:-1])])]
        sentence[lo:hi] = codes + (sentence[lo - 1] + 1 if lo else 0)
    all_rows, all_ch = rows.size == len(presented), keep_ch.size == len(ch_names)
    if sub is not None and not (all_rows and all_ch):
        # compact in place, one subject at a time: no second copy of the largest array
        for u in range(sub.shape[0]):
            sub[u, :rows.size, :keep_ch.size] = sub[u][np.ix_(rows, keep_ch)]
        sub = sub[:, :rows.size, :keep_ch.size]
    responses = grand[rows][:, keep_ch] if not (all_rows and all_ch) else grand
    if not all_ch:
        info = mne.pick_info(info, keep_ch)

    options = {"subject": list(dict.fromkeys(u[0] for u in units)),
               "task": sorted({s[0] for s in stories if s[0] is not None}, key=_natural) or None,
               "word_column": _common(r.events.column for r in kept),
               "word_key": word_key, "select": _common(json.dumps(r.events.select)
                                                        for r in kept),
               "window_ms": settings["window_ms"], "tmin": settings["tmin"],
               "tmax": settings["tmax"], "picks": settings["picks"],
               "average_sessions": bool(average_sessions)}
    if options["select"] is not None:
        options["select"] = json.loads(options["select"])
    for name, value in (("session", session), ("run", run), ("datatype", datatype),
                        ("description_prefix", description_prefix),
                        ("sentence_key", sentence_key), ("l_freq", l_freq),
                        ("h_freq", h_freq)):
        if value is not None:
            options[name] = value
    if not keep_subjects:
        options["keep_subjects"] = False
    lines = _summary(bids_root, recordings, kept, stories, reference, units, average_sessions,
                     ch_names, keep_ch, settings, notes, dropped_words, dropped_channels,
                     n_cached, folder, options, keep_subjects)
    n_sentences = [len(np.unique(sentence[offsets[k]:offsets[k + 1]]))
                   for k in range(len(stories))]
    lines.insert(3, f"  sentences:    {int(sentence[-1]) + 1:,} from "
                 + (f"the events' '{sentence_key}'" if sentence_key else "punctuation")
                 + ("" if sentence_key or min(n_sentences) > 1 else
                    "; a story without sentence ends (no punctuation): sentence_key=<key> can "
                    "give sentences from the events"))
    if verbose:
        print("\n".join(lines))
    return WordDataset(
        words=[presented[i] for i in rows],
        sentence=sentence[rows],
        responses=responses,
        times=settings["tmin"] * 1000.0 + np.arange(settings["n_windows"]) * settings["window_ms"],
        ch_names=[ch_names[k] for k in keep_ch],
        info=info,
        window_ms=settings["window_ms"],
        subject_responses=sub,
        context="running",
        groups={"story": story_of_word[rows]},
        stimulus=None if all_rows else Stimulus(presented, sentence, rows, story_of_word),
        provenance={
            "loader": "load_bids",
            "root": str(bids_root),
            "options": options,
            "understood": lines,
            "recordings": [r.label for r in kept],
            "stories": [_story_name(s) for s in stories],
            "subjects": [_unit_name(u) for u in units],
            "left_out": notes,
            "dropped_words": dropped_words,
            "dropped_channels": dropped_channels,
            "words_from": sorted({r.events.how for r in kept}),
            "cache": {"folder": None if folder is None else str(folder),
                      "recordings_from_cache": int(n_cached)},
        },
        source=f"BIDS study {Path(bids_root).name}",
    )


def _stream(kept, units, average_sessions, stories, offsets, settings, folder, keep_subjects,
            notes):
    """Window every recording, one at a time, into per-subject means and their mean.

    Returns ``(subject_responses or None, grand mean, ch_names, info, n_from_cache)``; the
    arrays are (n_units, n_presented, n_channels, n_windows) and (n_presented, ...), NaN
    where nothing was recorded. Only one recording's windows and one subject's sums are
    held besides the outputs.
    """
    n_presented, n_windows = int(offsets[-1]), settings["n_windows"]
    ch_names = info = shape = sub = total = count = None
    n_cached = 0
    for u, unit in enumerate(units):
        acc = cnt = None
        for rec in (r for r in kept if r.unit(average_sessions) == unit):
            values, rec_info, hit = _cached_windows(rec, settings, folder)
            n_cached += hit
            if ch_names is None:
                ch_names, info = list(rec_info["ch_names"]), rec_info
                shape = (n_presented, len(ch_names), n_windows)
            if list(rec_info["ch_names"]) != ch_names:
                pos = {c: k for k, c in enumerate(rec_info["ch_names"])}
                have = [k for k, c in enumerate(ch_names) if c in pos]
                n_extra = len(set(rec_info["ch_names"]) - set(ch_names))
                notes.append({"recording": rec.label, "story": _story_name(rec.story),
                              "reason": f"{len(ch_names) - len(have)} channel(s) of the first "
                                        f"recording missing (NaN), {n_extra} other(s) ignored"})
                remapped = np.full((values.shape[0],) + shape[1:], np.nan, np.float32)
                remapped[:, have] = values[:, [pos[ch_names[k]] for k in have]]
                values = remapped
            if acc is None:
                acc, cnt = np.zeros(shape, np.float64), np.zeros(shape, np.uint16)
            k = stories.index(rec.story)
            rows = slice(int(offsets[k]), int(offsets[k + 1]))
            ok = np.isfinite(values)
            acc[rows] += np.where(ok, values, 0.0)
            cnt[rows] += ok
            del values, ok
        if total is None:
            total, count = np.zeros(shape, np.float64), np.zeros(shape, np.uint16)
            if keep_subjects:
                sub = np.empty((len(units),) + shape, np.float32)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(cnt > 0, acc / np.maximum(cnt, 1), np.nan).astype(np.float32)
        del acc, cnt
        ok = np.isfinite(mean)
        total += np.where(ok, mean, 0.0)
        count += ok
        if keep_subjects:
            sub[u] = mean
        del mean, ok
    with np.errstate(invalid="ignore", divide="ignore"):
        grand = np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(np.float32)
    return sub, grand, ch_names, info, n_cached


def _common(values):
    values = set(values)
    return values.pop() if len(values) == 1 else None


def _summary(root, recordings, kept, stories, reference, units, average_sessions, ch_names,
             keep_ch, settings, notes, dropped_words, dropped_channels, n_cached, folder,
             options, keep_subjects):
    """The printed summary of what was understood (also kept in the provenance)."""
    sessions = sorted({r.session for r in kept if r.session is not None}, key=_natural)
    n_subjects = len({r.subject for r in kept})
    out = [f"BIDS study {portable_path(root)}: {len(recordings)} recording(s) found, "
           f"{len(kept)} used: "
           f"{n_subjects} subject(s), {len(sessions) or 1} session(s), {len(stories)} "
           "story(ies) (a story is a task and run)"]
    hows = Counter(r.events.how for r in kept)
    out.append("  words:        " + "; ".join(f"{how} ({n} recording(s))"
                                              for how, n in hows.items()))
    out.append("  stories:      " + ", ".join(f"{_story_name(s)} ({len(reference[s]):,} words)"
                                              for s in stories) + "; the CV groups")
    out.append(f"  subjects:     {len(units)} ({', '.join(_unit_name(u) for u in units[:8])}"
               f"{' ...' if len(units) > 8 else ''}); "
               + ("sessions averaged within each subject" if average_sessions
                  else "each subject-session its own row")
               + ("; responses = mean over subjects, subject_responses = each" if keep_subjects
                  else "; responses = mean over subjects (subject_responses not kept)"))
    filt = ("no filter" if settings["l_freq"] is None and settings["h_freq"] is None
            else f"band-pass {settings['l_freq']}-{settings['h_freq']} Hz")
    out.append(f"  windows:      {settings['n_windows']} x {settings['window_ms']:g} ms from "
               f"{settings['tmin'] * 1000:g} ms after onset; {len(keep_ch)} channel(s) "
               f"(picks {settings['picks']!r}); {filt}")
    for note in notes:
        out.append(f"  left out:     {note['recording']} ({note['story']}): {note['reason']}")
    if dropped_channels:
        out.append(f"  channels:     {len(dropped_channels)} without any value left out: "
                   f"{', '.join(dropped_channels[:10])}")
    if dropped_words:
        out.append(f"  no value:     {len(dropped_words)} word(s) (windows past the recording, "
                   "or bad channels everywhere): context only")
    out.append(f"  analysed:     {sum(len(reference[s]) for s in stories) - len(dropped_words):,} "
               f"of {sum(len(reference[s]) for s in stories):,} presented words")
    out.append("  cache:        off" if folder is None else
               f"  cache:        {n_cached} of {len(kept)} recording(s) from "
               f"{portable_path(folder)}")
    out.append(f"  options:      {json.dumps(options)}")
    return out


# --------------------------------------------------------------------------- command line
def main(argv=None):
    """``python -m analysis.loaders.bids ROOT``: what the ``bids`` dataset understands of a study.

    Loads the study as the book would (filling the window cache) and prints the summary,
    which ends with the options that reproduce it. Returns the exit code (0, or 2 on a
    data error).
    """
    import argparse
    import sys

    from ..params import parse_text

    parser = argparse.ArgumentParser(
        prog="python -m analysis.loaders.bids",
        description="Check what the 'bids' dataset understands of a BIDS MEG/EEG study (and "
                    "fill its window cache).")
    parser.add_argument("root", help="the root of the BIDS dataset")
    parser.add_argument("--options", default="{}",
                        help="loader options as YAML, as for dataset_options "
                             "(e.g. '{subject: [\"01\", \"02\"], task: \"0\"}')")
    args = parser.parse_args(argv)
    try:
        options = parse_text(args.options) or {}
        if not isinstance(options, dict):
            raise DataError(f"--options {args.options!r}; expected a mapping such as "
                            "'{subject: \"01\"}'.")
        print(load_bids(args.root, **options))
    except (DataError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
