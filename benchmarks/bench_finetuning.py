"""Benchmark of the permutation test that compares two encoding models (Methods page, fine-tuning and the brain re-test).

Problem (paper scale): 306 channels x 20 windows, ~5,000 words, 10,000 permutations of
the word order, Δ = r(y, ŷ_ft) − r(y, ŷ_base) per channel and window.

What it measures, in one run on the same machine state:

1. ``fast``: :func:`analysis.stats.permutation_r_difference` on the whole problem (every
   permutation, channel and window; no early stopping).
2. ``public``: the public code's way — one ``scipy.stats.pearsonr`` per permutation,
   channel, window and model — timed on ``--public-perms`` permutations x
   ``--public-columns`` channel-window pairs and extrapolated linearly to the whole
   problem (every (permutation, column) pair costs the same).

Synthetic responses and predictions of the right shape are used (the cost does not
depend on the values). Machine details, including the load average at start and end,
are recorded with the helper of ``bench_encoding.py``.

Usage::

    .venv/bin/python benchmarks/bench_finetuning.py [--n-words 5000]
        [--n-permutations 10000] [--threads N] [--public-perms 20] [--public-columns 60]

Writes ``benchmarks/results/finetuning.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from analysis.stats import permutation_r_difference  # noqa: E402
from bench_encoding import machine_info  # noqa: E402


def synthetic(n_words, n_channels, n_windows, seed=0):
    """Responses and two predictions with a little signal, float32."""
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((n_words, n_channels, n_windows)).astype(np.float32)
    base = (0.3 * y + rng.standard_normal(y.shape)).astype(np.float32)
    tuned = (base + 0.3 * rng.standard_normal(y.shape)).astype(np.float32)
    return y, base, tuned


def public_cost(y, a, b, n_perms, n_columns, seed=0):
    """Seconds per (permutation, column) the public way: pearsonr per model."""
    from scipy.stats import pearsonr

    n = y.shape[0]
    flat_y, flat_a, flat_b = (x.reshape(n, -1) for x in (y, a, b))
    rng = np.random.default_rng(seed)
    cols = rng.choice(flat_y.shape[1], n_columns, replace=False)
    start = time.perf_counter()
    for _ in range(n_perms):
        perm = rng.permutation(n)
        for c in cols:
            yp = flat_y[perm, c]
            pearsonr(yp, flat_b[:, c])[0] - pearsonr(yp, flat_a[:, c])[0]
    return (time.perf_counter() - start) / (n_perms * n_columns)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-words", type=int, default=5000)
    ap.add_argument("--n-channels", type=int, default=306)
    ap.add_argument("--n-windows", type=int, default=20)
    ap.add_argument("--n-permutations", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--public-perms", type=int, default=20)
    ap.add_argument("--public-columns", type=int, default=60)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/finetuning.json"))
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    result = {"machine": machine_info(args.threads)}
    y, base, tuned = synthetic(args.n_words, args.n_channels, args.n_windows)
    n_cols = args.n_channels * args.n_windows
    result["problem"] = {"n_words": args.n_words, "n_channels": args.n_channels,
                         "n_windows": args.n_windows, "n_permutations": args.n_permutations}
    with threadpool_limits(args.threads):
        per_pair = public_cost(y, base, tuned, args.public_perms, args.public_columns)
        public_total = per_pair * args.n_permutations * n_cols
        result["public"] = {
            "what": "scipy.stats.pearsonr per permutation, channel-window pair and model",
            "permutations_measured": args.public_perms,
            "columns_measured": args.public_columns,
            "seconds_per_permutation_column": per_pair,
            "seconds_full_extrapolated": public_total,
            "hours_full_extrapolated": public_total / 3600,
        }
        print(f"public: {per_pair * 1e3:.3f} ms per permutation and column -> "
              f"{public_total / 3600:.1f} h for the full test", flush=True)
        start = time.perf_counter()
        res = permutation_r_difference(y, base, tuned, args.n_permutations, seed=0,
                                       n_threads=args.threads)
        fast = time.perf_counter() - start
    result["fast"] = {
        "what": "analysis.stats.permutation_r_difference, all permutations, float32, "
                "column blocks over threads",
        "seconds": fast, "threads": args.threads,
        "seconds_per_permutation_column": fast / (args.n_permutations * n_cols),
        "min_p": float(np.nanmin(res["p_greater"])),
    }
    result["speedup"] = public_total / fast
    print(f"fast: {fast:.1f} s for the full test; speed-up {result['speedup']:.0f}x", flush=True)
    result["machine"]["load_average_end"] = list(os.getloadavg())
    result["benchmark_seconds"] = time.perf_counter() - t_start
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float))
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
