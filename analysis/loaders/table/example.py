"""The project's example self-paced reading table (:func:`write_example_table`) and the
options that open it (:data:`EXAMPLE_OPTIONS`).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..._utils import DataError, atomic_write
from ...text import segment_sentences, sentence_positions
from ._read import _PARQUET, _suffix

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

    from ...simulate import story_words

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
