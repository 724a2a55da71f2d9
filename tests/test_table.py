"""The word-table loader (analysis.loaders.table) and the registry's "table" dataset.

Tables of several shapes holding the same data load to the same dataset; every malformed
table is refused with a message naming the file, the column and the line; the example
table the project writes round-trips; the book page's commands open it.
"""

import csv
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import datasets as D
from analysis.data import DataError
from analysis.loaders import load_word_table, write_example_table
from analysis.loaders.table import EXAMPLE_OPTIONS, main as table_main
from analysis.params import parse_text
from layouts import example_frame, write_text_table

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def load(path, **options):
    return load_word_table(path, verbose=False, **options)


def assert_same(a, b, subjects=False, channels=True):
    """Same words, responses, sentences and presented text (and subjects, channel names)."""
    assert a.words == b.words
    np.testing.assert_array_equal(a.sentence, b.sentence)
    np.testing.assert_allclose(a.responses, b.responses, rtol=1e-6)
    assert a.times.tolist() == b.times.tolist()
    assert a.ch_names == b.ch_names if channels else len(a.ch_names) == len(b.ch_names)
    pa, pb = a.presented(), b.presented()
    assert pa.words == pb.words
    np.testing.assert_array_equal(pa.sentence, pb.sentence)
    np.testing.assert_array_equal(pa.index, pb.index)
    assert a.context == b.context
    if subjects:
        np.testing.assert_array_equal(a.subject_responses, b.subject_responses)


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """A small example table: 4 readers, the sentences within the first 150 words."""
    folder = tmp_path_factory.mktemp("example")
    trials = write_example_table(folder / "trials.tsv", n_participants=4, n_words=150, seed=1,
                                 missing=0.05)
    words = write_example_table(folder / "words.tsv", kind="words", n_participants=4,
                                n_words=150, seed=1, missing=0.05)
    return folder, trials, words


# ------------------------------------------------------------------ shapes, same data
def test_shapes_holding_the_same_data_load_to_the_same_dataset(example, tmp_path, monkeypatch):
    folder, trials_path, words_path = example
    reference = load(trials_path, **EXAMPLE_OPTIONS)
    frame = example_frame(trials_path)
    n_presented = len(frame) // 4
    assert reference.n_subjects == 4 and reference.presented().n_presented == n_presented
    assert reference.context == "sentence" and reference.ch_names == ["rt"]
    assert (reference.metadata["word_in_sentence"] > 1).all()  # sentence-initial: context only

    # trial level, comma-separated, other column names, sentences and participants
    # interleaved (the last sentence first), flags written true/false
    shuffled = frame.rename(columns={"participant": "subject", "sentence": "sent",
                                     "position": "pos", "word": "token", "rt": "RT",
                                     "sentence_initial": "skip"})
    shuffled["skip"] = shuffled["skip"].map({"1": "true", "0": "false"})
    order = shuffled.assign(s=-shuffled["sent"].astype(int), p=shuffled["pos"].astype(int))
    shuffled = shuffled.loc[order.sort_values(["s", "p", "subject"], kind="stable").index]
    shuffled.to_csv(tmp_path / "shuffled.csv", index=False)
    other = load(tmp_path / "shuffled.csv", word="token", measures="RT", participant="subject",
                 sentence="sent", position="pos", exclude="skip")
    assert_same(reference, other, subjects=True, channels=False)

    # word level: the per-word means, with and without sentence/position columns
    words_level = load(words_path, word="word", measures=["rt"], exclude="sentence_initial")
    assert words_level.subject_responses is None
    assert_same(reference, words_level)
    plain = pd.read_csv(words_path, sep="\t", dtype=str, keep_default_na=False,
                        quoting=csv.QUOTE_NONE)
    plain["frequency"] = [str(len(w)) for w in plain["word"]]
    plain.drop(columns=["sentence", "position"]).to_csv(tmp_path / "file_order.csv", index=False)
    file_order = load(tmp_path / "file_order.csv", measures=["rt"], exclude="sentence_initial")
    assert file_order.context == "running"  # no sentence column: sentences are segmented
    assert file_order.provenance["sentence_rule"] == "analysis.text.segment_sentences"
    file_order.context = "sentence"
    assert_same(reference, file_order)
    assert "frequency" in file_order.metadata.columns and "line" in file_order.metadata.columns

    # without the exclusion column: every word is a row; subsetting gives the same data
    everything = load(words_path, measures="rt", exclude=None)
    assert everything.n_words == n_presented
    initial = everything.metadata["sentence_initial"].to_numpy() == 1
    assert_same(reference, everything.subset(~initial))

    # Parquet, typed columns (read through pandas; pyarrow is not needed for this test)
    typed = pd.DataFrame({"participant": frame["participant"],
                          "sentence": frame["sentence"].astype(int),
                          "position": frame["position"].astype(int),
                          "word": frame["word"],
                          "rt": pd.to_numeric(frame["rt"], errors="coerce"),
                          "sentence_initial": frame["sentence_initial"] == "1"})
    monkeypatch.setattr(pd, "read_parquet", lambda path, **kw: typed.copy())
    (tmp_path / "trials.parquet").write_bytes(b"PAR1")
    assert_same(reference, load(tmp_path / "trials.parquet", **EXAMPLE_OPTIONS), subjects=True)


def test_values_land_in_place(example):
    _, trials_path, _ = example
    frame = example_frame(trials_path)
    ds = load(trials_path, **EXAMPLE_OPTIONS)
    assert ds.provenance["subjects"] == ["P1", "P2", "P3", "P4"]
    rows = frame[frame["sentence_initial"] == "0"]
    n_presented = len(frame) // 4
    for _, row in rows.sample(40, random_state=0).iterrows():
        p = int(row["participant"][1:]) - 1
        k = int(np.flatnonzero(ds.presented().index == (row.name % n_presented))[0])
        value = ds.subject_responses[p, k, 0, 0]
        assert ds.words[k] == row["word"]
        if row["rt"] == "NA":
            assert np.isnan(value)
        else:
            assert value == float(row["rt"])
    # the mean is over the participants with a value
    matrix = ds.subject_responses[:, :, 0, 0]
    np.testing.assert_allclose(ds.responses[:, 0, 0], np.nanmean(matrix, axis=0), rtol=1e-6)
    n_blank = int((frame["rt"] == "NA").sum())
    assert ds.provenance["n_missing_trials"] == n_blank
    assert ds.metadata["n_valid_trials"].tolist() == np.isfinite(matrix).sum(axis=0).tolist()
    assert (ds.metadata["n_trials"] == 4).all()


# ------------------------------------------------------------------ malformed tables
HEADER = ["participant", "sentence", "position", "word", "rt", "flag"]


def small_rows():
    """Two readers (P1: lines 2-7, P2: lines 8-13) of two sentences of three words."""
    text = [(1, 1, "The"), (1, 2, "dog"), (1, 3, "barked."), (2, 1, "It"), (2, 2, "ran"),
            (2, 3, "away.")]
    return [[f"P{p}", s, k, w, 300 + 10 * s + k + p, int(k == 1)] for p in (1, 2)
            for s, k, w in text]


def edited(rows, line, column, value):
    rows = [list(r) for r in rows]
    rows[line - 2][HEADER.index(column)] = value
    return rows


def test_small_table_is_understood(tmp_path, capsys):
    path = write_text_table(tmp_path / "small.tsv", HEADER, small_rows())
    ds = load_word_table(path, measures="rt", exclude="flag")
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed == ds.provenance["understood"]
    assert ds.words == ["dog", "barked.", "ran", "away."]
    assert ds.presented().words == ["The", "dog", "barked.", "It", "ran", "away."]
    np.testing.assert_allclose(ds.responses[:, 0, 0], [313.5, 314.5, 323.5, 324.5])
    assert ds.sentence.tolist() == [0, 0, 1, 1] and ds.context == "sentence"
    assert any("participant" in line and "guessed from its name" in line for line in printed)
    assert "2 words flagged in 'flag'" in "\n".join(printed)
    again = load(path, **ds.provenance["options"])  # the printed options reproduce it
    assert_same(ds, again, subjects=True)


@pytest.mark.parametrize("edit, message", [
    # a missing word
    (lambda r: edited(r, 9, "word", ""), r"column 'word' line 9 is empty; expected a word"),
    # a position twice for one participant
    (lambda r: edited(r, 10, "position", 2),
     r"column 'position' line 10 \(word 'barked\.'\) repeats participant P2, sentence 1, "
     r"position 2 of line 9 \(word 'dog'\); expected one row per participant and word"),
    # a non-numeric measure
    (lambda r: edited(r, 11, "rt", "fast"),
     r"column 'rt' line 11, word 'It' is 'fast'; expected a number"),
    # positions going back within a sentence
    (lambda r: edited(edited(r, 3, "position", 3), 4, "position", 2),
     r"column 'position' line 4 \(word 'barked\.'\) is '2', after '3' on line 3 in the same "
     r"sentence of participant P1; expected the words of a sentence in reading order"),
    # participants disagreeing about a word
    (lambda r: edited(r, 10, "word", "cat"),
     r"column 'word' line 10 \(participant P2\) is 'cat' but line 4 \(participant P1\) has "
     r"'barked\.' at the same position \(sentence 1, position 3\)"),
    # an exclusion flag that is not a flag
    (lambda r: edited(r, 6, "flag", "maybe"), r"column 'flag' line 6 is 'maybe'; expected a flag"),
    # a missing position
    (lambda r: edited(r, 5, "position", ""), r"column 'position' line 5, word 'It' is ''; "
                                            r"expected a number"),
    # an empty label
    (lambda r: edited(r, 8, "participant", "NA"), r"column 'participant' line 8 is 'NA'; "
                                                  r"expected a label in every row"),
    # an infinite value
    (lambda r: edited(r, 7, "rt", "inf"), r"column 'rt' line 7, word 'away\.' is 'inf'; "
                                          r"expected a finite number"),
    # a value beyond float32 (it would become inf in the responses)
    (lambda r: edited(r, 6, "rt", "1e300"), r"column 'rt' line 6, word 'ran' is '1e300'; "
                                            r"expected a finite number of magnitude at most "
                                            r"3\.403e\+38 \(the measures are stored in float32\)"),
    (lambda r: edited(r, 6, "rt", "-4e38"), r"column 'rt' line 6, word 'ran' is '-4e38'"),
])
def test_malformed_tables_name_file_column_and_line(tmp_path, edit, message):
    path = write_text_table(tmp_path / "bad.tsv", HEADER, edit(small_rows()))
    with pytest.raises(DataError, match=r"bad\.tsv: " + message):
        load(path, measures="rt", exclude="flag")


def test_line_numbers_count_blank_lines_and_quoted_newlines(tmp_path):
    rows = edited(small_rows(), 11, "rt", "fast")
    path = write_text_table(tmp_path / "blank.tsv", HEADER, rows, blank_after=(-1, 3))
    with pytest.raises(DataError, match=r"blank\.tsv: column 'rt' line 13, word 'It' is 'fast'"):
        load(path, measures="rt")
    text = ('word,note,rt\nThe,"a note\nover two lines",300\ndog,,x\n')
    (tmp_path / "quoted.csv").write_text(text)
    with pytest.raises(DataError, match=r"quoted\.csv: column 'rt' line 4, word 'dog' is 'x'"):
        load(tmp_path / "quoted.csv", measures="rt")


def test_other_malformed_inputs(tmp_path):
    path = write_text_table(tmp_path / "small.tsv", HEADER, small_rows())
    with pytest.raises(DataError, match=r"small\.tsv: no column 'wrd' \(option word='wrd'\); the "
                                        r"table has columns \['participant', .*\] \(did you mean "
                                        r"'word'\?\)"):
        load(path, word="wrd")
    with pytest.raises(DataError, match=r"no column 'RT' \(option measures=\['RT'\]\).*did you "
                                        r"mean 'rt'"):
        load(path, measures=["RT"])
    with pytest.raises(DataError, match=r"no column 'skip' \(option exclude='skip'\)"):
        load(path, exclude="skip")
    with pytest.raises(DataError, match=r"unknown option\(s\) \['words'\] for the word table"):
        load(path, words="word")
    with pytest.raises(DataError, match=r"context='story words'; expected one of"):
        load(path, context="story words")
    with pytest.raises(DataError, match=r"column 'participant' is given as both participant and "
                                        r"measures"):
        load(path, participant="participant", measures=["participant"])
    # a guess never takes a column the options name: here 'position' is a measure
    assert load(path, measures=["position"], position=False, participant="participant",
                sentence="sentence").ch_names == ["position"]
    rows = [list(r) for r in small_rows()]
    rows[2] = rows[2][:5]
    with pytest.raises(DataError, match=r"short\.tsv: line 4 has 5 fields but the header "
                                        r"\(line 1\) has 6"):
        load(write_text_table(tmp_path / "short.tsv", HEADER, rows))
    ids = write_text_table(tmp_path / "ids.tsv", ["word", "sent_id", "word_pos", "skip"],
                           [["The", 1, 1, 0], ["dog.", 1, 2, 1]])
    with pytest.raises(DataError, match=r"ids\.tsv: no measure column"):
        load(ids)
    with pytest.raises(DataError, match=r"nowords\.tsv: no word column"):
        load(write_text_table(tmp_path / "nowords.tsv", ["item", "rt"], [[1, 300]]))
    (tmp_path / "empty.csv").write_text("\n\n")
    with pytest.raises(DataError, match=r"empty\.csv: the file is empty"):
        load(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("word,rt\n")
    with pytest.raises(DataError, match=r"header\.csv: the table has a header but no rows"):
        load(tmp_path / "header.csv")
    (tmp_path / "one.txt").write_text("word\nThe\n")
    with pytest.raises(DataError, match=r"one\.txt: line 1 \('word'\) holds a single column"):
        load(tmp_path / "one.txt")
    with pytest.raises(DataError, match=r"nope\.tsv: file not found"):
        load(tmp_path / "nope.tsv")
    with pytest.raises(DataError, match=r"is a folder"):
        load(tmp_path)
    (tmp_path / "latin.csv").write_bytes("word,rt\ncaf\xe9,300\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin\.csv: line 2 is not UTF-8 text"):
        load(tmp_path / "latin.csv")
    blank = write_text_table(tmp_path / "nan.tsv", ["word", "rt"], [["The", "NA"], ["dog", ""]])
    with pytest.raises(DataError, match=r"nan\.tsv: no word has a value for every measure"):
        load(blank, measures="rt")
    # a trial-level table read without its participant column: positions repeat
    with pytest.raises(DataError, match=r"repeats sentence 1, position 1 of line 2.*one row per "
                                        r"word \(a trial-level table needs participant=<column>\)"):
        load(path, participant=False, measures="rt")
    # positions restarting at each sentence without a sentence column
    with pytest.raises(DataError, match=r"line 5 \(word 'It'\) repeats participant P1, position 1 "
                                        r"of line 2.*pass sentence=<column>"):
        load(path, sentence=False, measures="rt")
    rows = [r[:2] + [r[2] + 3 if r[1] == 1 else r[2]] + r[3:] for r in small_rows()]
    with pytest.raises(DataError, match=r"line 5 \(word 'It'\) is '1', after '6' on line 4 in the "
                                        r"same table of participant P1.*pass sentence=<column>"):
        load(write_text_table(tmp_path / "restart.tsv", HEADER, rows), sentence=False,
             measures="rt")


def test_without_positions_a_missing_row_is_caught(tmp_path):
    rows = [r[:2] + r[3:] for r in small_rows() if not (r[0] == "P2" and r[3] == "dog")]
    path = write_text_table(tmp_path / "gap.tsv", ["participant", "sentence", "word", "rt", "flag"],
                            rows)
    with pytest.raises(DataError, match=r"gap\.tsv: column 'word' line 9 \(participant P2\) is "
                                        r"'barked\.' but line 3 \(participant P1\) has 'dog'.*"
                                        r"pass position=<column>"):
        load(path, measures="rt")


def test_parquet_needs_pyarrow_and_names_rows(tmp_path, monkeypatch):
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1")
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(DataError, match=r"t\.parquet: reading Parquet needs the package "
                                            r"pyarrow, which is not installed.*pip install "
                                            r"pyarrow"):
            load(path)
    typed = pd.DataFrame({"word": ["The", "dog", None], "rt": [300.0, np.nan, 310.0]})
    monkeypatch.setattr(pd, "read_parquet", lambda p, **kw: typed.copy())
    with pytest.raises(DataError, match=r"t\.parquet: column 'word' row 3 is empty"):
        load(path)
    typed.loc[2, "word"] = "ran"
    typed["rt"] = typed["rt"].astype(object)
    typed.loc[1, "rt"] = "slow"
    with pytest.raises(DataError, match=r"t\.parquet: column 'rt' row 2, word 'dog' is 'slow'"):
        load(path, measures="rt")


def test_spreadsheets_go_through_pandas(tmp_path, monkeypatch):
    path = tmp_path / "t.xlsx"
    path.write_bytes(b"PK")
    frame = pd.DataFrame({"word": ["The", "dog."], "rt": [300, "x"]})
    monkeypatch.setattr(pd, "read_excel", lambda p, sheet_name=0, **kw: frame.copy())
    with pytest.raises(DataError, match=r"t\.xlsx: column 'rt' row 3, word 'dog\.' is 'x'"):
        load(path, sheet="Sheet1", measures="rt")


# ------------------------------------------------------------------ reading rules
def test_separators_and_quotes(tmp_path):
    rows = [["'Stop!", 300], ['"Hello,', 310], ["world.\"", 320]]
    # a .csv that is tab-separated (as the Frank single-trial files): sniffed; quotes are
    # characters of the words in a tab-separated file
    tabbed = write_text_table(tmp_path / "tabbed.csv", ["word", "rt"], rows)
    ds = load(tabbed)
    assert ds.words == ["'Stop!", '"Hello,', 'world."']
    assert "sniffed" in ds.provenance["format"]
    # semicolons in a .txt file, with CSV quoting
    (tmp_path / "semi.txt").write_text('word;rt\n\'Stop!;300\n"""Hello,";310\n"world.""";320\n')
    assert load(tmp_path / "semi.txt").words == ds.words
    # pandas writes TSV fields holding quotes with doubled quotes; R quotes every field
    pd.DataFrame(rows, columns=["word", "rt"]).to_csv(tmp_path / "pandas.tsv", sep="\t",
                                                      index=False)
    assert load(tmp_path / "pandas.tsv").words == ds.words
    r_style = '"word"\t"rt"\n"\'Stop!"\t300\n"""Hello,"\t310\n"world."""\t320\n'
    (tmp_path / "r.tsv").write_text(r_style)
    assert load(tmp_path / "r.tsv").words == ds.words
    assert load(tmp_path / "r.tsv", sep="tab").words == ds.words
    with pytest.raises(DataError, match=r"sep='tabs'; expected one character"):
        load(tabbed, sep="tabs")
    # gzip, a byte-order mark, Windows line ends
    import gzip

    (tmp_path / "z.tsv.gz").write_bytes(gzip.compress("\ufeffword\trt\r\nThe\t300\r\n".encode()))
    assert load(tmp_path / "z.tsv.gz").words == ["The"]


def test_guesses_and_summary(tmp_path, capsys):
    header = ["Token", "sent_id", "word_pos", "nItem", "RT", "log_freq", "is_first"]
    rows = [["The", 1, 1, 80, 300, -2.0, 1], ["dog", 1, 2, 80, 320, -4.0, 0],
            ["barked.", 1, 3, 79, 350, -5.0, 0]]
    path = write_text_table(tmp_path / "guess.tsv", header, rows)
    ds = load_word_table(path)
    out = capsys.readouterr().out
    assert ds.ch_names == ["RT", "log_freq"]  # ids (sent_id, word_pos, nItem) and flags left out
    assert "guessed: numeric columns that are not ids or flags" in out
    assert "hint: is_first look(s) like flags" in out
    assert ds.provenance["columns"]["sentence"] == "sent_id"
    assert ds.provenance["columns"]["position"] == "word_pos"
    assert ds.metadata["nItem"].tolist() == [80, 80, 79]
    assert json.loads(out.split("options:")[-1]) == ds.provenance["options"]
    none = load(path, sentence=False, position=False, measures="RT")
    assert none.context == "running" and "sent_id" in none.metadata.columns


def test_stories_context_and_times(tmp_path):
    rows = [["a", 1, 1, 0, 1.0], ["a", 1, 1, 100, 2.0], ["a", 2, 1, 0, 3.0], ["a", 2, 1, 100, 4.0],
            ["b", 1, 1, 0, 5.0], ["b", 1, 1, 100, 6.0]]
    words = {("a", 1): "Once", ("a", 2): "upon.", ("b", 1): "Then."}
    body = [[s, z, words[(s, z)], t, v] for s, z, _, t, v in rows]
    path = write_text_table(tmp_path / "long.tsv", ["story", "zone", "word", "time", "amp"], body)
    ds = load(path, time="time", measures="amp")
    assert ds.context == "story" and ds.groups["story"].tolist() == [0, 0, 1]
    assert ds.words == ["Once", "upon.", "Then."] and ds.sentence.tolist() == [0, 0, 1]
    assert ds.times.tolist() == [0.0, 100.0] and ds.window_ms == 100.0
    np.testing.assert_allclose(ds.responses[:, 0, :], [[1, 2], [3, 4], [5, 6]])
    assert ds.presented().story.tolist() == [0, 0, 1]
    assert load(path, time="time", measures="amp", context="running").context == "running"
    assert load(path, time="time", measures="amp", window_ms=50).window_ms == 50
    # story labels as text sort in order of first appearance (b before a here)
    flipped = write_text_table(tmp_path / "flip.tsv", ["story", "zone", "word", "time", "amp"],
                               body[4:] + body[:4])
    assert load(flipped, time="time", measures="amp").words == ["Then.", "Once", "upon."]


@pytest.mark.skipif(not (SHARED / "frank2015" / "single_trials" / "data_EEG.csv").is_file(),
                    reason="Frank single-trial EEG data not available")
def test_real_frank_trials_through_the_generic_loader():
    from analysis.loaders import load_frank2015_trials

    path = SHARED / "frank2015" / "single_trials" / "data_EEG.csv"
    generic = load(path, participant="subj_nr", sentence="sent_nr", position="word_pos",
                   measures="N400", exclude=["reject_word", "reject_data"])
    assert_same(generic, load_frank2015_trials(path), subjects=True)


# ------------------------------------------------------------------ registry
def test_registry_opens_a_table_with_options(example):
    _, trials_path, words_path = example
    spec = D.dataset_spec("table")
    assert spec.window is None and spec.needs_path and spec.cv_groups == "sentence"
    with pytest.raises(DataError, match="dataset 'table' needs a path"):
        D.open_dataset("table")
    options = parse_text("{word: word, measures: [rt], participant: participant, "
                         "exclude: sentence_initial, verbose: false}")
    ds = D.open_for_chapter("table", str(trials_path), options, n_words=60)
    assert ds.provenance["dataset"] == "table" and ds.n_subjects == 4
    assert ds.n_words <= 60 and ds.presented().n_presented <= 70
    record = D.dataset_record(ds)
    assert record.options["measures"] == ["rt"] and record.options["n_words"] == 60
    back = D.DatasetRecord.from_dict(record.to_dict()).reopen()
    assert_same(ds, back, subjects=True)
    mask, used = D.window_of_interest(ds)
    assert mask.tolist() == [True] and used is None
    assert D.channels_of_interest(ds).tolist() == [True]
    name, labels = D.cv_groups(ds)
    assert name == "sentence" and labels.tolist() == ds.sentence.tolist()
    assert D.describe(ds).loc["language-model context", "value"] == "sentence"
    words = D.open_dataset("table", words_path, measures="rt", verbose=False)
    assert words.n_subjects == 0 and D.dataset_record(words).options["measures"] == "rt"


# ------------------------------------------------------------------ the example table
def test_example_writer_round_trips(tmp_path, capsys):
    path = write_example_table(tmp_path / "rt.tsv")
    frame = example_frame(path)
    assert list(frame.columns) == ["participant", "sentence", "position", "word", "rt",
                                   "sentence_initial"]
    assert frame["participant"].nunique() == 5 and len(frame) % 5 == 0
    n = len(frame) // 5
    from analysis.simulate import story_words

    assert frame["word"][:n].tolist() == story_words()[0][:n] and 550 <= n <= 600
    assert (frame["sentence_initial"] == (frame["position"] == "1").astype(int).astype(str)).all()
    rt = pd.to_numeric(frame["rt"], errors="coerce")
    assert 0 < rt.isna().sum() < 0.05 * len(frame) and rt.min() >= 120
    ds = load(path, **EXAMPLE_OPTIONS)
    assert ds.n_subjects == 5 and ds.presented().n_presented == n
    # the planted effect of word length is there
    letters = np.array([sum(c.isalnum() for c in w) for w in ds.words])
    assert np.corrcoef(letters, ds.responses[:, 0, 0])[0, 1] > 0.5
    # the same seed writes the same file; the word-level kind holds the trial means
    assert write_example_table(tmp_path / "again.tsv").read_text() == path.read_text()
    means = write_example_table(tmp_path / "means.csv", kind="words")
    assert_same(ds, load(means, measures="rt", exclude="sentence_initial"))
    with pytest.raises(DataError, match=r"kind='sentences'"):
        write_example_table(tmp_path / "x.tsv", kind="sentences")
    with pytest.raises(DataError, match=r"x\.json: expected a \.tsv, \.csv or \.parquet"):
        write_example_table(tmp_path / "x.json")
    # the command line writes it and shows what is understood
    assert table_main(["--write-example", str(tmp_path / "cli.tsv")]) == 0
    assert table_main([str(tmp_path / "cli.tsv"), "--options",
                       "{exclude: sentence_initial}"]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "analysed:" in out and "<WordDataset" in out
    assert table_main([str(tmp_path / "cli.tsv"), "--options", "{word: wrd}"]) == 2
    assert "no column 'wrd'" in capsys.readouterr().err


# ------------------------------------------------------------------ the book page
PAGE = REPO / "book" / "own_data.md"


def _page_commands():
    text = PAGE.read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return text, [line for b in blocks for line in b.replace("\\\n", " ").splitlines()]


def test_book_page_opens_the_example_it_writes(tmp_path, capsys):
    text, commands = _page_commands()
    write = next(c for c in commands if "--write-example" in c)
    name = write.split("--write-example")[1].split()[0]
    path = write_example_table(tmp_path / name)
    blocks = re.findall(r"```text\n(.*?)```", text, flags=re.S)
    # the first lines shown are the file's
    head = next(b for b in blocks if b.startswith("participant"))
    assert path.read_text().splitlines()[:len(head.splitlines())] == head.splitlines()
    # the check command prints the summary shown on the page (but for the path)
    check = next(c for c in commands if "analysis.loaders.table " + name in c)
    check_options = parse_text(re.search(r"--options '([^']*)'", check).group(1))
    checked = load_word_table(path, **check_options)
    printed = capsys.readouterr().out.strip().splitlines()
    shown = next(b for b in blocks if b.startswith("Word table"))
    assert shown.strip().splitlines() == [line.replace(str(path), name) for line in printed]
    # the run command's options open the same data through the registry
    run = next(c for c in commands if "-p dataset table" in c and name in c)
    options = parse_text(re.search(r"-p dataset_options '([^']*)'", run).group(1))
    assert options == EXAMPLE_OPTIONS
    assert_same(checked, D.open_for_chapter("table", str(path), options), subjects=True)
    assert "- file: book/own_data" in (REPO / "_toc.yml").read_text()


# ------------------------------------------------------------------ critical-word designs
CRITICAL_HEADER = ["participant", "item", "critical_word", "position", "preceding", "rt"]
CRITICAL = [(1, "bench.", 7, "The old man sat on the"), (2, "book", 4, "She read the"),
            (3, "bark", 2, "Dogs")]


def critical_rows():
    """Two readers of three trials: one measured word each, the text before it in a column."""
    return [[f"P{p}", item, word, position, before, 300 + 10 * item + p]
            for p in (1, 2) for item, word, position, before in CRITICAL]


def test_preceding_text_column_is_read_as_context(tmp_path, capsys):
    path = write_text_table(tmp_path / "critical.tsv", CRITICAL_HEADER, critical_rows())
    ds = load_word_table(path, word="critical_word", measures="rt", sentence="item",
                         context_column="preceding")
    printed = capsys.readouterr().out.strip().splitlines()
    assert ds.words == ["bench.", "book", "bark"]
    st = ds.presented()
    assert st.words == ["The", "old", "man", "sat", "on", "the", "bench.", "She", "read", "the",
                        "book", "Dogs", "bark"]
    assert st.index.tolist() == [6, 10, 12]
    assert st.sentence.tolist() == [0] * 7 + [1] * 4 + [2] * 2
    assert ds.context == "sentence" and ds.metadata["word_in_sentence"].tolist() == [7, 4, 2]
    np.testing.assert_allclose(ds.responses[:, 0, 0], [311.5, 321.5, 331.5])
    assert "  preceding:    10 words from column 'preceding': context only (read by the " \
           "language model before the measured words, not analysed)" in printed
    assert "  analysed:     3 of 13 presented words (10 context only)" in printed
    assert ds.provenance["options"]["context_column"] == "preceding"
    assert ds.provenance["n_preceding_words"] == 10
    assert not any("warning" in line for line in printed)
    again = load(path, **ds.provenance["options"])  # the printed options reproduce it
    assert_same(ds, again, subjects=True)
    # the preceding text may itself be the sentence label
    same = load(path, word="critical_word", measures="rt", sentence="preceding",
                context_column="preceding")
    assert same.presented().words == st.words and same.presented().index.tolist() == [6, 10, 12]


def test_a_critical_word_table_without_preceding_text_warns(tmp_path):
    path = write_text_table(tmp_path / "critical.tsv", CRITICAL_HEADER, critical_rows())
    with pytest.warns(UserWarning, match=r"critical\.tsv: 3 of 3 sentences start at a position "
                                         r"after 1 with no words before them \(e\.g\. sentence "
                                         r"1, word 'bench\.' at position 7\).*"
                                         r"context_column=<column>"):
        ds = load(path, word="critical_word", measures="rt", sentence="item")
    assert ds.presented().words == ["bench.", "book", "bark"]  # each read with no context
    assert ds.provenance["n_sentences_starting_late"] == 3
    assert any(line.startswith("  warning:      3 of 3 sentences")
               for line in ds.provenance["understood"])
    # a blank preceding text is the same problem
    rows = [r[:4] + ["NA" if r[1] == 2 else r[4]] + r[5:] for r in critical_rows()]
    path = write_text_table(tmp_path / "blank.tsv", CRITICAL_HEADER, rows)
    with pytest.warns(UserWarning, match=r"1 of 3 sentences .*sentence 2, word 'book' at "
                                         r"position 4.*context_column is blank there"):
        load(path, word="critical_word", measures="rt", sentence="item",
             context_column="preceding")


def test_ordinary_tables_do_not_warn(tmp_path, example):
    import warnings

    _, trials, words = example
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        load(trials, **EXAMPLE_OPTIONS)  # sentences start at position 1
        # positions counted within the story continue from sentence to sentence
        rows = [[w, k + 1, 1 + (k >= 3), 100 + k] for k, w in
                enumerate(["The", "dog", "ran.", "It", "was", "fast."])]
        path = write_text_table(tmp_path / "story.tsv", ["word", "position", "sentence", "rt"],
                                rows)
        load(path, measures="rt")


def test_several_measured_words_of_one_sentence_with_preceding_text(tmp_path):
    header = ["item", "word", "position", "before", "rt"]
    rows = [[1, "old", 2, "The", 300], [1, "sat", 4, "The old man", 310],
            [2, "read", 2, "She", 320], [2, "book.", 4, "She", 330]]
    path = write_text_table(tmp_path / "regions.tsv", header, rows)
    ds = load(path, measures="rt", sentence="item", context_column="before")
    st = ds.presented()
    # 'man' sits between the two measured words of item 1; item 2 repeats its lead text
    assert st.words == ["The", "old", "man", "sat", "She", "read", "book."]
    assert st.index.tolist() == [1, 3, 5, 6]
    bad = [r if r[1] != "sat" else [1, "sat", 4, "A young man", 310] for r in rows]
    path = write_text_table(tmp_path / "bad.tsv", header, bad)
    with pytest.raises(DataError, match=r"bad\.tsv: column 'before' line 3 \(word 'sat'\) is "
                                        r"'A young man'; expected blank, the text before the "
                                        r"sentence's first measured word \('The'\) or the whole "
                                        r"text before this word, starting 'The old'"):
        load(path, measures="rt", sentence="item", context_column="before")


def test_preceding_text_errors_name_file_column_and_line(tmp_path):
    rows = critical_rows()
    rows[4][4] = "She read a"  # P2's text for item 2 differs from P1's
    path = write_text_table(tmp_path / "differ.tsv", CRITICAL_HEADER, rows)
    with pytest.raises(DataError, match=r"differ\.tsv: column 'preceding' line 6 \(word "
                                        r"'book'\) is 'She read a' but line 3 has 'She read "
                                        r"the' for the same word"):
        load(path, word="critical_word", measures="rt", sentence="item",
             context_column="preceding")
    path = write_text_table(tmp_path / "critical.tsv", CRITICAL_HEADER, critical_rows())
    with pytest.raises(DataError, match=r"context_column='preceding' needs a sentence column"):
        load(path, word="critical_word", measures="rt", sentence=False,
             context_column="preceding")
    with pytest.raises(DataError, match=r"no column 'preceeding' \(option "
                                        r"context_column='preceeding'\)"):
        load(path, word="critical_word", measures="rt", sentence="item",
             context_column="preceeding")
    with pytest.raises(DataError, match=r"column 'rt' is given as both measures and "
                                        r"context_column"):
        load(path, word="critical_word", measures="rt", sentence="item", context_column="rt")


def test_the_language_model_reads_each_critical_word_after_its_preceding_words(tmp_path):
    from analysis.features import build_contexts

    path = write_text_table(tmp_path / "critical.tsv", CRITICAL_HEADER, critical_rows())
    ds = load(path, word="critical_word", measures="rt", sentence="item",
              context_column="preceding")
    st = ds.presented()
    contexts = [build_contexts(st.words, st.sentence, ds.context)[i] for i in st.index]
    assert contexts == ["The old man sat on the bench.", "She read the book", "Dogs bark"]


@pytest.mark.slow  # the tiny model's tokenizer takes half a minute to build on 2 cores
def test_preceding_words_change_the_language_models_features(tmp_path, tiny_dir):
    from analysis import features as F

    path = write_text_table(tmp_path / "critical.tsv", CRITICAL_HEADER, critical_rows())
    options = dict(word="critical_word", measures="rt", sentence="item")
    with_context = load(path, context_column="preceding", **options)
    with pytest.warns(UserWarning):
        without = load(path, **options)
    lm = F.load_model(str(tiny_dir), device="cpu")
    a = F.extract_features(with_context, model=lm, cache_dir=False, progress=False)
    b = F.extract_features(without, model=lm, cache_dir=False, progress=False)
    assert a.hidden.shape == b.hidden.shape and a.hidden.shape[1] == 3
    # every critical word is read after its preceding words, so its states change
    for i in range(3):
        assert not np.allclose(a.hidden[-1, i], b.hidden[-1, i], atol=1e-4), i
    # and they equal reading the whole sentence as plain text up to the critical word
    whole = F.extract_features(with_context.presented().words, sentence=with_context.presented()
                               .sentence, context="sentence", model=lm, cache_dir=False,
                               progress=False)
    np.testing.assert_allclose(a.hidden[-1], whole.hidden[-1][[6, 10, 12]], atol=1e-4)


def test_book_page_critical_word_options_open_such_a_table(tmp_path, capsys):
    _, commands = _page_commands()
    lines = [c for c in commands if "critical.tsv" in c]
    assert len(lines) == 2 and "analysis.loaders.table" in lines[0] and "-p dataset table" \
        in lines[1]
    check = parse_text(re.search(r"--options '([^']*)'", lines[0]).group(1))
    run = parse_text(re.search(r"-p dataset_options '([^']*)'", lines[1]).group(1))
    assert check == run and run["context_column"] == "preceding"
    path = write_text_table(tmp_path / "critical.tsv", CRITICAL_HEADER, critical_rows()[:2])
    ds = load_word_table(path, **check)
    printed = capsys.readouterr().out
    assert ds.presented().words == "The old man sat on the bench. She read the book".split()
    assert "analysed:     2 of 11 presented words (9 context only)" in printed
    assert_same(ds, D.open_for_chapter("table", str(path), run), subjects=True)
