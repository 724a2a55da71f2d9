"""Calibration of the instruction comparison of chapter 06, run as the chapter runs it.

Chapter 06 compares, on the same responses, the plain layer with the layer read under an
instruction (single band), the two-band model (plain + instruction, each band with its
own penalty) with the plain model, and the two-band model with its parameter-matched
control band (the instruction band's rows permuted). Every model keeps the nuisance
baseline as an unpenalized band, folds are sentence-grouped (5 outer, 3 inner, 9
penalties), and the two-band penalty ratio is searched over 0.1, 1 and 10, as in the
chapter. Here the responses are noise: AR(1) series (lag-1 autocorrelation rho)
restarted in each sentence, the isolated-sentence design of the Frank et al. (2015)
data, and whole sentences are permuted. The features are real hidden states of the
packaged model (layer L plain, and layer L under the emotion instruction).

Two nulls on the same draws: the out-of-fold predictions held fixed while the responses
are permuted (:func:`analysis.stats.permutation_r_difference`), and every model refitted
on each permuted response (:func:`analysis.encoding.refit_null_r`). Each draw is one
target; the draws of a cell are fitted together as the columns of one target matrix,
and so are the permuted copies. The test of the mean over targets is measured on groups
of ``--group`` draws (the nine Frank targets in the chapter). A positive control plants
a signal in one extra column of the instruction band.

Usage::

    .venv/bin/python benchmarks/bench_instruction_null.py [--n-words 600] [--n-draws 200]
        [--n-permutations 100]

Writes ``benchmarks/results/instruction_null.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from analysis import calibration as C  # noqa: E402
from analysis.encoding import (centre_within_folds, cv_splits, fit_encoding,  # noqa: E402
                               refit_null_r, refit_p_values)
from analysis.instructions import CONTROL_BAND  # noqa: E402
from analysis.stats import permutation_r_difference  # noqa: E402
from bench_calibration import (ALPHA, RHOS, load_inputs, null_draw_parser,  # noqa: E402
                               two_sided_rates)

#: The chapter's fits (notebooks/06_models_and_instructions.py: models_n_folds,
#: sweep_inner, sweep_alphas, band_scales).
FIT = dict(n_folds=5, n_inner=3, alphas=np.logspace(-1, 7, 9))
BAND_SCALES = [0.1, 1.0, 10.0]
#: The three comparisons of the chapter: (reference, tested).
PAIRS = {"instruction vs plain": ("plain", "instructed"),
         "two-band vs plain": ("plain", "two-band"),
         "two-band vs control band": (CONTROL_BAND, "two-band")}


def models_of(inputs, n, seed, extra=None):
    """The chapter's four models: features and their own fitting arguments."""
    plain, instr = inputs["L"][:n], inputs["L instructed"][:n]
    if extra is not None:  # positive control: one more column in the instruction band
        instr = np.column_stack([instr, extra])
    control = instr[np.random.default_rng(seed).permutation(n)]
    return {"plain": (plain, {}), "instructed": (instr, {}),
            "two-band": (plain, {"second_band": instr, "band_scales": BAND_SCALES}),
            CONTROL_BAND: (plain, {"second_band": control, "band_scales": BAND_SCALES})}


def run_cell(models, y, splits, fit_kw, null, n_permutations, group, seed):
    """Rejection rates of both nulls for every comparison, per target and per group mean."""
    n, t = y.shape
    yc = centre_within_folds(y, splits)
    pred = {k: centre_within_folds(fit_encoding(f, y[:, :, None], **fit_kw, **own)
                                   .predictions[:, :, 0], splits)
            for k, (f, own) in models.items()}
    draws = refit_null_r(yc, models, splits, n_permutations, seed=seed, null=null,
                         chunk=max(1, 20000 // t), **fit_kw)
    n_groups = t // group
    out = {}
    for test, (a, b) in PAIRS.items():
        fixed = permutation_r_difference(yc, pred[a], pred[b], n_permutations, seed=seed,
                                         **null)
        refit = refit_p_values(fixed["delta"], draws[b] - draws[a])
        row = {name: two_sided_rates(res)
               for name, res in (("fixed predictions", fixed), ("refit", refit))}
        # the mean over a group of targets, as the chapter's headline test (one-sided,
        # "better", the direction the chapter reports)
        fixed_mean, refit_mean = [], []
        for g in range(n_groups):
            cols = slice(g * group, (g + 1) * group)
            fm = permutation_r_difference(yc[:, cols], pred[a][:, cols], pred[b][:, cols],
                                          n_permutations, seed=seed, mean_over_columns=True,
                                          **null)
            fixed_mean.append(fm["p_mean_greater"] < ALPHA)
            rm = refit_p_values(fixed["delta"][cols], (draws[b] - draws[a])[:, cols])
            refit_mean.append(rm["p_mean_greater"] < ALPHA)
        row["mean over targets, better"] = {
            "fixed predictions": C.rate_entry(np.asarray(fixed_mean), ALPHA),
            "refit": C.rate_entry(np.asarray(refit_mean), ALPHA)}
        row["sd_of_observed_difference"] = float(np.std(fixed["delta"]))
        out[test] = row
    return out


def main(argv=None):
    ap = null_draw_parser(__doc__, "instruction_null.json", 600, 200, 100, 0.02)
    ap.add_argument("--group", type=int, default=9)
    ap.add_argument("--rhos", type=float, nargs="+", default=list(RHOS))
    ap.add_argument("--power-only", action="store_true",
                    help="rerun only the planted cell (at the last rho) and replace the "
                         "planted cells of the existing --out file")
    ap.add_argument("--no-power", action="store_true", help="skip the planted cell")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    inputs = load_inputs(max(args.n_words, 1000), args.layer)
    n = args.n_words
    sentence = np.asarray(inputs["sentence"][:n])
    fit_kw = dict(FIT, groups=sentence, baseline=inputs["baseline"][:n])
    splits = cv_splits(n, FIT["n_folds"], sentence, None)
    null = {"scheme": "sentences", "groups": sentence}
    models = models_of(inputs, n, args.seed)
    cells = []
    if args.power_only:  # keep the null cells already measured
        cells = [c for c in json.loads(Path(args.out).read_text())["cells"]
                 if c["planted_share"] == 0.0]
    for j, rho in enumerate([] if args.power_only else args.rhos):
        y = C.ar1_targets(n, args.n_draws, rho, sentence, seed=args.seed + 10 * j)
        cells.append({"rho": rho, "planted_share": 0.0,
                      **run_cell(models, y, splits, fit_kw, null, args.n_permutations,
                                 args.group, args.seed + 1)})
        print(f"rho={rho}: {time.perf_counter() - t0:.0f} s", flush=True)
    # positive control: the instruction band has one more column, which carries the signal
    if args.no_power:
        return finish(args, inputs, cells, t0)
    rng = np.random.default_rng(args.seed + 99)
    carrier = rng.standard_normal(n)
    rho = args.rhos[-1]
    noise = C.ar1_targets(n, args.n_draws, rho, sentence, seed=args.seed + 7)
    share = args.planted_share
    y = np.sqrt(share) * carrier[:, None] + np.sqrt(1 - share) * noise
    cells.append({"rho": rho, "planted_share": share,
                  **run_cell(models_of(inputs, n, args.seed, carrier), y, splits, fit_kw,
                             null, args.n_permutations, args.group, args.seed + 1)})
    return finish(args, inputs, cells, t0)


def finish(args, inputs, cells, t0):
    """Print the rates and write the results file."""
    result = {"what": "rejection rates at alpha 0.05 of chapter 06's three instruction "
                      "comparisons (two-sided per target; one-sided 'better' for the mean "
                      "over a group of targets), holding the out-of-fold predictions fixed "
                      "or refitting every model on each permuted response; AR(1) noise "
                      "restarted in each sentence, whole sentences permuted; the last cell "
                      "plants a signal in one extra column of the instruction band (its "
                      "rates are the power)",
              "model": inputs["model"], "fit": {"n_folds": FIT["n_folds"],
                                                "n_inner": FIT["n_inner"],
                                                "n_alphas": len(FIT["alphas"]),
                                                "band_scales": BAND_SCALES},
              "settings": {k: v for k, v in vars(args).items()
                           if k not in ("out", "power_only", "no_power")},
              "cells": cells, "seconds": round(time.perf_counter() - t0, 1)}
    for c in cells:
        for test in PAIRS:
            r = c[test]
            print(f"rho={c['rho']:.1f} planted={c['planted_share']:.2f} {test:26s} "
                  f"fixed {r['fixed predictions']['rate']:.3f}  refit {r['refit']['rate']:.3f}"
                  f"  | mean: fixed {r['mean over targets, better']['fixed predictions']['rate']:.3f}"
                  f"  refit {r['mean over targets, better']['refit']['rate']:.3f}")
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out} in {result['seconds']} s")


if __name__ == "__main__":
    main()
