"""Calibration of the scaled null of the brain re-test on many targets.

On the simulated study's 306 x 20 targets the re-test cannot refit both encoding models
on every permuted response. Its null holds the out-of-fold predictions fixed, which is
too narrow (``benchmarks/bench_refit_null.py``), so the permuted differences are widened
by the ratio of the refit null's spread to the fixed null's, both drawn on 16 targets
chosen at random with 100 permutations (:func:`analysis.encoding.refit_null_scale`), as
:func:`analysis.finetune.brain_retest` does with ``null="auto"``.

Here the tested targets are AR(1) noise (lag-1 autocorrelation rho along the story, or
restarted in each sentence), predicted out of fold by two adjacent layers of the
packaged model's real hidden states (layer L against L+1), 10 outer folds grouped by
sentence, responses and predictions centred within folds: the re-test as the book runs
it. Each cell measures the two-sided rejection rate at alpha 0.05 of the fixed and the
scaled null on the same draws, and a positive control plants a signal in one extra
column of the tested model.

Usage::

    .venv/bin/python benchmarks/bench_scaled_null.py [--n-words 1000] [--n-draws 300]
        [--n-permutations 500]

Writes ``benchmarks/results/scaled_null.json``.
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
from analysis.encoding import (SCALE_PERMUTATIONS, SCALE_TARGETS,  # noqa: E402
                               centre_within_folds, cv_splits, fit_encoding,
                               refit_null_scale)
from analysis.stats import permutation_r_difference  # noqa: E402
from bench_calibration import (RHOS, load_inputs, null_draw_parser,  # noqa: E402
                               two_sided_rates)


def run_cell(x_a, x_b, y, groups, null, n_permutations, seed):
    """Rejection rates of the fixed and the scaled null on targets ``y`` (one per draw)."""
    fit_kw = dict(groups=groups)
    splits = cv_splits(len(y), 10, groups, None)
    yc = centre_within_folds(y, splits)
    pa, pb = (centre_within_folds(fit_encoding(x, y[:, :, None], **fit_kw)
                                  .predictions[:, :, 0], splits) for x in (x_a, x_b))
    scale = refit_null_scale(yc, pa, pb, x_a, x_b, splits, SCALE_PERMUTATIONS, seed=seed,
                             null=null, n_targets=SCALE_TARGETS, **fit_kw)
    out = {"scale": scale}
    for name, k in (("fixed predictions", 1.0), ("scaled", scale["scale"])):
        res = permutation_r_difference(yc, pa, pb, n_permutations, seed=seed, null_scale=k,
                                       **null)
        out[name] = two_sided_rates(res)
    out["sd_of_observed_difference"] = float(np.std(res["delta"]))
    return out


def main(argv=None):
    args = null_draw_parser(__doc__, "scaled_null.json", 1000, 300, 500, 0.02).parse_args(argv)
    t0 = time.perf_counter()
    inputs = load_inputs(args.n_words, args.layer)
    n = args.n_words
    x_a, x_b = inputs["L"][:n], inputs["L+1"][:n]
    sentence = np.asarray(inputs["sentence"][:n])
    cells = []
    for k, structure in enumerate(("story", "sentences")):
        restart = sentence if structure == "sentences" else None
        null = ({"scheme": "sentences", "groups": sentence} if structure == "sentences"
                else {"scheme": "blocks"})
        for j, rho in enumerate(RHOS):
            seed = args.seed + 100 * k + 10 * j
            y = C.ar1_targets(n, args.n_draws, rho, restart, seed=seed)
            cells.append({"structure": structure, "rho": rho, "planted_share": 0.0,
                          **run_cell(x_a, x_b, y, sentence, null, args.n_permutations,
                                     seed + 1)})
            print(f"{structure} rho={rho}: {time.perf_counter() - t0:.0f} s", flush=True)
        # positive control: the tested model has one more column, which carries the signal
        carrier = np.random.default_rng(args.seed + 99 + k).standard_normal(n)
        noise = C.ar1_targets(n, args.n_draws, RHOS[-1], restart, seed=args.seed + 7 + k)
        share = args.planted_share
        y = np.sqrt(share) * carrier[:, None] + np.sqrt(1 - share) * noise
        cells.append({"structure": structure, "rho": RHOS[-1], "planted_share": share,
                      **run_cell(x_a, np.column_stack([x_a, carrier]), y, sentence, null,
                                 args.n_permutations, args.seed + 1)})
    result = {"what": "two-sided rejection rate at alpha 0.05 of the re-test's difference in "
                      "out-of-fold r (layer L against L+1 of the packaged model, centred within "
                      "folds), holding the predictions fixed, or with the permuted differences "
                      "widened by the refit/fixed spread ratio measured on a random subset of "
                      "targets; AR(1) noise targets; cells with a planted share measure power",
              "model": inputs["model"], "subset": {"targets": SCALE_TARGETS,
                                                   "permutations": SCALE_PERMUTATIONS},
              "settings": {k: v for k, v in vars(args).items() if k != "out"},
              "cells": cells, "seconds": round(time.perf_counter() - t0, 1)}
    for c in cells:
        print(f"{c['structure']:9s} rho={c['rho']:.1f} planted={c['planted_share']:.2f} "
              f"scale {c['scale']['scale']:.3f}  fixed {c['fixed predictions']['rate']:.3f}  "
              f"scaled {c['scaled']['rate']:.3f}  null sd fixed "
              f"{c['fixed predictions']['mean_null_sd']:.4f} scaled "
              f"{c['scaled']['mean_null_sd']:.4f}  sd observed "
              f"{c['sd_of_observed_difference']:.4f}")
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out} in {result['seconds']} s")


if __name__ == "__main__":
    main()
