"""DEVELOPMENT FIXTURE: contract files of the hypothesis chapter, made up for tests.

Until the hypothesis chapter (02) is merged, the human-validation chapter and its
tests need files in the contract layout (see ``analysis.contracts.HypothesisResults``).
This writes plausible ones from the real story sentences; every hypothesis text
starts with ``[fixture]`` and ``hypotheses.json`` says ``development_fixture: true``.
These files are never results: do not commit them to ``_build``.

Usage::

    .venv/bin/python tests/contract_fixture.py _build/results
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

HYPOTHESES = [
    ("expresses strong emotions", "social/emotional"),
    ("describes a physical action or movement", "physical"),
    ("involves a conflict between people", "social/emotional"),
    ("mentions a body part", "physical"),
    ("contains direct speech", "other"),
    ("describes someone's thoughts or feelings", "social/emotional"),
    ("describes a sound or a noise", "physical"),
    ("uses figurative language", "other"),
    ("mentions a spatial location", "physical"),
    ("involves a surprise", "social/emotional"),
    ("mentions a number or a quantity", "other"),
    ("is written in the past tense", "other"),
    ("is a long sentence", "other"),
    ("mentions a named person", "social/emotional"),
    ("describes the weather", "physical"),
    ("contains a question", "other"),
    ("mentions food or drink", "physical"),
    ("describes an everyday routine", "other"),
    ("uses a rare word", "other"),
    ("begins with a pronoun", "other"),
    ("mentions time of day", "other"),
    ("is a simple declarative statement", "other"),
    ("describes an object's colour", "physical"),
    ("contains a list of items", "other"),
]

#: Word-list hypotheses, as the log-odds proposer phrases them; every sixth row of the
#: table (ranks 3, 9, 15, 21) is one, so the survey must skip them.
WORD_LISTS = [
    'contains words such as "door", "dark" and "whispered"',
    'contains words such as "mother", "kitchen" and "bread"',
    'contains words such as "river", "stone" and "cold"',
    'contains words such as "letter", "paper" and "wrote"',
]


def write_contract_fixture(results_dir, n_per_set=40, n_hypotheses=24, seed=0):
    """Write the three contract CSVs and a hypotheses.json marked as a fixture.

    Parameters
    ----------
    results_dir : str | Path
    n_per_set : int
        Divergent and convergent sentences each (half research, half validation).
    n_hypotheses : int
        At most 24. Rows 3, 9, 15 and 21 (by rank) are word lists of the log-odds
        proposer; the others alternate between the bank and the LLM proposers.
    seed : int

    Returns
    -------
    dict
        ``sentences``, ``table``, ``scores`` DataFrames as written.
    """
    from scipy import stats as st

    from analysis.contracts import HypothesisResults
    from analysis.simulate import story_words
    from analysis.text import segment_sentences
    from analysis.stats import fdr_bh

    rng = np.random.default_rng(seed)
    words, _ = story_words()
    sid = segment_sentences(words)
    texts = pd.Series(words).groupby(sid).agg(" ".join)
    texts = texts[texts.str.split().str.len().between(5, 40)]
    chosen = rng.choice(texts.index.to_numpy(), size=2 * n_per_set, replace=False)
    which_set = np.repeat(["divergent", "convergent"], n_per_set)
    third = n_per_set // 3
    role = np.tile(np.repeat(["proposal", "research", "validation"],
                             [third, third, n_per_set - 2 * third]), 2)
    divergent = which_set == "divergent"
    score = np.where(divergent, 1.3, 0.8) + 0.1 * rng.standard_normal(len(which_set))
    sentences = pd.DataFrame({"sentence_id": chosen.astype(int), "text": texts[chosen].to_numpy(),
                              "score": score, "set": which_set, "role": role})
    properties, words_lists = iter(HYPOTHESES), iter(WORD_LISTS)
    hyps, proposers = [], []
    for i in range(min(n_hypotheses, len(HYPOTHESES))):
        if i % 6 == 2:
            hyps.append((next(words_lists), None))
            proposers.append("log-odds")
        else:
            hyps.append(next(properties))
            proposers.append("bank" if len(proposers) % 2 == 0 else "llm")
    V = np.sort(rng.uniform(-0.1, 0.35, len(hyps)))[::-1]
    V[:4] += 0.1
    t = V * 12
    p = 2 * st.t.sf(np.abs(t), df=2 * n_per_set - 2)
    _, q = fdr_bh(p)
    table = pd.DataFrame({
        "rank": np.arange(1, len(hyps) + 1), "hypothesis": [f"[fixture] {h}" for h, _ in hyps],
        "proposer": proposers,
        "domain": [d for _, d in hyps], "V": V, "t": t, "p": p, "q": q, "significant": q < 0.05,
        "V_validation": V + 0.05 * rng.standard_normal(len(hyps)),
        "p_validation": np.clip(p * 3, 0, 1), "q_validation": np.clip(q * 3, 0, 1)})
    table["confirmed"] = table["q_validation"] < 0.05
    rows = []
    level = rng.uniform(0.2, 0.6, len(sentences))
    for h, v in zip(table["hypothesis"], V):
        s = level + np.where(divergent, v, -v) / 2 + 0.15 * rng.standard_normal(len(which_set))
        rows.append(pd.DataFrame({"hypothesis": h, "sentence_id": sentences["sentence_id"],
                                  "score": np.clip(s, 0, 1)}))
    scores = pd.concat(rows, ignore_index=True)
    HypothesisResults(sentences, table, scores,
                      {"development_fixture": True,
                       "note": "made up by tests/contract_fixture.py"}).write(results_dir)
    return {"sentences": sentences, "table": table, "scores": scores}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    target = sys.argv[1] if len(sys.argv) > 1 else "_build/results"
    write_contract_fixture(target)
    print(f"development fixture written to {target}")
