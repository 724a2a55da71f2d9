"""File reading and windowing helpers shared by the loaders (errors name the file)."""

from __future__ import annotations

import pickle

import numpy as np

from .._utils import DataError

__all__ = []


def _read_pickle(path):
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found.") from None
    except Exception as err:  # truncated or corrupted pickles raise many types
        raise DataError(f"{path}: cannot read as a pickle ({type(err).__name__}: {err}).") from err


def _load_npy(path, allow_pickle=False):
    try:
        return np.load(path, allow_pickle=allow_pickle)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found.") from None
    except Exception as err:
        raise DataError(f"{path}: cannot read as a .npy array ({type(err).__name__}: {err}).") from err


def _load_mat(path, variable):
    from scipy.io import loadmat

    try:
        mat = loadmat(path, variable_names=[variable])
    except FileNotFoundError:
        raise DataError(f"{path}: file not found.") from None
    except NotImplementedError as err:  # MATLAB v7.3 files are HDF5
        raise DataError(
            f"{path}: MATLAB v7.3 (HDF5) files are not supported; re-save it with "
            "save(..., '-v7') ({err})."
        ) from err
    except Exception as err:
        raise DataError(f"{path}: cannot read as a MATLAB file ({type(err).__name__}: {err}).") from err
    if variable not in mat:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise DataError(f"{path}: no entry '{variable}' (found {found}).")
    return mat[variable]


def _window_edges(n_windows, window_ms, sfreq, source):
    """Sample offsets of the window edges (n_windows + 1 integers from 0)."""
    edges = np.round(np.arange(n_windows + 1) * window_ms * sfreq / 1000.0).astype(int)
    if np.any(np.diff(edges) < 1):
        raise DataError(
            f"{source}: windows of {window_ms} ms hold no sample at {sfreq} Hz; "
            "expected a sampling rate of at least one sample per window."
        )
    return edges


def _window_means(run, starts, edges):
    """Window means of a continuous recording around each start sample.

    ``run`` is (samples, channels); word ``i`` window ``k`` averages samples
    ``starts[i] + edges[k]`` to ``starts[i] + edges[k + 1] - 1``. Returns an array
    (n_starts, channels, n_windows). One gather per window keeps memory at
    (n_starts, window width, channels).
    """
    out = np.empty((len(starts), run.shape[1], len(edges) - 1))
    for k in range(len(edges) - 1):
        idx = starts[:, None] + np.arange(edges[k], edges[k + 1])
        out[:, :, k] = run[idx].mean(axis=1)
    return out
