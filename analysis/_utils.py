"""Helpers shared by every module: errors, argument checks, atomic files, z-scores, Welch.

This module imports nothing else from the package, so that any module can use it without
creating an import cycle. What lives here is small and general; anything that knows about
words, brains or models belongs elsewhere.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

__all__ = [
    "REPO_ROOT", "SHARED_DATA", "shared_data_path", "DataError", "ContractError", "where", "check_finite", "check_array", "check_same_rows",
    "atomic_write", "atomic_savez", "atomic_write_json", "json_default",
    "zscore", "welch_ttest", "sha256_file", "resolve_device", "n_cpus",
]


#: The repository root (the folder holding ``analysis/``).
REPO_ROOT = Path(__file__).resolve().parent.parent
#: Where third-party data sit beside the repository for developers and CI.
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def shared_data_path(relative, env=None, path=None):
    """Resolve a data location: an explicit path, an environment variable, or ``../shared/data``.

    Parameters
    ----------
    relative : str
        Location under ``../shared/data`` (e.g. ``"frank2015/all_measures.csv"``).
    env : str | None
        Environment variable that may name the location (takes precedence over the
        shared folder).
    path : str | Path | None
        An explicit path (takes precedence over everything).

    Returns
    -------
    Path | None
        The first candidate given, or the shared location when it exists, else None.
    """
    if path is not None:
        return Path(path).expanduser()
    if env and os.environ.get(env):
        return Path(os.environ[env]).expanduser()
    candidate = SHARED_DATA / relative
    return candidate if candidate.exists() else None


class DataError(ValueError):
    """Raised when input data do not have the layout or values a function expects.

    The message always names the file (or object) and the field at fault and says
    what was expected, so that a user can fix their own data.
    """


class ContractError(DataError, FileNotFoundError):
    """A file handed between chapters, or a chapter's results file, is missing or lacks a
    field (:mod:`analysis.contracts`, :mod:`analysis.results`).

    It is both a :class:`DataError` and a ``FileNotFoundError`` so that callers may catch
    either.
    """


def where(source):
    """``"<source>: "`` for messages, or ``""`` when there is no source."""
    return f"{source}: " if source else ""


# --------------------------------------------------------------------------- checks
def _describe_index(index, row_name=None, col_name=None):
    parts = []
    if row_name is not None and len(index) >= 1:
        parts.append(row_name(index[0]))
    elif len(index) >= 1:
        parts.append(f"row {index[0]}")
    if len(index) >= 2:
        rest = index[1:]
        parts.append(col_name(*rest) if col_name is not None
                     else "column " + ", ".join(str(i) for i in rest))
    return ", ".join(parts)


def check_finite(array, name, source=None, row_name=None, col_name=None):
    """Raise :class:`DataError` if ``array`` holds NaN or infinite values.

    Parameters
    ----------
    array : array_like
        The values to check.
    name : str
        Field name used in the message (e.g. ``"features"``).
    source : str | None
        File or object the values came from.
    row_name : callable | None
        Maps a row index to a readable name (e.g. ``lambda i: f"word {i} ({words[i]!r})"``).
    col_name : callable | None
        Maps the remaining indices of the first bad entry to a readable name.

    Raises
    ------
    DataError
        Naming how many values are bad and where the first one is.
    """
    arr = np.asarray(array)
    if arr.dtype.kind not in "fc":
        return
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        at = _describe_index(first, row_name, col_name) if first else "the value"
        raise DataError(
            f"{where(source)}field '{name}' holds {int(bad.sum())} NaN/inf value(s) "
            f"(first at index {first}: {at}); expected finite numbers. Interpolate or drop "
            "those entries before passing them in."
        )


def check_array(array, name, ndim=None, shape=None, finite=True, source=None,
                row_name=None, col_name=None, dtype=float):
    """Convert to an array and check its rank, shape and values.

    Parameters
    ----------
    array : array_like
    name : str
        Name used in the messages (e.g. ``"features"``).
    ndim : int | tuple of int | None
        Accepted number(s) of axes.
    shape : tuple | None
        Expected shape; ``None`` entries match any size.
    finite : bool
        Reject NaN and infinite values.
    source : str | None
        Where the values came from.
    row_name, col_name : callable | None
        See :func:`check_finite`.
    dtype : numpy dtype | None
        Convert to this dtype (``None`` keeps the input's).

    Returns
    -------
    ndarray

    Raises
    ------
    DataError
        Wrong rank, wrong shape, non-numeric or non-finite values.
    """
    try:
        arr = np.asarray(array) if dtype is None else np.asarray(array, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise DataError(f"{where(source)}'{name}' cannot be read as numbers ({err}).") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise DataError(f"{where(source)}'{name}' has shape {arr.shape} ({arr.ndim} axes); "
                            f"expected {want} axes.")
    if shape is not None:
        ok = arr.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, arr.shape))
        if not ok:
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise DataError(f"{where(source)}'{name}' has shape {arr.shape}; expected {want}.")
    if finite:
        check_finite(arr, name, source, row_name, col_name)
    return arr


def check_same_rows(named, source=None):
    """Check that arrays share their first axis (one row per word).

    Parameters
    ----------
    named : dict of str to array_like
    source : str | None

    Raises
    ------
    DataError
        Naming each array and its number of rows.
    """
    rows = {k: np.shape(v)[0] if np.ndim(v) else None for k, v in named.items()}
    if len(set(rows.values())) > 1:
        detail = ", ".join(f"'{k}' has {n}" for k, n in rows.items())
        raise DataError(f"{where(source)}row counts differ ({detail}); expected one row per "
                        "word in every input.")


# --------------------------------------------------------------------------- files
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


def json_default(obj):
    """``json.dumps(default=...)`` for numpy scalars and arrays and paths."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in JSON")


def atomic_write_json(path, payload, indent=2):
    """Write ``payload`` as JSON atomically (NaN is refused: use None)."""
    text = json.dumps(payload, indent=indent, allow_nan=False, default=json_default) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def sha256_file(path, block=1 << 20):
    """SHA-256 hex digest of a whole file."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(block), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- numbers
def zscore(x, axis=0, mean=None, sd=None):
    """z-score along ``axis``; constant columns become 0 (not NaN).

    Parameters
    ----------
    x : array_like
    axis : int
        Axis of the observations.
    mean, sd : array_like | None
        Statistics to use instead of ``x``'s own (e.g. a training set's).

    Returns
    -------
    ndarray of float64
    """
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=axis, keepdims=True) if mean is None else mean
    sd = x.std(axis=axis, keepdims=True) if sd is None else sd
    sd = np.where(np.asarray(sd) > 0, sd, 1.0)
    return (x - mean) / sd


def welch_ttest(a, b, axis=-1, alternative="greater"):
    """Welch's unequal-variance t-test (``scipy.stats.ttest_ind(equal_var=False)``).

    NaN entries are left out (``nan_policy="omit"``); tests with fewer than two values
    on either side return NaN.

    Parameters
    ----------
    a, b : array_like
        Samples, observations along ``axis``.
    axis : int
    alternative : {"greater", "less", "two-sided"}
        ``"greater"``: H1 mean(a) > mean(b).

    Returns
    -------
    t, p : ndarray (or float)
    """
    from scipy import stats

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        res = stats.ttest_ind(a, b, axis=axis, equal_var=False, alternative=alternative,
                              nan_policy="omit")
    t, p = np.asarray(res.statistic, dtype=float), np.asarray(res.pvalue, dtype=float)
    na = np.sum(np.isfinite(a), axis=axis)
    nb = np.sum(np.isfinite(b), axis=axis)
    small = (na < 2) | (nb < 2)
    if np.ndim(t):
        t = np.where(small, np.nan, t)
        p = np.where(small, np.nan, p)
    elif small:
        t, p = np.nan, np.nan
    return t, p


# --------------------------------------------------------------------------- devices
def resolve_device(device="auto"):
    """Turn ``"auto"`` into ``"cuda"`` or ``"cpu"`` and check the request.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"} or a torch device string such as ``"cuda:1"``

    Returns
    -------
    str
    """
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} was requested but torch sees no CUDA GPU.")
    if not (str(device) == "cpu" or str(device).startswith("cuda")):
        raise ValueError(f"device={device!r}; expected 'auto', 'cpu' or 'cuda[:N]'.")
    return str(device)


def n_cpus():
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()
