"""The dataset registry: every supported source by name, with what the chapters must know.

A chapter never assumes MEG. It opens a dataset by name (:func:`open_dataset`) and asks
its :class:`DatasetSpec` what to do: which context a language model reads (running
text, isolated sentences, whole stories), which window of interest holds the
"language" response (300-425 ms in the paper's MEG analyses; the single window of an
ERP component table), whether sensors have a geometry (topomaps), whether there are
subjects (noise ceilings), which grouping cross-validation folds must respect, and
which channel the divergence analysis follows (the N400 of the Frank data).

What was opened is recorded by value (:class:`DatasetRecord`, in the dataset's
provenance and in the encoding chapter's outputs), so a later chapter reopens exactly
the same data (:meth:`DatasetRecord.reopen`) instead of re-deriving it from its own
parameters.

Register a new source with :func:`register_dataset` (a loader taking ``path`` and
keyword options and returning a :class:`~analysis.data.WordDataset`).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ._utils import SHARED_DATA, DataError, shared_data_path
from .data import WordDataset, load_dataset_file

__all__ = [
    "DatasetSpec", "DatasetRecord", "register_dataset", "dataset_spec", "dataset_names",
    "open_dataset", "dataset_record", "window_of_interest", "channels_of_interest",
    "load_simulated", "registry_table", "LANGUAGE_WINDOW_MS", "open_for_chapter", "describe",
    "cv_groups", "check_dataset_options", "loader_function", "null_design", "required_options",
    "check_required_options", "category_table",
]

#: The "language" window of the paper's MEG analyses (Methods page, divergent sentences and hypotheses): 300-425 ms after onset.
LANGUAGE_WINDOW_MS = (300.0, 425.0)


@dataclass(frozen=True)
class DatasetSpec:
    """What the chapters need to know about one source of data.

    Attributes
    ----------
    name : str
        Registry key (the ``dataset`` parameter of the chapters).
    loader : callable
        ``loader(path, **options) -> WordDataset``.
    description : str
        One line for tables and messages.
    context : {"running", "sentence", "story"}
        The language-model context the source's design calls for (the loader sets it
        on the dataset; recorded here for the registry table).
    window : tuple of float | None
        Window of interest in ms after word onset (window starts inside it count);
        ``None``: every window (data with one window).
    geometry : bool
        Sensors have positions (topomaps can be drawn).
    subjects : bool
        The loader returns per-subject responses (noise ceilings, split halves).
    needs_path : bool
        The loader needs files; ``default_path`` (under ``../shared/data``) or ``env``
        may supply them.
    default_path : str | None
        Location under ``../shared/data`` used when no path is given.
    env : str | None
        Environment variable that may name the files.
    cv_groups : str | None
        Grouping that cross-validation folds must not straddle (``"story"``,
        ``"sentence"``); ``None``: contiguous folds over the word order.
    focus_channels : tuple of str | None
        Channels the divergence analysis follows (``None``: every significant channel).
    null_scheme : {"blocks", "circular", "sentences"}
        How permutation tests move the responses so that the null keeps the serial
        dependence of word series (:func:`analysis.stats.dependence_preserving_permutations`):
        ``"sentences"`` for isolated sentences (sentences of equal length trade
        places), ``"circular"`` shifts within each story (sources with several
        stories), ``"blocks"`` of ``null_block`` words within a continuous text.
    null_block : int
        Block length in words (``"blocks"``).
    howto : str
        Where to get the data (shown when they are missing).
    reference : str
        Citation of the data.
    option_examples : dict
        Example values of the loader's required options (shown when one is missing).
    """

    name: str
    loader: object
    description: str
    context: str = "running"
    window: tuple | None = LANGUAGE_WINDOW_MS
    geometry: bool = False
    subjects: bool = False
    needs_path: bool = True
    default_path: str | None = None
    env: str | None = None
    cv_groups: str | None = None
    focus_channels: tuple | None = None
    null_scheme: str = "blocks"
    null_block: int = 20
    howto: str = ""
    reference: str = ""
    option_examples: dict = field(default_factory=dict, hash=False)

    def resolve_path(self, path=None):
        """The data location: ``path``, else ``$env``, else ``../shared/data/<default_path>``.

        Raises
        ------
        DataError
            When the source needs files and none is found (the message says where to
            get them).
        """
        if not self.needs_path:
            return None if path is None else Path(path)
        found = shared_data_path(self.default_path or "", self.env, path) \
            if (path is not None or self.env or self.default_path) else None
        if found is None:
            looked = f" (looked for {SHARED_DATA / self.default_path})" if self.default_path else ""
            raise DataError(f"dataset {self.name!r} needs a path to its files{looked}. "
                            f"{self.howto}".strip())
        return found


_REGISTRY: dict = {}


def register_dataset(spec):
    """Add (or replace) a source in the registry.

    Parameters
    ----------
    spec : DatasetSpec

    Returns
    -------
    DatasetSpec
    """
    if not isinstance(spec, DatasetSpec):
        raise TypeError(f"register_dataset expects a DatasetSpec, got {type(spec).__name__}.")
    _REGISTRY[spec.name] = spec
    return spec


def dataset_names():
    """Names of the registered sources, in registration order."""
    return list(_REGISTRY)


def dataset_spec(name):
    """The :class:`DatasetSpec` of a registered source.

    Raises
    ------
    DataError
        Unknown name (the message lists the known ones).
    """
    if name not in _REGISTRY:
        raise DataError(f"unknown dataset {name!r}; expected one of {dataset_names()}.")
    return _REGISTRY[name]


def _option_help(function, name):
    """``"name (type): first line of its description"`` from a numpy docstring."""
    doc = inspect.getdoc(function) or ""
    match = re.search(rf"^(?:\w+, )*{name}(?:, \w+)* : (.+)\n\s+(.+)$", doc, re.M)
    if match is None:
        return name
    return f"{name} ({match.group(1).strip()}): {match.group(2).strip()}"


def required_options(name):
    """The loader options a source cannot be opened without, read from its signature.

    Parameters
    ----------
    name : str
        A registered source.

    Returns
    -------
    list of str
        Parameters of the loader, after the data path, that have no default value.
    """
    params = list(inspect.signature(loader_function(dataset_spec(name))).parameters.values())
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params[1:] if p.kind in kinds and p.default is p.empty]


def check_required_options(name, options):
    """Check that the loader options of a source include every required one.

    Parameters
    ----------
    name : str
        A registered source.
    options : dict | None
        The loader options (the chapters' ``dataset_options`` parameter).

    Raises
    ------
    DataError
        Naming each missing option, what it is (from the loader's docstring) and an
        example of the ``-p dataset_options`` value that supplies it.
    """
    missing = [o for o in required_options(name) if o not in (options or {})]
    if not missing:
        return
    spec = dataset_spec(name)
    function = loader_function(spec)
    example = {k: json.dumps(v) for k, v in (options or {}).items()}  # YAML reads JSON
    example.update({o: json.dumps(spec.option_examples[o]) if o in spec.option_examples
                    else "..." for o in missing})
    shown = ", ".join(f"{k}: {v}" for k, v in example.items())
    what = "; ".join(_option_help(function, o).rstrip(".") for o in missing)
    raise DataError(f"dataset {name!r} needs the loader option(s) {missing} in "
                    f"dataset_options; {what}. For example: -p dataset_options '{{{shown}}}'.")


def registry_table():
    """The registry as a table (one row per source), for the book.

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    rows = []
    for s in _REGISTRY.values():
        rows.append({"dataset": s.name, "what": s.description, "context": s.context,
                     "window (ms)": "all" if s.window is None else f"{s.window[0]:g}-{s.window[1]:g}",
                     "sensor geometry": s.geometry, "subjects": s.subjects,
                     "CV groups": s.cv_groups or "contiguous",
                     "focus": ", ".join(s.focus_channels) if s.focus_channels else "all",
                     "null": s.null_scheme + (f" of {s.null_block}" if s.null_scheme == "blocks"
                                              else "")})
    return pd.DataFrame(rows).set_index("dataset")


# --------------------------------------------------------------------------- records
def _fingerprint(ds):
    h = hashlib.sha256()
    h.update(json.dumps(ds.words).encode())
    h.update(np.ascontiguousarray(ds.responses).tobytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class DatasetRecord:
    """What was opened, by value: enough to reopen exactly the same dataset.

    Attributes
    ----------
    name : str
        Registry key.
    path : str | None
        The resolved data location.
    options : dict
        Keyword options given to the loader (``n_words`` included).
    n_words : int
        Rows of the dataset.
    fingerprint : str
        Hash of the words and responses; :meth:`reopen` checks it.
    """

    name: str
    path: str | None
    options: dict = field(default_factory=dict)
    n_words: int = 0
    fingerprint: str = ""

    def to_dict(self):
        """JSON-serialisable form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d, source="dataset record"):
        """Inverse of :meth:`to_dict`; a missing field is a clear error."""
        missing = [k for k in ("name", "path", "options", "n_words", "fingerprint") if k not in d]
        if missing:
            raise DataError(f"{source}: field(s) {missing} missing; expected a record written "
                            "by analysis.datasets.open_dataset.")
        return cls(d["name"], d["path"], dict(d["options"]), int(d["n_words"]),
                   str(d["fingerprint"]))

    def reopen(self, **runtime):
        """Open the same dataset again and check it is the same.

        Parameters
        ----------
        **runtime
            Options that do not change the data (``device``, ``progress``).

        Returns
        -------
        WordDataset

        Raises
        ------
        DataError
            When the data found now differ from those recorded (files changed).
        """
        ds = open_dataset(self.name, self.path, **self.options, **runtime)
        if _fingerprint(ds) != self.fingerprint:
            raise DataError(f"dataset {self.name!r} at {self.path}: the data differ from those "
                            f"the encoding chapter used (fingerprint {_fingerprint(ds)} != "
                            f"{self.fingerprint}); re-run the chapters from the encoding one.")
        return ds


def dataset_record(ds):
    """The :class:`DatasetRecord` of a dataset opened by :func:`open_dataset`.

    Raises
    ------
    DataError
        If the dataset was not opened through the registry.
    """
    rec = ds.provenance.get("dataset_record")
    if rec is None:
        raise DataError(f"{ds.source}: no dataset record; open datasets with "
                        "analysis.datasets.open_dataset so later chapters can reopen them.")
    return DatasetRecord.from_dict(rec, ds.source)


_RUNTIME_OPTIONS = ("device", "progress")


def open_dataset(name="simulated", path=None, n_words=0, **options):
    """Open any registered dataset by name: the one switch the chapters use.

    Parameters
    ----------
    name : str
        A registered source (:func:`dataset_names`): ``simulated`` (the embedded
        default study), ``harry_potter``, ``moth``, ``mne``, ``bids``, ``frank2015``,
        ``saved`` (a file written by :meth:`WordDataset.save`), ...
    path : str | Path | None
        File or folder of the data; ``None`` uses the source's default location when it
        has one.
    n_words : int
        Keep the whole sentences within the first ``n_words`` words (0 keeps all): a
        smaller study for quick runs. The simulated study is generated on the first
        ``n_words`` words of its story.
    **options
        Passed to the loader (``device`` and ``progress`` are used but not recorded:
        they do not change the data).

    Returns
    -------
    WordDataset
        With ``provenance["dataset_record"]`` (see :class:`DatasetRecord`) and
        ``provenance["dataset"]`` (the name).

    Raises
    ------
    DataError
        Unknown name, missing files, a missing required loader option
        (:func:`check_dataset_options`), and every error of the loader.
    """
    spec = dataset_spec(name)
    runtime = {k: options.pop(k) for k in _RUNTIME_OPTIONS if k in options}
    check_dataset_options(name, options)
    resolved = spec.resolve_path(path)
    if name == "simulated":
        ds = spec.loader(resolved, n_words=n_words, **options, **runtime)
    else:  # device/progress do not concern file loaders
        ds = spec.loader(resolved, **options).first_sentences(int(n_words or 0))
    record = DatasetRecord(name, None if resolved is None else str(resolved),
                           dict(options, n_words=int(n_words or 0)), ds.n_words, _fingerprint(ds))
    ds.provenance["dataset"] = name
    ds.provenance["dataset_record"] = record.to_dict()
    return ds


def open_for_chapter(dataset, data_path=None, dataset_options=None, n_words=0,
                     n_subjects=4, seed=0, model="default", device="auto"):
    """Open the dataset a chapter's parameters name (the chapters' one call).

    The simulated study takes ``n_subjects``, ``seed`` and ``model`` (its generator's
    settings); other sources take ``dataset_options`` (loader arguments). ``n_words``
    applies to every source (:func:`open_dataset`).

    Returns
    -------
    WordDataset
    """
    options = dict(dataset_options or {})
    if dataset == "simulated":
        options = dict(dict(n_subjects=n_subjects, seed=seed, model=model), **options,
                       device=device)
    return open_dataset(dataset, data_path, n_words=n_words, **options)


def describe(ds):
    """What the registry says about an opened dataset, as rows for the book.

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    spec = dataset_spec(ds.provenance.get("dataset", "saved"))
    _, window = window_of_interest(ds)
    rows = [("source", ds.source), ("registry name", spec.name),
            ("words analysed", ds.n_words), ("words presented", ds.presented().n_presented),
            ("sentences", ds.n_sentences), ("channels", ds.n_channels),
            ("windows", f"{ds.n_windows} of {ds.window_ms:g} ms"),
            ("language-model context", ds.context),
            ("window of interest (ms)", "every window" if window is None
             else f"{window[0]:g}-{window[1]:g}"),
            ("channels of interest", ", ".join(np.asarray(ds.ch_names)[channels_of_interest(ds)])
             if spec.focus_channels else "all"),
            ("subjects", ds.n_subjects or "average only"),
            ("sensor geometry", "yes" if ds.info is not None else "no"),
            ("CV folds respect", spec.cv_groups or "contiguous order only")]
    return pd.DataFrame(rows, columns=["", "value"]).set_index("")


def category_table(categories):
    """How many words carry each label, and their share of the text.

    Parameters
    ----------
    categories : dict of str to ndarray of bool, each (n_words,)
        Word labels (``WordDataset.categories``; empty for unlabelled data).

    Returns
    -------
    pandas.DataFrame
        One row per label: ``words`` (count) and ``share of words (%)`` (one decimal).
    """
    import pandas as pd

    masks = {k: np.asarray(v, bool) for k, v in categories.items()}
    return pd.DataFrame({
        "words": {k: int(v.sum()) for k, v in masks.items()},
        "share of words (%)": {k: round(100 * v.mean(), 1) for k, v in masks.items()},
    })


# ------------------------------------------------------------------ windows, channels
def window_of_interest(ds, window=None):
    """Boolean mask of the windows whose start lies in the window of interest.

    Parameters
    ----------
    ds : WordDataset
        Opened through the registry (its source's window is the default).
    window : sequence of 2 floats | None
        ``(start, end)`` in ms to use instead of the source's.

    Returns
    -------
    mask : ndarray of bool, shape (n_windows,)
    used : tuple of float | None
        The window applied (``None``: every window).

    Raises
    ------
    DataError
        When no window of the data starts inside it (the message names the
        ``window`` parameter and the data's window starts).
    """
    if window is None:
        name = ds.provenance.get("dataset")
        window = dataset_spec(name).window if name in _REGISTRY else LANGUAGE_WINDOW_MS
    if window is None:
        return np.ones(ds.n_windows, dtype=bool), None
    if len(window) != 2 or window[0] > window[1]:
        raise DataError(f"window={window!r}; expected [start, end] in ms with start <= end.")
    start, end = float(window[0]), float(window[1])
    mask = (ds.times >= start) & (ds.times <= end)
    if not mask.any():
        raise DataError(f"{ds.source}: no window starts between {start:g} and {end:g} ms "
                        f"(window starts: {ds.times.tolist()}); set the 'window' parameter "
                        "to a range that holds some.")
    return mask, (start, end)


def channels_of_interest(ds, channels=None):
    """Boolean mask of the channels the divergence analysis follows.

    Parameters
    ----------
    ds : WordDataset
    channels : list of str | None
        Channel names to use instead of the source's focus (``None`` and a source
        without a focus: every channel).

    Returns
    -------
    ndarray of bool, shape (n_channels,)

    Raises
    ------
    DataError
        A channel name the data do not have.
    """
    if channels is None:
        name = ds.provenance.get("dataset")
        channels = dataset_spec(name).focus_channels if name in _REGISTRY else None
    if channels is None:
        return np.ones(ds.n_channels, dtype=bool)
    unknown = [c for c in channels if c not in ds.ch_names]
    if unknown:
        raise DataError(f"{ds.source}: channel(s) {unknown} not in the data; expected names "
                        f"from {ds.ch_names[:10]}{' ...' if ds.n_channels > 10 else ''}.")
    return np.isin(ds.ch_names, list(channels))


def cv_groups(ds, name=None):
    """The grouping cross-validation folds must respect, and its labels.

    Parameters
    ----------
    ds : WordDataset
    name : str | None
        A grouping (``"story"``, ``"sentence"``, a key of ``ds.groups``); ``"none"``
        for contiguous folds; ``None``: the source's default.

    Returns
    -------
    name : str | None
    labels : ndarray of int | None
    """
    if name is None:
        src = ds.provenance.get("dataset")
        name = dataset_spec(src).cv_groups if src in _REGISTRY else None
    if name in (None, "none"):
        return None, None
    return name, ds.group_labels(name)


def null_design(ds, scheme=None):
    """The permutation null of a dataset, as keywords of the tests in :mod:`analysis.stats`.

    Parameters
    ----------
    ds : WordDataset
    scheme : str | None
        Override the source's ``null_scheme`` (``"words"`` only for calibration).

    Returns
    -------
    dict
        ``scheme``, ``groups`` (sentence labels for ``"sentences"``; the labels of the
        source's CV grouping, e.g. stories, or None for one series, otherwise) and
        ``block_length``: pass as ``**null_design(ds)`` to
        :func:`analysis.stats.permutation_r_difference` or
        :func:`analysis.stats.null_significant_count`.
    """
    src = ds.provenance.get("dataset") if hasattr(ds, "provenance") else None
    spec = dataset_spec(src) if src in _REGISTRY else DatasetSpec("?", None, "")
    scheme = scheme or spec.null_scheme
    if scheme == "sentences":
        groups = ds.sentence
    else:
        groups = cv_groups(ds)[1]
    return {"scheme": scheme, "groups": groups, "block_length": int(spec.null_block)}


# --------------------------------------------------------------------------- sources
def load_simulated(path=None, n_words=0, n_subjects=4, seed=0, model="default",
                   device="auto", progress=True, truth_layer=None, cache_dir=None,
                   return_features=False):
    """The simulated reading study on the embedded story (Methods page, data).

    The language-model features that drive the predictable part are extracted in
    float32 on any device (cached), so the data do not depend on the hardware.

    Parameters
    ----------
    path : None
        Not used (the study is generated).
    n_words : int
        Simulate on the first ``n_words`` words of the story (0 = all; at least 100).
    n_subjects, seed : int
        Simulated readers and the seed of every random choice.
    model : str
        Language model whose hidden states drive the predictable part.
    device : str
        Device for feature extraction.
    progress : bool
        Show a progress bar while extracting features.
    truth_layer : int | None
        Layer behind the predictable part (40 % of the depth by default).
    cache_dir : str | None
        Feature cache folder.
    return_features : bool
        Also return the features.

    Returns
    -------
    WordDataset or (WordDataset, Features)
    """
    from .features import extract_features
    from .simulate import SimulationConfig, simulate_study, story_words

    words, categories = story_words()
    if n_words:
        if n_words < 100:
            raise DataError(f"n_words={n_words}: the simulation needs at least 100 words.")
        words = words[:n_words]
        categories = {k: v[:n_words] for k, v in categories.items()}
    from .embeddings import KNOWLEDGE_SOURCE, knowledge_features

    feats = extract_features(words, model=model, device=device, dtype="float32",
                             cache_dir=cache_dir, progress=progress)
    cfg = SimulationConfig(seed=seed, n_subjects=n_subjects, truth_layer=truth_layer)
    ds = simulate_study(words, feats.hidden, categories, cfg,
                        model_identity=str(feats.model_identity),
                        knowledge=knowledge_features(words, device="cpu"),
                        knowledge_source=KNOWLEDGE_SOURCE)
    return (ds, feats) if return_features else ds


def _load_saved(path):
    return load_dataset_file(path)


def _lazy(module, function):
    """A loader imported on first use (keeps this module's imports light)."""
    def call(path, **options):
        import importlib

        return getattr(importlib.import_module(module), function)(path, **options)
    call.__name__ = function
    call.__doc__ = f"``{module}.{function}``"
    call.target = (module, function)
    return call


def loader_function(spec):
    """The function behind a source's loader (importing it when it is lazy)."""
    import importlib

    target = getattr(spec.loader, "target", None)
    return spec.loader if target is None else getattr(importlib.import_module(target[0]),
                                                      target[1])


def check_dataset_options(name, options):
    """Check options against the loader's signature and documented types (before loading).

    Raises
    ------
    DataError
        Unknown dataset, unknown option, a value not of the documented type (the
        message names the option, the value and the expected type), or a required
        option missing (:func:`check_required_options`).
    """
    from .params import OptionError, check_loader_options

    try:
        check_loader_options(loader_function(dataset_spec(name)), options, f"dataset {name!r}")
    except OptionError as err:
        raise DataError(str(err)) from None
    check_required_options(name, options)


_FRANK_HOWTO = ("Get all_measures.csv from the public repository 'prediction-resource' of "
                "de Varda, Marelli & Amenta (2023, Behavior Research Methods); pass its path "
                "or set FRANK2015_PATH.")

for _spec in (
    DatasetSpec("simulated", load_simulated, "simulated Neuromag-306 reading study with a "
                "planted truth (the book's default)", context="running", geometry=True,
                subjects=True, needs_path=False, reference="this project (Methods page, data)"),
    DatasetSpec("harry_potter", _lazy("analysis.loaders.harry_potter", "load_harry_potter"),
                "Harry Potter chapter 9/10 MEG, 306 channels, RSVP reading",
                geometry=True, subjects=True,
                howto="The files are distributed with the paper's code (denoised_HP.npy, meg/).",
                reference="Wehbe et al. (2014), PLoS ONE 9(11): e112575"),
    DatasetSpec("moth", _lazy("analysis.loaders.moth", "load_moth"),
                "Moth MEG, one listener, six stories", cv_groups="story",
                null_scheme="circular",
                howto="Give the folder of the Moth_*.pkl pickles and dataset_options {sfreq: ...}.",
                option_examples={"sfreq": 1000}),
    DatasetSpec("mne", _lazy("analysis.loaders.mne_data", "load_mne_epochs"),
                "any word-locked MNE epochs file (*-epo.fif) with words in its metadata",
                geometry=True, howto="Give the path of an -epo.fif file."),
    DatasetSpec("bids", _lazy("analysis.loaders.bids", "load_bids"),
                "a BIDS MEG/EEG study with word events (mne-bids): every subject, session "
                "and story, streamed one recording at a time", geometry=True, subjects=True,
                cv_groups="story",
                howto="Give the BIDS root; dataset_options may name subject, task, word_column, "
                      "word_key (see the book page 'Your own data')."),
    DatasetSpec("frank2015", _lazy("analysis.loaders.frank2015", "load_frank2015"),
                "Frank et al. (2015) EEG: six ERP components per word, 24 readers, "
                "205 isolated sentences", context="sentence", window=None,
                default_path="frank2015/all_measures.csv", env="FRANK2015_PATH",
                cv_groups="sentence", null_scheme="sentences", focus_channels=("N400",),
                howto=_FRANK_HOWTO,
                reference="Frank, Otten, Galli & Vigliocco (2015), Brain and Language "
                          "140:1-11; de Varda, Marelli & Amenta (2023), BRM"),
    DatasetSpec("saved", _load_saved, "a dataset written by WordDataset.save (.npz)",
                howto="Give the path of the .npz file."),
    DatasetSpec("frank2015_trials", _lazy("analysis.loaders.frank2015", "load_frank2015_trials"),
                "Frank et al. (2015) EEG trial by trial: N400 per reader and word, 24 readers, "
                "205 isolated sentences", context="sentence", window=None, subjects=True,
                default_path="frank2015/single_trials/data_EEG.csv", env="FRANK2015_TRIALS_PATH",
                cv_groups="sentence", null_scheme="sentences", focus_channels=("N400",),
                howto="Get data_EEG.csv and subjects.csv from the 'analysis' folder of the public "
                      "repository 'AurnhammerFrank_CogSci2019'; pass the file or its folder, or "
                      "set FRANK2015_TRIALS_PATH.",
                reference="Aurnhammer & Frank (2019), CogSci proceedings pp. 112-118; Frank, "
                          "Otten, Galli & Vigliocco (2015), Brain and Language 140:1-11"),
    DatasetSpec("frank2015_et", _lazy("analysis.loaders.frank2015", "load_frank2015_eyetracking"),
                "eye tracking on the Frank sentences: first-pass gaze duration per reader and "
                "word, 35 of 43 readers kept, 205 isolated sentences", context="sentence",
                window=None, subjects=True, default_path="frank2015/single_trials/data_ET.csv",
                env="FRANK2015_ET_PATH", cv_groups="sentence", null_scheme="sentences",
                focus_channels=("RTfirstpass",),
                howto="Get data_ET.csv and subjects.csv from the 'analysis' folder of the public "
                      "repository 'AurnhammerFrank_CogSci2019'; pass the file or its folder, or "
                      "set FRANK2015_ET_PATH.",
                reference="Aurnhammer & Frank (2019), CogSci proceedings pp. 112-118; Frank, "
                          "Fernandez Monsalve, Thompson & Vigliocco (2013), Behavior Research "
                          "Methods 45:1182-1190"),
    DatasetSpec("naturalstories", _lazy("analysis.loaders.naturalstories", "load_naturalstories"),
                "Natural Stories self-paced reading: mean reading time per word, 10 stories, "
                "10,256 words", context="story", window=None, default_path="naturalstories",
                env="NATURALSTORIES_PATH", cv_groups="story", null_scheme="circular",
                howto="Get all_stories.tok, processed_wordinfo.tsv and all_stories_gpt3.csv from "
                      "the public repository 'languageMIT/naturalstories' into one folder; pass "
                      "its path or set NATURALSTORIES_PATH.",
                reference="Futrell, Gibson, Tily, Blank, Vishnevetsky, Piantadosi & Fedorenko "
                          "(2021), Language Resources and Evaluation 55:63-77; licence CC BY-NC-SA "
                          "4.0"),
):
    register_dataset(_spec)

register_dataset(DatasetSpec(
    "table", _lazy("analysis.loaders.table", "load_word_table"),
    "any word-level table (CSV, TSV, Parquet): measures per word or per participant and "
    "word; the context follows its columns", context="sentence", window=None,
    needs_path=True, cv_groups="sentence", null_scheme="sentences",
    howto="Give the path of the table and dataset_options naming its columns, e.g. "
          "{word: token, measures: [rt]} (see the book page 'Your own data'); "
          "python -m analysis.loaders.table FILE --options '{...}' shows what is understood.",
    reference="the user's own data"))
