"""The book's results at a glance: one table generated from ``_build/results`` at build time.

Each row says which chapter, what was asked, what came out, and on which data, so that a
reader sees at once what was planted and recovered on the simulated study and what was
found on real data. The runner writes it to the staged book (``book/at_a_glance.md``,
included by the introduction); nothing in it is typed by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["at_a_glance", "glance_rows"]


def _read(results_dir, name):
    path = Path(results_dir) / f"{name}.json"
    try:
        return json.loads(path.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return None


def _fmt(x, digits=3):
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _p(x):
    """A p-value as shown in the table: never a bare 0."""
    if x is None:
        return "n/a"
    return f"< {10 ** -3:g}" if x < 1e-3 else f"= {x:.3f}"


def _data_label(res):
    src = ((res or {}).get("dataset") or {}).get("source", "")
    return "simulated (planted)" if "simulated" in src else (src or "n/a")


def glance_rows(results_dir):
    """The rows of the table, from whatever chapters have results.

    Parameters
    ----------
    results_dir : str | Path

    Returns
    -------
    list of tuple of str
        ``(chapter, question, result, data)``.
    """
    rows = []
    data = _read(results_dir, "data")
    enc = _read(results_dir, "encoding")
    hyp = _read(results_dir, "hypotheses")
    val = _read(results_dir, "human_validation")
    fin = _read(results_dir, "finetuning")
    real = _read(results_dir, "real_data")
    models = _read(results_dir, "models")
    if data:
        truth = data.get("truth") or {}
        d = data["dataset"]
        what = (f"{d['n_words']:,} words, {d['n_channels']} channels x {d['n_windows']} "
                f"windows, {d['n_subjects'] or 'no'} subjects")
        if truth:
            what += (f"; planted: LM layer {truth['truth_layer']}, peak "
                     f"{truth['lm_peak_ms']:g} ms, divergent categories "
                     + ", ".join(f"{k} ({v})" for k, v in truth["planted_categories"].items())
                     + f", unnamed '{truth['unnamed_category']['name']}' "
                       f"({truth['unnamed_category']['n_words']})")
        rows.append(("Data", "what was recorded (or planted)", what, _data_label(data)))
    if enc:
        tc = enc.get("truth_check")
        margin = enc.get("layer_margin") or {}
        res = f"layer {enc['chosen_layer']}"
        if margin.get("ci"):
            res += (f" (margin over layer {margin['runner_up']}: {margin['margin']:.4f}, 95 % "
                    f"CI {margin['ci'][0]:.4f} to {margin['ci'][1]:.4f})")
        if tc:
            res += (f"; planted layer {tc['truth_layer']}: "
                    f"{'recovered' if tc['layer_recovered'] else 'not recovered'}; peak "
                    f"{enc['peak_ms']:g} ms vs planted {tc['truth_peak_ms']:g} ms")
        rows.append(("Encoding", "which layer predicts the responses, and when", res,
                     _data_label(enc)))
        if enc.get("noise_ceiling_median") is not None:
            rows.append(("Encoding", "r against what is reachable",
                         f"median r / ceiling over significant channels "
                         f"{_fmt(enc.get('share_of_ceiling_median'), 2)}", _data_label(enc)))
    if hyp:
        planted = hyp.get("planted_truth") or {}
        res = (f"{hyp['n_significant']} of {hyp['n_hypotheses']} hypotheses significant "
               f"(research sentences), {hyp.get('n_confirmed', 'n/a')} confirmed on held-out "
               f"sentences; domain enrichment of the top ones p "
               f"{_p((hyp.get('domain_enrichment') or {}).get('p'))}")
        unnamed = hyp.get("unnamed_category")
        if unnamed:
            res += (f"; unnamed planted category "
                    f"{'found' if unnamed['found'] else 'not found'} by the data-driven proposers")
        rows.append(("Hypotheses", "what the divergent sentences share", res,
                     "simulated (planted)" if planted else "see the chapter"))
    if val:
        t = val.get("participant_test") or {}
        rows.append(("Human validation", "do raters see the top hypotheses in divergent "
                     "sentences more often",
                     f"difference {_fmt(100 * t['mean_difference'] if t else None, 1)} "
                     f"points, p {_p(t.get('p_value'))}",
                     "SIMULATED raters" if val.get("simulated") else "human raters"))
    if fin:
        acc = fin.get("accuracy") or {}
        parts = [f"{task}: {a['base']:.3f} -> {a['fine_tuned']:.3f} (gain "
                 f"{100 * a['gain']:+.1f} points, 95 % CI {100 * a['gain_ci'][0]:+.1f} to "
                 f"{100 * a['gain_ci'][1]:+.1f}, n = {a['n']})" for task, a in acc.items()]
        rows.append(("Fine-tuning", "does the training move the model", "; ".join(parts) or "n/a",
                     "Social IQa / PIQA"))
        for key, question in (("positive_control", "can the brain test say yes (positive "
                                                    "control)"),
                              ("null_control", "does it stay silent without knowledge (null "
                                               "control)")):
            ctl = fin.get(key)
            if ctl:
                wins = ", ".join(f"{t:g}" for t in ctl["category_windows_ms"]) or "none"
                rows.append(("Fine-tuning", question,
                             f"{ctl['percent_better']:.1f} % of tests better, "
                             f"{ctl['percent_worse']:.1f} % worse; category windows {wins}",
                             "simulated (planted)"))
        for task, bw in (fin.get("better_worse") or {}).items():
            rows.append(("Fine-tuning", f"does the {task} model predict the brain better",
                         f"{bw['percent_better']:.1f} % better, {bw['percent_worse']:.1f} % "
                         "worse", _data_label(enc)))
    if real:
        n400 = (real.get("encoding") or {}).get("N400")
        if n400:
            rows.append(("Real data", "N400: baseline vs baseline + language model",
                         f"r {n400['baseline']:.3f} vs {n400['baseline_lm']:.3f} "
                         f"(gain p = {n400['p_gain']:.2g}); noise ceiling "
                         f"{_fmt((real.get('noise_ceiling') or {}).get('N400'), 2)}",
                         "Frank et al. (2015) EEG"))
        fut = (real.get("futrell2018") or {}).get("default")
        if fut:
            rows.append(("Real data", "Natural Stories reading times (Brain-Score Futrell2018)",
                         f"r {fut['raw_r']:.3f}, normalised {fut['normalised']:.3f} "
                         f"({fut['n_words']:,} words)", "Natural Stories"))
        chain = real.get("divergence_chain")
        if chain:
            rows.append(("Real data", "divergence chain on the N400",
                         f"{chain['n_significant']} of {chain['n_hypotheses']} hypotheses "
                         f"significant, {chain['n_confirmed']} confirmed",
                         "Frank et al. (2015) EEG"))
    if models:
        rows += _model_rows(models)
    return rows


_MODEL_DATA = {"frank2015": "Frank et al. (2015) EEG and reading", "simulated": "simulated (planted)"}


def _model_rows(models):
    """Rows of the models-and-instructions chapter (instructions, peaks, fine-tuned series)."""
    rows = []
    for ds, inst in (models.get("instructions") or {}).items():
        summary = inst.get("summary") or {}
        if not summary:
            continue
        name, s = max(summary.items(), key=lambda kv: abs(kv[1]["mean_delta"]))
        rows.append(("Models", "does an instruction change alignment",
                     f"largest change of mean r: '{name}' {s['mean_delta']:+.4f} (95 % CI "
                     f"{s['delta_ci_low']:+.4f} to {s['delta_ci_high']:+.4f}, q "
                     f"{_p(s['q_mean_better'] if s['mean_delta'] > 0 else s['q_mean_worse'])}"
                     f"; {len(summary)} instruction(s))", _MODEL_DATA.get(ds, ds)))
    for ds, table in (models.get("models") or {}).items():
        for name, row in table.items():
            if row.get("peak_layer") is not None:
                rows.append(("Models", f"where {name} aligns best (ridge; RSA)",
                             f"layer {row['peak_layer']:.0f} (relative depth "
                             f"{row['relative_depth']:.2f}); RSA peak at layer "
                             f"{_fmt(row.get('rsa_peak_layer'), 0)}", _MODEL_DATA.get(ds, ds)))
            elif row.get("delta_r") is not None:
                gain = ("n/a" if row.get("accuracy_gain") is None else
                        f"{100 * row['accuracy_gain']:+.1f} points")
                rows.append(("Models", f"{name}: alignment vs base, accuracy gain",
                             f"mean r {row['delta_r']:+.4f} (95 % CI {row['delta_r_ci_low']:+.4f} "
                             f"to {row['delta_r_ci_high']:+.4f}); accuracy {gain}",
                             _MODEL_DATA.get(ds, ds)))
    return rows


def at_a_glance(results_dir):
    """The table as MyST markdown (a note when no chapter has results yet).

    Parameters
    ----------
    results_dir : str | Path

    Returns
    -------
    str
    """
    rows = glance_rows(results_dir)
    if not rows:
        return "*No chapter has been run yet: the table fills in as chapters run.*\n"
    out = ["| chapter | question | result | data |", "|---|---|---|---|"]
    for r in rows:
        out.append("| " + " | ".join(str(c).replace("|", "/") for c in r) + " |")
    return "\n".join(out) + "\n"
