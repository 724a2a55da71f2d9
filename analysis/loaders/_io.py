"""File reading and windowing helpers shared by the loaders (errors name the file)."""

from __future__ import annotations

import pickle

import numpy as np

from .._utils import DataError

__all__ = []


# Pickles and object .npy files from a user or a download are untrusted: the standard
# unpickler calls any function the file names while loading. No library reads the published
# pickles without that risk, so the reading is restricted here by hand (the approach the
# Python documentation gives under "Restricting Globals"): only the globals that rebuild
# numpy arrays and plain Python containers are resolved; any other name is refused.
_SAFE_GLOBALS = {
    "numpy": {"ndarray", "dtype"},
    "numpy._core.multiarray": {"_reconstruct", "scalar"},
    "numpy._core.numeric": {"_frombuffer"},  # arrays pickled with protocol 5
    "builtins": {"str", "int", "float", "complex", "bool", "bytes", "bytearray",
                 "list", "dict", "tuple", "set", "frozenset"},
    "_codecs": {"encode"},  # bytes in protocol-2 pickles
    "collections": {"OrderedDict"},
}
# Older spellings of the same modules: numpy < 2 and Python 2 pickles.
_MODULE_ALIASES = {"numpy.core.multiarray": "numpy._core.multiarray",
                   "numpy.core.numeric": "numpy._core.numeric", "__builtin__": "builtins"}


class _SafeUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds numpy arrays and builtin containers and nothing else.

    Any other global named by the pickle (a function such as ``os.system``, a class
    with a custom ``__reduce__``) raises :class:`DataError` naming the file and the
    refused ``module.name``, before anything is called.
    """

    def __init__(self, fh, source):
        super().__init__(fh)
        self.source = source

    def find_class(self, module, name):
        resolved = _MODULE_ALIASES.get(module, module)
        if name in _SAFE_GLOBALS.get(resolved, ()):
            return super().find_class(resolved, name)
        raise DataError(
            f"{self.source}: refused to load '{module}.{name}' from this pickle: "
            "loading it could run code. Expected only numpy arrays, numbers, strings, "
            "lists, tuples, sets and dicts."
        )

    def persistent_load(self, pid):
        raise DataError(f"{self.source}: the pickle refers to external objects ({pid!r}); "
                        "expected a self-contained file of arrays, strings and containers.")


def _read_pickle(path):
    """Unpickle ``path`` with :class:`_SafeUnpickler` (arrays and builtins only).

    Raises
    ------
    DataError
        The file is missing, corrupted, or names a global outside the safe list.
    """
    try:
        with open(path, "rb") as fh:
            return _SafeUnpickler(fh, path).load()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found.") from None
    except DataError:
        raise
    except Exception as err:  # truncated or corrupted pickles raise many types
        raise DataError(f"{path}: cannot read as a pickle ({type(err).__name__}: {err}).") from err


def _read_npy_header(fh):
    """Shape and dtype from a .npy header (versions 1 and 2), or None for other versions."""
    from numpy.lib import format as npy_format

    version = npy_format.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = npy_format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _, dtype = npy_format.read_array_header_2_0(fh)
    else:  # version 3 only changes the header encoding; np.load checks it below
        return None
    return shape, dtype


def _load_npy(path, allow_objects=False):
    """Read a .npy file; object arrays only with ``allow_objects``, through the safe unpickler.

    Parameters
    ----------
    path : str | Path
    allow_objects : bool
        Accept an object array (e.g. a list of words saved by numpy). Its pickled
        payload is read with :class:`_SafeUnpickler`, never with ``allow_pickle=True``.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    DataError
        Missing or unreadable file, an object array where none is expected, or a
        payload that names a global outside the safe list.
    """
    try:
        with open(path, "rb") as fh:
            header = _read_npy_header(fh)
            if header is not None and header[1].hasobject:
                if not allow_objects:
                    raise DataError(
                        f"{path}: holds a numpy object array; expected numbers "
                        "(a plain numeric .npy file)."
                    )
                arr = _SafeUnpickler(fh, path).load()
                if not isinstance(arr, np.ndarray) or arr.shape != header[0]:
                    raise DataError(
                        f"{path}: the pickled payload is a {type(arr).__name__} "
                        f"{getattr(arr, 'shape', '')}; expected the array of shape "
                        f"{header[0]} that the header announces."
                    )
                return arr
            fh.seek(0)
            return np.load(fh, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found.") from None
    except DataError:
        raise
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
