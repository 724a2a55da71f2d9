"""Per-word errors of an encoding model: MSE and cosine per word and window, the errors
of the channels and window of interest, the word-category error ratio and its text.
"""

from __future__ import annotations

import numpy as np

from .._utils import DataError

__all__ = ["errors_of_interest", "category_error_ratio", "word_errors", "word_squared_error",
           "error_text"]


def word_errors(predictions, responses, significant):
    """Per-word MSE over significant channels and cosine similarity, per window.

    Parameters
    ----------
    predictions, responses : ndarray, shape (n_words, n_channels, n_windows)
        Same units. Both are z-scored per channel x window with the RESPONSES'
        mean and sd over words (one affine map for both).
    significant : ndarray of bool, shape (n_channels, n_windows)
        Channels entering the MSE of each window. Must be boolean: an integer
        0/1 array used as an index would select channels 0 and 1.

    Returns
    -------
    mse : ndarray, shape (n_words, n_windows)
        Mean over the significant channels of the squared z-scored error; NaN for
        every word in a window without significant channels.
    cosine : ndarray, shape (n_words, n_windows)
        Cosine similarity over all channels of the z-scored vectors (NaN when
        either vector is all zero).
    """
    significant = np.asarray(significant)
    if significant.dtype != bool:
        raise ValueError(f"word_errors: significant has dtype {significant.dtype}; expected "
                         "a boolean mask (an int 0/1 array would index channels 0 and 1).")
    pred = np.asarray(predictions, dtype=np.float64)
    resp = np.asarray(responses, dtype=np.float64)
    if pred.shape != resp.shape or significant.shape != resp.shape[1:]:
        raise ValueError(f"word_errors: predictions {pred.shape}, responses {resp.shape}, "
                         f"significant {significant.shape}; expected (n_words, n_channels, "
                         "n_windows) twice and (n_channels, n_windows).")
    mu, sd = resp.mean(axis=0), resp.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    zp, zr = (pred - mu) / sd, (resp - mu) / sd
    n_win = resp.shape[2]
    mse = np.full((resp.shape[0], n_win), np.nan)
    for w in range(n_win):
        chans = significant[:, w]
        if chans.any():
            mse[:, w] = ((zp[:, chans, w] - zr[:, chans, w]) ** 2).mean(axis=1)
    num = (zp * zr).sum(axis=1)
    den = np.sqrt((zp ** 2).sum(axis=1) * (zr ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.where(den > 0, num / den, np.nan)
    return mse, cosine


def word_squared_error(predictions, responses):
    """Per-word mean squared error over all channels and windows, on z-scored responses.

    Each channel x window is z-scored over all words with the responses' mean and
    standard deviation and the same affine map is applied to the predictions (as for
    ``mse`` of :func:`word_errors`, but over every target, significant or not).

    Parameters
    ----------
    predictions, responses : ndarray, shape (n_words, ...)
        Out-of-fold predictions and the responses (same shape).

    Returns
    -------
    ndarray of float64, shape (n_words,)

    Raises
    ------
    DataError
        Shapes that differ, or a target constant over all words.
    """
    if np.shape(predictions) != np.shape(responses):
        raise DataError(f"word_squared_error: predictions of shape {np.shape(predictions)}; "
                        f"expected the responses' shape {np.shape(responses)}.")
    y = np.asarray(responses).reshape(len(responses), -1)
    p = np.asarray(predictions).reshape(len(predictions), -1)
    out = np.zeros(y.shape[0])
    for start in range(0, y.shape[1], 512):  # float64 a block of targets at a time
        yb = y[:, start:start + 512].astype(np.float64)
        sd = yb.std(axis=0)
        if np.any(sd == 0):
            raise DataError(f"word_squared_error: target {start + int(np.argmin(sd))} "
                            "(flattened channel x window) is constant over all words; "
                            "expected varying responses.")
        out += (((p[:, start:start + 512] - yb) / sd) ** 2).sum(axis=1)
    return out / max(y.shape[1], 1)


def errors_of_interest(result, responses, channels, window):
    """Per-word errors over the significant channels of interest, in the window of interest.

    Parameters
    ----------
    result : EncodingResult
    responses : ndarray, shape (n_words, n_channels, n_windows)
    channels : ndarray of bool, shape (n_channels,)
        Channels of interest (:func:`analysis.datasets.channels_of_interest`).
    window : ndarray of bool, shape (n_windows,)
        Windows of interest (:func:`analysis.datasets.window_of_interest`).

    Returns
    -------
    mse : ndarray, shape (n_words, n_windows)
        As :func:`word_errors` over the significant channels of interest; when no
        channel of interest is significant in any window of interest, over every
        channel of interest there instead (NaN elsewhere), so that real data with weak
        effects still rank sentences.
    note : str | None
        Says when the fallback was used.
    """
    channels = np.asarray(channels, bool)
    window = np.asarray(window, bool)
    use = result.significant & channels[:, None]
    note = None
    if not use[:, window].any():
        use = np.zeros_like(use)
        use[:, window] = channels[:, None]
        note = ("no channel of interest is significant (p < {:g}) in the window of interest, "
                "so the per-word error averages every channel of interest there"
                .format(result.params.get("p_threshold", 1e-3)))
    mse, _ = word_errors(result.predictions, responses, use)
    return mse, note


def category_error_ratio(word_error, categories, names=("emotion", "physical")):
    """Mean error of the labelled words over the mean error of the others.

    Parameters
    ----------
    word_error : ndarray, shape (n_words,)
        One error per word (NaN ignored).
    categories : dict of str to ndarray of bool
        Word labels; the words in any of ``names`` count as labelled.
    names : sequence of str

    Returns
    -------
    float
        NaN when no word is labelled or no error is finite.
    """
    present = [np.asarray(categories[k], bool) for k in names if k in categories]
    word_error = np.asarray(word_error, float)
    if not present or not np.isfinite(word_error).any():
        return float("nan")
    labelled = np.any(present, axis=0)
    if labelled.all() or not labelled.any():
        return float("nan")
    return float(np.nanmean(word_error[labelled]) / np.nanmean(word_error[~labelled]))


def error_text(ratio, window, channels, ch_names, note=None):
    """The words the encoding chapter uses to describe its per-word errors.

    Parameters
    ----------
    ratio : float
        :func:`category_error_ratio` (NaN without word labels).
    window : tuple of float | None
        Window of interest in ms (:func:`analysis.datasets.window_of_interest`);
        ``None`` means every window.
    channels : ndarray of bool, shape (n_channels,)
        Channels of interest.
    ch_names : sequence of str, length n_channels
    note : str | None
        The fallback note of :func:`errors_of_interest`.

    Returns
    -------
    dict of str to str
        ``err_ratio`` (2 decimals), ``window_txt`` (``"300-425 ms"``),
        ``channels_txt`` (names, or ``"all channels"``) and ``fallback_txt``.

    Raises
    ------
    ValueError
        When ``channels`` and ``ch_names`` differ in length.
    """
    channels = np.asarray(channels, bool)
    if channels.shape != (len(ch_names),):
        raise ValueError(f"channels has shape {channels.shape} but there are "
                         f"{len(ch_names)} channel names")
    return {
        "err_ratio": f"{ratio:.2f}" if np.isfinite(ratio) else "n/a (no word labels)",
        "window_txt": "every window" if window is None else f"{window[0]:g}-{window[1]:g} ms",
        "channels_txt": "all channels" if channels.all()
        else ", ".join(np.asarray(ch_names)[channels]),
        "fallback_txt": f"(Here {note}.)" if note else "",
    }
