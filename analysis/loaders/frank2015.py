"""Frank et al. (2015) EEG: the per-word ERP table of de Varda et al. (2023), and the
single-trial EEG and eye-tracking files of Aurnhammer & Frank (2019)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._utils import SHARED_DATA, DataError, check_finite, shared_data_path
from ..data import Stimulus, WordDataset

__all__ = ["load_frank2015", "read_frank2015_table", "published_exclusion", "FRANK_COMPONENTS",
           "FRANK_COMPONENT_WINDOWS_MS", "PUBLISHED_EXCLUSION_CHARS", "load_frank2015_trials",
           "load_frank2015_eyetracking", "join_all_measures"]


FRANK_COMPONENTS = ("ELAN", "LAN", "N400", "EPNP", "P600", "PNP")
# Component time windows (ms after word onset) of Frank et al. (2015), for reference.
FRANK_COMPONENT_WINDOWS_MS = {
    "ELAN": (125, 175), "LAN": (300, 400), "N400": (300, 500),
    "EPNP": (400, 600), "P600": (500, 700), "PNP": (600, 700),
}
_FRANK_REQUIRED = ("sentence", "word", "sent_id", "context_length") + FRANK_COMPONENTS
_FRANK_HOWTO = (
    "Get all_measures.csv from the public repository 'prediction-resource' of de Varda, "
    "Marelli & Amenta (2023, Behavior Research Methods); the EEG measures are from Frank, "
    "Otten, Galli & Vigliocco (2015, Brain and Language 140:1-11). Pass its path or set "
    "FRANK2015_PATH."
)


def _frank_default_path(path):
    found = shared_data_path("frank2015/all_measures.csv", "FRANK2015_PATH", path)
    if found is None:
        raise DataError(f"Frank et al. (2015) data not found (looked for "
                        f"{SHARED_DATA / 'frank2015' / 'all_measures.csv'}). {_FRANK_HOWTO}")
    return found / "all_measures.csv" if found.is_dir() else found


def _frank_numeric(table, column, path):
    import pandas as pd

    values = pd.to_numeric(table[column].str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(np.isnan(values))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{path}: column '{column}' row {i} (line {i + 2}, word {table['word'].iloc[i]!r}) is "
            f"{table[column].iloc[i]!r}; expected a number."
        )
    return values


def read_frank2015_table(path=None):
    """Read the Frank et al. (2015) per-word table, ordered by sentence then position.

    Text columns are read verbatim (a word such as "None" stays a word); the other
    columns are converted to numbers where every value parses (blanks -> NaN).

    Parameters
    ----------
    path : str | Path | None
        ``all_measures.csv`` or its folder; see :func:`load_frank2015`.

    Returns
    -------
    pandas.DataFrame
        One row per word, index reset, in dataset order.
    """
    import pandas as pd

    path = _frank_default_path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found. {_FRANK_HOWTO}")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as err:
        raise DataError(f"{path}: cannot read as CSV ({type(err).__name__}: {err}).") from err
    missing = [c for c in _FRANK_REQUIRED if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing columns {missing}; expected the all_measures.csv layout.")
    table.attrs["path"] = str(path)
    for col in ("sent_id", "context_length") + FRANK_COMPONENTS:
        table[col] = _frank_numeric(table, col, path)
    table[["sent_id", "context_length"]] = table[["sent_id", "context_length"]].astype(int)
    for col in table.columns:
        if col in ("sentence", "item", "word", "word2", "sent_id", "context_length") + FRANK_COMPONENTS:
            continue
        blank = table[col].str.strip().isin(["", "NA", "NaN", "nan"])
        converted = pd.to_numeric(table[col].where(~blank), errors="coerce")
        if converted.notna().sum() == (~blank).sum():
            table[col] = converted
    dup = table.duplicated(["sent_id", "context_length"])
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise DataError(
            f"{path}: row {i} (line {i + 2}) repeats sent_id {table['sent_id'].iloc[i]} and context_length "
            f"{table['context_length'].iloc[i]}; expected one row per word position."
        )
    return table.sort_values(["sent_id", "context_length"], kind="stable").reset_index(drop=True)


#: The de Varda et al. (2023) exclusion of the published correlations: a word that holds
#: a full stop, a comma or an apostrophe (sentence-final words, words attached to a
#: comma, clitics); their plot.py, 1,487 of 1,726 rows kept. The file's own
#: ``is_start_end`` column flags only sentence-final words (1,521 kept) and does not
#: reproduce their numbers.
PUBLISHED_EXCLUSION_CHARS = (".", ",", "'")


def published_exclusion(words):
    """The de Varda et al. (2023) exclusion flag of each word (True = left out).

    Parameters
    ----------
    words : sequence of str

    Returns
    -------
    ndarray of bool
        True where the word holds ``.``, ``,`` or ``'`` (sentence-final words, words
        attached to a comma, clitics and possessives), as in the ``plot.py`` of their
        public repository "prediction-resource"; sentence-initial words are not in the
        file at all.
    """
    return np.array([any(c in str(w) for c in PUBLISHED_EXCLUSION_CHARS) for w in words])


def _frank_stimulus(table, path):
    """The presented sentences (first words restored) and each row's position in them."""
    words, sentence, index = [], [], []
    for k, (sid, rows) in enumerate(table.groupby("sent_id", sort=True)):
        text = str(rows["sentence"].iloc[0]).split()
        for i, (pos, word) in zip(rows.index, zip(rows["context_length"], rows["word"])):
            if not 0 <= pos < len(text) or text[pos] != str(word).strip():
                got = text[pos] if 0 <= pos < len(text) else "nothing"
                raise DataError(
                    f"{path}: row {i} (sent_id {sid}, context_length {pos}) has word {word!r} "
                    f"but its sentence holds {got!r} at that position; expected column "
                    "'word' to be word number context_length (from 0) of column 'sentence'.")
            index.append(len(words) + int(pos))
        words += text
        sentence += [k] * len(text)
    return Stimulus(words, np.array(sentence), np.array(index))


def load_frank2015(path=None, exclude=None):
    """Load the Frank et al. (2015) EEG data: six ERP components per word.

    The six component amplitudes (averaged over 24 readers) are the six channels of a
    single window. Sentences were read in isolation, so ``context="sentence"``.

    Parameters
    ----------
    path : str | Path | None
        ``all_measures.csv`` (or its folder). ``None`` uses the environment variable
        ``FRANK2015_PATH``, else ``../shared/data/frank2015/all_measures.csv`` beside
        the repository, else raises :class:`DataError` saying where to get the file.
    exclude : None | "published"
        ``"published"`` leaves out the words of :func:`published_exclusion` (de Varda et
        al. 2023: 1,487 of 1,726 words kept); they stay in the presented text as
        context. ``None`` keeps every row of the file.

    Returns
    -------
    WordDataset
        Words ordered by ``sent_id`` then position; ``sentence`` numbers sentences
        0..n-1 in ``sent_id`` order. ``times=[0.]`` and ``window_ms=700``: one window
        covering all component windows (``provenance["component_windows_ms"]``).
        The file has no row for the first word of each sentence (no EEG measure);
        :attr:`WordDataset.stimulus` holds the full sentences, so a language model
        reads those words as context. ``metadata`` is the file's whole row per word
        (reading times, cloze probability, reference surprisal, ...), with a column
        ``published_exclusion``.

    Raises
    ------
    DataError
        File not found, missing columns, non-numeric or non-finite ERP values,
        duplicated word positions, words that do not match their sentence.
    """
    if exclude not in (None, "published"):
        raise DataError(f"load_frank2015: exclude={exclude!r}; expected None or 'published'.")
    table = read_frank2015_table(path)
    path = table.attrs["path"]
    responses = table[list(FRANK_COMPONENTS)].to_numpy(dtype=float)
    check_finite(responses, "ERP components", path,
                 row_name=lambda i: f"row {i} (word {table['word'].iloc[i]!r})",
                 col_name=lambda c, w=0: f"component {FRANK_COMPONENTS[c]}")
    sentence = np.unique(table["sent_id"].to_numpy(), return_inverse=True)[1]
    stimulus = _frank_stimulus(table, path)
    table["published_exclusion"] = published_exclusion(table["word"])
    first_rows = table.groupby("sent_id", sort=True).head(1)
    initial = [str(s).split()[0] if str(s).split() else "" for s in first_rows["sentence"]]
    dataset = WordDataset(
        words=list(table["word"]),
        sentence=sentence,
        responses=responses[:, :, None],
        times=np.array([0.0]),
        ch_names=list(FRANK_COMPONENTS),
        info=None,
        window_ms=700.0,
        context="sentence",
        metadata=table.drop(columns=list(FRANK_COMPONENTS)),
        stimulus=stimulus,
        provenance={
            "loader": "load_frank2015",
            "file": path,
            "n_participants": 24,
            "component_windows_ms": {k: list(v) for k, v in FRANK_COMPONENT_WINDOWS_MS.items()},
            "sentence_initial_words": initial,
            "sent_ids": [int(s) for s in first_rows["sent_id"]],
            "references": [
                "Frank, Otten, Galli & Vigliocco (2015), Brain and Language 140:1-11",
                "de Varda, Marelli & Amenta (2023), Behavior Research Methods "
                "('prediction-resource')",
            ],
        },
        source=f"Frank et al. (2015) EEG ({Path(path).name})",
    )
    if exclude == "published":
        dataset = dataset.subset(~table["published_exclusion"].to_numpy(),
                                 note="de Varda et al. (2023) exclusion")
    return dataset


# --------------------------------------------------------------------------- single trials
#: Values read as "missing" in the single-trial files (the published files leave a blank).
_MISSING = ("", "NA", "NaN", "nan", "NULL")
_TRUE, _FALSE = ("true", "t", "1"), ("false", "f", "0")
_TRIAL_COLUMNS = ("subj_nr", "sent_nr", "word_pos", "reject_data", "word", "log_freq",
                  "nr_char", "reject_word")
_TRIALS_HOWTO = (
    "Get data_EEG.csv, data_ET.csv and subjects.csv from the 'analysis' folder of the public "
    "repository 'AurnhammerFrank_CogSci2019' (Aurnhammer & Frank 2019, CogSci proceedings "
    "pp. 112-118); the EEG is from Frank, Otten, Galli & Vigliocco (2015), the eye tracking "
    "from Frank, Fernandez Monsalve, Thompson & Vigliocco (2013). Pass the file, its folder "
    "or the frank2015 folder above it, or set {env}."
)
_TRIALS_REFERENCES = [
    "Aurnhammer & Frank (2019), CogSci proceedings pp. 112-118 ('AurnhammerFrank_CogSci2019', "
    "analysis folder)",
]


def _trials_file(path, name, env):
    """The single-trial file ``name`` from a file, a folder or the frank2015 folder."""
    found = shared_data_path(f"frank2015/single_trials/{name}", env, path)
    howto = _TRIALS_HOWTO.format(env=env)
    if found is None:
        raise DataError(f"Frank et al. single-trial data not found (looked for "
                        f"{SHARED_DATA / 'frank2015' / 'single_trials' / name}). {howto}")
    if found.is_dir():
        for candidate in (found / name, found / "single_trials" / name):
            if candidate.is_file():
                return candidate
        raise DataError(f"{found}: no '{name}' in this folder or its 'single_trials' folder. "
                        f"{howto}")
    if not found.is_file():
        raise DataError(f"{found}: file not found. {howto}")
    return found


def _trial_where(table, i):
    """Readable position of row ``i`` of a single-trial table (for messages)."""
    row = table.iloc[i]
    return (f"row {i} (line {i + 2}: subj_nr {row['subj_nr']}, sent_nr {row['sent_nr']}, "
            f"word_pos {row['word_pos']}, word {row['word']!r})")


def _trial_numbers(table, column, path, integer=False):
    """A numeric column; blanks and NA are NaN unless ``integer`` (keys must be there)."""
    import pandas as pd

    text = table[column].str.strip()
    blank = text.isin(_MISSING)
    values = pd.to_numeric(text.where(~blank), errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(values) & ~blank.to_numpy()
    if integer:
        bad |= blank.to_numpy() | (np.isfinite(values) & (values != np.round(values)))
    bad = np.flatnonzero(bad)
    if bad.size:
        i = int(bad[0])
        want = "an integer" if integer else "a number (blank or NA for a missing value)"
        raise DataError(f"{path}: column '{column}' {_trial_where(table, i)} is "
                        f"{table[column].iloc[i]!r}; expected {want}.")
    return values.astype(np.int64) if integer else values


def _trial_flags(table, column, path):
    """A true/false column as bool (true/false in any case, or 1/0)."""
    text = table[column].str.strip().str.lower()
    flags = text.isin(_TRUE).to_numpy()
    bad = np.flatnonzero(~(flags | text.isin(_FALSE).to_numpy()))
    if bad.size:
        i = int(bad[0])
        raise DataError(f"{path}: column '{column}' {_trial_where(table, i)} is "
                        f"{table[column].iloc[i]!r}; expected true or false.")
    return flags


def _read_trial_table(path, measures):
    """Read a single-trial file: keys and flags checked, measures as float (NaN = missing).

    Returns the parsed table and the file's text table (for messages naming a row).
    """
    import pandas as pd

    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except Exception as err:
        raise DataError(f"{path}: cannot read as a tab-separated table "
                        f"({type(err).__name__}: {err}).") from err
    required = _TRIAL_COLUMNS + tuple(measures)
    missing = [c for c in required if c not in table.columns]
    if missing:
        hint = (" The file has one column: expected tab-separated values."
                if len(table.columns) == 1 else "")
        raise DataError(f"{path}: missing columns {missing}; expected the layout of Aurnhammer & "
                        f"Frank (2019) with columns {list(required)}.{hint}")
    out = pd.DataFrame({"word": table["word"].str.strip()})
    for col in ("subj_nr", "sent_nr", "word_pos"):
        out[col] = _trial_numbers(table, col, path, integer=True)
    for col in ("reject_data", "reject_word"):
        out[col] = _trial_flags(table, col, path)
    for col in ("log_freq", "nr_char") + tuple(measures):
        out[col] = _trial_numbers(table, col, path)
    dup = out.duplicated(["subj_nr", "sent_nr", "word_pos"])
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise DataError(f"{path}: {_trial_where(table, i)} repeats an earlier trial; expected "
                        "one row per participant and word.")
    return out, table


def _trial_words(trials, raw, path):
    """The presented words (sentences by sent_nr, positions from 1) and each trial's word.

    Returns the word table (one row per presented word, in order) and the position of
    every trial's word in it.
    """
    keys = ["sent_nr", "word_pos"]
    for col in ("word", "reject_word"):
        first = trials.groupby(keys, sort=False)[col].transform("first")
        differ = np.flatnonzero((first != trials[col]).to_numpy())
        if differ.size:
            i = int(differ[0])
            raise DataError(f"{path}: column '{col}' {_trial_where(raw, i)} is "
                            f"{raw[col].iloc[i]!r} but an earlier participant's row for the same "
                            f"word has {first.iloc[i]!r}; expected one value per word.")
    words = (trials.drop_duplicates(keys).sort_values(keys, kind="stable")
             .reset_index(drop=True)[keys + ["word", "log_freq", "nr_char", "reject_word"]])
    for sent_nr, pos in words.groupby("sent_nr", sort=True)["word_pos"]:
        if not np.array_equal(pos.to_numpy(), np.arange(1, len(pos) + 1)):
            raise DataError(f"{path}: sentence sent_nr {sent_nr} has word positions "
                            f"{pos.tolist()}; expected 1..{len(pos)} with no gap (the file "
                            "covers every word of every sentence).")
    words["sent_id"] = np.unique(words["sent_nr"], return_inverse=True)[1] + 1
    words["context_length"] = words["word_pos"] - 1
    where = {k: i for i, k in enumerate(zip(words["sent_nr"], words["word_pos"]))}
    index = np.array([where[k] for k in zip(trials["sent_nr"], trials["word_pos"])])
    return words, index


def _read_subjects(folder, experiment, subjects, required):
    """``subjects.csv`` rows of one experiment: {subj_nr: reject}; None when absent and allowed."""
    import pandas as pd

    path = Path(folder) / "subjects.csv"
    if not path.is_file():
        if required:
            raise DataError(f"{path}: file not found; it lists the participants to leave out "
                            "(pass drop_rejected_subjects=False to keep everyone). "
                            + _TRIALS_HOWTO.format(env="the path"))
        return None, None
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except Exception as err:
        raise DataError(f"{path}: cannot read as a tab-separated table "
                        f"({type(err).__name__}: {err}).") from err
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in ("experiment", "subj_nr", "reject") if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing columns {missing}; expected experiment, subj_nr, "
                        "correct, reject (tab-separated).")
    rows = table[table["experiment"].str.strip() == experiment]
    reject, correct = {}, {}
    for i, row in rows.iterrows():
        flag, nr = str(row["reject"]).strip().lower(), str(row["subj_nr"]).strip()
        if flag not in _TRUE + _FALSE or not nr.isdigit():
            raise DataError(f"{path}: row {i} (line {i + 2}, experiment {experiment}) has subj_nr "
                            f"{row['subj_nr']!r} and reject {row['reject']!r}; expected an "
                            "integer and true or false.")
        reject[int(nr)] = flag in _TRUE
        try:
            value = float(row.get("correct", "nan"))
        except ValueError:
            value = float("nan")
        correct[int(nr)] = value if np.isfinite(value) else None
    unknown = [int(s) for s in subjects if int(s) not in reject]
    if unknown and required:
        raise DataError(f"{path}: participant(s) {unknown} of the {experiment} data are not listed "
                        f"for experiment {experiment!r}; expected one row per participant.")
    return reject, correct


def _trials_dataset(path, env, name, experiment, measure, unit, valid, exclude,
                    drop_rejected_subjects, loader, on_empty, window_ms, extra=()):
    """The shared body of the single-trial loaders (see :func:`load_frank2015_trials`).

    ``valid(trials)`` flags the trials that count; ``on_empty`` says what happens to a
    selected word without any: ``"error"`` or ``"drop"`` (counted in the provenance).
    ``extra`` columns are averaged over the same trials into ``<column>_mean``.
    """
    if exclude not in (None, "published"):
        raise DataError(f"{loader}: exclude={exclude!r}; expected None or 'published'.")
    path = _trials_file(path, name, env)
    trials, raw = _read_trial_table(path, (measure,) + tuple(extra))
    words, word_of_trial = _trial_words(trials, raw, path)
    subjects_all = np.unique(trials["subj_nr"])
    reject, correct = _read_subjects(path.parent, experiment, subjects_all, drop_rejected_subjects)
    dropped = [int(s) for s in subjects_all if drop_rejected_subjects and reject[int(s)]]
    subjects = np.array([s for s in subjects_all if int(s) not in dropped], dtype=np.int64)
    if subjects.size == 0:
        raise DataError(f"{path}: every participant is rejected in subjects.csv; expected at "
                        "least one to keep.")
    keep = trials["subj_nr"].isin(subjects).to_numpy()
    subj_pos = np.searchsorted(subjects, trials["subj_nr"].to_numpy()[keep])
    ok = valid(trials)[keep]
    n_words = len(words)

    def per_subject(values):
        arr = np.full((subjects.size, n_words), np.nan)
        arr[subj_pos, word_of_trial[keep]] = np.where(ok, values[keep], np.nan)
        return arr

    matrix = per_subject(trials[measure].to_numpy())
    present = np.zeros((subjects.size, n_words), dtype=bool)
    present[subj_pos, word_of_trial[keep]] = True
    n_valid = np.isfinite(matrix).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n_valid > 0, np.nansum(matrix, axis=0) / np.maximum(n_valid, 1), np.nan)
    meta = words.copy()
    meta["n_trials"] = present.sum(axis=0)
    meta["n_valid_trials"] = n_valid
    for col in extra:
        values = per_subject(trials[col].to_numpy())
        counts = np.isfinite(values).sum(axis=0)
        meta[f"{col}_mean"] = np.where(counts > 0, np.nansum(values, axis=0) / np.maximum(counts, 1),
                                       np.nan)

    selected = ~meta["reject_word"].to_numpy() if exclude == "published" else np.ones(n_words, bool)
    empty = selected & ~np.isfinite(mean)
    empty_words = [[int(meta["sent_nr"][i]), int(meta["word_pos"][i]), str(meta["word"][i])]
                   for i in np.flatnonzero(empty)]
    if empty.any() and on_empty == "error":
        i = int(np.flatnonzero(empty)[0])
        raise DataError(f"{path}: word {meta['word'][i]!r} (sent_nr {meta['sent_nr'][i]}, word_pos "
                        f"{meta['word_pos'][i]}) has no valid {measure} trial among the "
                        f"{subjects.size} participants kept; expected at least one per analysed word.")
    rows = np.flatnonzero(np.isfinite(mean))
    all_words = meta["word"].tolist()
    stimulus = Stimulus(all_words, meta["sent_id"].to_numpy() - 1, rows)
    exclusion = ("reject_word == false (sentence-initial, sentence-final, comma-attached and "
                 "clitic words left out; Aurnhammer & Frank 2019, as in de Varda et al. 2023)"
                 if exclude == "published" else "none")
    dataset = WordDataset(
        words=[all_words[i] for i in rows],
        sentence=meta["sent_id"].to_numpy()[rows] - 1,
        responses=mean[rows, None, None],
        times=np.array([0.0]),
        ch_names=[measure],
        info=None,
        window_ms=float(window_ms),
        subject_responses=matrix[:, rows, None, None],
        context="sentence",
        groups={},
        metadata=meta.iloc[rows].reset_index(drop=True),
        stimulus=stimulus,
        provenance={
            "loader": loader,
            "file": str(path),
            "subjects_file": str(path.parent / "subjects.csv") if reject is not None else None,
            "experiment": experiment,
            "measure": measure,
            "unit": unit,
            "subjects": [int(s) for s in subjects],
            "subjects_dropped": dropped,
            "subjects_correct": None if correct is None else
            {str(int(s)): correct.get(int(s)) for s in subjects_all},
            "n_presented": int(n_words),
            "n_sentences": int(meta["sent_id"].max()) if n_words else 0,
            "n_trials_kept_participants": int(keep.sum()),
            "n_trials_missing": int((present & ~np.isfinite(matrix)).sum()),
            "exclusion": exclusion,
            "n_dropped_no_valid_trial": int(empty.sum()),
            "dropped_no_valid_trial": empty_words,
            "join_to_all_measures": "sent_id = 1-based rank of sent_nr among the file's "
                                    "sentence numbers; context_length = word_pos - 1",
            "references": list(_TRIALS_REFERENCES),
        },
        source=f"Frank et al. single trials, {experiment} ({path.name})",
    )
    if exclude == "published":
        dataset = dataset.subset(selected[rows], note=exclusion)
    return dataset


def load_frank2015_trials(path=None, exclude="published", drop_rejected_subjects=True):
    """Load the Frank et al. (2015) EEG trial by trial: the N400 of each reader and word.

    The single-trial release of Aurnhammer & Frank (2019) covers every word of the 205
    sentences (1,931 words, sentence-initial words included) for each of 24 readers
    (RSVP). Each trial holds the N400 amplitude (mean of 300-500 ms after word onset at
    the centro-parietal electrodes of Frank et al. 2015, in µV) and the mean potential
    in the 100 ms before word onset (``baseline``, not subtracted).

    Parameters
    ----------
    path : str | Path | None
        ``data_EEG.csv`` (tab-separated), the ``single_trials`` folder holding it, or the
        ``frank2015`` folder above that. ``None`` uses the environment variable
        ``FRANK2015_TRIALS_PATH``, else ``../shared/data/frank2015/single_trials/data_EEG.csv``.
        ``subjects.csv`` is read from the same folder as the data file.
    exclude : "published" | None
        ``"published"`` (default) keeps the words with ``reject_word`` false (1,487 of
        1,931: sentence-initial, sentence-final, comma-attached and clitic words are left
        out, the exclusion of Aurnhammer & Frank 2019 and de Varda et al. 2023); the others
        stay in the presented text as context (:meth:`WordDataset.subset`). ``None``
        keeps every word.
    drop_rejected_subjects : bool
        Leave out the participants whose ``reject`` is true in ``subjects.csv`` for
        experiment ``"EEG"`` (none of the 24 in the published file).

    Returns
    -------
    WordDataset
        ``responses`` (n_words, 1, 1): the mean N400 (µV) over participants with the
        artefact trials (``reject_data`` true) left out; channel ``"N400"``,
        ``times=[0.]``, ``window_ms=200`` (the 300-500 ms window, in
        ``provenance["component_window_ms"]``). ``subject_responses``
        (n_subjects, n_words, 1, 1), NaN for an artefact or missing trial; participants
        in ``provenance["subjects"]`` (``subj_nr``, ascending). ``sentence`` numbers the
        sentences 0..204 in ``sent_nr`` order; ``context="sentence"``; no groups
        (sentences are the cross-validation unit). ``metadata`` per row: ``sent_nr``,
        ``word_pos`` (1 = sentence-initial), ``sent_id`` and ``context_length`` (the keys
        of ``all_measures.csv``: ``sent_id`` is the 1-based rank of ``sent_nr`` among the
        file's sentence numbers, ``context_length = word_pos - 1``), ``log_freq``,
        ``nr_char``, ``reject_word``, ``n_trials`` (participants who saw the word),
        ``n_valid_trials`` (artefact-free trials) and ``baseline_mean`` (mean pre-word
        baseline over those trials, µV). Averaging this way reproduces the ``N400``
        column of ``all_measures.csv`` (de Varda et al. 2023) to the file's rounding; see
        :func:`join_all_measures`.

    Raises
    ------
    DataError
        File not found, missing columns, non-numeric values or flags other than
        true/false (naming file, column, row and word), repeated trials, a word that
        differs between participants, gaps in word positions, participants missing from
        ``subjects.csv``, an analysed word with no artefact-free trial.

    Notes
    -----
    The data README's join rule ``sent_nr = sent_id`` is wrong from sentence 153 on
    (``sent_nr`` runs 1-246 with gaps); the rank rule above matches all 1,726 rows.
    """
    dataset = _trials_dataset(
        path, "FRANK2015_TRIALS_PATH", "data_EEG.csv", "EEG", "N400", "µV",
        valid=lambda t: ~t["reject_data"].to_numpy(), exclude=exclude,
        drop_rejected_subjects=drop_rejected_subjects, loader="load_frank2015_trials",
        on_empty="error", window_ms=200.0, extra=("baseline",))
    prov = dataset.provenance
    prov["component_window_ms"] = list(FRANK_COMPONENT_WINDOWS_MS["N400"])
    prov["preprocessing"] = ("N400 = mean amplitude 300-500 ms after word onset (Frank et al. "
                             "2015); artefact trials (reject_data) left out; participant mean "
                             "with no baseline subtraction")
    prov["references"] = prov["references"] + [
        "Frank, Otten, Galli & Vigliocco (2015), Brain and Language 140:1-11"]
    return dataset


def load_frank2015_eyetracking(path=None, exclude="published", drop_rejected_subjects=True):
    """Load the eye-tracking first-pass gaze durations of the Frank sentences, per reader.

    The single-trial release of Aurnhammer & Frank (2019) holds, for each of 43
    eye-tracking participants of Frank et al. (2013) and each word of the 205 sentences
    (1,931 words; some participants did not read them all), the first-pass gaze
    duration ``RTfirstpass`` in ms (0 = the word was not fixated in first pass).

    Parameters
    ----------
    path : str | Path | None
        ``data_ET.csv`` (tab-separated), its folder or the ``frank2015`` folder above.
        ``None`` uses ``FRANK2015_ET_PATH``, else
        ``../shared/data/frank2015/single_trials/data_ET.csv``. ``subjects.csv`` is
        read from the same folder.
    exclude : "published" | None
        As in :func:`load_frank2015_trials` (``reject_word`` false: 1,487 words).
    drop_rejected_subjects : bool
        Leave out the participants whose ``reject`` is true for experiment ``"ET"`` in
        ``subjects.csv`` (8 of 43 in the published file: non-native speakers or high
        error rates).

    Returns
    -------
    WordDataset
        ``responses`` (n_words, 1, 1): mean first-pass duration (ms) over the kept
        participants who fixated the word; channel ``"RTfirstpass"``, ``times=[0.]``,
        ``window_ms=1`` (nominal: a duration has no window). ``subject_responses``
        (n_subjects, n_words, 1, 1): NaN where the word was not fixated (0), the trial
        is flagged ``reject_data`` (outside 50-3000 ms) or the participant has no row
        for it. Sentences, context, metadata and exclusions as in
        :func:`load_frank2015_trials` (no ``baseline_mean``). A selected word that no
        kept participant fixated has no finite mean: it is dropped from the rows (it
        stays in the presented text) and counted in
        ``provenance["n_dropped_no_valid_trial"]``.

    Raises
    ------
    DataError
        As :func:`load_frank2015_trials` (except for words without a valid trial).

    Notes
    -----
    This is not the ``RTfirstpass`` column of ``all_measures.csv``: that column averages
    all 43 participants with non-fixated words counted as 0 ms (a mix of duration and
    skipping rate).
    """
    def valid(t):
        rt = t["RTfirstpass"].to_numpy()
        return ~t["reject_data"].to_numpy() & (rt > 0)

    dataset = _trials_dataset(
        path, "FRANK2015_ET_PATH", "data_ET.csv", "ET", "RTfirstpass", "ms", valid=valid,
        exclude=exclude, drop_rejected_subjects=drop_rejected_subjects,
        loader="load_frank2015_eyetracking", on_empty="drop", window_ms=1.0)
    prov = dataset.provenance
    prov["preprocessing"] = ("first-pass gaze duration; 0 ms (not fixated) and reject_data "
                             "trials (outside 50-3000 ms) are missing; mean over the kept "
                             "participants who fixated the word")
    prov["references"] = prov["references"] + [
        "Frank, Fernandez Monsalve, Thompson & Vigliocco (2013), Behavior Research Methods "
        "45:1182-1190"]
    return dataset


def join_all_measures(trials, measures):
    """The ``all_measures.csv`` row of each row of a single-trial dataset.

    Parameters
    ----------
    trials : WordDataset
        From :func:`load_frank2015_trials` or :func:`load_frank2015_eyetracking`
        (metadata ``sent_id``, ``context_length``).
    measures : WordDataset
        From :func:`load_frank2015` (metadata ``sent_id``, ``context_length``).

    Returns
    -------
    ndarray of int, shape (trials.n_words,)
        Row of ``measures`` holding the same word, -1 where it has none (sentence-initial
        words, rows left out of either dataset).

    Raises
    ------
    DataError
        Missing key columns, or joined rows whose words differ (naming both rows).
    """
    for ds, what in ((trials, "trials"), (measures, "measures")):
        if ds.metadata is None or not {"sent_id", "context_length"} <= set(ds.metadata.columns):
            raise DataError(f"{ds.source}: {what} dataset has no metadata columns 'sent_id' and "
                            "'context_length'; expected one from load_frank2015_trials / "
                            "load_frank2015_eyetracking and one from load_frank2015.")
    keys = zip(measures.metadata["sent_id"].astype(int), measures.metadata["context_length"].astype(int))
    row_of = {k: j for j, k in enumerate(keys)}
    tm = trials.metadata
    out = np.array([row_of.get((int(s), int(c)), -1)
                    for s, c in zip(tm["sent_id"], tm["context_length"])], dtype=np.int64)
    for i in np.flatnonzero(out >= 0):
        j = int(out[i])
        if trials.words[i].strip() != measures.words[j].strip():
            raise DataError(
                f"{trials.source}: row {i} (sent_id {tm['sent_id'][i]}, context_length "
                f"{tm['context_length'][i]}) is {trials.words[i]!r} but the joined row {j} of "
                f"{measures.source} is {measures.words[j]!r}; expected the same word (are both "
                "files from the same 205 sentences?).")
    return out
