"""Calibration of the brain re-test's two nulls on out-of-fold predictions.

The re-test compares the out-of-fold predictions of two encoding models of the same
responses. Holding those predictions fixed while the responses are permuted
(:func:`analysis.stats.permutation_r_difference`) misses the part of the variance of
the difference that comes from each fold's model having been fitted to the other folds'
responses; refitting both models on every permuted response
(:func:`analysis.finetune.refit_r_difference`) keeps it. Here both run on the same null
draws: AR(1) noise targets (lag-1 autocorrelation rho along the story) predicted by two
adjacent layers of the packaged model's real hidden states (layer L against L+1, the
re-test's situation: two models that predict almost the same thing), 10 contiguous
folds, 20-word block permutations, two-sided alpha 0.05. A positive control adds to the
tested model one feature column that carries a share of each target's variance.

Each draw is one target; the draws of a cell are fitted together as the columns of one
target matrix, and so are the permuted copies of the refit null.

Usage::

    .venv/bin/python benchmarks/bench_refit_null.py [--n-words 600] [--n-draws 200]
        [--n-permutations 100] [--planted-share 0.02]

Writes ``benchmarks/results/refit_null.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from analysis import calibration as C  # noqa: E402
from analysis.encoding import centre_within_folds, cv_splits, fit_encoding  # noqa: E402
from analysis.finetune import refit_r_difference  # noqa: E402
from analysis.stats import (pearson_columns, permutation_r_difference,  # noqa: E402
                            two_sided_p)
from bench_calibration import ALPHA, RHOS, load_inputs  # noqa: E402  (one alpha and grid)


def run_cell(x_a, x_b, y, splits, n_permutations, seed):
    """Rejection rates of the fixed-prediction and the refit null on targets ``y``."""
    yc = centre_within_folds(y, splits)
    pred = [centre_within_folds(fit_encoding(x, y[:, :, None]).predictions[:, :, 0], splits)
            for x in (x_a, x_b)]
    observed = pearson_columns(pred[1], yc) - pearson_columns(pred[0], yc)
    fixed = permutation_r_difference(yc, pred[0], pred[1], n_permutations, seed=seed,
                                     scheme="blocks")
    refit = refit_r_difference(yc, x_a, x_b, observed, splits, n_permutations, seed=seed,
                               null={"scheme": "blocks"})
    out = {}
    for name, res in (("fixed predictions", fixed), ("refit", refit)):
        p2 = two_sided_p(res["p_greater"], res["p_less"])
        out[name] = {**C.rate_entry(np.nan_to_num(p2, nan=1.0) < ALPHA, ALPHA),
                     "rate_better": float(np.mean(res["p_greater"] < ALPHA)),
                     "mean_null_sd": float(np.mean(res["null_sd"]))}
    out["sd_of_observed_difference"] = float(np.std(observed))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-words", type=int, default=600)
    ap.add_argument("--n-draws", type=int, default=200)
    ap.add_argument("--n-permutations", type=int, default=100)
    ap.add_argument("--layer", type=int, default=12)
    ap.add_argument("--planted-share", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "refit_null.json"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    inputs = load_inputs(max(args.n_words, 1000), args.layer)
    n = args.n_words
    x_a, x_b = inputs["L"][:n], inputs["L+1"][:n]
    splits = cv_splits(n, 10, None, None)
    cells = []
    for j, rho in enumerate(RHOS):
        y = C.ar1_targets(n, args.n_draws, rho, None, seed=args.seed + 10 * j)
        cells.append({"rho": rho, "planted_share": 0.0,
                      **run_cell(x_a, x_b, y, splits, args.n_permutations, args.seed + 1)})
        print(f"rho={rho}: {time.perf_counter() - t0:.0f} s", flush=True)
    # positive control: the tested model has one more column, which carries the signal
    rng = np.random.default_rng(args.seed + 99)
    carrier = rng.standard_normal(n)
    rho = RHOS[-1]
    noise = C.ar1_targets(n, args.n_draws, rho, None, seed=args.seed + 7)
    share = args.planted_share
    y = np.sqrt(share) * carrier[:, None] + np.sqrt(1 - share) * noise
    cells.append({"rho": rho, "planted_share": share,
                  **run_cell(x_a, np.column_stack([x_a, carrier]), y, splits,
                             args.n_permutations, args.seed + 1)})
    result = {"what": "two-sided rejection rate at alpha 0.05 of the re-test's difference in "
                      "out-of-fold r (layer L against L+1 of the packaged model), holding the "
                      "predictions fixed or refitting both models on every permuted response; "
                      "AR(1) noise targets along the story; the last cell plants a signal in "
                      "one extra column of the tested model (its rate is the power)",
              "model": inputs["model"], "settings": {k: v for k, v in vars(args).items()
                                                     if k != "out"},
              "cells": cells, "seconds": round(time.perf_counter() - t0, 1)}
    for c in cells:
        print(f"rho={c['rho']:.1f} planted={c['planted_share']:.2f}  "
              f"fixed {c['fixed predictions']['rate']:.3f}  refit {c['refit']['rate']:.3f}  "
              f"null sd fixed {c['fixed predictions']['mean_null_sd']:.4f} refit "
              f"{c['refit']['mean_null_sd']:.4f}  sd observed {c['sd_of_observed_difference']:.4f}")
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out} in {result['seconds']} s")


if __name__ == "__main__":
    main()
