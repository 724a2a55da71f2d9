"""The paper beside the book: the paper's values, the build's, and what differs."""

import json

from analysis import paper
from results_examples import results_example


def _write(folder, name, results):
    (folder / f"{name}.json").write_text(json.dumps({"section": name, "results": results,
                                                     "provenance": {}}))


def _study(tmp_path):
    data = results_example("data")
    data["dataset"] = {"source": "simulated reading study", "n_subjects": 4, "n_words": 4697,
                       "n_channels": 306, "n_windows": 20, "window_ms": 25.0}
    _write(tmp_path, "data", data)
    hyp = results_example("hypotheses")
    hyp.update(window_ms=[300.0, 425.0], n_per_set=106, n_scored=423, n_confirmed=1,
               proposer="offline <b>bank</b>",
               domains={"top 10": {"social/emotional": 3, "physical": 6, "other": 1}})
    _write(tmp_path, "hypotheses", hyp)
    fin = results_example("finetuning")
    fin.update(n_permutations=2000, tasks={"siqa": {"data": {"n_train": 400}},
                                           "piqa": {"data": {"n_train": 400}}})
    _write(tmp_path, "finetuning", fin)
    return tmp_path


def test_each_row_sets_the_paper_beside_the_build(tmp_path):
    text = paper.paper_beside_book(_study(tmp_path))
    rows = [line for line in text.splitlines() if line.startswith("| {doc}")]
    # data, sentence sets, domains, recipe, re-test, null: the chapters that ran; no encoding
    # outputs, no rater results, so no model and no raters row
    assert len(rows) == 6
    assert "5,176 words" in text and "4\\,697 words" in text
    assert "106 and 106 of 423 sentences" in text
    assert "LoRA \\(rank 16\\)" in text and "training items\\: siqa 400\\, piqa 400" in text
    assert "Social IQa\\: uninformative at this budget" in text
    assert "2\\,000 permutations" in text
    # every quantity the book does not compare is named, with the reason
    for q in paper.NOT_COMPARED:
        assert q in text
    assert "could not check the paper's values offline" in text


def test_text_from_results_files_is_escaped(tmp_path):
    text = paper.paper_beside_book(_study(tmp_path))
    assert "<b>" not in text and "\\<b\\>" in text


def test_no_chapter_run_gives_a_note(tmp_path):
    assert "No chapter has been run yet" in paper.paper_beside_book(tmp_path)


def test_every_paper_value_names_its_source_and_a_chapter():
    keys = [p.key for p in paper.PAPER]
    assert len(keys) == len(set(keys))
    for p in paper.PAPER:
        assert p.source in (paper.ABSTRACT, paper.METHODS)
        assert p.chapter in paper._CHAPTER_DOCS


def test_a_dataset_without_a_window_of_interest(tmp_path):
    """The Frank ERPs and reading times have no window of interest (window_ms None)."""
    _study(tmp_path)
    hyp = results_example("hypotheses")
    hyp.update(window_ms=None, n_per_set=18, n_scored=71,
               domains={"top 10": {"social/emotional": 2, "physical": 1, "other": 7}})
    _write(tmp_path, "hypotheses", hyp)
    data = results_example("data")
    data["dataset"] = {"source": "Frank et al. (2015)", "n_subjects": 24, "n_words": 1487,
                       "n_channels": 6, "n_windows": 1, "window_ms": None}
    _write(tmp_path, "data", data)
    text = paper.paper_beside_book(tmp_path)
    assert "words scored over every window" in text and "1 window\\(s\\)" in text
