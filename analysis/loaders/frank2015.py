"""Frank et al. (2015) EEG: the per-word ERP table of de Varda et al. (2023)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._utils import SHARED_DATA, DataError, check_finite, shared_data_path
from ..data import Stimulus, WordDataset

__all__ = ["load_frank2015", "read_frank2015_table", "published_exclusion", "FRANK_COMPONENTS",
           "FRANK_COMPONENT_WINDOWS_MS", "PUBLISHED_EXCLUSION_CHARS"]


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
