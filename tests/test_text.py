"""Unit tests of analysis.text: sentences, positions, word keys, the authors' annotations."""

import numpy as np
import pytest

from analysis._utils import DataError
from analysis.text import normalise_word, read_annotations, segment_sentences, sentence_positions


def _split(text):
    return segment_sentences(text.split()).tolist()


def test_sentences_end_at_full_stop_exclamation_and_question_mark():
    assert _split("The cat sat down. Then the dog barked loudly! Did you hear it now?") == \
        [0] * 4 + [1] * 5 + [2] * 5


def test_a_sentence_needs_more_than_three_words():
    # "Yes it is." has 3 words: the full stop does not end it
    assert _split("Yes it is. The cat sat down. Then") == [0] * 7 + [1]
    assert _split("Oh no! Run!") == [0, 0, 0]


def test_abbreviations_and_initials_do_not_end_a_sentence():
    assert _split("Then Mr. Smith met Dr. Jones at St. Paul. They left") == [0] * 9 + [1, 1]
    assert _split("The book by J. K. Rowling sold well. It") == [0] * 8 + [1]
    assert _split("They brought fruit, bread, etc. and then left. Next") == [0] * 8 + [1]


def test_closing_quotes_and_brackets_still_end_a_sentence():
    words = ['"I', "am", "going", 'home."', "She", "nodded", "(slowly", "and", "sadly.)", "Done"]
    assert segment_sentences(words).tolist() == [0] * 4 + [1] * 5 + [2]


def test_empty_words_keep_their_place_but_do_not_count():
    assert segment_sentences(["a", "", "b", "c.", "d", "e", "f", "g.", "h"]).tolist() == \
        [0] * 8 + [1]


def test_segment_sentences_of_nothing():
    assert segment_sentences([]).shape == (0,)


def test_sentence_positions_count_from_one_per_sentence():
    np.testing.assert_array_equal(sentence_positions([0, 0, 0, 1, 1, 2]), [1, 2, 3, 1, 2, 1])
    assert sentence_positions(np.array([], dtype=int)).shape == (0,)


def test_normalise_word_drops_case_punctuation_and_underscores():
    assert normalise_word('"Hello,"') == "hello"
    assert normalise_word("don't") == "dont"
    assert normalise_word("snake_case") == "snakecase"
    assert normalise_word(3) == "3"


# --------------------------------------------------------------------------- annotations
WORDS = ["She", "cried,", "the", "storm", "raged."]


def _annotator(path, rows, header="Word,Emotion,Figurative,Physical"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_word_is_positive_when_two_of_three_annotators_agree(tmp_path):
    a = _annotator(tmp_path / "a.csv", ["She,0,0,0", "cried,1,0,1", "the,,,", "storm,0,1,1",
                                        "raged,1,1,0"])
    b = _annotator(tmp_path / "b.csv", ["She,0,0,0", "cried,1,0,0", "the,0,0,0", "storm,0,0,1",
                                        "raged,0,1,0"])
    c = _annotator(tmp_path / "c.csv", ["she,0,0,1", "cried,0,0,0", "the,0,0,0",
                                        "storm,0,1,0", "raged!,1,0,0"])
    out = read_annotations([a, b, c], WORDS)
    assert set(out) == {"emotion", "figurative", "physical"}
    np.testing.assert_array_equal(out["emotion"], [False, True, False, False, True])
    np.testing.assert_array_equal(out["figurative"], [False, False, False, True, True])
    np.testing.assert_array_equal(out["physical"], [False, False, False, True, False])
    assert out["emotion"].dtype == bool
    one = read_annotations([a, b, c], WORDS, min_agree=1)
    np.testing.assert_array_equal(one["physical"], [True, True, False, True, False])


def test_a_single_annotator_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("\ufeffword, emotion ,Figurative,PHYSICAL\nShe,1,0,0\ncried,0,0,0\n"
                    "the,0,0,0\nstorm,0,0,1\nraged,0,0,0\n", encoding="utf-8")
    out = read_annotations(str(path), WORDS)
    np.testing.assert_array_equal(out["emotion"], [True, False, False, False, False])
    np.testing.assert_array_equal(out["physical"], [False, False, False, True, False])


def test_annotation_errors_name_the_file_column_and_row(tmp_path):
    good = ["She,0,0,0", "cried,1,0,1", "the,0,0,0", "storm,0,1,1", "raged,1,1,0"]
    missing = _annotator(tmp_path / "m.csv", [r.rsplit(",", 1)[0] for r in good],
                         header="Word,Emotion,Figurative")
    with pytest.raises(DataError, match=r"m.csv: missing columns \['Physical'\]"):
        read_annotations(missing, WORDS)
    bad = _annotator(tmp_path / "v.csv", good[:2] + ["the,0,2,0"] + good[3:])
    with pytest.raises(DataError, match=r"v.csv: column 'Figurative' row 2 \(line 4\) is '2'"):
        read_annotations(bad, WORDS)
    wrong = _annotator(tmp_path / "w.csv", good[:3] + ["rain,0,1,1"] + good[4:])
    with pytest.raises(DataError, match=r"w.csv: column 'Word' row 3 \(line 5\) is 'rain' but "
                                        r"dataset word 3 is 'storm'"):
        read_annotations(wrong, WORDS)
    short = _annotator(tmp_path / "s.csv", good[:4])
    with pytest.raises(DataError, match=r"s.csv: 4 rows but the dataset has 5 words"):
        read_annotations(short, WORDS)
    with pytest.raises(DataError, match=r"nothere.csv: file not found"):
        read_annotations(tmp_path / "nothere.csv", WORDS)
    with pytest.raises(DataError, match="no annotation files"):
        read_annotations([], WORDS)
    ok = _annotator(tmp_path / "ok.csv", good)
    with pytest.raises(DataError, match=r"min_agree=3 with 2 files; expected 1..2"):
        read_annotations([ok, ok], WORDS, min_agree=3)
