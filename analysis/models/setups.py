"""The models chapter's data set-ups: the Frank et al. (2015) targets, the Frank and
simulated set-ups that every fit shares, and the lazily loaded default model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._utils import DataError
from ..provenance import timed
from .profiles import finetuned_alignment, profile_model

__all__ = ["READING_MEASURES", "frank_targets", "LazyModel", "FrankSetup", "frank_setup",
           "SimulatedSetup", "simulated_setup"]


# --------------------------------------------------------------------------- real data
#: Reading measures of the Frank et al. (2015) table used beside the ERP components:
#: short label -> column (mean over readers per word, in ms).
READING_MEASURES = {"SPR": "self_paced_reading_time", "FPass": "RTfirstpass",
                    "GoPast": "RTgopast"}


def frank_targets(frank, reading=READING_MEASURES):
    """The Frank et al. (2015) words of the published analyses, ERPs and reading times.

    Parameters
    ----------
    frank : WordDataset
        ``open_dataset("frank2015")`` (every row, with its ``metadata``).
    reading : dict of str to str
        Reading measures to add as further "channels": label -> metadata column.

    Returns
    -------
    WordDataset
        The rows kept by de Varda et al.'s exclusion (as in the real-data chapter), with
        the six ERP components followed by the log of each reading measure (log ms: the
        times are skewed, and the encoding model z-scores every target anyway).

    Raises
    ------
    DataError
        A table without the exclusion flag or a reading column, or a reading time that
        is not positive.
    """
    import dataclasses

    meta = frank.metadata
    need = ["published_exclusion"] + list(reading.values())
    missing = [c for c in need if meta is None or c not in meta.columns]
    if missing:
        raise DataError(f"{frank.source}: column(s) {missing} missing; expected the table of "
                        "load_frank2015 (all_measures.csv).")
    kept = ~meta["published_exclusion"].to_numpy(bool)
    erp = frank.subset(kept, note="de Varda et al. (2023) exclusion")
    rt = erp.metadata[list(reading.values())].to_numpy(float)
    if not np.all(np.isfinite(rt) & (rt > 0)):
        raise DataError(f"{frank.source}: reading times {list(reading.values())} hold values "
                        "that are not positive numbers; expected mean times in ms.")
    responses = np.concatenate([erp.responses, np.log(rt)[:, :, None]], axis=1)
    return dataclasses.replace(erp, responses=responses.astype(np.float32),
                               ch_names=list(erp.ch_names) + list(reading),
                               subject_responses=None)


class LazyModel:
    """A language model loaded on the first call only, then the same object every call.

    Serves as the ``loader`` of :func:`analysis.instructions.instruction_features`: the
    model is loaded only when some feature is not cached, and once for all calls.

    Parameters
    ----------
    source : str
        What :func:`analysis.features.load_model` receives (default: the packaged model).
    device : str
    timer : StepTimer | None
        Times the load as the step ``step``.
    step : str
    """

    def __init__(self, source="default", device="auto", timer=None,
                 step="load the default model"):
        self.source, self.device, self.timer, self.step = source, device, timer, step
        self.model = None

    def __call__(self):
        if self.model is None:
            from ..features import load_model

            with timed(self.timer, self.step):
                self.model = load_model(self.source, device=self.device)
        return self.model

    def loader_for(self, model):
        """This loader when ``model`` names the same model (for the default: its name too).

        Returns
        -------
        LazyModel | None
        """
        names = {self.source}
        if self.source == "default":
            from ..lm import DEFAULT_MODEL

            names.add(DEFAULT_MODEL)
        return self if model in names else None



# --------------------------------------------------------------------------- set-ups
class _DatasetSetup:
    """What :class:`FrankSetup` and :class:`SimulatedSetup` share: the layer sweeps."""

    def profile(self, entry, layer_step=1, rsa_words=1000, seed=0, device="auto", timer=None):
        """Layer sweep of one model (:func:`profile_model`), with the layer used above.

        Parameters
        ----------
        entry : ModelEntry
        layer_step : int
            Every n-th layer, plus ``layer``.
        rsa_words, seed : int
        device : str
        timer : StepTimer | None
            Times ``"<label>: features of <name>"`` and ``"<label>: sweep of <name>"``.

        Returns
        -------
        ModelProfile
            On the targets of the set-up (Frank: with the baseline; simulated: the
            channels used, every window).
        """
        with timed(timer, f"{self.label}: features of {entry.name}"):
            hidden = self._model_hidden(entry, device)
        layers = sorted(set(range(0, hidden.shape[0], layer_step)) | {self.layer})
        with timed(timer, f"{self.label}: sweep of {entry.name}"):
            return profile_model(entry.name, hidden, layers=layers, fit_kw=self.fit_kw,
                                 rsa_words=rsa_words, seed=seed, **self._profile_kw())


@dataclass
class FrankSetup(_DatasetSetup):
    """What every fit of the models chapter on the Frank et al. (2015) data shares.

    Attributes
    ----------
    dataset : WordDataset
        Every row as opened (``open_dataset("frank2015")``).
    targets : WordDataset
        The rows of the published analyses with ERP and log reading-time targets
        (:func:`frank_targets`).
    baseline : ndarray, shape (n_words, d_b)
        Nuisance predictors (length, frequency, position), an unpenalized band.
    groups : ndarray of int, shape (n_words,)
        Sentence of every row of ``targets`` (folds and bootstrap units).
    fit_kw : dict
        Passed to :func:`analysis.encoding.fit_encoding` (folds, penalties, groups).
    kept : ndarray of bool, shape (len(dataset),)
        Rows of ``dataset`` kept in ``targets``.
    hidden : ndarray, shape (n_hidden, n_words, d)
        The default model's hidden states of the kept rows.
    layer : int | None
        Layer of the instruction and fine-tuning comparisons (:meth:`choose_layer`).
    layer_source : str | None
        Where ``layer`` comes from, in words.
    """

    dataset: object
    targets: object
    baseline: np.ndarray
    groups: np.ndarray
    fit_kw: dict
    kept: np.ndarray
    hidden: np.ndarray
    layer: int | None = None
    layer_source: str | None = None
    label = "Frank"
    model = "default"

    def choose_layer(self, results_dir, layer_step=1, rsa_words=1000, seed=0, timer=None):
        """The real-data chapter's layer decision for the N400, or one chosen by a sweep here.

        Parameters
        ----------
        results_dir : str | Path
            Where ``real_data_layer.json`` is looked for
            (:class:`analysis.contracts.RealDataLayer`).
        layer_step : int
            Every n-th layer is swept when the real-data chapter has not run.
        rsa_words, seed : int
            For :func:`profile_model`.
        timer : StepTimer | None
            Times the sweep as ``"Frank: N400 layer"``.

        Returns
        -------
        int
            Also stored in ``layer``, with ``layer_source``.
        """
        from ..contracts import ContractError, RealDataLayer

        try:
            layer = RealDataLayer.read(results_dir).layer
        except ContractError:
            layer = None
        self.layer_source = ("the layer the real-data chapter decided for the N400: the "
                             "most frequent of the layers chosen inside its folds"
                             if layer is not None else "the peak layer for the N400 in a "
                             "sweep here (a description), as the real-data chapter has not run")
        if layer is None:
            with timed(timer, "Frank: N400 layer"):
                layer = profile_model(
                    "default", self.hidden, self.targets,
                    layers=range(0, self.hidden.shape[0], layer_step),
                    channels=np.isin(self.targets.ch_names, ["N400"]),
                    baseline=self.baseline, fit_kw=self.fit_kw, rsa_words=rsa_words,
                    seed=seed).chosen_layer
        self.layer = int(layer)
        return self.layer

    def instruction_inputs(self, n_words=0):
        """Data and arguments of :func:`analysis.instructions.compare_instructions`.

        Parameters
        ----------
        n_words : int
            The whole sentences within the first ``n_words`` rows (0: all).

        Returns
        -------
        data : WordDataset
            The rows read under the instructions.
        kwargs : dict
            ``plain``, ``data``, ``baseline``, ``fit_kw`` and ``boot_groups`` of those rows.
        """
        data = self.targets.first_sentences(n_words)  # a prefix of the rows (0: all)
        n = data.n_words
        return data, dict(plain=self.hidden[self.layer][:n], data=data,
                          baseline=self.baseline[:n],
                          fit_kw=dict(self.fit_kw, groups=self.groups[:n]),
                          boot_groups=self.groups[:n])

    def _model_hidden(self, entry, device):
        from ..features import extract_features

        return self.hidden if entry.source == "default" else extract_features(
            self.dataset, model=entry.source, device=device).hidden[:, self.kept]

    def _profile_kw(self):
        return dict(data=self.targets, baseline=self.baseline)

    def finetuned_alignment(self, entries, n_boot=1000, seed=0, device="auto"):
        """The fine-tuned models against their base at ``layer`` (:func:`finetuned_alignment`).

        Parameters
        ----------
        entries : list of ModelEntry
            The registry; its first entry is the base, its fine-tuned entries compared.
        n_boot, seed : int
        device : str

        Returns
        -------
        pandas.DataFrame | None
        """
        from ..features import extract_features

        tuned = [e for e in entries if e.kind == "finetuned"]
        hidden = {e.name: extract_features(self.targets, model=e.source, layers=[self.layer],
                                           device=device).layer(self.layer) for e in tuned}
        return finetuned_alignment(
            self.targets, self.hidden[self.layer], hidden, {e.name: e.accuracy for e in tuned},
            baseline=self.baseline, fit_kw=self.fit_kw, groups=self.groups, n_boot=n_boot,
            seed=seed, base_name=entries[0].name)


def frank_setup(path=None, n_words=0, fit_kw=None, device="auto"):
    """Open the Frank et al. (2015) data and prepare what the models chapter's fits share.

    Parameters
    ----------
    path : str | Path | None
        ``all_measures.csv`` (None: ``$FRANK2015_PATH`` or the shared data folder).
    n_words : int
        The whole sentences within the first ``n_words`` words (0: all).
    fit_kw : dict | None
        Settings of every fit (folds, penalties, backend); the sentence groups are added.
    device : str
        Where the default model's features are computed (when not cached).

    Returns
    -------
    FrankSetup

    Raises
    ------
    DataError
        The data are not found (the message says where they were looked for) or lack
        the columns of the published analyses.
    """
    from ..datasets import open_dataset
    from ..features import extract_features
    from ..predictors import nuisance_predictors

    dataset = open_dataset("frank2015", path, n_words=n_words)
    targets = frank_targets(dataset)
    baseline, _ = nuisance_predictors(targets)
    groups = targets.group_labels("sentence")
    kept = ~dataset.metadata["published_exclusion"].to_numpy()
    hidden = extract_features(dataset, model="default", device=device).hidden[:, kept]
    return FrankSetup(dataset=dataset, targets=targets, baseline=baseline, groups=groups,
                      fit_kw=dict(fit_kw or {}, groups=groups), kept=kept, hidden=hidden)


@dataclass
class SimulatedSetup(_DatasetSetup):
    """What every fit of the models chapter on the simulated study shares.

    Attributes
    ----------
    encoding : analysis.contracts.EncodingOutputs
        The encoding chapter's outputs (model, layer, window, channels).
    dataset : WordDataset
        The study, reopened.
    fit_kw : dict
        Passed to :func:`analysis.encoding.fit_encoding`.
    plain : analysis.features.Features
        The encoding model's features of every word (no instruction).
    windows : ndarray of bool, shape (n_windows,)
        The window of interest.
    channels : ndarray of bool, shape (n_channels,)
        The channels of interest, or a seeded random subset of them.
    """

    encoding: object
    dataset: object
    fit_kw: dict
    plain: object
    windows: np.ndarray
    channels: np.ndarray
    label = "simulated"

    @property
    def layer(self):
        """The encoding chapter's layer."""
        return self.encoding.layer

    @property
    def model(self):
        """The encoding chapter's model."""
        return self.encoding.model

    @property
    def window(self):
        """The window of interest in ms (start, end), or None."""
        return self.encoding.window

    @property
    def truth_layer(self):
        """The layer the simulation drew its language-model signal from, or None."""
        return (self.dataset.provenance.get("truth") or {}).get("truth_layer")

    def first(self, n_words):
        """The number of words in the first ``n_words`` (0 or too many: all)."""
        return n_words if 0 < n_words < self.dataset.n_words else self.dataset.n_words

    def _fit_kw(self, n):
        kw = dict(self.fit_kw)
        if kw.get("groups") is not None:
            kw["groups"] = kw["groups"][:n]
        return kw

    def instruction_inputs(self, n_words=0):
        """Data and arguments of :func:`analysis.instructions.compare_instructions`.

        Parameters
        ----------
        n_words : int
            The first ``n_words`` words (their contexts unchanged; 0: all).

        Returns
        -------
        data : WordDataset
        kwargs : dict
            ``plain``, ``data``, ``windows``, ``channels``, ``fit_kw``, ``boot_groups``.
        """
        n = self.first(n_words)
        data = self.dataset.subset(np.arange(n), note=f"first {n} words")
        return data, dict(plain=self.plain.layer(self.layer)[:n], data=data,
                          windows=self.windows, channels=self.channels,
                          fit_kw=self._fit_kw(n), boot_groups=data.group_labels("sentence"))

    def _model_hidden(self, entry, device):
        from ..features import extract_features

        return (self.plain if entry.source == self.model else extract_features(
            self.dataset, model=entry.source, device=device)).hidden

    def _profile_kw(self):
        return dict(data=self.dataset, channels=self.channels)

    def finetuned_alignment(self, entries, n_words=0, n_boot=1000, seed=0, device="auto"):
        """The fine-tuned models against their base at ``layer`` on the first words.

        Parameters
        ----------
        entries : list of ModelEntry
            The registry; its first entry is the base, its fine-tuned entries compared.
        n_words : int
            The first ``n_words`` words (0: all), as in the fine-tuning chapter.
        n_boot, seed : int
        device : str

        Returns
        -------
        pandas.DataFrame | None
            :func:`finetuned_alignment` on the window and channels used.
        """
        from ..features import extract_features

        n = self.first(n_words)
        ds = self.dataset.subset(np.arange(n))
        y = ds.responses[:, self.channels][:, :, self.windows]
        tuned = [e for e in entries if e.kind == "finetuned"]
        hidden = {e.name: extract_features(ds, model=e.source, layers=[self.layer],
                                           surprisal=False, device=device).layer(self.layer)
                  for e in tuned}
        return finetuned_alignment(
            y, self.plain.layer(self.layer)[:n], hidden, {e.name: e.accuracy for e in tuned},
            fit_kw=self._fit_kw(n), groups=ds.group_labels("sentence"), n_boot=n_boot,
            seed=seed, base_name=entries[0].name)


def simulated_setup(results_dir, fit_kw=None, map_channels=0, seed=0, backend="numpy",
                    device="auto"):
    """Reopen the encoding chapter's study and prepare what the models chapter's fits share.

    Parameters
    ----------
    results_dir : str | Path
        Where the encoding chapter wrote its outputs.
    fit_kw : dict | None
        Settings that replace the encoding chapter's (folds, penalties, inner folds).
    map_channels : int
        A seeded random subset of this many channels of interest (0: all of them).
    seed : int
    backend : str
        Ridge backend of the fits.
    device : str

    Returns
    -------
    SimulatedSetup

    Raises
    ------
    analysis.contracts.ContractError
        The encoding chapter's outputs are missing or do not match.
    """
    from ..contracts import EncodingOutputs
    from ..datasets import window_of_interest
    from ..features import extract_features
    from ..stats import random_word_subset

    enc = EncodingOutputs.read(results_dir)
    sim = enc.reopen_dataset(device=device, progress=False)
    kw = enc.fit_kwargs(sim, backend=backend)
    kw.update(fit_kw or {})
    plain = extract_features(sim, model=enc.model, device=device)
    windows, _ = window_of_interest(sim, enc.window)
    coi = np.flatnonzero(np.isin(sim.ch_names, enc.channels))
    channels = np.zeros(sim.n_channels, bool)
    channels[coi[random_word_subset(coi.size, map_channels or coi.size, seed)]] = True
    return SimulatedSetup(encoding=enc, dataset=sim, fit_kw=kw, plain=plain, windows=windows,
                          channels=channels)
