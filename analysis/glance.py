"""The book's verdicts at a glance, generated from ``_build/results`` at build time.

Three short blocks, each row linked to the chapter it comes from and carrying a verdict:

1. **method checks on planted data** (the simulated study): pass or fail;
2. **findings on real data**: the effect, with its interval where the chapter gives one;
3. **the paper's claims**: replicated, not replicated, or untestable here, with the reason.

The introduction opens with the answers to the paper's claims in plain words
(:func:`claim_answers`) and then shows the three tables (:func:`at_a_glance`). Nothing in
them is typed by hand: every number is read from a chapter's results file, and a field a
row needs that is missing from a file that exists is an error (the file is named), not a
silently empty row: every file is read through its declared schema
(:func:`analysis.results.read_results`), and a field a chapter writes only in some runs
through :meth:`~analysis.results.ChapterResults.optional`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .display import escape_markdown, percent_text
from .results import read_results, results_path

__all__ = ["GlanceRow", "BLOCKS", "glance_rows", "claim_answers", "at_a_glance"]

#: Block key -> heading shown above its table.
BLOCKS = {"method": "Method checks on planted data (simulated study)",
          "finding": "Findings on real data",
          "claim": "The paper's claims"}

_CHAPTER_DOCS = {"data": "00_data", "encoding": "01_encoding", "hypotheses": "02_hypotheses",
                 "human_validation": "03_human_validation", "finetuning": "04_finetuning",
                 "real_data": "05_real_data", "models": "06_models_and_instructions"}

#: How to get an answer where the CPU budget gives none.
GPU_HINT = "run the `full` profile on a GPU"


@dataclass(frozen=True)
class GlanceRow:
    """One row of the glance tables.

    Attributes
    ----------
    block : {"method", "finding", "claim"}
    question : str
        What was asked, in a few words.
    verdict : str
        ``pass``/``fail`` (method checks), the effect (findings), or ``replicated`` /
        ``not replicated`` / ``untestable here`` (claims).
    evidence : str
        The numbers behind the verdict, with the data they come from.
    chapter : str
        Results name of the chapter the row links to (``"encoding"``, ...).
    """

    block: str
    question: str
    verdict: str
    evidence: str
    chapter: str


def _read(results_dir, name):
    """The chapter's typed results, or None when the chapter has not run."""
    if not results_path(results_dir, name).exists():
        return None
    return read_results(results_dir, name)


def _plain(name):
    """A name from a results file as it may stand in a question (a link's text): letters,
    digits, spaces and ``_ . + -`` only, so that no markup survives."""
    return re.sub(r"[^\w .+-]", "", str(name))


def _p(x):
    """A p-value as shown: never a bare 0."""
    if x is None:
        return "n/a"
    return "p < 0.001" if x < 1e-3 else f"p = {x:.3f}"


def _ci(lo, hi, digits=3, scale=1.0, unit=""):
    return f"95 % CI {scale * lo:+.{digits}f} to {scale * hi:+.{digits}f}{unit}"


def _simulated(res):
    return res is not None and "simulated" in str(res.dataset["source"])


def _n400(real):
    """The N400 block of the real-data encoding (None where no trial-by-trial ERPs were
    found: the block is optional, and holds the N400 whenever it is written)."""
    enc = None if real is None else real.optional("encoding")
    return None if enc is None else enc["N400"]


def _method_rows(data, enc, hyp, fin):
    rows = []
    tc = None if enc is None else enc.optional("truth_check")
    if tc is not None:
        # the planted layer must also beat its runner-up on held-out words, with an
        # interval that excludes 0 (LayerSweep.margin)
        lm = enc.layer_margin or {}
        ci = lm.get("ci")
        beats = ci is not None and ci[0] > 0
        ok = bool(tc["layer_recovered"]) and bool(tc["peak_recovered"]) and beats
        folds = enc.layer_decision["fold_layers"]
        same = sum(int(l) == int(enc.chosen_layer) for l in folds)
        ev = (f"layer {enc.chosen_layer} (planted {tc['truth_layer']}), chosen inside the "
              f"folds in {same} of {len(folds)} outer folds; peak {enc.peak_ms:g} ms "
              f"(planted {tc['truth_peak_ms']:g} ms); "
              + (f"the runner-up (layer {lm.get('runner_up')}) errs more on held-out words by "
                 f"{lm['margin']:.4f}, {_ci(ci[0], ci[1], 4)}" if ci is not None
                 else "no margin over a runner-up (one layer swept)"))
        rows.append(GlanceRow("method", "the encoding model finds the planted layer and latency",
                              "pass" if ok else "fail", ev, "encoding"))
    if hyp is not None and hyp.planted_truth:  # empty unless the study is simulated
        p = None if hyp.domain_enrichment is None else hyp.domain_enrichment["p"]
        unnamed = hyp.unnamed_category  # None unless the study is simulated
        ok = p is not None and p < 0.05
        ev = (f"planted domains among the top hypotheses: enrichment {_p(p)}; "
              f"{hyp.n_significant} of {hyp.n_hypotheses} significant, "
              f"{hyp.n_confirmed} confirmed on held-out sentences")
        if unnamed:
            ev += (f"; the unnamed category was {'found' if unnamed['found'] else 'not found'}"
                   " by the data-driven proposers")
        rows.append(GlanceRow("method", "the hypotheses name the planted categories",
                              "pass" if ok else "fail", ev, "hypotheses"))
    # the planted controls are None unless the study is simulated
    if fin is not None and fin.positive_control is not None and fin.null_control is not None:
        pos, null = fin.positive_control, fin.null_control
        pos_ci, null_ci = pos["percent_better_ci"], null["percent_better_ci"]
        # with intervals, the positive control must beat the null control beyond both
        above = (pos_ci[0] > null_ci[1] if pos_ci and null_ci
                 else pos["percent_better"] > null["percent_better"])
        ok = (above and len(pos["category_windows_ms"]) > 0
              and len(null["category_windows_ms"]) == 0)
        ev = (f"positive control {percent_text(pos['percent_better'], pos_ci)} of tests "
              f"better, category windows "
              f"{', '.join(f'{t:g}' for t in pos['category_windows_ms']) or 'none'}; "
              f"null control {percent_text(null['percent_better'], null_ci)} better, "
              f"category windows "
              f"{', '.join(f'{t:g}' for t in null['category_windows_ms']) or 'none'}")
        rows.append(GlanceRow("method", "the brain re-test says yes to planted knowledge and "
                              "no to random columns", "pass" if ok else "fail", ev, "finetuning"))
    return rows


def _finding_rows(real, models):
    rows = []
    if real is None:
        return rows
    n400 = _n400(real)
    if n400:
        ev = (f"r {n400['baseline']:.3f} with length, frequency and position, "
              f"{n400['nested']:.3f} with the language model added ({_ci(*n400['gain_ci'])}, "
              f"{_p(n400['p_gain'])}); over the lexical baseline (context-free embedding and "
              f"surprisal) {n400['gain_over_lexical']:+.3f} ({_ci(*n400['gain_over_lexical_ci'])}, "
              f"{_p(n400['p_gain_over_lexical'])}"
              + f"; {n400['power_gain_over_lexical']['sentence']}"
              + f"); layer {n400['layer']} chosen inside the folds; Frank et al. (2015) EEG")
        rows.append(GlanceRow("finding", "N400: what the language model adds",
                              f"{n400['gain']:+.3f} in r", ev, "real_data"))
    # every model the chapter ran, by its name (published references are skipped below)
    for name, fut in (real.optional("futrell2018") or {}).items():
        if not str(fut["source"]).startswith("computed here (preceding story"):
            continue  # published references and the corpus's GPT-3 column stay in the chapter
        ci = fut["normalised_ci"]
        rows.append(GlanceRow("finding", f"reading times, Brain-Score Futrell2018 ({_plain(name)})",
                              f"{fut['normalised']:.3f} of the ceiling",
                              f"raw r {fut['raw_r']:.3f}" + (f", {_ci(*ci)}" if ci else "")
                              + f", {fut['n_words']:,} words; Natural Stories", "real_data"))
    chain = real.optional("divergence_chain")
    if chain:
        rows.append(GlanceRow("finding", "divergence chain on the N400",
                              f"{chain['n_confirmed']} confirmed",
                              f"{chain['n_significant']} of {chain['n_hypotheses']} hypotheses "
                              "significant on research sentences; Frank et al. (2015) EEG",
                              "real_data"))
    if models is not None:
        for ds, inst in models.instructions.items():
            summary = inst["summary"]
            if ds == "simulated" or not summary:
                continue
            name, s = max(summary.items(), key=lambda kv: abs(kv[1]["mean_delta"]))
            q = s["q_mean_better"] if s["mean_delta"] > 0 else s["q_mean_worse"]
            rows.append(GlanceRow("finding", "does a task instruction change alignment",
                                  f"{s['mean_delta']:+.4f} in mean r ('{escape_markdown(name)}')",
                                  f"{_ci(s['delta_ci_low'], s['delta_ci_high'], 4)}, q "
                                  f"{_p(q)[2:]}; the largest of {len(summary)} "
                                  f"instruction{'s' if len(summary) != 1 else ''}",
                                  "models"))
    return rows


def _claim_rows(enc, val, fin, real, hyp):
    rows = []
    # 1. language-model states predict word-by-word brain responses
    n400 = _n400(real)
    if n400:
        yes = n400["p_gain"] < 0.05 and n400["nested"] > n400["baseline"]
        rows.append(GlanceRow(
            "claim", "a language model's states predict word-by-word brain responses",
            "replicated (EEG)" if yes else "not replicated",
            f"N400 gain over length, frequency and position {_p(n400['p_gain'])}; the paper "
            "used MEG, the book's real data are EEG", "real_data"))
    else:
        rows.append(GlanceRow("claim", "a language model's states predict word-by-word brain "
                              "responses", "untestable here", "no real recording in this build",
                              "real_data"))
    # 2. the divergent sentences share social/emotional and physical content
    chain = real.optional("divergence_chain") if real is not None else None
    if chain:
        rows.append(GlanceRow(
            "claim", "poorly predicted sentences share social/emotional and physical content",
            "replicated" if chain["n_confirmed"] > 0 else "not replicated",
            f"on the N400 {chain['n_confirmed']} of {chain['n_hypotheses']} hypotheses were "
            "confirmed on held-out sentences; the best one on the research sentences: "
            f"{chain['power']['sentence']}", "real_data"))  # the package's own text
    # 3. people agree with the hypotheses
    if val is not None:
        t = val.participant_test
        if val.simulated:
            rows.append(GlanceRow("claim", "people agree with the hypotheses",
                                  "untestable here", "no human answers yet: the chapter's "
                                  "raters are simulated; the survey kit is ready",
                                  "human_validation"))
        else:
            rows.append(GlanceRow("claim", "people agree with the hypotheses",
                                  "replicated" if t["p_value"] is not None and t["p_value"] < 0.05
                                  else "not replicated",
                                  f"top vs bottom hypotheses {_p(t['p_value'])}",
                                  "human_validation"))
    # 4. commonsense fine-tuning improves brain prediction: the chapter's typed verdicts
    if fin is not None:
        answers = {"closer to the brain": "replicated", "further from the brain": "not replicated",
                   "mixed": "not replicated", "no different from the controls": "not replicated",
                   "uninformative at this budget": "untestable here"}
        for task, v in fin.verdicts.items():
            if v["answer"] == "control":
                continue
            verdict = answers[v["answer"]]
            ev = f"{v['answer']}: {escape_markdown(v['reason'])}"
            if verdict == "untestable here":
                ev += f"; {GPU_HINT}"
            rows.append(GlanceRow("claim", f"fine-tuning on {_plain(v['model'])} improves brain "
                                  "prediction", verdict, ev, "finetuning"))
    return rows


def glance_rows(results_dir):
    """The rows of the three tables, from whatever chapters have results.

    Parameters
    ----------
    results_dir : str | Path
        The run's ``results`` folder (``_build/results``).

    Returns
    -------
    list of GlanceRow
        Method checks first (only when the run used the simulated study), then findings
        on real data, then the paper's claims.

    Raises
    ------
    ContractError
        A results file exists but lacks a field its row needs, or holds it with the wrong
        type (the message names the file, the section and the field).
    """
    names = ("data", "encoding", "hypotheses", "human_validation", "finetuning", "real_data",
             "models")
    data, enc, hyp, val, fin, real, models = (_read(results_dir, n) for n in names)
    rows = []
    if _simulated(enc) or _simulated(data):
        rows += _method_rows(data, enc, hyp, fin)
    rows += _finding_rows(real, models)
    if any(r is not None for r in (enc, val, fin, real)):
        rows += _claim_rows(enc, val, fin, real, hyp)
    return rows


def claim_answers(rows):
    """The book's answer to each of the paper's claims, in plain words (markdown bullets).

    Parameters
    ----------
    rows : list of GlanceRow

    Returns
    -------
    str
    """
    lines = [f"- *{r.question[0].upper() + r.question[1:]}*: **{r.verdict}**. {r.evidence}."
             for r in rows if r.block == "claim"]
    return "\n".join(lines) + ("\n" if lines else "")


def _cell(text):
    return str(text).replace("|", "/").replace("\n", " ")


def at_a_glance(results_dir):
    """The introduction's answers and the three glance tables, as MyST markdown.

    Parameters
    ----------
    results_dir : str | Path

    Returns
    -------
    str
        A note when no chapter has results yet.
    """
    rows = glance_rows(results_dir)
    if not rows:
        return "*No chapter has been run yet: the tables fill in as chapters run.*\n"
    out = []
    answers = claim_answers(rows)
    if answers:
        out += ["**The book's answers to the paper's claims**", "", answers]
    for block, heading in BLOCKS.items():
        block_rows = [r for r in rows if r.block == block]
        if not block_rows:
            continue
        out += [f"**{heading}**", "", "| question | verdict | evidence |", "|---|---|---|"]
        for r in block_rows:
            link = f"{{doc}}`{_cell(r.question)} <../notebooks/{_CHAPTER_DOCS[r.chapter]}>`"
            out.append(f"| {link} | **{_cell(r.verdict)}** | {_cell(r.evidence)} |")
        out.append("")
    return "\n".join(out)
