"""The simulated reading study: the book's embedded default dataset (Methods page, data).

A reader "reads" the project's own story (``analysis/resources/story.txt``) one word
at a time while a Neuromag-306 MEG system records. The responses are built from
parts whose truth is known and saved with the data:

* **lm** – the predictable part: a linear read-out of one language-model layer
  (``truth_layer``), spread over several sources with their own latency and
  topography. An encoding model fitted on that layer should win the layer sweep
  and peak at the planted latency. The read-out skips the layer's top principal
  components: a transformer's residual stream shares them across its layers (measured
  on the story's first 1,000 words, ridge with five contiguous folds: the top 16
  principal components of SmolLM2-135M's layer 12 are predicted out of fold with R²
  0.81 from layer 3 and 0.90 from layer 12 itself, components 64–160 with 0.16 and
  0.48), so a read-out of them is about as well predicted by a distant layer and the
  planted layer cannot be told apart (there, layer 11 won the sweep; with the skip,
  layer 12 wins by 0.009 in mean r, 95 % interval over folds 0.003 to 0.011).
* **visual** – an early occipital response whose amplitude follows word length, as
  in real reading studies.
* **emotion**, **physical** – the planted divergence: words labelled social/
  emotional or physical (annotation CSV) carry an extra response at 300–425 ms
  whose sign and size vary from word to word at random. No function of the text
  predicts them, so no language-model feature explains them linearly; they raise
  the prediction error on exactly those words.
* **sound** – a third planted category that no property of the hypothesis bank names:
  words of sound, silence and listening, chosen by a fixed word list
  (``resources/planted_sound_words.txt``), with the same kind of random response. It
  asks whether the data-driven proposers find what nobody wrote down.
* **knowledge** – a divergence that knowledge *could* close: on the emotion and
  physical words, a signed value that is a deterministic function of the text, read
  out (random direction, seeded) from the embedding of each word by another model
  (all-MiniLM-L6-v2), then made orthogonal to every dimension of the base model's
  driving layer, so that the base model cannot explain it linearly but a model that
  has that knowledge can (the positive control of the fine-tuning chapter).
* noise – spatially correlated "brain noise" from many random sources plus sensor
  noise, temporally correlated across windows (AR(1)) and across consecutive words
  (AR(1) along the story, as slow drifts of real recordings are), independent per
  subject.

Topographies follow the shape of a tangential current dipole under the helmet:
magnetometers see two lobes of opposite sign on either side of the source and the
planar gradiometers see the spatial derivatives of that field.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data import WordDataset, neuromag306_info
from .text import read_annotations, segment_sentences

__all__ = [
    "RESOURCES",
    "story_words",
    "SimulationConfig",
    "simulate_study",
    "dipole_topography",
    "sensor_xy",
    "sound_words",
    "knowledge_amplitude",
    "SOUND_WORDS_FILE",
    "STORY_TEXT",
    "SENSOR_TEXT",
    "TRUTH_TEXT_KEYS",
    "truth_text",
]

RESOURCES = Path(__file__).resolve().parent / "resources"

# Physical scale of the simulated signals (SI units, as MNE expects).
MAG_SCALE = 1e-13  # 100 fT
GRAD_SCALE = 1e-11  # 100 fT/cm


def story_words(path=None):
    """Return the words of the embedded story and its annotation labels.

    Parameters
    ----------
    path : str | Path | None
        A story text file (words separated by white space). Defaults to the
        project's story, whose labels come from ``story_annotations.csv``.

    Returns
    -------
    words : list of str
        Whitespace-separated tokens, punctuation attached.
    categories : dict of str to ndarray of bool
        ``emotion``, ``figurative`` and ``physical`` labels (empty for a user text
        without annotations).
    """
    path = Path(path) if path is not None else RESOURCES / "story.txt"
    words = path.read_text(encoding="utf-8").split()
    ann = path.with_name(path.stem + "_annotations.csv")
    categories = read_annotations([ann], words) if ann.exists() else {}
    return words, categories


def sensor_xy(info):
    """Flat 2-D sensor positions (unit scale) from an Info, as used by topomaps.

    Parameters
    ----------
    info : mne.Info

    Returns
    -------
    ndarray, shape (n_channels, 2)
    """
    from mne.channels.layout import _find_topomap_coords

    xy = _find_topomap_coords(info, picks=list(range(len(info["ch_names"]))))
    xy = xy - xy.mean(axis=0)
    return xy / np.abs(xy).max()


def dipole_topography(info, center, angle, width=0.35):
    """Field pattern of a tangential current dipole on magnetometers and gradiometers.

    Parameters
    ----------
    info : mne.Info
        Neuromag-306 sensor information (``neuromag306_info``).
    center : tuple of float
        Source position in the flat sensor plane (unit scale, x to the right,
        y to the front).
    angle : float
        Direction of the current in radians.
    width : float
        Spatial spread of the field.

    Returns
    -------
    ndarray, shape (n_channels,)
        Magnetometers scaled to ~100 fT, gradiometers to ~100 fT/cm at the peak.
    """
    xy = sensor_xy(info)
    d = xy - np.asarray(center)
    # The radial field of a tangential dipole is antisymmetric across the current
    # line: Bz ~ (d . n) * exp(-|d|^2 / 2w^2), n normal to the current.
    n = np.array([-np.sin(angle), np.cos(angle)])
    g = np.exp(-(d ** 2).sum(axis=1) / (2 * width ** 2))
    proj = d @ n
    bz = proj * g
    dbz = n[None, :] * g[:, None] - (proj * g)[:, None] * d / width ** 2
    types = info.get_channel_types()
    out = np.empty(len(types))
    for i, (name, kind) in enumerate(zip(info["ch_names"], types)):
        if kind == "mag":
            out[i] = bz[i] / (width * np.exp(-0.5)) * MAG_SCALE
        elif name.endswith("2"):
            out[i] = dbz[i, 0] * width * GRAD_SCALE
        else:
            out[i] = dbz[i, 1] * width * GRAD_SCALE
    return out


@dataclass
class SimulationConfig:
    """Parameters of the simulated study (all documented in the saved truth).

    Parameters
    ----------
    seed : int
        Seed of every random choice.
    n_subjects : int
        Simulated readers; ``responses`` is their average.
    truth_layer : int | None
        Language-model layer behind the predictable part (index into the hidden
        states, 0 = embeddings). ``None`` picks 40 % of the depth.
    n_latent : int
        Independent LM-driven sources.
    n_pcs : int
        The LM layer is whitened to this many principal components before the
        random read-out, so the signal uses directions specific to that layer.
    pc_skip : int
        Top principal components left out before those ``n_pcs`` (the directions
        every layer shares; see the module notes). Fewer are skipped when the layer
        has fewer than ``pc_skip + n_pcs`` dimensions (none for a 48-dimensional
        stand-in).
    snr : float
        Ratio of signal to noise standard deviation in one subject at the peak of
        the LM part (over all channels).
    divergence_gain : float
        Size of the planted category responses relative to the LM part.
    sound_gain : float
        Size of the unnamed planted category's response (the sound words).
    knowledge_gain : float
        Size of the knowledge component (0 turns it off; it also needs the
        ``knowledge`` features given to :func:`simulate_study`).
    noise_sources : int
        Random brain-noise sources behind the spatially correlated noise.
    ar : float
        Lag-one correlation of the noise across 25 ms windows.
    word_ar : float
        Lag-one correlation of the noise across consecutive words (0: independent
        words).
    n_windows, window_ms : int, float
        Windows after word onset (20 x 25 ms in the paper).
    """

    seed: int = 0
    n_subjects: int = 4
    truth_layer: int | None = None
    n_latent: int = 4
    n_pcs: int = 96
    pc_skip: int = 32
    snr: float = 0.15
    divergence_gain: float = 4.0
    sound_gain: float = 4.0
    knowledge_gain: float = 3.0
    visual_gain: float = 0.6
    noise_sources: int = 60
    ar: float = 0.6
    word_ar: float = 0.5
    n_windows: int = 20
    window_ms: float = 25.0
    components: list = field(default=None)

    def __post_init__(self):
        if self.components is None:
            # (name, driver, peak ms, width ms, centre xy, current angle, mean amplitude)
            # The mean amplitude is the part shared by every word (the evoked field);
            # encoding models only see what varies from word to word.
            self.components = [
                ("visual", "word length", 125.0, 40.0, (0.0, -0.75), 0.3, 1.5),
                ("lm-1", "lm", 225.0, 70.0, (-0.55, -0.05), 1.2, 1.0),
                ("lm-2", "lm", 300.0, 80.0, (-0.45, 0.35), 2.4, 0.8),
                ("lm-3", "lm", 275.0, 90.0, (0.5, 0.0), 0.6, 0.5),
                ("lm-4", "lm", 250.0, 60.0, (-0.1, 0.55), 1.9, 0.5),
                ("emotion", "emotion", 375.0, 50.0, (0.55, 0.3), 2.0, 0.0),
                ("physical", "physical", 350.0, 50.0, (-0.3, 0.1), 0.9, 0.0),
                ("sound", "sound", 325.0, 50.0, (0.2, -0.35), 1.4, 0.0),
                ("knowledge", "knowledge", 350.0, 60.0, (0.35, 0.45), 2.8, 0.0),
            ]


#: The unnamed planted category's word list (see the module notes).
SOUND_WORDS_FILE = RESOURCES / "planted_sound_words.txt"


def sound_words(words, path=None):
    """Which words belong to the unnamed planted category (sound, silence, listening).

    Parameters
    ----------
    words : sequence of str
    path : str | Path | None
        Word list (default :data:`SOUND_WORDS_FILE`; ``#`` starts a comment).

    Returns
    -------
    mask : ndarray of bool, shape (n_words,)
    vocabulary : list of str
        The list's word forms.
    """
    path = Path(path) if path is not None else SOUND_WORDS_FILE
    vocab = [line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    forms = set(vocab)
    tokens = [str(w).strip(".,;:!?\"'()-\u2018\u2019\u201c\u201d").lower() for w in words]
    return np.array([t in forms for t in tokens]), vocab


def knowledge_amplitude(knowledge, mask, base, seed):
    """The knowledge component: a seeded read-out of other-model features on some words,
    made orthogonal to every dimension of the base model's layer.

    Parameters
    ----------
    knowledge : ndarray, shape (n_words, k)
        Features of each word from another model (e.g. sentence-embedding vectors).
    mask : ndarray of bool, shape (n_words,)
        Words that carry the component (zeroed elsewhere before orthogonalising).
    base : ndarray, shape (n_words, d)
        The base model's driving layer.
    seed : int | sequence
        Seed of the read-out direction.

    Returns
    -------
    amplitude : ndarray, shape (n_words,)
        Unit-variance values; ``base`` explains none of them linearly (in-sample
        least squares), ``knowledge * mask`` explains them together with ``base``.
    info : dict
        ``r_before`` (correlation with the base layer's least-squares fit before
        orthogonalising) and ``share_on_mask`` (share of the variance on the masked
        words).
    """
    rng = np.random.default_rng(seed)
    k = np.asarray(knowledge, dtype=np.float64) * np.asarray(mask, float)[:, None]
    k = k - k.mean(axis=0)
    a = k @ rng.standard_normal(k.shape[1])
    h = np.asarray(base, dtype=np.float64)
    h = h - h.mean(axis=0)
    fit = h @ np.linalg.lstsq(h, a, rcond=None)[0]
    r_before = float(np.corrcoef(a, fit)[0, 1]) if np.std(fit) > 0 else 0.0
    a = a - fit
    a = a / (a.std() or 1.0)
    share = float((a[np.asarray(mask, bool)] ** 2).sum() / (a ** 2).sum())
    return a, {"r_before": r_before, "share_on_mask": share}


def _gaussian_profile(times, peak, width, window_ms):
    centres = times + window_ms / 2
    return np.exp(-0.5 * ((centres - peak) / width) ** 2)


def _lm_latents(hidden, n_pcs, n_latent, rng, pc_skip=0):
    """Random read-out of whitened principal components of one layer.

    Returns the latents (n_words, n_latent) and the components used, ``(first, stop)``.
    """
    x = hidden.astype(np.float64)
    x = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    rank = int((s > s[0] * 1e-6).sum())
    skip = min(int(pc_skip), max(0, rank - int(n_pcs)))
    k = min(n_pcs, rank - skip)
    z = u[:, skip:skip + k] * np.sqrt(x.shape[0])  # whitened scores, unit variance
    w = rng.standard_normal((k, n_latent)) / np.sqrt(k)
    lat = z @ w
    return lat / lat.std(axis=0), (skip, skip + k)


def simulate_study(words, hidden, categories, config=None, model_identity=None,
                   knowledge=None, knowledge_source=None):
    """Simulate MEG responses of several readers to a text.

    Parameters
    ----------
    words : list of str
        The text, one entry per presented word.
    hidden : ndarray, shape (n_layers, n_words, d)
        Language-model hidden states of every word (``Features.hidden``).
    categories : dict of str to ndarray of bool
        Word labels; ``emotion`` and ``physical`` receive the planted divergence.
    config : SimulationConfig | None
        Simulation parameters.
    model_identity : str | None
        Recorded in the provenance.
    knowledge : ndarray, shape (n_words, k) | None
        Another model's features of each word, behind the knowledge component
        (:func:`knowledge_amplitude`); ``None`` leaves the component out.
    knowledge_source : str | None
        What ``knowledge`` is, for the truth.

    Returns
    -------
    WordDataset
        Group-average ``responses`` plus ``subject_responses``; the categories gain
        ``sound`` (the unnamed planted category); the truth is in
        ``provenance["truth"]`` (JSON-serialisable).
    """
    cfg = config or SimulationConfig()
    n_layers, n_words, _ = hidden.shape
    if n_words != len(words):
        raise ValueError(
            f"hidden states cover {n_words} words but the text has {len(words)}; "
            "expected features computed on the same words."
        )
    layer = cfg.truth_layer if cfg.truth_layer is not None else round(0.4 * (n_layers - 1))
    if not 0 <= layer < n_layers:
        raise ValueError(f"truth_layer={layer} outside the model's 0..{n_layers - 1} layers.")
    rng = np.random.default_rng(cfg.seed)
    info = neuromag306_info()
    n_ch = len(info["ch_names"])
    times = np.arange(cfg.n_windows) * cfg.window_ms

    # Shared, noise-free signal of every part: (n_words, n_ch, n_windows).
    latents, pc_range = _lm_latents(hidden[layer], cfg.n_pcs, cfg.n_latent, rng, cfg.pc_skip)
    length = np.array([len(w.strip(".,;:!?\"'()-")) for w in words], float)
    length = (length - length.mean()) / (length.std() or 1.0)
    cats = {k: np.asarray(categories.get(k, np.zeros(n_words, bool)), bool)
            for k in ("emotion", "physical")}
    amp_div = {}
    for k, mask in cats.items():
        # Random sign and size per word: independent of the text by construction.
        a = rng.choice([-1.0, 1.0], n_words) * rng.gamma(4.0, 0.25, n_words)
        amp_div[k] = cfg.divergence_gain * np.where(mask, a, 0.0)
    # the later additions draw from their own streams, so the parts above stay as they were
    sound, sound_vocab = sound_words(words)
    extra = np.random.default_rng([cfg.seed, 1])
    a = extra.choice([-1.0, 1.0], n_words) * extra.gamma(4.0, 0.25, n_words)
    amp_div["sound"] = cfg.sound_gain * np.where(sound, a, 0.0)
    knowledge_info = None
    planted_mask = cats["emotion"] | cats["physical"]
    if knowledge is not None and cfg.knowledge_gain:
        if np.shape(knowledge)[0] != n_words:
            raise ValueError(f"knowledge features cover {np.shape(knowledge)[0]} words; "
                             f"expected {n_words}.")
        amp_k, knowledge_info = knowledge_amplitude(knowledge, planted_mask, hidden[layer],
                                                    [cfg.seed, 2])
        amp_div["knowledge"] = cfg.knowledge_gain * amp_k
        knowledge_info.update({
            "source": knowledge_source or "features given to simulate_study",
            "applied_to": ["emotion", "physical"], "gain": cfg.knowledge_gain,
            "readout_seed": [cfg.seed, 2],
            "orthogonalised_against": f"all {hidden.shape[2]} dimensions of layer {layer}"})

    signal = np.zeros((n_words, n_ch, cfg.n_windows))
    lm_profile = np.zeros(cfg.n_windows)  # summed time course of the LM sources
    truth_components = []
    topos = {}
    lm_i = 0
    for name, driver, peak, width, centre, angle, mean in cfg.components:
        topo = dipole_topography(info, centre, angle)
        prof = _gaussian_profile(times, peak, width, cfg.window_ms)
        if driver == "lm":
            amp = latents[:, lm_i]
            lm_i += 1
            lm_profile += prof
        elif driver == "word length":
            amp = cfg.visual_gain * length
        elif driver in amp_div:
            amp = amp_div[driver]
        else:  # a component whose input was not given (knowledge without features)
            continue
        amp = amp + mean
        signal += amp[:, None, None] * topo[None, :, None] * prof[None, None, :]
        topos[name] = topo
        truth_components.append({
            "name": name,
            "driver": f"LM layer {layer}" if driver == "lm" else driver,
            "peak_ms": peak,
            "width_ms": width,
            "source_xy": list(centre),
            "current_angle_rad": angle,
            "peak_window": int(np.argmax(prof)),
            "mean_amplitude": mean,
        })

    # Noise level: set from the LM part's spread at its peak window.
    peak_window = int(np.argmax(lm_profile))
    scale = _channel_scale(info)
    sig_sd = (signal[:, :, peak_window] / scale).std(axis=0).mean()
    noise_sd = sig_sd / cfg.snr

    subjects = np.empty((cfg.n_subjects, n_words, n_ch, cfg.n_windows), np.float32)
    gains = 1.0 + 0.15 * rng.standard_normal(cfg.n_subjects)
    mixing = np.stack([
        dipole_topography(info, rng.uniform(-0.8, 0.8, 2), rng.uniform(0, np.pi),
                          width=rng.uniform(0.25, 0.5)) / scale
        for _ in range(cfg.noise_sources)
    ])  # (n_sources, n_ch), unit-free
    mixing /= np.sqrt((mixing ** 2).sum(axis=1).mean() / n_ch) * np.sqrt(cfg.noise_sources)
    for s in range(cfg.n_subjects):
        src = _ar_along(_ar_noise(rng, (n_words, cfg.noise_sources, cfg.n_windows), cfg.ar),
                        cfg.word_ar)
        brain = np.einsum("wkt,kc->wct", src, mixing)
        sensor = _ar_along(_ar_noise(rng, (n_words, n_ch, cfg.n_windows), cfg.ar), cfg.word_ar)
        noise = np.sqrt(0.7) * brain + np.sqrt(0.3) * sensor
        subjects[s] = (gains[s] * signal + noise_sd * noise * scale[None, :, None])
    responses = subjects.mean(axis=0)

    sentence = segment_sentences(words)
    truth = {
        "description": "simulated reading study (Methods page, data); see analysis/simulate.py",
        "seed": cfg.seed,
        "model": model_identity,
        "n_layers": int(n_layers),
        "truth_layer": int(layer),
        "lm_peak_window": peak_window,
        "lm_peak_ms": float(times[peak_window]),
        "divergence_window_ms": [300.0, 425.0],
        "planted_categories": {k: int(v.sum()) for k, v in cats.items()},
        "unnamed_category": {
            "name": "sound", "n_words": int(sound.sum()), "gain": cfg.sound_gain,
            "rule": "word forms of sound, silence and listening listed in "
                    "analysis/resources/planted_sound_words.txt (punctuation stripped, "
                    "lower case)",
            "vocabulary": sound_vocab,
            "found_in_text": sorted({str(w).strip(".,;:!?\"'()-").lower()
                                     for w, m in zip(words, sound) if m})},
        "knowledge": knowledge_info,
        "components": truth_components,
        "snr_single_subject": cfg.snr,
        "divergence_gain": cfg.divergence_gain,
        "visual_gain": cfg.visual_gain,
        "n_subjects": cfg.n_subjects,
        "subject_gains": [float(g) for g in gains],
        "noise": {"sources": cfg.noise_sources, "ar1": cfg.ar, "ar1_words": cfg.word_ar,
                  "brain_share": 0.7},
        "lm_principal_components": {"first": pc_range[0], "stop": pc_range[1],
                                    "skipped_top": pc_range[0]},
        "topographies": {k: v.tolist() for k, v in topos.items()},
    }
    digest = hashlib.sha256(responses.tobytes()).hexdigest()[:16]
    return WordDataset(
        words=words,
        sentence=sentence,
        responses=responses,
        times=times,
        ch_names=info["ch_names"],
        info=info,
        window_ms=cfg.window_ms,
        subject_responses=subjects,
        categories=dict(categories, sound=sound),
        context="running",
        provenance={"source": "simulation", "truth": truth, "sha256_16": digest,
                    "preprocessing": "none (simulated in physical units: T, T/m)"},
        source="simulated reading study",
    )


def _channel_scale(info):
    return np.array([MAG_SCALE if t == "mag" else GRAD_SCALE for t in info.get_channel_types()])


def _ar_noise(rng, shape, rho):
    """Unit-variance Gaussian noise, AR(1) along the last axis."""
    return _ar_along(rng.standard_normal(shape), rho, axis=-1)


def _ar_along(e, rho, axis=0):
    """Unit-variance white noise ``e`` made AR(1) with lag-one correlation ``rho`` along
    ``axis`` (stationary from the first element; variance stays 1)."""
    if not rho:
        return e
    from scipy.signal import lfilter

    # x[t] = rho x[t-1] + sqrt(1 - rho^2) e[t], started at x[0] = e[0] (stationary);
    # scipy's IIR filter does the recursion (a loop over 4,700 words is slow in Python)
    c = np.sqrt(1 - rho ** 2)
    e = np.moveaxis(np.asarray(e, np.float64), axis, 0)
    # the filter's state before the first element, chosen so that x[0] = e[0]
    out, _ = lfilter([c], [1.0, -rho], e, axis=0, zi=(1 - c) * e[:1])
    return np.moveaxis(out, 0, axis)


#: What the book says about the simulated study's story (the data chapter).
STORY_TEXT = ("The story was written for this project: a flood in a small town, told "
              "with dialogue, emotional and social scenes (grief, jealousy, embarrassment, "
              "reconciliation), physical action (a capsized boat, a rescue with rope and "
              "crowbar, rebuilding a weir) and plain description. Every word was labelled, in "
              "the annotation format of the paper's authors, as social/emotional, physical or "
              "figurative.")

#: What the book says about the simulated study's sensors (the data chapter).
SENSOR_TEXT = ("The Elekta Neuromag system has 102 sensor positions, each with one "
               "magnetometer and two orthogonal planar gradiometers; the geometry comes from "
               "MNE's bundled Vectorview layout, so nothing is downloaded.")

#: Names of :func:`truth_text`, in the order the data chapter quotes them.
TRUTH_TEXT_KEYS = ("truth_layer", "n_layers", "lm_peak_ms", "noise_sources", "noise_word_ar",
                   "n_subj", "n_sound", "sound_examples", "knowledge_dims", "knowledge_r")


def truth_text(truth):
    """The planted truth of a simulated study as the text the data chapter quotes.

    Parameters
    ----------
    truth : dict | None
        ``dataset.provenance["truth"]`` as :func:`simulate_study` writes it
        (``truth_layer``, ``n_layers`` counting the embeddings, ``lm_peak_ms``,
        ``noise``, ``n_subjects``, ``unnamed_category`` and optionally ``knowledge``);
        ``None`` for real data.

    Returns
    -------
    dict of str to object
        ``truth_intro`` and every name of :data:`TRUTH_TEXT_KEYS`; ``n_layers`` counts
        the transformer layers (embeddings left out), ``sound_examples`` lists the first
        five sound words found in the text. Real data give ``"n/a"`` for all of them
        and an intro that says so.
    """
    if not truth:
        out = {"truth_intro": "Real data have no planted truth: the items below do not "
                              "apply to this run."}
        out.update({k: "n/a" for k in TRUTH_TEXT_KEYS})
        return out
    unnamed = truth["unnamed_category"]
    know = truth.get("knowledge") or {}
    return {
        "truth_intro": "The simulation writes down what it planted (also saved in "
                       "_build/results/data.json):",
        "truth_layer": truth["truth_layer"],
        "n_layers": truth["n_layers"] - 1,
        "lm_peak_ms": f"{truth['lm_peak_ms']:g}",
        "noise_sources": truth["noise"]["sources"],
        "noise_word_ar": f"{truth['noise'].get('ar1_words', 0):g}",
        "n_subj": truth["n_subjects"],
        "n_sound": unnamed["n_words"],
        "sound_examples": ", ".join(unnamed["found_in_text"][:5]),
        # "orthogonalised_against" reads "all <d> dimensions of layer <l>"
        "knowledge_dims": know.get("orthogonalised_against", "n/a").split()[1]
        if know else "n/a",
        "knowledge_r": f"{know['r_before']:.2f}" if know else "n/a",
    }
