"""Small files in the published layouts, written by the tests (no third-party data).

* :func:`write_hp` / :func:`write_hp_release` -- the Harry Potter MEG release
  (``denoised_HP.npy`` and ``meg/<S>_HP_notDetrended_25ms.mat`` with ``labels``);
* :func:`write_frank` -- a Frank et al. (2015) ``all_measures.csv`` of two sentences;
* :func:`write_mne_epochs` -- a user's MNE epochs file as it usually looks: Neuromag-306
  with a bad gradiometer dropped (or EEG without positions, or magnetometers only), EOG
  and STIM channels, words in ``metadata`` and no sentence column.

The book-scale writers plant a response to word length, so an encoding model has
something real to find.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io as sio


HP_N = 60


def hp_words(n=HP_N):
    pattern = ["@Harry", "+said", " \\^ ", "Mr.", "Potter", "looked", "at", "the", "snake."]
    return [pattern[i % len(pattern)] for i in range(n)]


def labels_cell(words):
    cells = np.empty((len(words), 1), dtype=object)
    for i, w in enumerate(words):
        cells[i, 0] = np.array([w])
    return cells


def write_hp(root, n=HP_N, labels=None, denoised=None, subjects=("A", "B"), seed=0):
    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "meg").mkdir(parents=True, exist_ok=True)
    if denoised is None:
        denoised = rng.standard_normal((n, 20, 306)).astype(np.float32)
    np.save(root / "denoised_HP.npy", denoised)
    labels = hp_words(n) if labels is None else labels
    per_subject = {}
    for s in subjects:
        data = rng.standard_normal((n, 306, 20))
        per_subject[s] = data
        entry = {"data": data}
        if s == "A":
            entry["labels"] = labels_cell(labels)
        sio.savemat(root / "meg" / f"{s}_HP_notDetrended_25ms.mat", entry)
    return denoised, per_subject


FRANK_COLS = ["item", "word", "sentence", "context_length", "sent_id", "cloze_p_smoothed",
              "ELAN", "LAN", "N400", "EPNP", "P600", "PNP", "Subtlex_log10"]


def frank_rows():
    rows = []
    for sid, text in [(7, "None of us came home."), (3, "Anne lost control and laughed.")]:
        toks = text.split()
        for pos in range(1, len(toks)):
            erp = [sid + pos / 10 + k for k in range(6)]
            rows.append([" ".join(toks[:pos]), toks[pos], text, pos, sid, 0.5] + erp + [""])
    return rows


def write_frank(path, rows=None, cols=FRANK_COLS):
    rows = frank_rows() if rows is None else rows
    rows = rows[::-1]  # the published file is not in sentence order
    pd.DataFrame(rows, columns=cols).to_csv(path, index=False)
    return path




def story_prefix(n_words):
    """The first words of the project's story (real sentences for book-scale files)."""
    from analysis.simulate import story_words

    return story_words()[0][:n_words]


def _length_signal(words, n_channels, n_windows, rng, peak=8, gain=0.6):
    """Responses with a planted word-length effect around window ``peak`` plus noise."""
    length = np.array([len(w.strip(".,;:!?\"'")) for w in words], float)
    length = (length - length.mean()) / (length.std() or 1.0)
    topo = rng.standard_normal(n_channels)
    profile = np.exp(-0.5 * ((np.arange(n_windows) - peak) / 3.0) ** 2)
    signal = gain * length[:, None, None] * topo[None, :, None] * profile[None, None, :]
    return signal + rng.standard_normal((len(words), n_channels, n_windows))


def write_hp_release(root, n_words=700, subjects=("A", "B"), seed=0):
    """The Harry Potter release layout with the story's words as labels (book-scale).

    Returns
    -------
    Path
        The folder to pass as ``data_path``.
    """
    rng = np.random.default_rng(seed)
    words = story_prefix(n_words)
    root = Path(root)
    (root / "meg").mkdir(parents=True, exist_ok=True)
    resp = _length_signal(words, 306, 20, rng)  # (word, channel, window)
    np.save(root / "denoised_HP.npy", np.transpose(resp, (0, 2, 1)).astype(np.float32))
    for s in subjects:
        data = resp + 0.5 * rng.standard_normal(resp.shape)
        entry = {"data": data}
        if s == "A":
            entry["labels"] = labels_cell(["@" + w if i % 50 == 0 else w
                                           for i, w in enumerate(words)])
        sio.savemat(root / "meg" / f"{s}_HP_notDetrended_25ms.mat", entry)
    return root


#: Channel shapes a user's epochs file may have (:func:`write_mne_epochs`).
MNE_SHAPES = ("odd_grad", "eeg_no_positions", "mag_only")


def _user_channels(shape, sfreq):
    """Data channels of one shape: an Info and the scale of each channel (T, T/m, V)."""
    import mne

    from analysis.data import neuromag306_info

    meg = neuromag306_info(sfreq)
    if shape == "eeg_no_positions":  # 10-20 names, no montage set (positions all zero)
        names = mne.channels.make_standard_montage("colin27_1020").ch_names[:32]
        return mne.create_info(names, sfreq, "eeg"), np.full(len(names), 1e-6)
    if shape == "odd_grad":
        bad = "MEG0123"  # a gradiometer: its partner MEG0122 is left without a pair
        keep = [c for c in meg["ch_names"] if c != bad]
    elif shape == "mag_only":
        keep = [c for c, t in zip(meg["ch_names"], meg.get_channel_types()) if t == "mag"]
    else:
        raise ValueError(f"shape={shape!r}; expected one of {MNE_SHAPES}.")
    info = mne.pick_info(meg, [meg["ch_names"].index(c) for c in keep])
    scale = np.array([1e-13 if t == "mag" else 1e-11 for t in info.get_channel_types()])
    return info, scale


def write_mne_epochs(path, n_words=700, sfreq=80.0, seed=0, shape="odd_grad"):
    """A user's MNE epochs file with EOG and STIM channels besides the data channels.

    Words are in ``metadata['word']``; there is no sentence column.

    Parameters
    ----------
    shape : {"odd_grad", "eeg_no_positions", "mag_only"}
        The data channels: Neuromag-306 minus one bad gradiometer (203 gradiometers,
        one of them without its partner); 32 EEG channels with 10-20 names and no
        montage (no positions); the 102 Neuromag magnetometers only.

    Returns
    -------
    Path
        The ``-epo.fif`` file.
    """
    import mne

    rng = np.random.default_rng(seed)
    words = story_prefix(n_words)
    data_info, scale = _user_channels(shape, sfreq)
    n_data = len(data_info["ch_names"])
    names = list(data_info["ch_names"]) + ["EOG061", "STI101"]
    info = mne.create_info(names, sfreq, data_info.get_channel_types() + ["eog", "stim"])
    with info._unlock():
        for ch, src in zip(info["chs"], data_info["chs"]):
            ch["loc"] = src["loc"].copy()
    pre = int(round(0.05 * sfreq))  # a 50 ms baseline before word onset
    n_times = pre + int(round(0.5 * sfreq))
    win = _length_signal(words, n_data, 20, rng)  # per 25 ms window
    step = 0.025 * sfreq  # samples per window
    sample_window = np.minimum((np.arange(n_times - pre) / step).astype(int), 19)
    data = np.zeros((len(words), len(names), n_times), dtype=np.float32)
    data[:, :n_data, pre:] = win[:, :, sample_window]
    data[:, :n_data] += 0.2 * rng.standard_normal((len(words), n_data, n_times))
    data[:, :n_data] *= scale[None, :, None]
    data[:, n_data] = 1e-5 * rng.standard_normal((len(words), n_times))  # EOG
    epochs = mne.EpochsArray(data, info, tmin=-pre / sfreq, verbose="error",
                             metadata=pd.DataFrame({"word": words}))
    epochs.info["bads"] = []
    path = Path(path)
    epochs.save(path, overwrite=True, verbose="error")
    return path


def write_text_table(path, header, rows, sep="\t", blank_after=()):
    """A word table written verbatim (no quoting), so line numbers in messages are known.

    The header is line 1 and row ``k`` (from 0) is line ``k + 2``, plus one for each
    blank line written after the rows listed in ``blank_after`` (``-1``: after the
    header).

    Returns
    -------
    Path
    """
    lines = [sep.join(header)]
    if -1 in blank_after:
        lines.append("")
    for k, row in enumerate(rows):
        lines.append(sep.join(str(v) for v in row))
        if k in blank_after:
            lines.append("")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def example_frame(path):
    """The example table (analysis.loaders.table.write_example_table) as text columns."""
    import csv

    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE)
