"""A small BIDS MEG study written with mne-bids, with a known signal (for the BIDS tests).

:func:`write_bids_study` writes subjects x sessions x stories recordings of simulated
Neuromag magnetometers and gradiometers (with sensor positions). Words are one every
``spacing_s`` (0.5 s by default: the 20 x 25 ms windows of a word never overlap the next
word's), and every window of a word holds a constant value: the story's planted signal
(shared by all subjects: a word-length response plus a word-specific part of variance 1)
plus the recording's own noise of standard deviation ``noise_sd``. So the window means
the loader computes are exactly signal + noise, and the reliability of the subject mean is
known. Word events are written in both usual styles: a plain ``word`` column (mne-bids
``event_metadata``) and a MEG-MASC-like ``trial_type`` holding a dictionary-like string,
with phoneme events and a ``BAD_`` annotation in between.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from layouts import _length_signal, story_prefix

SFREQ = 200.0
N_WINDOWS = 20
ONSET_S = 1.0  # first word


def _info(n_triplets):
    import mne

    from analysis.data import neuromag306_info

    meg = neuromag306_info(SFREQ)
    picks = list(range(3 * n_triplets))  # the first triplets: one mag, two grads each
    return mne.pick_info(meg, picks)


def story_signals(n_stories, n_words, n_channels, seed=0):
    """The planted signal of each story: (n_words, n_channels, N_WINDOWS) per story."""
    rng = np.random.default_rng(seed)
    words = story_prefix(n_stories * n_words)
    return [(words[k * n_words:(k + 1) * n_words],
             _length_signal(words[k * n_words:(k + 1) * n_words], n_channels, N_WINDOWS, rng))
            for k in range(n_stories)]


def _raw(info, signal, noise, spacing_s):
    import mne

    n_words = signal.shape[0]
    step = int(round(spacing_s * SFREQ))
    width = int(round(0.025 * SFREQ))
    n_times = int(round(ONSET_S * SFREQ)) + n_words * step + int(round(0.3 * SFREQ))
    data = np.zeros((len(info["ch_names"]), n_times))
    values = signal + noise  # (word, channel, window)
    first = int(round(ONSET_S * SFREQ))
    for w in range(n_words):
        start = first + w * step
        data[:, start:start + N_WINDOWS * width] = np.repeat(values[w], width, axis=1)
    scale = np.array([1e-13 if t == "mag" else 1e-11 for t in info.get_channel_types()])
    raw = mne.io.RawArray(data * scale[:, None], info.copy(), verbose="error")
    raw.set_meas_date(1_600_000_000)
    raw.info["line_freq"] = 50
    return raw


def _word_dict(story, i, word):
    return str({"story": story, "kind": "word", "word": word, "word_index": i})


def write_bids_study(root, subjects=("01", "02", "03"), sessions=("1", "2"),
                     stories=("a", "b"), n_words=110, n_triplets=10, noise_sd=1.5,
                     dict_style=(("02", "1"), ("02", "2"), ("03", "2")),
                     missing=(("03", "1", "b"), ("03", "2", "b")), spacing_s=0.5, seed=0):
    """Write the study; returns the planted signals and noises.

    Parameters
    ----------
    dict_style : sequence of (subject, session)
        Recordings whose words are in a dictionary-like ``trial_type`` (the others have
        a ``word`` column).
    missing : sequence of (subject, session, story)
        Recordings not written.

    Returns
    -------
    dict
        ``words`` and ``signal`` per story (lists), ``noise[(subject, session, story)]``
        (n_words, n_channels, N_WINDOWS), ``ch_names``.
    """
    import mne
    import mne_bids

    root = Path(root)
    info = _info(n_triplets)
    n_channels = len(info["ch_names"])
    signals = story_signals(len(stories), n_words, n_channels, seed)
    rng = np.random.default_rng(seed + 1)
    noises = {}
    for sub in subjects:
        for ses in sessions:
            for k, story in enumerate(stories):
                noise = noise_sd * rng.standard_normal((n_words, n_channels, N_WINDOWS))
                if (sub, ses, story) in missing:
                    continue
                noises[(sub, ses, story)] = noise
                words, signal = signals[k]
                raw = _raw(info, signal, noise, spacing_s)
                onsets = ONSET_S + spacing_s * np.arange(n_words)
                path = mne_bids.BIDSPath(subject=sub, session=ses, task=story, datatype="meg",
                                         root=root)
                kwargs = {}
                if (sub, ses) in dict_style:  # MEG-MASC: a dictionary per event
                    desc = [_word_dict(story, i, w) for i, w in enumerate(words)]
                    phon = [str({"story": story, "kind": "phoneme", "phoneme": w[:1]})
                            for w in words[::7]]
                    raw.set_annotations(mne.Annotations(
                        list(onsets) + list(onsets[::7] + 0.05) + [onsets[3] + 0.1],
                        [0.3] * n_words + [0.05] * len(phon) + [0.2],
                        desc + phon + ["BAD_blink"], orig_time=raw.info["meas_date"]))
                else:
                    events = np.column_stack([np.rint(onsets * SFREQ).astype(int),
                                              np.zeros(n_words, int), np.ones(n_words, int)])
                    kwargs = dict(events=events, event_id={"word": 1},
                                  event_metadata=pd.DataFrame({"word": words}),
                                  extra_columns_descriptions={"word": "the word heard"})
                mne_bids.write_raw_bids(raw, path, allow_preload=True, format="FIF",
                                        overwrite=True, verbose="error", **kwargs)
    return {"words": [s[0] for s in signals], "signal": [s[1] for s in signals],
            "noise": noises, "ch_names": list(info["ch_names"])}
