"""The text read before the measured words: the preceding-text column of critical-word
designs, sentences that start late with nothing before them, and the presented text
with the context-only words inserted.
"""

from __future__ import annotations

import numpy as np

from ..._utils import DataError
from ...data import Stimulus
from ._checks import _position_text, _where_key
from ._columns import _MISSING

def _tokens(text):
    return [] if text.strip().lower() in _MISSING else text.split()


def _preceding_words(table, roles, words, labels, pos, word_of_row, first_row, sentence_index,
                     presented):
    """Per presented word, the context-only words presented just before it.

    The text of a sentence's first measured word precedes it; a later word's text may
    repeat that one, be blank, or continue the sentence (everything presented before
    it, then the words between, which are returned for it).
    """
    column = roles["context_column"]
    text = table.frame[column].astype(str).str.strip().to_numpy(dtype=object)
    first_text = text[first_row][word_of_row]
    differ = np.flatnonzero(first_text != text)
    if differ.size:
        i = int(differ[0])
        j = int(first_row[word_of_row[i]])
        raise DataError(f"{table.path}: column '{column}' {table.at(i)} (word {words[i]!r}) is "
                        f"{text[i]!r} but {table.at(j)} has {text[j]!r} for the same word "
                        f"({_where_key(table, roles, labels, pos, i, False)}); expected one "
                        "preceding text per word.")
    before = [[] for _ in presented]
    for s in np.unique(sentence_index):
        members = np.flatnonzero(sentence_index == s)
        lead = _tokens(text[first_row[members[0]]])
        before[members[0]] = lead
        so_far = lead + [presented[members[0]]]
        for m in members[1:]:
            cell = _tokens(text[first_row[m]])
            if cell and cell != lead:
                if cell[:len(so_far)] != so_far:
                    r = int(first_row[m])
                    raise DataError(
                        f"{table.path}: column '{column}' {table.at(r)} (word {presented[m]!r}) "
                        f"is {text[r]!r}; expected blank, the text before the sentence's first "
                        f"measured word ({' '.join(lead)!r}) or the whole text before this "
                        f"word, starting {' '.join(so_far)!r}.")
                before[m] = cell[len(so_far):]
            so_far += before[m] + [presented[m]]
    return before


def _late_starts(table, roles, labels, pos, first_row, story_index, sentence_index, presented,
                 before):
    """Sentences whose first word sits at a position after 1 with nothing read before it.

    A sentence whose positions continue the previous sentence's (positions counted
    within the story) is not late. Returns None or ``{"n", "of", "example"}``.
    """
    if not roles["position"]:
        return None
    late, example, previous_end = 0, None, {}
    starts = np.r_[0, np.flatnonzero(np.diff(sentence_index)) + 1]
    for k, f in enumerate(starts):
        end = (starts[k + 1] if k + 1 < len(starts) else len(presented)) - 1
        story, start, stop = story_index[f], pos[first_row[f]], pos[first_row[end]]
        continues = previous_end.get(story) == start - 1
        previous_end[story] = stop
        if start > 1 and not before[f] and not continues:
            late += 1
            if example is None:
                r = int(first_row[f])
                example = (f"sentence {labels['sentence'][r]!s}, " if roles["sentence"] else "") \
                    + f"word {presented[f]!r} at position {_position_text(table, roles, pos, r)}"
    return {"n": late, "of": len(starts), "example": example} if late else None


def _with_preceding(presented, sentence_index, story_index, rows, before, has_story):
    """The presented text with the preceding words inserted, and where each word went."""
    words, sentence, story, at = [], [], [], np.empty(len(presented), dtype=np.int64)
    for i, word in enumerate(presented):
        for token in before[i]:
            words.append(token)
            sentence.append(sentence_index[i])
            story.append(story_index[i])
        at[i] = len(words)
        words.append(word)
        sentence.append(sentence_index[i])
        story.append(story_index[i])
    stimulus = Stimulus(words, np.asarray(sentence, dtype=np.int64), at[rows],
                        np.asarray(story, dtype=np.int64) if has_story else None)
    return stimulus, at
