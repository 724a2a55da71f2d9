"""Word-level datasets: one container for every source of brain responses.

Everything downstream (features, encoding models, hypotheses, fine-tuning) takes a
:class:`WordDataset`, whatever the recording: the Harry Potter MEG files, the Moth
MEG pickles, any MNE epochs, the Frank et al. (2015) EEG table or the simulated
reading study that is the book's default (SPEC §1).

The loaders for the published file layouts live in :mod:`analysis.loaders`; this
module holds the container, its validation and its on-disk format.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["WordDataset", "DataError", "load_dataset_file", "atomic_write", "atomic_savez",
           "check_finite",
           "neuromag306_info"]


class DataError(ValueError):
    """Raised when input data do not have the layout the loader expects.

    The message always names the file (or object) and the field at fault and says
    what was expected, so that a user can fix their own data.
    """


def _where(source):
    return f"{source}: " if source else ""


def check_finite(array, name, source=None):
    """Raise :class:`DataError` if ``array`` holds NaN or infinite values.

    Parameters
    ----------
    array : ndarray
        The values to check.
    name : str
        Field name used in the message.
    source : str | None
        File or object the values came from.
    """
    bad = ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{_where(source)}field '{name}' holds {int(bad.sum())} NaN/inf values "
            f"(first at index {first}); expected finite numbers. Interpolate or drop "
            "those words before loading."
        )


@dataclass
class WordDataset:
    """Brain responses to words, one row per presented word.

    Parameters
    ----------
    words : list of str
        The words as presented, in order (punctuation kept).
    sentence : ndarray of int, shape (n_words,)
        Sentence index of each word (non-decreasing).
    responses : ndarray of float32, shape (n_words, n_channels, n_windows)
        The responses analysed (for multi-subject data, the subject average).
    times : ndarray, shape (n_windows,)
        Start of each window in ms after word onset.
    ch_names : list of str
        Channel (or component) names, one per channel.
    info : mne.Info | None
        Sensor geometry for topomaps; ``None`` for data without sensors (e.g. ERP
        components).
    window_ms : float
        Width of each window in ms.
    subject_responses : ndarray, shape (n_subjects, n_words, n_channels, n_windows) | None
        Per-subject responses when available (noise ceilings, split halves).
    categories : dict of str to ndarray of bool
        Optional per-word labels (e.g. ``"emotion"``, ``"physical"``).
    context : {"running", "sentence"}
        How a word's language-model context is built: the preceding words of the
        running text, or only the preceding words of its own sentence (isolated
        sentences, as in Frank et al. 2015).
    provenance : dict
        Source, preprocessing, seed and anything needed to regenerate the data.
    source : str
        Short description of where the data came from, used in error messages.
    """

    words: list
    sentence: np.ndarray
    responses: np.ndarray
    times: np.ndarray
    ch_names: list
    info: object = None
    window_ms: float = 25.0
    subject_responses: np.ndarray | None = None
    categories: dict = field(default_factory=dict)
    context: str = "running"
    provenance: dict = field(default_factory=dict)
    source: str = ""

    def __post_init__(self):
        src = self.source
        self.words = [str(w) for w in self.words]
        n = len(self.words)
        resp = np.asarray(self.responses)
        if resp.ndim != 3:
            raise DataError(
                f"{_where(src)}field 'responses' has shape {resp.shape}; expected 3 axes "
                "(n_words, n_channels, n_windows)."
            )
        if resp.shape[0] != n:
            raise DataError(
                f"{_where(src)}{n} words but 'responses' has {resp.shape[0]} rows; "
                "expected one response row per word (axis order: word, channel, window)."
            )
        check_finite(resp, "responses", src)
        self.responses = resp.astype(np.float32, copy=False)
        self.sentence = np.asarray(self.sentence)
        if self.sentence.shape != (n,):
            raise DataError(
                f"{_where(src)}field 'sentence' has shape {self.sentence.shape}; "
                f"expected ({n},), one sentence index per word."
            )
        if n and np.any(np.diff(self.sentence) < 0):
            raise DataError(
                f"{_where(src)}field 'sentence' decreases; expected non-decreasing "
                "sentence indices in presentation order."
            )
        self.sentence = self.sentence.astype(np.int64)
        self.times = np.asarray(self.times, dtype=float)
        if self.times.shape != (resp.shape[2],):
            raise DataError(
                f"{_where(src)}field 'times' has {self.times.size} entries but "
                f"'responses' has {resp.shape[2]} windows on its last axis."
            )
        self.ch_names = [str(c) for c in self.ch_names]
        if len(self.ch_names) != resp.shape[1]:
            raise DataError(
                f"{_where(src)}{len(self.ch_names)} channel names but 'responses' has "
                f"{resp.shape[1]} channels on its second axis."
            )
        if self.info is not None and list(self.info["ch_names"]) != self.ch_names:
            raise DataError(f"{_where(src)}'info' channel names differ from 'ch_names'.")
        if self.subject_responses is not None:
            sub = np.asarray(self.subject_responses)
            if sub.ndim != 4 or sub.shape[1:] != resp.shape:
                raise DataError(
                    f"{_where(src)}field 'subject_responses' has shape {sub.shape}; "
                    f"expected (n_subjects, {', '.join(map(str, resp.shape))})."
                )
            check_finite(sub, "subject_responses", src)
            self.subject_responses = sub.astype(np.float32, copy=False)
        cats = {}
        for name, lab in (self.categories or {}).items():
            lab = np.asarray(lab)
            if lab.shape != (n,):
                raise DataError(
                    f"{_where(src)}category '{name}' has {lab.size} labels; expected {n}, "
                    "one per word."
                )
            cats[str(name)] = lab.astype(bool)
        self.categories = cats
        if self.context not in ("running", "sentence"):
            raise DataError(
                f"{_where(src)}field 'context' is {self.context!r}; expected 'running' "
                "or 'sentence'."
            )

    # ------------------------------------------------------------------ views
    @property
    def n_words(self):
        """Number of words."""
        return len(self.words)

    @property
    def n_channels(self):
        """Number of channels."""
        return self.responses.shape[1]

    @property
    def n_windows(self):
        """Number of time windows."""
        return self.responses.shape[2]

    @property
    def n_subjects(self):
        """Number of subjects with separate responses (0 when only an average)."""
        return 0 if self.subject_responses is None else self.subject_responses.shape[0]

    def __repr__(self):
        subj = f", {self.n_subjects} subjects" if self.n_subjects else ""
        return (
            f"<WordDataset '{self.source}': {self.n_words} words in "
            f"{len(np.unique(self.sentence))} sentences, {self.n_channels} channels x "
            f"{self.n_windows} windows{subj}>"
        )

    def sentences(self):
        """Return the text of each sentence.

        Returns
        -------
        list of str
            Words of each sentence joined by spaces, in order of sentence index.
        """
        out = []
        for s in np.unique(self.sentence):
            idx = np.flatnonzero(self.sentence == s)
            out.append(" ".join(self.words[i] for i in idx))
        return out

    def subset(self, mask):
        """Return a new dataset restricted to some words.

        Parameters
        ----------
        mask : ndarray of bool, shape (n_words,) or ndarray of int
            Words to keep.

        Returns
        -------
        WordDataset
        """
        idx = np.arange(self.n_words)[mask]
        sub = None if self.subject_responses is None else self.subject_responses[:, idx]
        prov = dict(self.provenance)
        prov["subset"] = prov.get("subset", []) + [f"{idx.size} of {self.n_words} words"]
        return WordDataset(
            words=[self.words[i] for i in idx],
            sentence=self.sentence[idx],
            responses=self.responses[idx],
            times=self.times,
            ch_names=self.ch_names,
            info=self.info,
            window_ms=self.window_ms,
            subject_responses=sub,
            categories={k: v[idx] for k, v in self.categories.items()},
            context=self.context,
            provenance=prov,
            source=self.source,
        )

    def summary(self):
        """Return a JSON-serialisable summary of the dataset.

        Returns
        -------
        dict
        """
        return {
            "source": self.source,
            "n_words": self.n_words,
            "n_sentences": int(len(np.unique(self.sentence))),
            "n_channels": self.n_channels,
            "n_windows": self.n_windows,
            "window_ms": float(self.window_ms),
            "times_ms": [float(t) for t in self.times],
            "n_subjects": self.n_subjects,
            "context": self.context,
            "categories": {k: int(v.sum()) for k, v in self.categories.items()},
        }

    # ------------------------------------------------------------- file format
    def save(self, path):
        """Write the dataset to one ``.npz`` file (atomically).

        Sensor geometry is stored as channel types and locations, enough to rebuild
        the ``mne.Info`` used for topomaps.

        Parameters
        ----------
        path : str | Path
            Destination; ``.npz`` is appended when missing.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        arrays = {
            "words": np.array(self.words, dtype=str),
            "sentence": self.sentence,
            "responses": self.responses,
            "times": self.times,
            "ch_names": np.array(self.ch_names, dtype=str),
        }
        meta = {
            "window_ms": self.window_ms,
            "context": self.context,
            "provenance": self.provenance,
            "source": self.source,
            "categories": sorted(self.categories),
        }
        if self.subject_responses is not None:
            arrays["subject_responses"] = self.subject_responses
        for k, v in self.categories.items():
            arrays[f"category__{k}"] = v
        if self.info is not None:
            arrays["ch_types"] = np.array(self.info.get_channel_types(), dtype=str)
            arrays["ch_locs"] = np.array([ch["loc"] for ch in self.info["chs"]])
        arrays["meta"] = np.array(json.dumps(meta, default=_json_default))
        atomic_savez(path, **arrays)
        return path


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot store {type(obj).__name__} in JSON")


def atomic_write(path, writer):
    """Write a file through a temporary name and rename it into place.

    A reader never sees a half-written file, and an interrupted run leaves the
    previous version (or nothing) behind.

    Parameters
    ----------
    path : str | Path
        Final file name.
    writer : callable
        Called with the temporary path; must write the whole file there.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        writer(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_savez(path, **arrays):
    """``np.savez`` through :func:`atomic_write` (the name is kept exactly as given).

    Parameters
    ----------
    path : str | Path
        Final file name.
    **arrays
        Arrays to store.
    """
    def write(tmp):
        with open(tmp, "wb") as fh:  # a file object, so numpy adds no ".npz" suffix
            np.savez(fh, **arrays)

    atomic_write(path, write)


def load_dataset_file(path):
    """Read a dataset written by :meth:`WordDataset.save`.

    Parameters
    ----------
    path : str | Path
        The ``.npz`` file.

    Returns
    -------
    WordDataset
    """
    import mne

    path = Path(path)
    try:
        npz = np.load(path, allow_pickle=False)
    except Exception as err:  # zip errors, truncated files, ...
        raise DataError(f"{path}: cannot read as a saved WordDataset ({err}).") from err
    with npz:
        missing = [k for k in ("words", "sentence", "responses", "times", "ch_names", "meta")
                   if k not in npz.files]
        if missing:
            raise DataError(f"{path}: missing fields {missing}; not a saved WordDataset.")
        meta = json.loads(str(npz["meta"]))
        ch_names = [str(c) for c in npz["ch_names"]]
        info = None
        if "ch_types" in npz.files:
            info = mne.create_info(ch_names, 1000.0, [str(t) for t in npz["ch_types"]])
            with info._unlock():
                for ch, loc in zip(info["chs"], npz["ch_locs"]):
                    ch["loc"] = loc
        return WordDataset(
            words=[str(w) for w in npz["words"]],
            sentence=npz["sentence"],
            responses=npz["responses"],
            times=npz["times"],
            ch_names=ch_names,
            info=info,
            window_ms=meta["window_ms"],
            subject_responses=npz["subject_responses"] if "subject_responses" in npz.files else None,
            categories={k: npz[f"category__{k}"] for k in meta["categories"]},
            context=meta["context"],
            provenance=meta["provenance"],
            source=meta["source"] or str(path),
        )


def neuromag306_info(sfreq=1000.0):
    """Build an ``mne.Info`` for the Elekta Neuromag (Vectorview) 306-channel MEG.

    The channel names and the flattened sensor positions come from MNE's bundled
    ``Vectorview-all`` layout (so nothing is downloaded). Each triplet holds one
    magnetometer (``MEGxxx1``) and two planar gradiometers (``MEGxxx2/3``). The 2-D
    layout positions are lifted onto a sphere of radius 9 cm so that MNE's topomap
    functions, which project 3-D locations, draw them in their usual places.

    Parameters
    ----------
    sfreq : float
        Sampling frequency stored in the Info (irrelevant for windowed data).

    Returns
    -------
    mne.Info
        306 channels in the layout's order (102 ``mag`` and 204 ``grad``).
    """
    import mne

    layout = mne.channels.read_layout("Vectorview-all")
    names = [n.replace(" ", "") for n in layout.names]
    names = [n if n.startswith("MEG") else f"MEG{n}" for n in names]
    types = ["mag" if n.endswith("1") else "grad" for n in names]
    info = mne.create_info(names, sfreq, types)
    xy = layout.pos[:, :2] + layout.pos[:, 2:4] / 2.0  # box centres
    xy = xy - xy.mean(axis=0)
    xy = xy / np.abs(xy).max()
    # azimuthal equidistant inverse: distance from the centre -> polar angle
    rho = np.hypot(xy[:, 0], xy[:, 1])
    theta = rho * (np.pi / 2) * 0.95
    phi = np.arctan2(xy[:, 1], xy[:, 0])
    radius = 0.09
    pos = radius * np.column_stack(
        [np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)]
    )
    with info._unlock():
        info["dev_head_t"] = mne.transforms.Transform("meg", "head")  # identity
        for ch, p in zip(info["chs"], pos):
            loc = np.zeros(12)
            loc[:3] = p
            loc[3:12] = np.eye(3).ravel()
            ch["loc"] = loc
    return info


DATASETS = ("simulated", "harry_potter", "moth", "mne", "bids", "frank2015", "saved")


def open_dataset(kind="simulated", path=None, **options):
    """Open any supported dataset by name: the one switch the chapters use.

    Parameters
    ----------
    kind : {"simulated", "harry_potter", "moth", "mne", "bids", "frank2015", "saved"}
        ``simulated`` is the embedded default study (``options`` go to
        :func:`analysis.simulate.load_default_study`); ``saved`` reads a file written
        by :meth:`WordDataset.save`; the others call the loaders of
        :mod:`analysis.loaders` with ``path``.
    path : str | Path | None
        File or folder of the data (not used by ``simulated``).
    **options
        Passed to the loader.

    Returns
    -------
    WordDataset
    """
    from . import loaders, simulate

    if kind == "simulated":
        return simulate.load_default_study(**options)[0]
    if kind == "saved":
        return load_dataset_file(path)
    table = {
        "harry_potter": loaders.load_harry_potter,
        "moth": loaders.load_moth,
        "mne": loaders.load_mne_epochs,
        "bids": loaders.load_bids,
        "frank2015": loaders.load_frank2015,
    }
    if kind not in table:
        raise DataError(f"unknown dataset kind {kind!r}; expected one of {DATASETS}.")
    if path is None and kind != "frank2015":
        raise DataError(f"dataset kind {kind!r} needs a path to the data files.")
    return table[kind](path, **options)
