"""Word-level datasets: one container for every source of brain responses (Methods page, data).

Everything downstream (features, encoding models, hypotheses, fine-tuning) takes a
:class:`WordDataset`, whatever the recording: the Harry Potter MEG files, the Moth
MEG pickles, any MNE epochs, the Frank et al. (2015) EEG, Natural Stories reading times
or the simulated reading study that is the book's default.

The loaders for the published file layouts live in :mod:`analysis.loaders`; the
registry that opens a dataset by name lives in :mod:`analysis.datasets`. This module
holds the container, its validation and its on-disk format, and imports nothing else
from the package but :mod:`analysis._utils` and :mod:`analysis.text`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._utils import DataError, atomic_savez, atomic_write, check_finite, json_default, where

__all__ = ["WordDataset", "Stimulus", "DataError", "load_dataset_file", "atomic_write",
           "atomic_savez", "check_finite", "neuromag306_info", "CONTEXT_MODES"]

#: How a word's language-model context is built (see :mod:`analysis.features`).
CONTEXT_MODES = ("running", "sentence", "story")


@dataclass
class Stimulus:
    """The text as presented, of which a dataset's rows may be a subset.

    Some presented words have no response row (the Frank et al. 2015 table has no
    row for sentence-initial words) or are left out of the analyses (words flagged by
    a published exclusion rule), yet a language model must still read them as
    context. A dataset keeps the full presented text here, and ``index`` says which
    presented word each row is.

    Parameters
    ----------
    words : list of str
        Every presented word, in order.
    sentence : ndarray of int, shape (n_presented,)
        Sentence index of each presented word (non-decreasing).
    index : ndarray of int, shape (n_rows,)
        Position in ``words`` of each dataset row (strictly increasing).
    story : ndarray of int, shape (n_presented,) | None
        Story (text) index of each presented word, where the study has several texts.
    """

    words: list
    sentence: np.ndarray
    index: np.ndarray
    story: np.ndarray | None = None

    def __post_init__(self):
        self.words = [str(w) for w in self.words]
        n = len(self.words)
        self.sentence = np.asarray(self.sentence, dtype=np.int64)
        self.index = np.asarray(self.index, dtype=np.int64)
        if self.sentence.shape != (n,):
            raise DataError(f"stimulus: 'sentence' has shape {self.sentence.shape}; expected "
                            f"({n},), one sentence index per presented word.")
        if self.index.size and (self.index.min() < 0 or self.index.max() >= n
                                or np.any(np.diff(self.index) <= 0)):
            raise DataError(f"stimulus: 'index' must be increasing positions in 0..{n - 1}.")
        if self.story is not None:
            self.story = np.asarray(self.story, dtype=np.int64)
            if self.story.shape != (n,) or np.any(np.diff(self.story) < 0):
                raise DataError(f"stimulus: 'story' must hold one non-decreasing story index "
                                f"per presented word ({n}).")

    @property
    def n_presented(self):
        """Number of presented words."""
        return len(self.words)

    def to_dict(self):
        """JSON-serialisable form."""
        return {"words": self.words, "sentence": self.sentence.tolist(),
                "index": self.index.tolist(),
                "story": None if self.story is None else self.story.tolist()}

    @classmethod
    def from_dict(cls, d):
        """Inverse of :meth:`to_dict`."""
        return cls(d["words"], np.asarray(d["sentence"]), np.asarray(d["index"]),
                   None if d.get("story") is None else np.asarray(d["story"]))


@dataclass
class WordDataset:
    """Brain (or behavioural) responses to words, one row per analysed word.

    Parameters
    ----------
    words : list of str
        The words as presented, in order (punctuation kept).
    sentence : ndarray of int, shape (n_words,)
        Sentence index of each word (non-decreasing).
    responses : ndarray of float32, shape (n_words, n_channels, n_windows)
        The responses analysed (for multi-subject data, the subject average). Must be
        finite.
    times : ndarray, shape (n_windows,)
        Start of each window in ms after word onset.
    ch_names : list of str
        Channel (or component, or measure) names, one per channel.
    info : mne.Info | None
        Sensor geometry for topomaps; ``None`` for data without sensors (ERP
        components, reading times).
    window_ms : float
        Width of each window in ms.
    subject_responses : ndarray, shape (n_subjects, n_words, n_channels, n_windows) | None
        Per-subject responses when available (noise ceilings, split halves). NaN marks
        a missing trial (e.g. rejected for an artefact); infinite values are refused.
    categories : dict of str to ndarray of bool
        Optional per-word labels (e.g. ``"emotion"``, ``"physical"``).
    context : {"running", "sentence", "story"}
        How a word's language-model context is built: the preceding words of the
        running text, only the preceding words of its own sentence (isolated
        sentences, as in Frank et al. 2015), or all preceding words of its story (long
        context, as in Natural Stories).
    provenance : dict
        Source, preprocessing, seed and anything needed to regenerate the data.
    source : str
        Short description of where the data came from, used in error messages.
    groups : dict of str to ndarray of int
        Per-word labels of larger units (``"story"``, ``"run"``, ``"chapter"``) that
        cross-validation folds must not straddle (``"sentence"`` is always available
        through :meth:`group_labels`).
    metadata : pandas.DataFrame | None
        Per-word table of extra columns (word frequency, published exclusion flags,
        reference surprisal, ...), one row per word in row order.
    stimulus : Stimulus | None
        The full presented text when the rows are a subset of it (see
        :class:`Stimulus`); ``None`` means the rows are the whole text.
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
    groups: dict = field(default_factory=dict)
    metadata: object = None
    stimulus: Stimulus | None = None

    def __post_init__(self):
        src = self.source
        self.words = [str(w) for w in self.words]
        n = len(self.words)
        resp = np.asarray(self.responses)
        if resp.ndim != 3:
            raise DataError(
                f"{where(src)}field 'responses' has shape {resp.shape}; expected 3 axes "
                "(n_words, n_channels, n_windows)."
            )
        if resp.shape[0] != n:
            raise DataError(
                f"{where(src)}{n} words but 'responses' has {resp.shape[0]} rows; "
                "expected one response row per word (axis order: word, channel, window)."
            )
        check_finite(resp, "responses", src,
                     row_name=lambda i: f"word {i} ({self.words[i]!r})",
                     col_name=lambda c, w=0: f"channel {c}, window {w}")
        self.responses = resp.astype(np.float32, copy=False)
        self.sentence = np.asarray(self.sentence)
        if self.sentence.shape != (n,):
            raise DataError(
                f"{where(src)}field 'sentence' has shape {self.sentence.shape}; "
                f"expected ({n},), one sentence index per word."
            )
        if n and np.any(np.diff(self.sentence) < 0):
            raise DataError(
                f"{where(src)}field 'sentence' decreases; expected non-decreasing "
                "sentence indices in presentation order."
            )
        self.sentence = self.sentence.astype(np.int64)
        self.times = np.asarray(self.times, dtype=float)
        if self.times.shape != (resp.shape[2],):
            raise DataError(
                f"{where(src)}field 'times' has {self.times.size} entries but "
                f"'responses' has {resp.shape[2]} windows on its last axis."
            )
        self.ch_names = [str(c) for c in self.ch_names]
        if len(self.ch_names) != resp.shape[1]:
            raise DataError(
                f"{where(src)}{len(self.ch_names)} channel names but 'responses' has "
                f"{resp.shape[1]} channels on its second axis."
            )
        if self.info is not None and list(self.info["ch_names"]) != self.ch_names:
            raise DataError(f"{where(src)}'info' channel names differ from 'ch_names'.")
        if self.subject_responses is not None:
            sub = np.asarray(self.subject_responses)
            if sub.ndim != 4 or sub.shape[1:] != resp.shape:
                raise DataError(
                    f"{where(src)}field 'subject_responses' has shape {sub.shape}; "
                    f"expected (n_subjects, {', '.join(map(str, resp.shape))})."
                )
            if np.isinf(sub).any():
                check_finite(np.where(np.isnan(sub), 0.0, sub), "subject_responses", src)
            self.subject_responses = sub.astype(np.float32, copy=False)
        self.categories = self._per_word_labels(self.categories, "category", bool)
        self.groups = self._per_word_labels(self.groups, "group", np.int64)
        for name, lab in self.groups.items():
            if n and np.any(np.diff(lab) < 0):
                raise DataError(f"{where(src)}group '{name}' decreases; expected each "
                                f"{name} to be one contiguous block of words, in order.")
        if self.context not in CONTEXT_MODES:
            raise DataError(
                f"{where(src)}field 'context' is {self.context!r}; expected one of "
                f"{CONTEXT_MODES}."
            )
        if self.metadata is not None and len(self.metadata) != n:
            raise DataError(f"{where(src)}field 'metadata' has {len(self.metadata)} rows; "
                            f"expected {n}, one per word.")
        if self.metadata is not None:
            self.metadata = self.metadata.reset_index(drop=True)
        if self.stimulus is not None:
            st = self.stimulus
            if st.index.shape != (n,):
                raise DataError(f"{where(src)}stimulus index has {st.index.size} entries; "
                                f"expected {n}, one per word.")
            got = [st.words[i].strip() for i in st.index]
            bad = [i for i, (a, b) in enumerate(zip(got, self.words)) if a != b.strip()]
            if bad:
                i = bad[0]
                raise DataError(f"{where(src)}word {i} is {self.words[i]!r} but the stimulus "
                                f"word it points to is {got[i]!r}; expected the same word.")

    def _per_word_labels(self, labels, what, dtype):
        out = {}
        for name, lab in (labels or {}).items():
            lab = np.asarray(lab)
            if lab.shape != (self.n_words,):
                raise DataError(
                    f"{where(self.source)}{what} '{name}' has {lab.size} labels; expected "
                    f"{self.n_words}, one per word."
                )
            out[str(name)] = lab.astype(dtype)
        return out

    # ------------------------------------------------------------------ views
    @property
    def n_words(self):
        """Number of words (rows)."""
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

    @property
    def n_sentences(self):
        """Number of sentences."""
        return int(len(np.unique(self.sentence)))

    def __repr__(self):
        subj = f", {self.n_subjects} subjects" if self.n_subjects else ""
        return (
            f"<WordDataset '{self.source}': {self.n_words} words in "
            f"{self.n_sentences} sentences, {self.n_channels} channels x "
            f"{self.n_windows} windows{subj}>"
        )

    def presented(self):
        """The presented text: a :class:`Stimulus` (the rows themselves when none is set).

        Returns
        -------
        Stimulus
        """
        if self.stimulus is not None:
            return self.stimulus
        return Stimulus(self.words, self.sentence, np.arange(self.n_words),
                        self.groups.get("story"))

    def group_labels(self, name):
        """Per-word labels of a grouping (``"sentence"``, or a key of :attr:`groups`).

        Parameters
        ----------
        name : str

        Returns
        -------
        ndarray of int, shape (n_words,)

        Raises
        ------
        DataError
            If the dataset has no such grouping (the message lists those it has).
        """
        if name == "sentence":
            return self.sentence
        if name not in self.groups:
            raise DataError(f"{where(self.source)}no grouping {name!r}; this dataset has "
                            f"{['sentence'] + sorted(self.groups)}.")
        return self.groups[name]

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

    def subset(self, mask, note=None):
        """Return a new dataset restricted to some words; the others stay as context.

        The presented text (:meth:`presented`) is kept whole, so language-model
        features of the kept words do not change: excluded words are still read.

        Parameters
        ----------
        mask : ndarray of bool, shape (n_words,) or ndarray of int
            Words to keep.
        note : str | None
            Why, recorded in ``provenance["subset"]``.

        Returns
        -------
        WordDataset
        """
        idx = np.arange(self.n_words)[mask]
        sub = None if self.subject_responses is None else self.subject_responses[:, idx]
        prov = dict(self.provenance)
        prov["subset"] = prov.get("subset", []) + [
            f"{idx.size} of {self.n_words} words" + (f" ({note})" if note else "")]
        st = self.presented()
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
            groups={k: v[idx] for k, v in self.groups.items()},
            metadata=None if self.metadata is None else self.metadata.iloc[idx],
            stimulus=Stimulus(st.words, st.sentence, st.index[idx], st.story),
        )

    def pick(self, channels):
        """A dataset with only some channels (same words, same presented text).

        Parameters
        ----------
        channels : list of str

        Returns
        -------
        WordDataset

        Raises
        ------
        DataError
            A name that is not a channel of the dataset.
        """
        unknown = [c for c in channels if c not in self.ch_names]
        if unknown:
            raise DataError(f"{where(self.source)}channel(s) {unknown} not in the data; "
                            f"expected names from {self.ch_names[:10]}.")
        idx = [self.ch_names.index(c) for c in channels]
        info = None
        if self.info is not None:
            import mne

            info = mne.pick_info(self.info, idx)
        return WordDataset(
            words=self.words, sentence=self.sentence, responses=self.responses[:, idx],
            times=self.times, ch_names=list(channels), info=info, window_ms=self.window_ms,
            subject_responses=(None if self.subject_responses is None
                               else self.subject_responses[:, :, idx]),
            categories=dict(self.categories), context=self.context,
            provenance=dict(self.provenance), source=self.source, groups=dict(self.groups),
            metadata=self.metadata, stimulus=self.stimulus)

    def first_sentences(self, n_words):
        """A smaller study: the whole sentences that fit in the first ``n_words`` words.

        Unlike :meth:`subset`, the presented text is cut too, after the last kept
        word (a causal language model never reads what follows a word, so the
        features of the kept words do not change).

        Parameters
        ----------
        n_words : int
            Keep sentences while their words fit in this many rows (at least one
            sentence is kept); 0 or a value >= ``n_words`` keeps everything.

        Returns
        -------
        WordDataset
        """
        if not n_words or n_words >= self.n_words:
            return self
        cut = self.sentence[n_words]  # the first sentence that does not fit whole
        rows = np.flatnonzero(self.sentence < cut)
        if rows.size == 0:
            rows = np.flatnonzero(self.sentence == self.sentence[0])
        out = self.subset(rows, note=f"first {rows.size} words (whole sentences)")
        st = out.stimulus
        end = int(st.index[-1]) + 1
        if self.stimulus is None:  # the rows were the whole text, and still are a prefix
            out.stimulus = None
        else:
            out.stimulus = Stimulus(st.words[:end], st.sentence[:end], st.index,
                                    None if st.story is None else st.story[:end])
        return out

    def summary(self):
        """Return a JSON-serialisable summary of the dataset.

        Returns
        -------
        dict
        """
        return {
            "source": self.source,
            "n_words": self.n_words,
            "n_sentences": self.n_sentences,
            "n_presented_words": self.presented().n_presented,
            "n_channels": self.n_channels,
            "n_windows": self.n_windows,
            "window_ms": float(self.window_ms),
            "times_ms": [float(t) for t in self.times],
            "n_subjects": self.n_subjects,
            "context": self.context,
            "groups": {k: int(len(np.unique(v))) for k, v in self.groups.items()},
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

        Returns
        -------
        Path
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
            "groups": sorted(self.groups),
            "metadata": None if self.metadata is None else self.metadata.to_dict(orient="list"),
            "stimulus": None if self.stimulus is None else self.stimulus.to_dict(),
        }
        if self.subject_responses is not None:
            arrays["subject_responses"] = self.subject_responses
        for k, v in self.categories.items():
            arrays[f"category__{k}"] = v
        for k, v in self.groups.items():
            arrays[f"group__{k}"] = v
        if self.info is not None:
            arrays["ch_types"] = np.array(self.info.get_channel_types(), dtype=str)
            arrays["ch_locs"] = np.array([ch["loc"] for ch in self.info["chs"]])
        arrays["meta"] = np.array(json.dumps(meta, default=json_default))
        atomic_savez(path, **arrays)
        return path


def load_dataset_file(path):
    """Read a dataset written by :meth:`WordDataset.save`.

    Parameters
    ----------
    path : str | Path
        The ``.npz`` file.

    Returns
    -------
    WordDataset

    Raises
    ------
    DataError
        Unreadable file, a missing or damaged field (the message names the file, the
        field and what was expected).
    """
    import mne
    import pandas as pd

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

        def field(key, why=""):
            if key not in npz.files:
                raise DataError(f"{path}: field '{key}' missing{why}; expected a file written "
                                "by WordDataset.save.")
            try:
                return npz[key]
            except Exception as err:  # a damaged member: CRC, truncation, bad header
                raise DataError(f"{path}: field '{key}' is damaged ({type(err).__name__}: "
                                f"{err}); expected a file written by WordDataset.save.") from None

        try:
            meta = json.loads(str(field("meta")))
        except ValueError as err:
            raise DataError(f"{path}: field 'meta' is not valid JSON ({err}); expected the "
                            "dataset's description written by WordDataset.save.") from None
        lacking = [k for k in ("window_ms", "context", "provenance", "source", "categories")
                   if not isinstance(meta, dict) or k not in meta]
        if lacking:
            raise DataError(f"{path}: field 'meta' lacks key(s) {lacking}; expected the "
                            "dataset's description written by WordDataset.save.")
        ch_names = [str(c) for c in field("ch_names")]
        info = None
        if "ch_types" in npz.files:
            info = mne.create_info(ch_names, 1000.0, [str(t) for t in field("ch_types")])
            with info._unlock():
                for ch, loc in zip(info["chs"], field("ch_locs", " (the file has 'ch_types')")):
                    ch["loc"] = loc
        listed = " (listed in field 'meta')"
        stim = meta.get("stimulus")
        try:
            stimulus = None if stim is None else Stimulus.from_dict(stim)
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"{path}: field 'meta' key 'stimulus' is damaged "
                            f"({type(err).__name__}: {err}); expected words, sentence and "
                            "index of the presented text.") from None
        try:
            return WordDataset(
                words=[str(w) for w in field("words")],
                sentence=field("sentence"),
                responses=field("responses"),
                times=field("times"),
                ch_names=ch_names,
                info=info,
                window_ms=meta["window_ms"],
                subject_responses=field("subject_responses")
                if "subject_responses" in npz.files else None,
                categories={k: field(f"category__{k}", listed) for k in meta["categories"]},
                context=meta["context"],
                provenance=meta["provenance"],
                source=meta["source"] or str(path),
                groups={k: field(f"group__{k}", listed) for k in meta.get("groups", [])},
                metadata=None if meta.get("metadata") is None else pd.DataFrame(meta["metadata"]),
                stimulus=stimulus,
            )
        except DataError as err:
            if str(err).startswith(str(path)):
                raise
            raise DataError(f"{path}: {err}") from None
        except (TypeError, ValueError) as err:  # e.g. metadata columns of unequal length
            raise DataError(f"{path}: inconsistent saved WordDataset ({type(err).__name__}: "
                            f"{err}); expected a file written by WordDataset.save.") from None


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
