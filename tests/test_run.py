"""The runner: profiles, parameters, failures and the quick end-to-end build."""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from analysis import bookcheck, run

ROOT = Path(__file__).resolve().parent.parent
def _own_cache(tmp_path):
    """The environment of a book run with its own cache folder.

    `make test` runs tests on two workers: two quick books fine-tuning the same model
    with the same settings must not share one checkpoint folder.
    """
    import os

    return {**os.environ, "LIVING_PAPER_CACHE": str(tmp_path / "cache")}


REAL_FRANK = ROOT.parent / "shared" / "data" / "frank2015" / "all_measures.csv"


def test_parse_value_reads_yaml_scalars_and_lists():
    assert run.parse_value("3") == 3
    assert run.parse_value("0.5") == 0.5
    assert run.parse_value("true") is True
    assert run.parse_value("[gpt2, default]") == ["gpt2", "default"]
    assert run.parse_value("cuda") == "cuda"


def test_chapters_and_parameters_are_discovered():
    chapters = run.chapters()
    assert list(chapters)[0] == "data"
    params = run.notebook_parameters(chapters["data"])
    assert {"dataset", "data_path", "n_words", "seed", "device", "results_dir"} <= set(params)


def test_every_profile_parameter_is_declared_by_some_chapter():
    declared = set()
    for path in run.chapters().values():
        declared |= set(run.notebook_parameters(path))
    for name, profile in run.PROFILES.items():
        assert set(profile) <= declared, f"profile {name} sets undeclared parameters"


def test_unknown_parameter_and_section_are_rejected(capsys, tmp_path):
    assert run.main(["--only", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown section" in capsys.readouterr().err
    assert run.main(["-p", "not_a_param", "1", "--out", str(tmp_path)]) == 2
    assert "not_a_param" in capsys.readouterr().err


def test_missing_required_loader_option_is_named_before_any_chapter_runs(capsys, tmp_path):
    out = tmp_path / "out"
    assert run.main(["--profile", "quick", "-p", "dataset", "moth", "-p", "data_path",
                     str(tmp_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "dataset 'moth' needs the loader option(s) ['sfreq']" in err
    assert "-p dataset_options '{sfreq: 1000}'" in err
    assert not out.exists()  # no chapter ran


def test_failing_chapter_names_notebook_cell_and_error(tmp_path):
    src = tmp_path / "09_broken.py"
    src.write_text(textwrap.dedent('''\
        # %% tags=["parameters"]
        x = 1

        # %%
        y = x + 1

        # %%
        raise ValueError(f"planted failure {y}")
        '''))
    out = tmp_path / "out"
    with pytest.raises(run.ChapterFailed) as info:
        run.run_chapter("broken", src, {"x": 5}, out, log=lambda *_: None)
    msg = str(info.value)
    assert "chapter 'broken'" in msg and "09_broken.py" in msg
    assert "ValueError: planted failure 6" in msg  # the injected x=5 was used
    assert re.search(r"cell \d+", msg)
    partial = json.loads((out / "executed" / "09_broken.ipynb").read_text())
    assert any(o.get("output_type") == "error" for c in partial["cells"]
               for o in c.get("outputs", []))


@pytest.mark.slow
def test_quick_profile_builds_the_book(tmp_path):
    out = tmp_path / "build"
    proc = subprocess.run([sys.executable, "-m", "analysis.run", "--profile", "quick",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=1500, env=_own_cache(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    from analysis.results import RESULTS_SCHEMAS, read_results

    for section in RESULTS_SCHEMAS:  # every chapter wrote results its readers accept
        read_results(out / "results", section)
    page = (out / "html" / "notebooks" / "00_data.html").read_text()
    assert "The data: a reading study with a known truth" in page
    assert page.count("<img") >= 5  # sensor layout, evoked, topomaps, truth, variance ratio
    assert "Traceback" not in page
    assert "book/intro.html" in (out / "html" / "index.html").read_text()
    assert "00_data.html" in (out / "html" / "book" / "intro.html").read_text()
    data = json.loads((out / "results" / "data.json").read_text())
    assert data["results"]["dataset"]["n_words"] == 600
    assert data["results"]["truth"]["truth_layer"] >= 1
    prov = data["provenance"]
    assert prov["parameters"]["profile"] == "quick" and prov["run_time_s"] > 0
    assert prov["packages"]["mne"] != "not installed" and prov["git_commit"]
    # the glued numbers in the prose are the ones in the results file
    assert re.search(r"analysed text has\s*(<[^>]+>\s*)*600", page)
    enc_page = (out / "html" / "notebooks" / "01_encoding.html").read_text()
    assert "Encoding: from every layer" in enc_page and enc_page.count("<img") >= 5
    enc = json.loads((out / "results" / "encoding.json").read_text())["results"]
    assert 0 <= enc["chosen_layer"] <= 30
    assert len(enc["significant_channels_per_window"]) == 20
    assert re.search(rf"layer\s*(<[^>]+>\s*)*{enc['chosen_layer']}\s*(<[^>]+>\s*)*of", enc_page)
    assert (out / "results" / "encoding_outputs.npz").exists()
    hyp_page = (out / "html" / "notebooks" / "02_hypotheses.html").read_text()
    assert "Hypotheses: what the divergent sentences have in common" in hyp_page
    assert "Traceback" not in hyp_page
    hyp = json.loads((out / "results" / "hypotheses.json").read_text())["results"]
    assert hyp["n_per_set"] == 11 and len(hyp["top"]) == 10  # 25 % of 45 sentences
    assert hyp["proposer"] == "offline" and hyp["verifier"] == "embedding"
    for name in ("sentences", "table", "scores"):
        assert (out / "results" / f"hypotheses_{name}.csv").exists()
    val_page = (out / "html" / "notebooks" / "03_human_validation.html").read_text()
    assert "SIMULATED" in val_page and "Traceback" not in val_page
    assert "../survey/index.html" in val_page
    survey = (out / "html" / "survey" / "index.html").read_text()
    assert "More true for Sentence A" in survey and "http" not in survey.split("<body")[0]
    hv = json.loads((out / "results" / "human_validation.json").read_text())["results"]
    assert hv["simulated"] is True and hv["n_raters"] >= 2
    real_page = (out / "html" / "notebooks" / "05_real_data.html").read_text()
    assert "Real brains" in real_page and "Traceback" not in real_page
    real = json.loads((out / "results" / "real_data.json").read_text())["results"]
    if REAL_FRANK.is_file():  # the chain on the real N400, on a few sentences
        assert real["surprisal_vs_erp"]["n_words"] > 100
        assert set(real["encoding"]) == {"ELAN", "LAN", "N400", "EPNP", "P600", "PNP"}
        assert 0 < real["noise_ceiling"]["N400"] < 1
        assert real["divergence_chain"]["n_per_set"] >= 6
        assert "siqa" in real["finetuned_on_n400"]
        assert real["futrell2018"]["default"]["n_words"] > 500
    for section in CHAPTER_FILES:
        check_glued_numbers(out, section)
    # every link and image resolves, no page cites a file outside the repository, and
    # every figure fits the page column at 150 dpi or more
    assert bookcheck.check_book(out / "html") == []
    # a chapter executed again matches its stored outputs (nbval), with what may differ
    # between runs sanitised (tests/nbval_sanitize.cfg)
    check_reexecution(out, ["00_data", "03_human_validation"], tmp_path)


def check_reexecution(out, notebooks, tmp_path):
    """Run executed notebooks of a book through nbval: same outputs on a second run."""
    import os

    paths = [str(out / "executed" / f"{name}.ipynb") for name in notebooks]
    env = {**_own_cache(tmp_path), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbval", *paths, "--nbval-current-env",
                           "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"),
                           "-p", "no:cacheprovider", "-p", "no:xdist", "-q",
                           "--rootdir", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=900, env={**env, "OMP_NUM_THREADS": os.environ.get(
                              "OMP_NUM_THREADS", "1")})
    assert proc.returncode == 0, proc.stdout[-4000:]


CHAPTER_FILES = {"data": "00_data", "encoding": "01_encoding", "hypotheses": "02_hypotheses",
                 "human_validation": "03_human_validation", "finetuning": "04_finetuning",
                 "real_data": "05_real_data", "models": "06_models_and_instructions"}


def check_glued_numbers(out, section):
    """Every glued value on a chapter's page is the one in its results file, in order."""
    import html as html_lib

    stem = CHAPTER_FILES[section]
    nb = json.loads((out / "executed" / f"{stem}.ipynb").read_text())
    refs = [m for c in nb["cells"] if c["cell_type"] == "markdown"
            for m in re.findall(r"\{glue:text\}`([^`]+)`", "".join(c["source"]))]
    page = (out / "html" / "notebooks" / f"{stem}.html").read_text()
    shown = [html_lib.unescape(re.sub(r"<[^>]+>", "", m))
             for m in re.findall(r'<span class="pasted-text">(.*?)</span>', page, re.S)]
    glued = json.loads((out / "results" / f"{section}.json").read_text())["results"]["glued"]
    assert len(refs) == len(shown), (section, len(refs), len(shown))
    for key, text in zip(refs, shown):
        assert key in glued, f"{section}: '{key}' is shown but not recorded"
        assert _plain(text) == _plain(glued[key]), (section, key, text, glued[key])


def _plain(text):
    """Text with Sphinx's smart quotes and dashes undone and white space collapsed."""
    for fancy, plain in (("\u2018", "'"), ("\u2019", "'"), ("\u201c", '"'), ("\u201d", '"'),
                         ("\u2013", "--"), ("\u2014", "---")):
        text = text.replace(fancy, plain)
    return " ".join(text.split())


FIVE_CHAPTERS = ("data", "encoding", "hypotheses", "human_validation", "finetuning")


def _quick_book(out, *params):
    """The quick book's first five chapters (the chain) on another dataset.

    Every tenth layer is swept (the simulated run sweeps every fifth): these runs
    check that each chapter works on the dataset, which four layers show as well as
    seven, and the suite stays within its time budget on two cores.
    """
    cmd = [sys.executable, "-m", "analysis.run", "--profile", "quick", "--out", str(out),
           "-p", "layer_step", "10"]
    for section in FIVE_CHAPTERS:
        cmd += ["--only", section]
    for name, value in params:
        cmd += ["-p", name, value]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1500,
                          env=_own_cache(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for page in ("00_data", "01_encoding", "02_hypotheses", "03_human_validation",
                 "04_finetuning"):
        html = (out / "html" / "notebooks" / f"{page}.html").read_text()
        assert "Traceback" not in html, page
    for section in FIVE_CHAPTERS:
        check_glued_numbers(out, section)
    return {name: json.loads((out / "results" / f"{name}.json").read_text())["results"]
            for name in FIVE_CHAPTERS}


@pytest.mark.slow
@pytest.mark.skipif(not REAL_FRANK.is_file(), reason="Frank et al. (2015) data not available")
def test_quick_book_on_the_frank_erp_table(tmp_path):
    res = _quick_book(tmp_path / "frank", ("dataset", "frank2015"),
                      ("data_path", str(REAL_FRANK)))
    enc = res["encoding"]
    assert enc["dataset"]["context"] == "sentence"
    # the sentence-initial words are read as context (they have no row in the file)
    assert enc["dataset"]["n_presented_words"] > enc["dataset"]["n_words"]
    assert enc["window_of_interest_ms"] is None and enc["channels_of_interest"] == ["N400"]
    assert enc["cv_groups"] == "sentence"
    hyp = res["hypotheses"]
    assert hyp["window_ms"] is None and hyp["n_per_set"] >= 6


@pytest.mark.slow
def test_quick_book_on_a_users_mne_epochs(tmp_path):
    """Neuromag-306 minus a bad gradiometer, EOG and STIM, words in metadata, no sentences."""
    from layouts import write_mne_epochs

    path = write_mne_epochs(tmp_path / "user-epo.fif", n_words=400)
    res = _quick_book(tmp_path / "mne", ("dataset", "mne"), ("data_path", str(path)))
    assert res["data"]["dataset"]["n_channels"] == 305  # EOG and STIM are not data channels
    assert res["encoding"]["window_of_interest_ms"] == [300.0, 425.0]
    assert res["encoding"]["max_r"] > 0.3  # the planted word-length response is found


SHAPE_NOTES = {  # what the pages say instead of the maps they cannot draw
    "odd_grad": ["without a partner not drawn: MEG0122"],
    "eeg_no_positions": ["No magnetometer topomap: the data have no magnetometer channels",
                         "These data have no sensor positions"],
    "mag_only": ["No gradiometer topomap: the data have no gradiometer channels"],
}


@pytest.fixture(scope="module")
def shapes_cache(tmp_path_factory):
    """One cache for the three shapes: the same words, so their features are extracted once.

    (Nothing is fine-tuned in these runs, so they need no cache of their own.)
    """
    return tmp_path_factory.mktemp("shapes")


@pytest.mark.slow
@pytest.mark.parametrize("shape,n_channels", [("odd_grad", 305), ("eeg_no_positions", 32),
                                              ("mag_only", 102)])
def test_sensor_chapters_on_each_shape_of_a_users_mne_epochs(tmp_path, shapes_cache, shape,
                                                             n_channels):
    """The chapters that draw the recording's sensors (data, encoding), without the book.

    An odd number of gradiometers, EEG without positions and magnetometers only each
    stopped a chapter; the rest of the quick book does not depend on the channels
    (the full quick-book run above covers it once).
    """
    from layouts import write_mne_epochs

    path = write_mne_epochs(tmp_path / f"{shape}-epo.fif", n_words=400, shape=shape)
    out = tmp_path / "book"
    cmd = [sys.executable, "-m", "analysis.run", "--profile", "quick", "--out", str(out),
           "--no-book", "--only", "data", "--only", "encoding", "-p", "layer_step", "10",
           "-p", "dataset", "mne", "-p", "data_path", str(path)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1500,
                          env=_own_cache(shapes_cache))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    print(proc.stdout[-300:])  # the chapters' timings (pytest -s)
    printed = ""
    for stem in ("00_data", "01_encoding"):
        nb = json.loads((out / "executed" / f"{stem}.ipynb").read_text())
        outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
        assert not any(o["output_type"] == "error" for o in outputs), stem
        printed += "".join("".join(o.get("text", "")) for o in outputs)
    res = {name: json.loads((out / "results" / f"{name}.json").read_text())["results"]
           for name in ("data", "encoding")}
    printed += " ".join(res["data"]["glued"].values())  # and the prose
    for note in SHAPE_NOTES[shape]:
        assert note in printed, (shape, note)
    assert res["data"]["dataset"]["n_channels"] == n_channels
    assert res["encoding"]["max_r"] > 0.3  # the planted word-length response is found


@pytest.mark.slow
def test_quick_book_on_a_bids_meg_study(tmp_path):
    """3 subjects x 2 sessions x 2 stories via mne-bids, both event styles, one story missing."""
    from bids_study import write_bids_study

    root = tmp_path / "study"
    write_bids_study(root, n_words=160)  # 24 sentences: the two sentence sets need 18
    res = _quick_book(tmp_path / "bids", ("dataset", "bids"), ("data_path", str(root)))
    data = res["data"]["dataset"]
    assert data["n_subjects"] == 3 and data["n_channels"] == 30 and data["groups"] == {"story": 2}
    assert res["encoding"]["window_of_interest_ms"] == [300.0, 425.0]
    assert res["encoding"]["max_r"] > 0.2  # the planted word-length response is found


@pytest.mark.slow
def test_quick_book_on_the_harry_potter_release_layout(tmp_path):
    from layouts import write_hp_release

    root = write_hp_release(tmp_path / "hp", n_words=400, subjects=("A",))
    res = _quick_book(tmp_path / "hp_book", ("dataset", "harry_potter"),
                      ("data_path", str(root)))
    assert res["data"]["dataset"]["n_presented_words"] > res["data"]["dataset"]["n_words"]
    assert res["encoding"]["max_r"] > 0.3


def test_real_data_chapter_without_the_data_says_where_to_get_them(tmp_path):
    out = tmp_path / "nodata"
    proc = subprocess.run([sys.executable, "-m", "analysis.run", "--profile", "quick",
                           "--only", "real_data", "--out", str(out),
                           "-p", "frank_path", str(tmp_path / "none.csv"),
                           "-p", "trials_path", str(tmp_path / "none.tsv"),
                           "-p", "naturalstories_path", str(tmp_path / "none")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    page = (out / "html" / "notebooks" / "05_real_data.html").read_text()
    assert "prediction-resource" in page and "AurnhammerFrank_CogSci2019" in page
    assert "naturalstories" in page and "Traceback" not in page
    real = json.loads((out / "results" / "real_data.json").read_text())["results"]
    assert real["noise_ceiling"] == {} and "encoding" not in real


@pytest.mark.slow
def test_quick_book_on_a_trial_level_reading_time_table(tmp_path):
    """A user's per-word TSV with participants: three -p options and every chapter runs."""
    from analysis.loaders.table import write_example_table

    path = write_example_table(tmp_path / "example_rt.tsv", kind="trials")
    res = _quick_book(tmp_path / "table", ("dataset", "table"), ("data_path", str(path)),
                      ("dataset_options", "{exclude: sentence_initial}"))
    data = res["data"]["dataset"]
    assert data["n_subjects"] == 5 and data["n_channels"] == 1
    assert data["n_presented_words"] > data["n_words"]  # sentence-initial words: context only
    assert res["encoding"]["window_of_interest_ms"] is None


# --------------------------------------------------------------------------- output folder
def _no_chapters(monkeypatch):
    """Make main() run no notebook (the tests below check the output folder only)."""
    ran = []
    monkeypatch.setattr(run, "run_chapter",
                        lambda name, path, params, out, log=print: ran.append(name))
    return ran


def test_a_users_folder_is_refused_and_its_files_survive(tmp_path, monkeypatch, capsys):
    ran = _no_chapters(monkeypatch)
    user = tmp_path / "mine"
    (user / "html").mkdir(parents=True)
    (user / "site").mkdir()
    (user / "html" / "mine.txt").write_text("my page")
    (user / "site" / "notes.txt").write_text("my notes")
    assert run.main(["--only", "data", "--out", str(user)]) == 2
    err = capsys.readouterr().err
    assert str(user) in err and "not made by this runner" in err and "--out" in err
    assert (user / "html" / "mine.txt").read_text() == "my page"
    assert (user / "site" / "notes.txt").read_text() == "my notes"
    assert sorted(p.name for p in user.iterdir()) == ["html", "site"]  # nothing added
    assert ran == []


def test_a_folder_the_runner_made_is_reused(tmp_path, monkeypatch):
    ran = _no_chapters(monkeypatch)
    out = tmp_path / "new" / "book"
    for _ in range(2):
        assert run.main(["--only", "data", "--no-book", "--out", str(out)]) == 0
    assert ran == ["data", "data"]
    marker = json.loads((out / run.OUTPUT_MARKER).read_text())
    assert marker["tool"] == "analysis.run" and marker["created"] and "version" in marker
    assert not (out / (run.OUTPUT_MARKER + ".lock")).exists()  # released at the end


def test_the_book_replaces_only_subfolders_the_runner_made(tmp_path):
    out = tmp_path / "out"
    with run.claim_output(out):
        (out / "site").mkdir()
        (out / "site" / "notes.txt").write_text("my notes")
        with pytest.raises(run.OutputError, match="not made by this runner"):
            run.build_book(out, log=lambda *_: None)
        assert (out / "site" / "notes.txt").read_text() == "my notes"
        (out / "html").mkdir()
        (out / "html" / "mine.txt").write_text("mine")
        with pytest.raises(run.OutputError, match=str(out / "html")):
            run._replace_folder(out / "html")
        assert (out / "html" / "mine.txt").exists()
        run._replace_folder(out / "figs")  # made by the runner, so replaced next time
        (out / "figs" / "old.png").write_text("x")
        run._replace_folder(out / "figs")
        assert not (out / "figs" / "old.png").exists()


def test_a_second_run_into_a_locked_folder_is_refused_naming_the_holder(tmp_path, monkeypatch,
                                                                         capsys):
    import os

    ran = _no_chapters(monkeypatch)
    out = tmp_path / "out"
    with run.claim_output(out):
        assert run.main(["--only", "data", "--no-book", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"output folder {out} is in use by another run" in err
        assert f"process {os.getpid()}" in err
        assert (out / (run.OUTPUT_MARKER + ".lock")).exists()  # the holder keeps its lock
    assert ran == []
    assert run.main(["--only", "data", "--no-book", "--out", str(out)]) == 0


def test_two_processes_into_one_folder_the_second_is_refused(tmp_path):
    """A real second process meets the lock of a first one that is still running."""
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from analysis import run\n"
         f"with run.claim_output(__import__('pathlib').Path({str(out)!r})):\n"
         "    print('held', flush=True); time.sleep(30)"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(run.OutputError, match=rf"process {holder.pid} on host"):
            with run.claim_output(out):
                pass
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_is_taken_over_with_a_note(tmp_path, monkeypatch, capsys):
    import socket

    _no_chapters(monkeypatch)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "out"
    assert run.main(["--only", "data", "--no-book", "--out", str(out)]) == 0
    (out / (run.OUTPUT_MARKER + ".lock")).write_text(json.dumps(
        {"pid": dead.pid, "host": socket.gethostname(), "started": "then"}))
    assert run.main(["--only", "data", "--no-book", "--out", str(out)]) == 0
    assert f"left by process {dead.pid}" in capsys.readouterr().out
    assert not (out / (run.OUTPUT_MARKER + ".lock")).exists()


def test_an_unwritable_out_folder_is_a_clear_error(tmp_path, monkeypatch, capsys):
    _no_chapters(monkeypatch)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert run.main(["--only", "data", "--no-book", "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert f"cannot write to the output folder {blocker / 'out'}" in err
    assert "Traceback" not in err
    assert run.main(["--only", "data", "--no-book", "--out", str(blocker)]) == 2
    assert f"output folder {blocker} is a file" in capsys.readouterr().err

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    out = tmp_path / "ro"
    out.mkdir()
    monkeypatch.setattr(run.os, "open", refuse)  # a read-only folder (tests may run as root)
    assert run.main(["--only", "data", "--no-book", "--out", str(out)]) == 2
    assert f"cannot write to the output folder {out} (Permission denied)" in \
        capsys.readouterr().err


@pytest.mark.parametrize("name, value, option", [("device", "cpu", "--device"),
                                                 ("results_dir", "/tmp/x", "--out"),
                                                 ("profile", "full", "--profile")])
def test_parameters_the_runner_sets_are_refused_as_p_options(name, value, option, tmp_path,
                                                             monkeypatch, capsys):
    ran = _no_chapters(monkeypatch)
    assert run.main(["--only", "data", "--no-book", "-p", name, value,
                     "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"-p {name} would be overridden by the runner's {option} option" in err
    assert ran == [] and not (tmp_path / "out").exists()
