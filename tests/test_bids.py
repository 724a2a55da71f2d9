"""A BIDS MEG study through the `bids` dataset: subjects, sessions, stories, both event styles."""

import os
import shutil

import numpy as np
import pytest

from analysis._utils import DataError
from analysis.datasets import open_dataset
from analysis.loaders.bids import load_bids, parse_event_dict, read_word_events
from analysis.stats import noise_ceiling, spearman_brown
from bids_study import N_WINDOWS, write_bids_study

N_WORDS = 110
NOISE_SD = 1.5


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """3 subjects x 2 sessions x 2 stories; sub-03 never heard story b (written once)."""
    root = tmp_path_factory.mktemp("bids") / "study"
    truth = write_bids_study(root, n_words=N_WORDS, noise_sd=NOISE_SD)
    return root, truth


def _scale(ds):
    return np.array([1e-13 if t == "mag" else 1e-11 for t in ds.info.get_channel_types()])


def _load(root, tmp_path, **options):
    return load_bids(root, cache_dir=tmp_path / "cache", verbose=False, **options)


def test_study_loads_to_a_subject_axis_with_the_missing_story_named(study, tmp_path):
    root, truth = study
    ds = _load(root, tmp_path)
    assert ds.subject_responses.shape == (3, 2 * N_WORDS, 30, N_WINDOWS)
    assert ds.provenance["subjects"] == ["sub-01", "sub-02", "sub-03"]
    assert ds.provenance["stories"] == ["task-a", "task-b"]
    assert ds.words == truth["words"][0] + truth["words"][1]
    assert ds.groups["story"].tolist() == [0] * N_WORDS + [1] * N_WORDS
    # both event styles were read (a plain word column, MEG-MASC dictionaries)
    assert len(ds.provenance["words_from"]) == 2
    # the missing story is named and is NaN for that subject only
    assert ds.provenance["left_out"] == [{
        "recording": "sub-03", "story": "task-b",
        "reason": "has no recording of task-b; its words are missing values (NaN) for sub-03"}]
    assert np.isnan(ds.subject_responses[2, N_WORDS:]).all()
    assert np.isfinite(ds.subject_responses[:2]).all()
    assert any("sub-03 (task-b)" in line for line in ds.provenance["understood"])
    # each subject is its sessions' mean of the planted window values
    scale = _scale(ds)[None, :, None]
    for k, sub in enumerate(("01", "02", "03")):
        want = truth["signal"][0] + (truth["noise"][(sub, "1", "a")]
                                     + truth["noise"][(sub, "2", "a")]) / 2
        np.testing.assert_allclose(ds.subject_responses[k, :N_WORDS] / scale, want, atol=1e-4)
    # the mean over subjects: three subjects for story a, two for story b
    np.testing.assert_allclose(ds.responses / scale,
                               np.nanmean(ds.subject_responses, axis=0) / scale, atol=1e-4)
    # the recording's sensor geometry is carried
    assert ds.info["ch_names"] == truth["ch_names"]
    assert np.abs(np.array([ch["loc"][:3] for ch in ds.info["chs"]])).sum() > 0
    assert set(ds.info.get_channel_types()) == {"mag", "grad"}


def test_noise_ceiling_across_subjects_recovers_the_planted_reliability(study, tmp_path):
    """Signal shared by subjects plus independent noise: the split-half ceiling is known.

    Each subject's value is s + e with var(e) = NOISE_SD**2 / 2 (two sessions averaged).
    With three subjects the package's split puts one subject in one half and two in the
    other, so the half means correlate at var(s) / sqrt((var(s) + v)(var(s) + v / 2)), and
    the ceiling is that correlation's Spearman-Brown correction.
    """
    root, truth = study
    ds = _load(root, tmp_path)
    story_a = ds.groups["story"] == 0
    rel = noise_ceiling(ds.subject_responses[:, story_a], n_splits=20, seed=0)["reliability"]
    var_s = truth["signal"][0].var(axis=0)  # (n_channels, n_windows), as ``rel``
    v = NOISE_SD ** 2 / 2
    expected = spearman_brown(var_s / np.sqrt((var_s + v) * (var_s + v / 2)))
    assert abs(rel.mean() - expected.mean()) < 0.03
    # where the planted word-length response adds signal, the ceiling is higher
    assert np.corrcoef(rel.ravel(), expected.ravel())[0, 1] > 0.5
    # the null: the same recordings without the planted signal have a ceiling near 0
    noise = ds.subject_responses[:, story_a] / _scale(ds)[None, None, :, None] - truth["signal"][0]
    assert abs(noise_ceiling(noise, n_splits=20)["reliability"].mean()) < 0.05


def test_cache_serves_the_second_load_and_a_changed_file_is_read_again(study, tmp_path):
    root, _ = study
    first = _load(root, tmp_path, subject=["01", "02"], task="a")
    assert first.provenance["cache"]["recordings_from_cache"] == 0
    again = _load(root, tmp_path, subject=["01", "02"], task="a")
    assert again.provenance["cache"]["recordings_from_cache"] == 4
    np.testing.assert_array_equal(first.responses, again.responses)
    fif = next((root / "sub-01" / "ses-1" / "meg").glob("*task-a_meg.fif"))
    st = fif.stat()
    os.utime(fif, ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))
    third = _load(root, tmp_path, subject=["01", "02"], task="a")
    assert third.provenance["cache"]["recordings_from_cache"] == 3
    os.utime(fif, ns=(st.st_atime_ns, st.st_mtime_ns))
    # other windows are another key
    assert _load(root, tmp_path, subject="01", task="a", tmax=0.25).n_windows == 10


def test_reading_in_small_blocks_gives_the_same_windows(study, tmp_path):
    root, _ = study
    whole = load_bids(root, subject="02", cache_dir=False, verbose=False)
    blocks = load_bids(root, subject="02", block_s=0.7, cache_dir=False, verbose=False)
    np.testing.assert_array_equal(whole.responses, blocks.responses)


def test_a_recording_whose_words_disagree_is_named_and_left_out(study, tmp_path):
    root, truth = study
    copy = tmp_path / "study"
    shutil.copytree(root, copy)
    events = copy / "sub-01" / "ses-2" / "meg" / "sub-01_ses-2_task-b_events.tsv"
    lines = events.read_text().splitlines()
    fields = lines[5].split("\t")
    wrong = fields[-1]
    fields[-1] = "banana"  # the word column is the last one
    lines[5] = "\t".join(fields)
    events.write_text("\n".join(lines) + "\n")
    ds = _load(copy, tmp_path)
    left = [n for n in ds.provenance["left_out"] if n["recording"] == "sub-01 ses-2 task-b"]
    assert len(left) == 1
    assert f"word 4 is 'banana' where the other recordings of task-b have {wrong!r}" \
        in left[0]["reason"]
    assert "sub-01 ses-2 task-b" not in ds.provenance["recordings"]
    # sub-01's story b is then its first session alone, never a misaligned mean
    scale = _scale(ds)[None, :, None]
    np.testing.assert_allclose(ds.subject_responses[0, N_WORDS:] / scale,
                               truth["signal"][1] + truth["noise"][("01", "1", "b")], atol=1e-4)


def test_sessions_kept_apart_and_options_reproduce_the_dataset(study, tmp_path, capsys):
    root, _ = study
    ds = load_bids(root, cache_dir=tmp_path / "c", average_sessions=False)
    printed = capsys.readouterr().out
    assert "options:" in printed and "each subject-session its own row" in printed
    assert ds.n_subjects == 6 and ds.provenance["subjects"][:2] == ["sub-01 ses-1", "sub-01 ses-2"]
    again = load_bids(root, cache_dir=tmp_path / "c", verbose=False, **ds.provenance["options"])
    np.testing.assert_array_equal(again.subject_responses, ds.subject_responses)
    # through the registry: stories are the CV groups, and the subjects are there
    reg = open_dataset("bids", root, cache_dir=str(tmp_path / "c"), verbose=False)
    assert reg.n_subjects == 3 and reg.provenance["dataset_record"]["name"] == "bids"
    mean_only = load_bids(root, cache_dir=tmp_path / "c", verbose=False, keep_subjects=False)
    assert mean_only.subject_responses is None
    assert mean_only.provenance["options"]["keep_subjects"] is False
    np.testing.assert_array_equal(mean_only.responses, reg.responses)
    with pytest.raises(DataError, match=r"unknown option\(s\) \['subjects'\]"):
        load_bids(root, subjects=["01"])


def _events(tmp_path, rows, header="onset\tduration\ttrial_type"):
    path = tmp_path / "sub-01_task-x_events.tsv"
    path.write_text("\n".join([header] + rows) + "\n")
    return path


def test_dictionary_events_are_parsed_safely_and_bad_cells_named(tmp_path):
    good = _events(tmp_path, ["1.0\t0.2\t{'kind': 'word', 'word': 'the', 'pos': (1, 2)}",
                              "1.1\t0.1\t{'kind': 'phoneme', 'phoneme': 'dh'}",
                              "1.2\t0.1\tBAD_muscle",
                              "1.5\t0.2\t{'kind': 'word', 'word': \"don't\"}"])
    ev = read_word_events(good)
    assert ev.words == ["the", "don't"] and ev.onsets.tolist() == [1.0, 1.5]
    assert ev.select == {"kind": "word"} and ev.n_skipped == 2
    assert read_word_events(good, word_key="phoneme", select={"kind": "phoneme"}).words == ["dh"]
    attack = _events(tmp_path, ["1.0\t0.2\t{'word': __import__('os').getcwd()}"])
    with pytest.raises(DataError, match=r"_events\.tsv: line 2, column 'trial_type': .* is not "
                                        r"a dictionary of literals"):
        read_word_events(attack)
    with pytest.raises(DataError, match=r"line 3, column 'trial_type': .* is a set; expected a "
                                        r"dictionary"):
        read_word_events(_events(tmp_path, ["1.0\t0\t{'word': 'a'}", "2.0\t0\t{'a', 'b'}"]))
    with pytest.raises(DataError, match=r"line 2, column 'trial_type': no key 'word' in "
                                        r"\['kind', 'text'\]; expected the word there"):
        read_word_events(_events(tmp_path, ["1.0\t0\t{'kind': 'word', 'text': 'a'}"]))
    with pytest.raises(DataError, match=r"line 2, column 'onset' is 'n/a'"):
        read_word_events(_events(tmp_path, ["n/a\t0\t{'kind': 'word', 'word': 'a'}"]))
    with pytest.raises(DataError, match=r"line 2 has 2 tab-separated fields; expected 3"):
        read_word_events(_events(tmp_path, ["1.0\t{'word': 'a'}"]))
    with pytest.raises(DataError, match=r"f\.tsv: line 2, column .trial_type.: a cell of "
                                        r"10,012 characters"):
        parse_event_dict("{'word': '" + "a" * 10_000 + "'}", "f.tsv", 2, "trial_type")
    # a plain word column; select on another column
    plain = _events(tmp_path, ["1.0\t0\tword\tthe", "1.5\t0\tnoise\tbang", "2.0\t0\tword\tn/a"],
                    header="onset\tduration\ttrial_type\tword")
    assert read_word_events(plain).words == ["the", "bang"]
    assert read_word_events(plain, select={"trial_type": "word"}).words == ["the"]


def test_a_bad_channel_is_missing_for_that_recording_and_an_absent_subject_is_named(study,
                                                                                   tmp_path):
    root, truth = study
    copy = tmp_path / "study"
    shutil.copytree(root, copy)
    channels = copy / "sub-02" / "ses-1" / "meg" / "sub-02_ses-1_task-a_channels.tsv"
    lines = channels.read_text().splitlines()
    lines[1] = lines[1].replace("\tgood\t", "\tbad\t")  # the first channel
    channels.write_text("\n".join(lines) + "\n")
    ds = _load(copy, tmp_path, subject=["02", "04"], task="a")
    scale = _scale(ds)[None, :, None]
    got = ds.subject_responses[0] / scale
    # the bad channel of session 1 leaves session 2 alone there; the others are the mean
    np.testing.assert_allclose(got[:, 0], (truth["signal"][0] + truth["noise"][("02", "2", "a")])
                               [:, 0], atol=1e-4)
    np.testing.assert_allclose(got[:, 1:], (truth["signal"][0] + (
        truth["noise"][("02", "1", "a")] + truth["noise"][("02", "2", "a")]) / 2)[:, 1:], atol=1e-4)
    assert [n["recording"] for n in ds.provenance["left_out"]] == ["subject 04"]


def test_encoding_with_two_stories_as_cv_groups():
    """Leave-one-story-out with two stories: each training set is one story, whose inner
    folds cannot be grouped by story (they are contiguous chunks of it instead)."""
    from analysis.encoding import fit_encoding

    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 5))
    y = (x @ rng.standard_normal((5, 6)) + rng.standard_normal((120, 6))).reshape(120, 2, 3)
    res = fit_encoding(x, y, groups=np.repeat([0, 1], 60), n_folds=10, n_inner=3)
    assert np.all(res.r > 0.5)


def test_contiguous_folds_within_a_single_story():
    """A prefix of a study inside its first story (the fine-tuning chapter's words)."""
    from analysis.encoding import contiguous_folds

    folds = contiguous_folds(150, 10, np.zeros(150, int))
    assert [f.tolist() for f in folds] == [f.tolist() for f in np.array_split(np.arange(150), 10)]


def test_sentences_from_an_event_key(study, tmp_path):
    root, _ = study
    ds = _load(root, tmp_path, subject="02", sentence_key="story")  # dictionaries only
    assert ds.sentence.tolist() == [0] * N_WORDS + [1] * N_WORDS
    assert any("sentences:    2 from the events' 'story'" in line
               for line in ds.provenance["understood"])
    path = _events(tmp_path, ["1.0\t0\t{'kind': 'word', 'word': 'a', 'seq': 3}",
                              "1.5\t0\t{'kind': 'word', 'word': 'b'}"])
    assert read_word_events(path, sentence_key="kind").sentences == ["word", "word"]
    with pytest.raises(DataError, match=r"line 3, column 'trial_type': no key 'seq' "
                                        r"\(sentence_key\)"):
        read_word_events(path, sentence_key="seq")
    with pytest.raises(DataError, match=r"sentence_key names column\(s\) \['seq'\]"):
        _load(root, tmp_path, subject="01", sentence_key="seq")
