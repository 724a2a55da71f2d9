"""The text of what the loader understood: the printed summary, the order and late-start
sentences, and the options that reproduce it (for ``dataset_options``).
"""

from __future__ import annotations

import json

from ._columns import _flag_column

def _options(roles, context, window_ms):
    """The explicit options that reproduce what was understood (for dataset_options)."""
    out = {"word": roles["word"], "measures": list(roles["measures"])}
    for role in ("story", "sentence", "position", "participant"):
        out[role] = roles[role] or False
    if roles["exclude"]:
        out["exclude"] = (roles["exclude"][0] if len(roles["exclude"]) == 1
                          else list(roles["exclude"]))
    if roles["time"]:
        out["time"] = roles["time"]
        out["window_ms"] = window_ms
    out["context"] = context
    if roles["context_column"]:
        out["context_column"] = roles["context_column"]
    return out


def _order_text(roles, label_kind):
    parts = []
    for role in ("story", "sentence"):
        if roles[role]:
            parts.append(f"{role} '{roles[role]}' ({label_kind[role]})")
    if roles["position"]:
        parts.append(f"position '{roles['position']}'")
    else:
        units = [r for r in ("participant", "story", "sentence") if roles[r]]
        parts.append("file order" + (f" within each {' and '.join(units)}" if units else ""))
    return ", then ".join(parts)


def _n(k, one, many=None):
    return f"{k:,} {one if k == 1 else (many or one + 's')}"


def _late_text(late, roles):
    fix = ("; the column given as context_column is blank there" if roles["context_column"]
           else "; give the text shown before them with context_column=<column>")
    return (f"{late['n']:,} of {_n(late['of'], 'sentence')} start at a position after 1 with "
            f"no words before them (e.g. {late['example']}): the language model reads their "
            f"first word without the words that preceded it{fix}.")


def _summary_lines(table, how, roles, label_kind, n_subjects, n_sentences, n_stories,
                   sentence_rule, times, window_ms, n_missing, n_no_row, n_trial_dropped,
                   n_excluded, n_no_value, n_analysed, n_presented, context, context_how,
                   other_columns, varying, options, n_preceding=0, late=None):
    """The printed summary of what was understood (also kept in the provenance)."""
    def found(role):
        return f" ({how[role]})" if how.get(role, "given") != "given" else ""

    out = [f"Word table {table.path}: {table.kind}, {_n(len(table.frame), 'row')} x "
           f"{_n(len(table.columns), 'column')}"]
    out.append(f"  word:         column '{roles['word']}'{found('word')}")
    if roles["participant"]:
        out.append(f"  participants: column '{roles['participant']}'{found('participant')}: "
                   f"{_n(n_subjects, 'participant')}; responses = per-word mean over them, "
                   "subject_responses = each participant (NaN = missing trial)")
    else:
        out.append("  participants: none (one row per word)")
    out.append(f"  order:        {_order_text(roles, label_kind)}")
    for role in ("story", "sentence", "position"):
        if how.get(role, "").startswith("guessed"):
            out.append(f"                ({role} column '{roles[role]}' guessed from its name)")
    out.append(f"  sentences:    {n_sentences:,} from {sentence_rule}"
               + (f"; {_n(n_stories, 'story', 'stories')} (column '{roles['story']}')"
                  if roles["story"] else ""))
    windows = ("1 window at 0 ms" if not roles["time"] else
               f"{len(times)} windows from column '{roles['time']}' "
               f"({', '.join(f'{t:g}' for t in times[:6])}{' ...' if len(times) > 6 else ''} "
               f"ms; {window_ms:g} ms wide)")
    out.append(f"  measures:     {', '.join(roles['measures'])}{found('measures')} -> "
               f"{_n(len(roles['measures']), 'channel')}, {windows}")
    if roles["participant"]:
        detail = [f"{n_missing - n_no_row:,} blank/NA" + (
            f" or flagged ({n_trial_dropped:,} flagged)" if n_trial_dropped else ""),
            f"{n_no_row:,} with no row"]
        out.append(f"  missing:      {_n(n_missing, 'trial')} without a value "
                   f"({', '.join(detail)})")
    if roles["exclude"]:
        out.append(f"  excluded:     {_n(n_excluded, 'word')} flagged in "
                   f"{', '.join(repr(c) for c in roles['exclude'])}: context only (read by the "
                   "language model, not analysed)")
    if n_no_value:
        out.append(f"  no value:     {_n(n_no_value, 'word')} without a value for every measure: "
                   "context only")
    if roles.get("context_column"):
        out.append(f"  preceding:    {_n(n_preceding, 'word')} from column "
                   f"'{roles['context_column']}': context only (read by the language model "
                   "before the measured words, not analysed)")
    out.append(f"  context:      {context} ({context_how})")
    out.append(f"  analysed:     {n_analysed:,} of {_n(n_presented, 'presented word')}"
               + (f" ({n_presented - n_analysed:,} context only)"
                  if roles.get("context_column") else ""))
    if late:
        out.append(f"  warning:      {_late_text(late, roles)}")
    if other_columns:
        out.append(f"  kept as metadata: {', '.join(other_columns)}")
    if varying:
        out.append(f"  not kept (differ between a word's rows): {', '.join(varying)}")
    flags = [c for c in other_columns if _flag_column(table, c)]
    if flags and not roles["exclude"]:
        out.append(f"  hint: {', '.join(flags)} look(s) like flags; exclude=<column> makes "
                   "flagged words context only")
    out.append(f"  options:      {json.dumps(options)}")
    return out
