"""The Harry Potter MEG data of Wehbe et al. (2014), as distributed with the paper's code."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np

from .._utils import DataError, check_finite
from ..data import WordDataset, neuromag306_info
from ..text import read_annotations, segment_sentences
from ._io import _load_mat, _load_npy

__all__ = ["load_harry_potter", "strip_hp_word", "HP_N_WINDOWS", "HP_WINDOW_MS",
           "HP_N_CHANNELS"]


HP_N_WINDOWS = 20
HP_WINDOW_MS = 25.0
HP_N_CHANNELS = 306
_HP_FILES = {
    9: ("denoised_HP.npy", "A_HP_notDetrended_25ms.mat"),
    10: ("denoised_HP_chapter2.npy", "words_chapter_2.npy"),
}
_HP_SUBJECT_PATTERN = "{}_HP_notDetrended_25ms.mat"


def strip_hp_word(word):
    """Clean one Harry Potter label as the authors do.

    Removes the markup characters ``@ \\ + ^`` and surrounding whitespace; the result
    may be empty.

    Parameters
    ----------
    word : str

    Returns
    -------
    str
    """
    return re.sub(r"[@\\+^]", "", str(word)).strip()


def _find_file(root, name):
    """``root/name`` or ``root/meg/name``, whichever exists, else None."""
    for candidate in (Path(root) / name, Path(root) / "meg" / name):
        if candidate.is_file():
            return candidate
    return None


def _cell_text(cell, path, index):
    """Unwrap a MATLAB cell (nested 1-element object arrays) down to its string."""
    value = cell
    while isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.ravel()[0]
    if isinstance(value, np.ndarray) and value.size == 0:
        return ""  # an empty cell or an empty MATLAB string
    if isinstance(value, np.ndarray) and value.dtype.kind == "U" and value.size == 1:
        value = str(value.ravel()[0])
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        raise DataError(
            f"{path}: entry 'labels' cell {index} holds {type(value).__name__} "
            f"{getattr(value, 'shape', '')}; expected one string per cell."
        )
    return value


def _read_hp_labels(path):
    labels = _load_mat(path, "labels")
    if labels.dtype.kind == "U":  # a MATLAB char matrix rather than a cell array
        return [str(w) for w in labels.ravel()]
    if labels.dtype != object:
        raise DataError(
            f"{path}: entry 'labels' has dtype {labels.dtype}; expected a cell array "
            "of strings, one per word."
        )
    return [_cell_text(cell, path, i) for i, cell in enumerate(labels.ravel())]


def _read_hp_words(path, chapter):
    if chapter == 9:
        raw = _read_hp_labels(path)
    else:
        arr = _load_npy(path, allow_objects=True)  # the published file may hold an object array
        if arr.ndim != 1:
            raise DataError(
                f"{path}: words array has shape {arr.shape}; expected one word per entry (1 axis)."
            )
        raw = [w.decode("utf-8", "replace") if isinstance(w, bytes) else str(w) for w in arr]
    return [strip_hp_word(w) for w in raw]


def _check_hp_axes(arr, path, expected, field):
    """Check a (word, *rest) array against the expected trailing axes, naming swaps."""
    names = {HP_N_WINDOWS: "window", HP_N_CHANNELS: "channel"}
    want = ", ".join(["word"] + [names[n] for n in expected])
    if arr.ndim != 3:
        raise DataError(
            f"{path}: field '{field}' has shape {arr.shape}; expected 3 axes ({want}) "
            f"of shape (n_words, {', '.join(map(str, expected))})."
        )
    if arr.shape[1:] == expected:
        return
    if arr.shape[1:] == expected[::-1]:
        got = ", ".join(["word"] + [names[n] for n in expected[::-1]])
        raise DataError(
            f"{path}: field '{field}' has shape {arr.shape}, which looks like axis order "
            f"({got}); expected ({want}) = (n_words, {', '.join(map(str, expected))})."
        )
    raise DataError(
        f"{path}: field '{field}' has shape {arr.shape}; expected (n_words, "
        f"{', '.join(map(str, expected))}) = ({want}) with {HP_N_CHANNELS} Neuromag "
        f"channels and {HP_N_WINDOWS} windows of 25 ms."
    )


def _resolve_hp_paths(meg_path, words_path, chapter):
    if chapter not in _HP_FILES:
        raise DataError(f"chapter must be 9 or 10, got {chapter!r}.")
    npy_name, words_name = _HP_FILES[chapter]
    meg_path = Path(meg_path)
    if not meg_path.exists():
        raise DataError(f"{meg_path}: file or folder not found.")
    root = meg_path if meg_path.is_dir() else meg_path.parent
    if meg_path.is_dir():
        found = _find_file(meg_path, npy_name)
        if found is None:
            raise DataError(f"{meg_path}: no '{npy_name}' in this folder or its 'meg/' subfolder.")
        meg_path = found
    if words_path is None:
        words_path = _find_file(root, words_name)
        if words_path is None:
            raise DataError(
                f"{root}: no '{words_name}' (the chapter {chapter} words) in this folder "
                "or its 'meg/' subfolder; pass words_path."
            )
    return meg_path, Path(words_path), root


def _resolve_hp_subjects(subjects, root):
    if subjects == "all":
        found = sorted(set((root / "meg").glob(_HP_SUBJECT_PATTERN.format("*")))
                       | set(root.glob(_HP_SUBJECT_PATTERN.format("*"))))
        if not found:
            raise DataError(f"{root}: no per-subject files '{_HP_SUBJECT_PATTERN.format('*')}'.")
        return found
    if isinstance(subjects, (str, os.PathLike)):
        subjects = [subjects]
    paths = []
    for s in subjects:
        if Path(s).is_file():
            paths.append(Path(s))
            continue
        found = _find_file(root, _HP_SUBJECT_PATTERN.format(s))
        if found is None:
            raise DataError(
                f"{root}: no per-subject file '{_HP_SUBJECT_PATTERN.format(s)}' for "
                f"subject {s!r} in this folder or its 'meg/' subfolder."
            )
        paths.append(found)
    return paths


def _read_hp_subject(path, n_words):
    data = np.asarray(_load_mat(path, "data"))
    _check_hp_axes(data, path, (HP_N_CHANNELS, HP_N_WINDOWS), "data")
    if data.shape[0] != n_words:
        raise DataError(
            f"{path}: field 'data' has {data.shape[0]} words; expected {n_words}, the "
            "number of words in the group-level responses."
        )
    check_finite(data, "data", str(path))
    return data.astype(np.float32)


def load_harry_potter(meg_path, words_path=None, chapter=9, subjects=None, drop_first=20,
                      annotations=None, truncate_labels=True):
    """Load the Harry Potter MEG data of Wehbe et al. (2014) as distributed.

    Parameters
    ----------
    meg_path : str | Path
        The group-level file (``denoised_HP.npy`` for chapter 9,
        ``denoised_HP_chapter2.npy`` for chapter 10) of shape (n_words, 20, 306) =
        (word, window, channel), or the folder holding the files as distributed
        (``denoised_HP*.npy`` and ``words_chapter_2.npy`` at its top, the MATLAB
        files there or in ``meg/``).
    words_path : str | Path | None
        Chapter 9: the MATLAB file whose ``labels`` cell array holds the words
        (``meg/A_HP_notDetrended_25ms.mat``); chapter 10: ``words_chapter_2.npy``.
        ``None`` looks next to ``meg_path`` (and in its ``meg/`` subfolder).
    chapter : {9, 10}
        Which chapter.
    subjects : None | "all" | sequence of str or Path
        Per-subject files ``{S}_HP_notDetrended_25ms.mat`` (entry ``data`` of shape
        (n_words, 306, 20) = (word, channel, window)) to load into
        ``subject_responses``: subject letters (``"A"``, ``"B"``, ...), file paths,
        or ``"all"`` for every such file found. ``None`` loads none.
    drop_first : int
        Number of leading words left out of the analyses (default 20: they lack a
        full 20-word context, the Methods page (data)). They stay in the presented text
        (:attr:`WordDataset.stimulus`), so the next words still read them as context.
        Recorded in ``provenance["dropped_first"]``.
    annotations : str | Path | sequence | None
        Word-category CSVs in the authors' format for the whole chapter (see
        :func:`read_annotations`); stored in ``categories``.
    truncate_labels : bool
        The chapter 9 ``labels`` cell array may hold more entries than there are
        response rows; the authors' code keeps the first ones. When True, extra
        trailing labels are dropped with a warning and a record in
        ``provenance["labels_truncated"]``; when False they raise
        :class:`DataError`. Fewer labels than responses always raise.

    Returns
    -------
    WordDataset
        ``responses`` (n_words, 306, 20) with window starts 0, 25, ..., 475 ms, the
        Neuromag-306 Info of :func:`analysis.data.neuromag306_info` (channels in
        standard FIF order, assumed to match the files), ``context="running"``.

    Raises
    ------
    DataError
        Missing or unreadable files, wrong shape or axis order, word count different
        from response count, NaN/inf values.
    """
    meg_path, words_path, root = _resolve_hp_paths(meg_path, words_path, chapter)
    responses = _load_npy(meg_path)
    _check_hp_axes(responses, meg_path, (HP_N_WINDOWS, HP_N_CHANNELS), "responses")
    check_finite(responses, "responses", str(meg_path))
    n = responses.shape[0]

    words = _read_hp_words(words_path, chapter)
    provenance = {}
    if len(words) > n and truncate_labels and chapter == 9:
        warnings.warn(f"{words_path}: {len(words)} labels for {n} responses; keeping the first {n}.")
        provenance["labels_truncated"] = {"from": len(words), "to": n}
        words = words[:n]
    if len(words) != n:
        raise DataError(
            f"{words_path}: {len(words)} words but {meg_path} has {n} response rows; "
            "expected one word per response row."
        )

    subject_paths = [] if subjects is None else _resolve_hp_subjects(subjects, root)
    subject_responses = None
    if subject_paths:
        subject_responses = np.stack([_read_hp_subject(p, n) for p in subject_paths])

    categories = {} if annotations is None else read_annotations(annotations, words)
    provenance.update({
        "loader": "load_harry_potter",
        "chapter": chapter,
        "responses_file": str(meg_path),
        "words_file": str(words_path),
        "subject_files": [str(p) for p in subject_paths],
        "axis_order_in_file": "(word, window, channel), transposed to (word, channel, window)",
        "word_cleaning": "removed '@ \\ + ^' and surrounding whitespace; empty words kept",
        "dropped_first": int(drop_first),
        "reference": "Wehbe et al. (2014), PLoS ONE 9(11): e112575",
    })
    info = neuromag306_info()
    dataset = WordDataset(
        words=words,
        sentence=segment_sentences(words),
        responses=np.transpose(responses, (0, 2, 1)).astype(np.float32),
        times=np.arange(HP_N_WINDOWS) * HP_WINDOW_MS,
        ch_names=info["ch_names"],
        info=info,
        window_ms=HP_WINDOW_MS,
        subject_responses=subject_responses,
        categories=categories,
        context="running",
        provenance=provenance,
        source=f"Harry Potter chapter {chapter} MEG ({meg_path.name})",
    )
    return _drop_first(dataset, drop_first)


def _drop_first(dataset, k):
    if k < 0 or k >= dataset.n_words:
        raise DataError(
            f"{dataset.source}: drop_first={k}; expected 0 <= drop_first < {dataset.n_words}."
        )
    if k == 0:
        return dataset
    # the dropped words stay in the presented text: later words still read them as context
    sub = dataset.subset(np.arange(k, dataset.n_words))
    sub.provenance.pop("subset", None)  # recorded as dropped_first instead
    return sub
