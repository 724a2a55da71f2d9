"""Tests of the single-trial Frank loaders and the Natural Stories loader.

Small files in the exact published layouts are written here (the Aurnhammer & Frank 2019
single-trial files, the Natural Stories release); the tests on the real files under
../shared/data are skipped when those are absent.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.data import DataError, load_dataset_file
from analysis.loaders import (join_all_measures, load_frank2015, load_frank2015_eyetracking,
                              load_frank2015_trials, load_naturalstories,
                              naturalstories_gpt3_surprisal, naturalstories_sentences)
from layouts import FRANK_COLS, write_frank

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL_TRIALS = SHARED / "frank2015" / "single_trials"
REAL_MEASURES = SHARED / "frank2015" / "all_measures.csv"
REAL_NS = SHARED / "naturalstories"

# ------------------------------------------------------------------ single-trial layout
# sent_nr with a gap (as in the release: 1..246 with 41 numbers missing)
SENTENCES = {3: "Anne lost control and laughed.", 9: "He heaved his bag, then left.",
             4: "We know they'll come soon."}
# presented order: sent_nr 3, 4, 9 -> sent_id 1, 2, 3
PRESENTED = ("Anne lost control and laughed. We know they'll come soon. "
             "He heaved his bag, then left.").split()
KEPT = ["lost", "control", "and", "know", "come", "heaved", "his", "then"]


def _reject_word(word, pos, n):
    return pos == 1 or pos == n or "," in word or "'" in word


def n400(subj, sent, pos):
    return 10.0 * sent + pos + subj / 10


def trial_rows(subjects=(1, 2, 3), measure="N400"):
    """One row per participant and word, in a shuffled presentation order."""
    rows = []
    for subj in subjects:
        order = [9, 3, 4] if subj % 2 else [4, 9, 3]
        for sent in order:
            words = SENTENCES[sent].split()
            for pos, word in enumerate(words, start=1):
                row = {"subj_nr": subj, "sent_nr": sent, "word_pos": pos,
                       "item": 100 * sent + pos}
                if measure == "N400":
                    row.update(baseline=-float(subj), N400=n400(subj, sent, pos),
                               reject_data="false")
                else:
                    row.update(RTfirstpass=100 * subj + 10 * pos + sent, prevfix="true",
                               reject_data="false")
                punct = any(c in word for c in ".,'")
                row.update(word=word, log_freq="" if punct else -5.0 - pos, nr_char=len(word),
                           reject_word=str(_reject_word(word, pos, len(words))).lower())
                rows.append(row)
    return rows


def _set(rows, subj, sent, pos, **values):
    for row in rows:
        if (row["subj_nr"], row["sent_nr"], row["word_pos"]) == (subj, sent, pos):
            row.update(values)
            return rows
    raise KeyError((subj, sent, pos))


SUBJECTS_CSV = [("SPR", 1, 0.8, "true"),  # another experiment's participant 1: not ours
                ("EEG", 1, 0.9, "false"), ("EEG", 2, 0.85, "false"), ("EEG", 3, 0.5, "true"),
                ("ET", 1, 0.9, "false"), ("ET", 2, 0.9, "false"), ("ET", 3, 0.7, "true"),
                ("ET", 4, 0.95, "false")]


def write_trials(root, rows=None, name="data_EEG.csv", subjects=SUBJECTS_CSV, sep="\t"):
    """The frank2015/single_trials folder: a data file and subjects.csv (CRLF, as published)."""
    folder = Path(root) / "frank2015" / "single_trials"
    folder.mkdir(parents=True, exist_ok=True)
    rows = trial_rows() if rows is None else rows
    pd.DataFrame(rows).to_csv(folder / name, sep=sep, index=False)
    if subjects is not None:
        lines = ["experiment\tsubj_nr\tcorrect\treject"] + \
                [f"{e}\t{s}\t{c}\t{r}" for e, s, c, r in subjects]
        (folder / "subjects.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return folder


@pytest.fixture
def eeg_folder(tmp_path):
    rows = _set(trial_rows(), 2, 3, 2, reject_data="true", N400="", baseline="")  # "lost"
    return write_trials(tmp_path, rows)


def test_trials_values_land_in_place(eeg_folder):
    ds = load_frank2015_trials(eeg_folder.parent)  # the frank2015 folder
    assert ds.words == KEPT
    assert ds.presented().words == PRESENTED
    assert ds.presented().index.tolist() == [1, 2, 3, 6, 8, 11, 12, 14]
    assert ds.sentence.tolist() == [0, 0, 0, 1, 1, 2, 2, 2]
    assert ds.ch_names == ["N400"] and ds.times.tolist() == [0.0] and ds.window_ms == 200
    assert ds.context == "sentence" and ds.groups == {} and ds.info is None
    # participant 3 is rejected in subjects.csv: means over participants 1 and 2
    assert ds.provenance["subjects"] == [1, 2] and ds.provenance["subjects_dropped"] == [3]
    assert ds.subject_responses.shape == (2, 8, 1, 1)
    np.testing.assert_allclose(ds.subject_responses[0, 5, 0, 0], n400(1, 9, 2), rtol=1e-6)
    np.testing.assert_allclose(ds.responses[5, 0, 0], (n400(1, 9, 2) + n400(2, 9, 2)) / 2,
                               rtol=1e-6)
    # the artefact trial of participant 2 on "lost" is missing, not zero
    assert np.isnan(ds.subject_responses[1, 0, 0, 0])
    np.testing.assert_allclose(ds.responses[0, 0, 0], n400(1, 3, 2), rtol=1e-6)
    meta = ds.metadata
    assert meta["n_valid_trials"].tolist() == [1] + [2] * 7
    assert meta["n_trials"].tolist() == [2] * 8
    np.testing.assert_allclose(meta["baseline_mean"], [-1.0] + [-1.5] * 7)
    assert meta["sent_nr"].tolist() == [3, 3, 3, 4, 4, 9, 9, 9]
    assert meta["sent_id"].tolist() == [1, 1, 1, 2, 2, 3, 3, 3]  # rank of sent_nr
    assert meta["word_pos"].tolist() == [2, 3, 4, 2, 4, 2, 3, 5]
    assert (meta["context_length"] == meta["word_pos"] - 1).all()
    assert not meta["reject_word"].any()
    np.testing.assert_allclose(meta["log_freq"], [-7.0, -8.0, -9.0, -7.0, -9.0, -7.0, -8.0, -10.0])
    assert meta["nr_char"].tolist() == [len(w) for w in KEPT]
    assert ds.provenance["n_presented"] == 16 and ds.provenance["n_trials_missing"] == 1
    assert ds.provenance["component_window_ms"] == [300, 500]


def test_trials_exclusions_and_paths(eeg_folder, monkeypatch):
    full = load_frank2015_trials(eeg_folder, exclude=None)  # the single_trials folder
    assert full.words == PRESENTED and full.n_words == 16
    assert full.metadata["reject_word"].sum() == 8  # initial, final, comma, clitic
    everyone = load_frank2015_trials(eeg_folder / "data_EEG.csv", drop_rejected_subjects=False)
    assert everyone.provenance["subjects"] == [1, 2, 3] and everyone.n_subjects == 3
    np.testing.assert_allclose(everyone.responses[1, 0, 0],
                               np.mean([n400(s, 3, 3) for s in (1, 2, 3)]), rtol=1e-6)
    monkeypatch.setenv("FRANK2015_TRIALS_PATH", str(eeg_folder / "data_EEG.csv"))
    assert load_frank2015_trials().n_words == 8
    with pytest.raises(DataError, match=r"exclude='all'; expected None or 'published'"):
        load_frank2015_trials(eeg_folder, exclude="all")
    with pytest.raises(DataError, match=r"nope: file not found.*AurnhammerFrank"):
        load_frank2015_trials(eeg_folder / "nope")
    with pytest.raises(DataError, match=r"frank2015: no 'data_ET.csv' in this folder or its "
                                        r"'single_trials' folder"):
        load_frank2015_eyetracking(eeg_folder.parent)


def test_trials_subset_keeps_context_and_saves(eeg_folder, tmp_path):
    ds = load_frank2015_trials(eeg_folder)
    sub = ds.subset(np.arange(ds.n_words) >= 3)
    assert sub.presented().words == PRESENTED and sub.subject_responses.shape == (2, 5, 1, 1)
    back = load_dataset_file(ds.save(tmp_path / "trials.npz"))
    np.testing.assert_array_equal(back.subject_responses, ds.subject_responses)
    assert back.presented().words == PRESENTED
    assert back.metadata["sent_id"].tolist() == [1, 1, 1, 2, 2, 3, 3, 3]


def test_trials_word_without_valid_trial_is_an_error(tmp_path):
    rows = trial_rows()
    for subj in (1, 2, 3):
        _set(rows, subj, 4, 4, reject_data="true")  # "come": every trial an artefact
    folder = write_trials(tmp_path, rows)
    with pytest.raises(DataError, match=r"word 'come' \(sent_nr 4, word_pos 4\) has no valid N400"):
        load_frank2015_trials(folder)
    # a sentence-initial word without valid trials does not matter when it is excluded
    rows = trial_rows()
    for subj in (1, 2, 3):
        _set(rows, subj, 4, 1, reject_data="true", N400="")
    assert load_frank2015_trials(write_trials(tmp_path / "b", rows)).n_words == 8


def test_trials_bad_inputs(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "N400"} for r in trial_rows()]
    with pytest.raises(DataError, match=r"data_EEG\.csv: missing columns \['N400'\]"):
        load_frank2015_trials(write_trials(tmp_path / "a", rows))
    rows = _set(trial_rows(), 2, 9, 3, N400="abc")
    with pytest.raises(DataError, match=r"data_EEG\.csv: column 'N400' row \d+ \(line \d+: "
                                        r"subj_nr 2, sent_nr 9, word_pos 3, word 'his'\) is 'abc'; "
                                        r"expected a number"):
        load_frank2015_trials(write_trials(tmp_path / "b", rows))
    rows = _set(trial_rows(), 1, 3, 2, reject_data="maybe")
    with pytest.raises(DataError, match=r"column 'reject_data' row \d+ .*is 'maybe'; expected true or false"):
        load_frank2015_trials(write_trials(tmp_path / "c", rows))
    rows = _set(trial_rows(), 3, 4, 2, word="knows")
    with pytest.raises(DataError, match=r"column 'word' row \d+ \(line \d+: subj_nr 3, sent_nr 4, "
                                        r"word_pos 2, word 'knows'\) is 'knows' but an earlier "
                                        r"participant's row for the same word has 'know'"):
        load_frank2015_trials(write_trials(tmp_path / "d", rows))
    rows = trial_rows()
    rows.append(dict(rows[0]))
    with pytest.raises(DataError, match=r"repeats an earlier trial"):
        load_frank2015_trials(write_trials(tmp_path / "e", rows))
    rows = [r for r in trial_rows() if (r["sent_nr"], r["word_pos"]) != (9, 3)]
    with pytest.raises(DataError, match=r"sentence sent_nr 9 has word positions \[1, 2, 4, 5, 6\]"):
        load_frank2015_trials(write_trials(tmp_path / "f", rows))
    with pytest.raises(DataError, match=r"missing columns .*one column: expected tab-separated"):
        load_frank2015_trials(write_trials(tmp_path / "g", sep=","))
    subjects = [s for s in SUBJECTS_CSV if (s[0], s[1]) != ("EEG", 2)]
    with pytest.raises(DataError, match=r"subjects\.csv: participant\(s\) \[2\] of the EEG data "
                                        r"are not listed for experiment 'EEG'"):
        load_frank2015_trials(write_trials(tmp_path / "h", subjects=subjects))
    folder = write_trials(tmp_path / "i", subjects=None)
    with pytest.raises(DataError, match=r"subjects\.csv: file not found"):
        load_frank2015_trials(folder)
    assert load_frank2015_trials(folder, drop_rejected_subjects=False).n_subjects == 3


def measures_rows(values):
    """all_measures.csv rows (layouts.FRANK_COLS) for SENTENCES, sent_id = rank of sent_nr."""
    rows = []
    for sent_id, sent in enumerate(sorted(SENTENCES), start=1):
        text = SENTENCES[sent]
        toks = text.split()
        for pos in range(1, len(toks)):  # no sentence-initial rows
            erp = [0.0, 0.0, values(sent, pos + 1), 0.0, 0.0, 0.0]
            rows.append([" ".join(toks[:pos]), toks[pos], text, pos, sent_id, 0.5] + erp + [""])
    return rows


def test_join_all_measures_reproduces_the_n400(eeg_folder, tmp_path):
    trials = load_frank2015_trials(eeg_folder, exclude=None)

    def mean_n400(sent, pos):
        subjects = (1,) if (sent, pos) == (3, 2) else (1, 2)
        return np.mean([n400(s, sent, pos) for s in subjects])

    measures = load_frank2015(write_frank(tmp_path / "all_measures.csv", measures_rows(mean_n400)))
    join = join_all_measures(trials, measures)
    assert (join == -1).sum() == 3  # the three sentence-initial words
    assert [trials.words[i] for i in np.flatnonzero(join < 0)] == ["Anne", "We", "He"]
    got = measures.responses[join[join >= 0], FRANK_COLS.index("N400") - 6, 0]
    np.testing.assert_allclose(trials.responses[join >= 0, 0, 0], got, rtol=1e-6)
    # the data README's rule (sent_nr = sent_id) would join nothing here: 3, 4, 9 vs 1, 2, 3
    bad = measures_rows(mean_n400)
    bad[4][1] = "knows"
    bad[4][2] = bad[4][2].replace("know ", "knows ")
    with pytest.raises(DataError, match=r"row 6 \(sent_id 2, context_length 1\) is 'know' but the "
                                        r"joined row \d+ of .* is 'knows'"):
        join_all_measures(trials, load_frank2015(write_frank(tmp_path / "b.csv", bad)))


# --------------------------------------------------------------------------- eye tracking

def et_rows():
    rows = trial_rows(subjects=(1, 2, 3, 4), measure="ET")
    rows = [r for r in rows if not (r["subj_nr"] == 4 and r["sent_nr"] == 9)]  # unread sentence
    for subj in (1, 2, 4):
        _set(rows, subj, 4, 4, RTfirstpass=0, reject_data="true")  # "come": never fixated
    _set(rows, 2, 3, 3, RTfirstpass=0, reject_data="true")  # "control" skipped by 2
    _set(rows, 1, 9, 3, RTfirstpass=4000, reject_data="true")  # "his": too long
    return rows


def test_eyetracking_values_and_missing(tmp_path):
    folder = write_trials(tmp_path, et_rows(), name="data_ET.csv")
    ds = load_frank2015_eyetracking(folder)
    assert ds.provenance["subjects"] == [1, 2, 4] and ds.provenance["subjects_dropped"] == [3]
    assert ds.ch_names == ["RTfirstpass"] and ds.provenance["unit"] == "ms"
    # "come" has no fixation by a kept participant: dropped from the rows, kept as context
    assert ds.words == [w for w in KEPT if w != "come"]
    assert "come" in ds.presented().words and ds.presented().n_presented == 16
    assert ds.provenance["n_dropped_no_valid_trial"] == 1
    assert ds.provenance["dropped_no_valid_trial"] == [[4, 4, "come"]]
    sub = ds.subject_responses[:, :, 0, 0]
    i_control, i_his, i_heaved = ds.words.index("control"), ds.words.index("his"), ds.words.index("heaved")
    assert np.isnan(sub[1, i_control]) and np.isnan(sub[0, i_his])
    assert np.isnan(sub[2, i_heaved])  # participant 4 has no row for sentence 9
    assert sub[2, ds.words.index("lost")] == 100 * 4 + 20 + 3
    np.testing.assert_allclose(ds.responses[i_control, 0, 0], np.mean([100 + 33, 400 + 33]))
    np.testing.assert_allclose(ds.responses[i_heaved, 0, 0], np.mean([100 + 29, 200 + 29]))
    assert ds.metadata["n_trials"][i_heaved] == 2 and ds.metadata["n_valid_trials"][i_his] == 1
    assert "baseline_mean" not in ds.metadata.columns
    everyone = load_frank2015_eyetracking(folder, drop_rejected_subjects=False)
    assert everyone.n_subjects == 4 and "come" in everyone.words  # participant 3 fixated it


# --------------------------------------------------------------------------- Natural Stories

STORY_WORDS = {
    1: ["Mr.", "Smith", "came", "home.", "He", "said", "'Stop!'", "then", "ran;'", "Who",
        "knew?", "Nobody", "cared"],
    2: ["The", "dog", "barked.", "it", "was", "late."],
}
# "Mr." never ends a sentence; "'Stop!'" is followed by a lower-case word; a new story
# starts a sentence even after a word without final punctuation ("cared")
EXPECTED_SENTENCE = [0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 4, 4, 4, 4]
EXPECTED_WITHIN = [1, 2, 3, 4, 1, 2, 3, 4, 5, 1, 2, 1, 2, 1, 2, 3, 4, 5, 6]


def rt(item, zone):
    return 300.0 + 10 * item + zone


def gpt3_tokens(words):
    """Tokens of one story: (token, logprob); some words split in two, punctuation apart."""
    out = []
    for k, word in enumerate(words):
        lead = "" if k == 0 else " "
        if word == "Smith":
            out += [(" Sm", -1.0), ("ith", -2.0)]
        elif word == "home.":
            out += [(" home", -3.0), (".", -0.5)]
        else:
            out.append((lead + word, None if k == 0 else -(k + 1) / 4))
    return out


def expected_bits(word, k):
    if k == 0:
        return math.nan
    return {"Smith": 3.0, "home.": 3.5}.get(word, (k + 1) / 4) / math.log(2)


def write_ns(root, wordinfo_edit=None, gpt3=True, seed=0):
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tok = [(w, z, item) for item, words in STORY_WORDS.items() for z, w in enumerate(words, start=1)]
    lines = ["word\tzone\titem"] + [f"{w}\t{z}\t{i}" for w, z, i in tok]
    (root / "all_stories.tok").write_text("\n".join(lines) + "\n")
    info = [{"word": w, "zone": z, "item": i, "nItem": 80 + z, "meanItemRT": rt(i, z),
             "sdItemRT": 100.0 + z, "gmeanItemRT": rt(i, z) - 20, "gsdItemRT": 1.4}
            for w, z, i in tok]
    info = [info[j] for j in np.random.default_rng(seed).permutation(len(info))]  # not in story order
    if wordinfo_edit is not None:
        info = wordinfo_edit(info)
    pd.DataFrame(info).to_csv(root / "processed_wordinfo.tsv", sep="\t", index=False)
    if gpt3:
        rows = []
        for item, words in STORY_WORDS.items():
            offset = 0
            for token, lp in gpt3_tokens(words):
                if token == " dog":
                    token = " dug"  # a same-length spelling difference (peeked/peaked)
                rows.append({"token": token, "logprob": "" if lp is None else lp,
                             "offset": offset, "model": "davinci:2020-05-03", "time": 1614358345,
                             "id": f"cmpl-{item}", "story": item - 1})
                offset += len(token)
        pd.DataFrame(rows).to_csv(root / "all_stories_gpt3.csv", index=False)
    return root


def test_naturalstories_sentence_rule():
    words = STORY_WORDS[1] + STORY_WORDS[2]
    story = [0] * len(STORY_WORDS[1]) + [1] * len(STORY_WORDS[2])
    sentence, within = naturalstories_sentences(words, story)
    assert sentence.tolist() == EXPECTED_SENTENCE and within.tolist() == EXPECTED_WITHIN
    # without story labels the rule runs over one text: "cared The" stays one sentence
    assert naturalstories_sentences(words)[0].tolist() == EXPECTED_SENTENCE[:13] + [3] * 6
    assert naturalstories_sentences(["Go.", "'the", "end.'", "Then", "Mr.", "X", "sat!'"])[0].tolist() \
        == [0, 0, 0, 1, 1, 1, 1]


def test_naturalstories_values_land_in_place(tmp_path):
    root = write_ns(tmp_path / "ns")
    ds = load_naturalstories(root)
    words = STORY_WORDS[1] + STORY_WORDS[2]
    assert ds.words == words
    assert ds.sentence.tolist() == EXPECTED_SENTENCE
    assert ds.groups["story"].tolist() == [0] * 13 + [1] * 6
    assert ds.presented().story.tolist() == [0] * 13 + [1] * 6
    assert ds.context == "story" and ds.ch_names == ["RT"] and ds.times.tolist() == [0.0]
    meta = ds.metadata
    assert meta["item"].tolist() == [1] * 13 + [2] * 6
    assert meta["zone"].tolist() == list(range(1, 14)) + list(range(1, 7))
    np.testing.assert_allclose(ds.responses[:, 0, 0], [rt(i, z) for i, z in zip(meta["item"], meta["zone"])])
    np.testing.assert_allclose(meta["nItem"], 80 + meta["zone"])
    np.testing.assert_allclose(meta["sdItemRT"], 100 + meta["zone"])
    assert meta["word_within_sentence"].tolist() == EXPECTED_WITHIN
    expected = [expected_bits(w, k) for ws in STORY_WORDS.values() for k, w in enumerate(ws)]
    np.testing.assert_allclose(meta["gpt3_surprisal_bits"], expected)
    assert np.isnan(meta["gpt3_surprisal_bits"]).sum() == 2  # each story's first word
    assert ds.provenance["gpt3_tokens_differing_from_text"] == [
        {"story": 1, "line": 18, "token": " dug", "text": " dog"}]
    assert ds.provenance["licence"] == "CC BY-NC-SA 4.0"
    np.testing.assert_allclose(naturalstories_gpt3_surprisal(root), expected)
    sub = ds.subset(meta["word_within_sentence"].to_numpy() != 1)
    np.testing.assert_allclose(naturalstories_gpt3_surprisal(dataset=sub),
                               np.array(expected)[np.array(EXPECTED_WITHIN) != 1])
    first = ds.first_sentences(6)
    np.testing.assert_allclose(naturalstories_gpt3_surprisal(root, first), expected[:4])


def test_naturalstories_without_gpt3_and_missing_rt(tmp_path):
    def blank_rt(info):
        for row in info:
            if (row["item"], row["zone"]) == (2, 4):
                row["meanItemRT"] = "NA"
        return info

    root = write_ns(tmp_path / "ns", wordinfo_edit=blank_rt, gpt3=False)
    ds = load_naturalstories(root)
    assert ds.n_words == 18 and "it" not in ds.words and "it" in ds.presented().words
    assert ds.provenance["n_dropped_no_rt"] == 1 and ds.provenance["dropped_no_rt"] == [[2, 4, "it"]]
    assert np.isnan(ds.metadata["gpt3_surprisal_bits"]).all() and ds.provenance["gpt3_file"] is None
    with pytest.raises(DataError, match=r"all_stories_gpt3\.csv: file not found"):
        naturalstories_gpt3_surprisal(root)


def test_naturalstories_bad_inputs(tmp_path, monkeypatch):
    def drop_column(info):
        return [{k: v for k, v in r.items() if k != "meanItemRT"} for r in info]

    with pytest.raises(DataError, match=r"processed_wordinfo\.tsv: missing columns \['meanItemRT'\]"):
        load_naturalstories(write_ns(tmp_path / "a", drop_column))

    def rename(info):
        for row in info:
            if (row["item"], row["zone"]) == (1, 6):
                row["word"] = "shouted"
        return info

    with pytest.raises(DataError, match=r"processed_wordinfo\.tsv: row \d+ \(line \d+, item 1, zone 6\) "
                                        r"has word 'shouted' but all_stories\.tok line 7 has 'said'"):
        load_naturalstories(write_ns(tmp_path / "b", rename))

    def slow(info):
        for row in info:
            if (row["item"], row["zone"]) == (2, 2):
                row["meanItemRT"] = "fast"
        return info

    with pytest.raises(DataError, match=r"column 'meanItemRT' row \d+ \(line \d+, word 'dog'\) is "
                                        r"'fast'; expected a number"):
        load_naturalstories(write_ns(tmp_path / "c", slow))

    def lose_row(info):
        return [r for r in info if (r["item"], r["zone"]) != (1, 2)]

    with pytest.raises(DataError, match=r"no row for item 1 zone 2 \(word 'Smith', line 3 of "
                                        r"all_stories\.tok\)"):
        load_naturalstories(write_ns(tmp_path / "d", lose_row))

    root = write_ns(tmp_path / "e")
    table = pd.read_csv(root / "all_stories_gpt3.csv", dtype=str, keep_default_na=False)
    table.loc[3, "offset"] = "99"
    table.to_csv(root / "all_stories_gpt3.csv", index=False)
    with pytest.raises(DataError, match=r"all_stories_gpt3\.csv: row 3 \(line 5, story 0, token "
                                        r"' came'\) has offset 99; expected 9"):
        load_naturalstories(root)

    root = write_ns(tmp_path / "f")
    (root / "all_stories.tok").write_text("word,zone,item\nIf,1,1\n")
    with pytest.raises(DataError, match=r"all_stories\.tok: missing columns \['word', 'zone', "
                                        r"'item'\].*one column: expected tab-separated"):
        load_naturalstories(root)
    monkeypatch.setenv("NATURALSTORIES_PATH", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"nowhere: folder not found.*languageMIT/naturalstories"):
        load_naturalstories()


def test_registry_opens_the_new_sources(tmp_path):
    from analysis import datasets as D

    write_trials(tmp_path, trial_rows())
    write_trials(tmp_path, et_rows(), name="data_ET.csv")
    trials = D.open_dataset("frank2015_trials", tmp_path / "frank2015")
    assert trials.n_words == 8 and D.cv_groups(trials)[0] == "sentence"
    assert np.asarray(trials.ch_names)[D.channels_of_interest(trials)].tolist() == ["N400"]
    et = D.open_dataset("frank2015_et", tmp_path / "frank2015" / "single_trials")
    assert et.n_subjects == 3
    ns = D.open_dataset("naturalstories", write_ns(tmp_path / "ns"))
    assert D.cv_groups(ns)[0] == "story" and ns.context == "story"
    for name, env in (("frank2015_trials", "FRANK2015_TRIALS_PATH"), ("frank2015_et", "FRANK2015_ET_PATH"),
                      ("naturalstories", "NATURALSTORIES_PATH")):
        spec = D.dataset_spec(name)
        assert spec.env == env and spec.window is None and spec.reference


# --------------------------------------------------------------------------- real files

@pytest.mark.skipif(not (REAL_TRIALS / "data_EEG.csv").is_file() or not REAL_MEASURES.is_file(),
                    reason="Frank single-trial EEG data not available")
def test_real_eeg_trials_reproduce_all_measures():
    ds = load_frank2015_trials(REAL_TRIALS)
    assert ds.n_words == 1487 and ds.presented().n_presented == 1931 and ds.n_sentences == 205
    assert ds.n_subjects == 24 and ds.provenance["subjects_dropped"] == []
    assert ds.metadata["n_valid_trials"].min() >= 1
    full = load_frank2015_trials(REAL_TRIALS, exclude=None)
    assert full.n_words == 1931 and (full.metadata["word_pos"] == 1).sum() == 205
    # all_measures.csv N400 = artefact-free participant mean, joined by the rank of sent_nr
    measures = load_frank2015(REAL_MEASURES)
    join = join_all_measures(full, measures)
    assert (join >= 0).sum() == 1726 and (full.metadata["word_pos"][join < 0] == 1).all()
    ours = full.responses[join >= 0, 0, 0].astype(float)
    theirs = measures.responses[join[join >= 0], measures.ch_names.index("N400"), 0].astype(float)
    assert np.corrcoef(ours, theirs)[0, 1] > 0.999999
    assert np.abs(ours - theirs).mean() < 2e-5 and np.abs(ours - theirs).max() < 1e-4
    # the data README's join (sent_nr = sent_id) is wrong from sentence 153 on
    naive = full.metadata["sent_nr"] == full.metadata["sent_id"]
    assert naive.sum() < full.n_words and full.metadata["sent_nr"].max() == 246
    # the published rows are the 1,487 words of de Varda et al.'s exclusion
    kept = join_all_measures(ds, load_frank2015(REAL_MEASURES, exclude="published"))
    assert (kept >= 0).all()


@pytest.mark.skipif(not (REAL_TRIALS / "data_ET.csv").is_file(),
                    reason="Frank single-trial eye-tracking data not available")
def test_real_eyetracking_counts():
    ds = load_frank2015_eyetracking(REAL_TRIALS)
    assert ds.provenance["subjects_dropped"] == [6, 22, 24, 26, 27, 34, 35, 36]
    assert ds.n_subjects == 35 and ds.presented().n_presented == 1931
    assert ds.n_words + ds.provenance["n_dropped_no_valid_trial"] == 1487
    assert np.nanmin(ds.subject_responses) > 0
    everyone = load_frank2015_eyetracking(REAL_TRIALS, drop_rejected_subjects=False)
    assert everyone.n_subjects == 43


@pytest.mark.skipif(not (REAL_NS / "processed_wordinfo.tsv").is_file(),
                    reason="Natural Stories data not available")
def test_real_naturalstories_counts_and_gpt3():
    ds = load_naturalstories(REAL_NS)
    assert ds.n_words == 10256 and ds.n_sentences == 481
    assert len(np.unique(ds.groups["story"])) == 10
    meta = ds.metadata
    assert (meta["word_within_sentence"] == 1).sum() == 481
    assert (meta.groupby("item")["word_within_sentence"].first() == 1).all()
    assert int(meta["nItem"].median()) == 84
    gpt3 = meta["gpt3_surprisal_bits"].to_numpy()
    assert np.isnan(gpt3).sum() == 10
    # Brain-Score's Futrell2018 rows: sentence-initial words left out
    keep = (meta["word_within_sentence"] != 1).to_numpy() & np.isfinite(gpt3)
    assert keep.sum() == 9775
    r = np.corrcoef(gpt3[keep], ds.responses[keep, 0, 0])[0, 1]
    assert round(r, 3) == 0.208
    assert [d["text"] for d in ds.provenance["gpt3_tokens_differing_from_text"]] == [" peak"]
