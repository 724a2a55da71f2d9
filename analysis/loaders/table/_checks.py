"""Where a row of a word table is (participant, story, sentence, position), and the
checks of the row keys: no repeated key, positions in reading order, the same word at
the same position in every row.
"""

from __future__ import annotations

import re

import numpy as np

from ..._utils import DataError

def _plain(value):
    """A label as a JSON-friendly value: int or float when it is a number, else str."""
    if isinstance(value, (float, np.floating)):
        return int(value) if float(value).is_integer() else float(value)
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and re.fullmatch(r"[+-]?\d+", text) else (
        number if np.isfinite(number) else text)


def _position_text(table, roles, pos, r):
    """Row ``r``'s position as written in the file (or its rank, when derived)."""
    if roles["position"]:
        return str(table.frame[roles["position"]].iloc[r]).strip()
    return f"{_plain(pos[r])} (rank in file order)"


def _where_key(table, roles, labels, pos, r, with_participant=True):
    parts = []
    if with_participant and roles["participant"]:
        parts.append(f"participant {labels['participant'][r]!s}")
    if roles["story"]:
        parts.append(f"story {labels['story'][r]!s}")
    if roles["sentence"]:
        parts.append(f"sentence {labels['sentence'][r]!s}")
    parts.append(f"position {_position_text(table, roles, pos, r)}")
    return ", ".join(parts)


def _check_duplicates(table, roles, words, labels, group, pos):
    import pandas as pd

    key = pd.DataFrame({"p": group[0], "s": group[1], "n": group[2], "t": group[3], "x": pos})
    dup = key.duplicated().to_numpy()
    if not dup.any():
        return
    i = int(np.flatnonzero(dup)[0])
    same = np.flatnonzero((key == key.iloc[i]).all(axis=1).to_numpy())
    j = int(same[0])
    column = roles["position"] or roles["sentence"] or roles["story"] or roles["word"]
    at_time = f", time {_plain(group[3][i])}" if roles["time"] else ""
    who = "participant and word" if roles["participant"] else "word"
    raise DataError(f"{table.path}: column '{column}' {table.at(i)} (word {words[i]!r}) repeats "
                    f"{_where_key(table, roles, labels, pos, i)}{at_time} of {table.at(j)} (word "
                    f"{words[j]!r}); expected one row per {who}"
                    + (" and time" if roles["time"] else "")
                    + ("" if roles["participant"] else
                       " (a trial-level table needs participant=<column>)")
                    + ("; if positions restart at each sentence, pass sentence=<column>"
                       if roles["position"] and not roles["sentence"] else "") + ".")


def _check_order(table, roles, words, labels, group, pos):
    import pandas as pd

    if not roles["position"]:
        return
    frame = pd.DataFrame({"p": group[0], "s": group[1], "n": group[2], "t": group[3], "x": pos})
    previous = frame.groupby(["p", "s", "n", "t"], sort=False)["x"].shift().to_numpy()
    back = np.flatnonzero(pos < previous)
    if back.size == 0:
        return
    i = int(back[0])
    earlier = np.flatnonzero((frame[["p", "s", "n", "t"]] == frame.iloc[i][["p", "s", "n", "t"]])
                             .all(axis=1).to_numpy()[:i])
    j = int(earlier[-1])
    within = ("sentence" if roles["sentence"] else "story" if roles["story"] else "table")
    whose = f" of participant {labels['participant'][i]!s}" if roles["participant"] else ""
    hint = ("" if roles["sentence"] else
            "; if positions restart at each sentence, pass sentence=<column>")
    by = ", ".join(roles[r] for r in ("participant", "story", "sentence", "position") if roles[r])
    raise DataError(f"{table.path}: column '{roles['position']}' {table.at(i)} (word {words[i]!r}) "
                    f"is {table.frame[roles['position']].iloc[i]!r}, after "
                    f"{table.frame[roles['position']].iloc[j]!r} on {table.at(j)} in the same "
                    f"{within}{whose}; expected the words of a {within} in reading order, "
                    f"positions increasing down the file (sort the rows by {by} if the file is "
                    f"in another order){hint}.")


def _check_words_agree(table, roles, words, labels, pos, word_of_row, first_row):
    first_word = np.array([words[first_row[w]] for w in word_of_row], dtype=object)
    differ = np.flatnonzero(first_word != words)
    if differ.size == 0:
        return
    i = int(differ[0])
    j = int(first_row[word_of_row[i]])
    who_i = f" (participant {labels['participant'][i]!s})" if roles["participant"] else ""
    who_j = f" (participant {labels['participant'][j]!s})" if roles["participant"] else ""
    hint = ("" if roles["position"] or not roles["participant"] else
            " Without a position column each participant's rows are numbered in file order, "
            "so one missing row shifts the rest: pass position=<column>.")
    whom = "every participant" if roles["participant"] else "every row"
    raise DataError(f"{table.path}: column '{roles['word']}' {table.at(i)}{who_i} is "
                    f"{words[i]!r} but {table.at(j)}{who_j} has {words[j]!r} at the same "
                    f"position ({_where_key(table, roles, labels, pos, i, False)}); "
                    f"expected {whom} to have the same word at the same position.{hint}")
