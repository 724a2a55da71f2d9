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

The power cells (rho 0.8) check the refit test's minimum detectable effect
(:func:`analysis.power.mde_refit`, stated beside a null re-test): effects of several
sizes are planted, and the refit test's rejection rate is set beside the model's
prediction at the mean observed difference, in the nested design (``extra column``)
and in two models of one width (``swapped column``: layer L + a noise column against
layer L+1 + the carrier), the re-test's situation. ``refit_mde_model`` records the
measured 80 % crossing and the MDEs of a pure shift and of the book's model, in null sds.

Each draw is one target; the draws of a cell are fitted together as the columns of one
target matrix, and so are the permuted copies of the refit null.

Usage::

    .venv/bin/python benchmarks/bench_refit_null.py [--n-words 600] [--n-draws 200]
        [--n-permutations 100] [--planted-share 0.02]
    # the recorded power cells: the default shares, then two more swapped-column ones
    .venv/bin/python benchmarks/bench_refit_null.py --power-only
    .venv/bin/python benchmarks/bench_refit_null.py --power-only --append \
        --extra-shares --power-shares 0.2 0.25

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


def _tests(x_a, x_b, y, splits, n_permutations, seed):
    """Observed difference in out-of-fold r and both nulls' results on targets ``y``."""
    yc = centre_within_folds(y, splits)
    pred = [centre_within_folds(fit_encoding(x, y[:, :, None]).predictions[:, :, 0], splits)
            for x in (x_a, x_b)]
    observed = pearson_columns(pred[1], yc) - pearson_columns(pred[0], yc)
    fixed = permutation_r_difference(yc, pred[0], pred[1], n_permutations, seed=seed,
                                     scheme="blocks")
    refit = refit_r_difference(yc, x_a, x_b, observed, splits, n_permutations, seed=seed,
                               null={"scheme": "blocks"})
    return observed, fixed, refit


def run_cell(x_a, x_b, y, splits, n_permutations, seed):
    """Rejection rates of the fixed-prediction and the refit null on targets ``y``."""
    observed, fixed, refit = _tests(x_a, x_b, y, splits, n_permutations, seed)
    out = {}
    for name, res in (("fixed predictions", fixed), ("refit", refit)):
        p2 = two_sided_p(res["p_greater"], res["p_less"])
        out[name] = {**C.rate_entry(np.nan_to_num(p2, nan=1.0) < ALPHA, ALPHA),
                     "rate_better": float(np.mean(res["p_greater"] < ALPHA)),
                     "mean_null_sd": float(np.mean(res["null_sd"]))}
    out["sd_of_observed_difference"] = float(np.std(observed))
    return out


def power_cell(x_a, x_b, y, splits, n_permutations, seed):
    """Measured power of both nulls on planted targets, and the refit MDE model's prediction.

    ``mean_z`` and ``sd_z`` are the mean and sd over draws of the observed difference in
    null sds from the null mean (``sd_z`` is 1 when the spread under the effect equals
    the null's, as a pure shift assumes); the predictions are :func:`predict`'s.
    """
    observed, fixed, refit = _tests(x_a, x_b, y, splits, n_permutations, seed)
    out = {}
    for name, res in (("fixed predictions", fixed), ("refit", refit)):
        p2 = two_sided_p(res["p_greater"], res["p_less"])
        out[name] = {**C.rate_entry(np.nan_to_num(p2, nan=1.0) < ALPHA, ALPHA),
                     "mean_null_mean": float(np.mean(res["null_mean"])),
                     "mean_null_sd": float(np.mean(res["null_sd"]))}
    z = (observed - refit["null_mean"]) / refit["null_sd"]
    mean_obs, m0, s0 = (float(np.mean(v)) for v in (observed, refit["null_mean"],
                                                    refit["null_sd"]))
    out.update(mean_observed_difference=mean_obs,
               sd_of_observed_difference=float(np.std(observed)),
               mean_z=float(np.mean(z)), sd_z=float(np.std(z)),
               z_quantiles={str(q): float(np.quantile(z, q)) for q in (0.1, 0.2, 0.5, 0.8)})
    return predict(out)


def predict(cell):
    """A power cell's effect in null sds and the refit model's predicted power there.

    :func:`analysis.power.refit_power_at` at the mean observed difference with the
    draws' mean null mean and sd: ``predicted_power_shift`` for a pure shift of the
    null, ``predicted_power`` with the spread growth the book uses.
    """
    from analysis.power import REFIT_SPREAD_GROWTH, refit_power_at

    m0, s0 = cell["refit"]["mean_null_mean"], cell["refit"]["mean_null_sd"]
    cell["effect_in_null_sds"] = (cell["mean_observed_difference"] - m0) / s0
    cell["predicted_power_shift"] = refit_power_at(cell["mean_observed_difference"], s0, m0,
                                                   ALPHA, spread_growth=0.0)
    cell["predicted_power"] = refit_power_at(cell["mean_observed_difference"], s0, m0, ALPHA)
    cell["spread_growth"] = REFIT_SPREAD_GROWTH
    return cell


def mde_summary(cells, power=0.8):
    """Measured 80 % crossing of the swapped-column cells against the models' MDEs.

    The measured crossing is the smallest planted effect (in null sds) whose refit
    rejection rate reached ``power`` (the one below it bracketing it).
    """
    from analysis.power import mde_refit

    swapped = sorted((c for c in cells if c["design"] == "swapped column"),
                     key=lambda c: c["effect_in_null_sds"])
    above = [c for c in swapped if c["refit"]["rate"] >= power]
    below = [c for c in swapped if c["refit"]["rate"] < power]
    return {"power": power,
            "measured_bracket_null_sds": [below[-1]["effect_in_null_sds"] if below else 0.0,
                                          above[0]["effect_in_null_sds"] if above else None],
            "measured_rates": [below[-1]["refit"]["rate"] if below else None,
                               above[0]["refit"]["rate"] if above else None],
            "shift_model_mde_null_sds": mde_refit(1.0, power=power, alpha=ALPHA,
                                                  spread_growth=0.0)["mde"],
            "book_model_mde_null_sds": mde_refit(1.0, power=power, alpha=ALPHA)["mde"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-words", type=int, default=600)
    ap.add_argument("--n-draws", type=int, default=200)
    ap.add_argument("--n-permutations", type=int, default=100)
    ap.add_argument("--layer", type=int, default=12)
    ap.add_argument("--planted-share", type=float, default=0.02)
    ap.add_argument("--power-shares", type=float, nargs="*", default=[0.05, 0.15, 0.3],
                    help="shares of variance planted in the swapped-column cells (rho 0.8)")
    ap.add_argument("--extra-shares", type=float, nargs="*", default=[0.01, 0.03],
                    help="shares of variance planted in the extra-column cells (rho 0.8)")
    ap.add_argument("--power-only", action="store_true",
                    help="run only the power cells; keep the other cells of --out")
    ap.add_argument("--rescore", action="store_true",
                    help="recompute only the predictions of the power cells of --out "
                         "(after a change of the model; no fits)")
    ap.add_argument("--append", action="store_true",
                    help="with --power-only: add the power cells to those of --out "
                         "(a cell of the same design and share is replaced)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "refit_null.json"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.rescore:
        result = json.loads(Path(args.out).read_text())
        result["power_cells"] = [predict(c) for c in result["power_cells"]]
        result["refit_mde_model"] = mde_summary(result["power_cells"])
        return report(result, args.out, t0)
    inputs = load_inputs(max(args.n_words, 1000), args.layer)
    n = args.n_words
    x_a, x_b = inputs["L"][:n], inputs["L+1"][:n]
    splits = cv_splits(n, 10, None, None)
    if args.power_only:
        result = json.loads(Path(args.out).read_text())
    else:
        result = null_cells(args, inputs, x_a, x_b, splits, t0)
    new = power_cells(args, x_a, x_b, inputs, splits, t0)
    settings = {k: v for k, v in vars(args).items() if k != "out"}
    if args.power_only and args.append:
        done = {(c["design"], c["planted_share"]) for c in new}
        old = [c for c in result.get("power_cells", [])
               if (c["design"], c["planted_share"]) not in done]
        new = sorted(old + new, key=lambda c: (c["design"], c["planted_share"]))
        runs = result.get("power_runs", [])
    else:
        runs = []
    result["power_cells"] = new
    result["power_runs"] = runs + [{**settings,
                                    "seconds": round(time.perf_counter() - t0, 1)}]
    result["refit_mde_model"] = mde_summary(result["power_cells"])
    return report(result, args.out, t0)


def report(result, out, t0):
    """Print the power cells and write the result."""
    for c in result["power_cells"]:
        print(f"{c['design']:>16} share={c['planted_share']:.2f}  mean dr "
              f"{c['mean_observed_difference']:.4f} (sd {c['sd_of_observed_difference']:.4f})  "
              f"refit null mean {c['refit']['mean_null_mean']:.4f} sd "
              f"{c['refit']['mean_null_sd']:.4f}  power refit {c['refit']['rate']:.3f} "
              f"predicted {c['predicted_power']:.3f} (shift {c['predicted_power_shift']:.3f})"
              f"  fixed {c['fixed predictions']['rate']:.3f}  d {c['effect_in_null_sds']:.2f}"
              f"  sd_z {c['sd_z']:.2f}")
    print(result["refit_mde_model"])
    Path(out).write_text(json.dumps(result, indent=1))
    print(f"wrote {out} in {time.perf_counter() - t0:.0f} s")


def power_cells(args, x_a, x_b, inputs, splits, t0):
    """Planted effects of several sizes at rho 0.8, in two designs of the tested model.

    ``extra column``: the tested model is the reference's layer plus one column that
    carries the signal (nested models). ``swapped column``: the reference is layer L
    plus a column of noise, the tested model layer L+1 plus the carrier (two models of
    one width that differ, as a fine-tuned model differs from its base).
    """
    n = args.n_words
    rng = np.random.default_rng(args.seed + 99)
    carrier, decoy = rng.standard_normal((2, n))
    rho = RHOS[-1]
    noise = C.ar1_targets(n, args.n_draws, rho, None, seed=args.seed + 7)
    designs = {"extra column": (x_a, np.column_stack([x_a, carrier]), args.extra_shares),
               "swapped column": (np.column_stack([x_a, decoy]),
                                  np.column_stack([x_b, carrier]), args.power_shares)}
    cells = []
    for design, (fa, fb, shares) in designs.items():
        for share in shares:
            y = np.sqrt(share) * carrier[:, None] + np.sqrt(1 - share) * noise
            cells.append({"design": design, "rho": rho, "planted_share": share,
                          **power_cell(fa, fb, y, splits, args.n_permutations,
                                       args.seed + 1)})
            print(f"{design} share={share}: {time.perf_counter() - t0:.0f} s", flush=True)
    return cells


def null_cells(args, inputs, x_a, x_b, splits, t0):
    """The null cells at every rho and the 2 % planted cell of the first run."""
    n = args.n_words
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
    return result


if __name__ == "__main__":
    main()
