"""The runner: profiles, parameters, failures and the quick end-to-end build."""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from analysis import run

ROOT = Path(__file__).resolve().parent.parent


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
                          timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
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
    assert (out / "results" / "encoding_arrays.npz").exists()
    hyp_page = (out / "html" / "notebooks" / "02_hypotheses.html").read_text()
    assert "Hypotheses: what the divergent sentences have in common" in hyp_page
    assert "Traceback" not in hyp_page
    hyp = json.loads((out / "results" / "hypotheses.json").read_text())["results"]
    assert hyp["n_group"] == 15 and len(hyp["top10"]) == 10
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
