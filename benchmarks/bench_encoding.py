"""Benchmark of the encoding models (analysis.encoding) on the simulated default study.

What it measures (all in one run, on the same machine state):

1. ``fast``: :func:`analysis.encoding.fit_encoding` — all 20 windows x 306 channels as
   one multi-output problem, 10 outer x 5 inner contiguous folds, per-target penalty
   over the default grid — per layer, on the layers given by ``--layers`` (default:
   2 layers; the cost of a layer does not depend on which layer it is, so the time
   for all layers is extrapolated as per-layer mean x n_layers; ``--layers all``
   measures every layer).
2. ``baseline``: the public code's way of doing the same search — per window, a fresh
   scikit-learn ``Ridge`` fit (a new decomposition) for every penalty and inner
   split, then a refit — at the SAME penalty grid and folds, timed on
   ``--baseline-windows`` windows of one outer fold of one layer and extrapolated
   linearly to 10 folds x 20 windows x n_layers (each (fold, window) cell costs
   the same).
3. ``torch_cpu``: the torch path of the fast solver on one layer (if torch exists).
4. ``matmul``: the machine's float32 and float64 matrix-multiply rate on the
   product that dominates the fast solver, ``(d x d) @ (d x n_targets)``.

The fast solver's floating-point work is counted analytically (matrix products
only) and reported as achieved GFLOP/s next to the matmul rate.

Usage::

    .venv/bin/python benchmarks/bench_encoding.py [--features standin|real]
        [--layers 12,30 | all] [--threads N] [--baseline-windows 1]

Writes ``benchmarks/results/encoding.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.encoding import DEFAULT_ALPHAS, contiguous_folds, fit_encoding  # noqa: E402
from analysis.simulate import SimulationConfig, simulate_study, story_words  # noqa: E402

N_LAYERS, D = 31, 576  # SmolLM2-135M: embeddings + 30 blocks, hidden size 576


def standin_hidden(n_words, n_layers=N_LAYERS, d=D, seed=0):
    """Stand-in hidden states of the default model's shape (layers share a subspace)."""
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal((n_words, 64)).astype(np.float32)
    out = np.empty((n_layers, n_words, d), np.float32)
    for layer in range(n_layers):
        out[layer] = shared @ rng.standard_normal((64, d)).astype(np.float32)
        out[layer] += 1.5 * rng.standard_normal((n_words, d)).astype(np.float32)
    return out


def load_study(kind):
    """The simulated default study and the hidden states that drive it."""
    if kind == "real":
        from analysis.datasets import load_simulated

        ds, feats = load_simulated(return_features=True)
        return ds, np.asarray(feats.hidden, dtype=np.float32)
    words, cats = story_words()
    hidden = standin_hidden(len(words))
    ds = simulate_study(words, hidden, cats, SimulationConfig(seed=0), model_identity="stand-in")
    return ds, hidden


def fast_flops(n, d, t, n_alphas, n_folds=10, n_inner=5):
    """Matrix-product FLOPs of one ``fit_encoding`` call (see analysis.encoding)."""
    total = 0.0
    for test in contiguous_folds(n, n_folds):
        n_tr, n_te = n - len(test), len(test)
        total += 2 * n_tr * d * d + 2 * n_tr * d * t               # Gram, X'Y
        for val in contiguous_folds(n_tr, n_inner):
            nv = len(val)
            total += 2 * nv * d * d * 3 + 2 * nv * d * t * 2         # Gram, A, A'A; X'Y, A'Y
            total += 2 * d * d * t + n_alphas * (2 * d * d * t + 2 * d * t)
        total += 2 * d * d * t + 2 * n_te * d * d + 2 * n_te * d * t  # refit, predict
    return total


def matmul_rate(d, t, dtype, repeats=5):
    """GFLOP/s of a (d x d) @ (d x t) product."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((d, d)).astype(dtype)
    b = rng.standard_normal((d, t)).astype(dtype)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * d * d * t * repeats / (time.perf_counter() - start) / 1e9


def baseline_cell(x, resp, train, test, window, alphas, n_inner=5):
    """Public-code-style search for one (outer fold, window): a Ridge fit per penalty/split."""
    from sklearn.linear_model import Ridge

    xs = (x - x[train].mean(0)) / x[train].std(0)
    y = resp[:, :, window].astype(np.float64)
    ys = (y[train] - y[train].mean(0)) / y[train].std(0)
    xtr = xs[train]
    err = np.zeros((len(alphas), y.shape[1]))
    for val in contiguous_folds(len(train), n_inner):
        tr = np.setdiff1d(np.arange(len(train)), val)
        for i, a in enumerate(alphas):
            model = Ridge(alpha=a, fit_intercept=False).fit(xtr[tr], ys[tr])
            err[i] += ((ys[val] - model.predict(xtr[val])) ** 2).sum(0)
    best = err.argmin(0)
    for i in np.unique(best):  # refit once per distinct chosen penalty
        Ridge(alpha=alphas[i], fit_intercept=False).fit(xtr, ys[:, best == i]).predict(xs[test])


def machine_info(threads):
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__, "cpu_count": os.cpu_count(), "blas_threads": threads,
            "load_average_start": list(os.getloadavg())}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["blas"] = [{k: p.get(k) for k in ("internal_api", "version", "num_threads")}
                    for p in threadpool_info()]
    return info


def write_result(result, out, t_start):
    """Add the end-of-run load average and duration, write the JSON, return ``result``."""
    result["machine"]["load_average_end"] = list(os.getloadavg())
    result["benchmark_seconds"] = time.perf_counter() - t_start
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float))
    print(f"wrote {out}")
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--features", choices=["standin", "real"], default="standin")
    ap.add_argument("--layers", default="12,30", help="comma list or 'all'")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--skip-torch", action="store_true", help="do not time the torch path")
    ap.add_argument("--baseline-windows", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/encoding.json"))
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    result = {"machine": machine_info(args.threads), "features": args.features}
    with threadpool_limits(args.threads):
        ds, hidden = load_study(args.features)
        n, n_ch, n_win = ds.responses.shape
        n_layers, _, d = hidden.shape
        t = n_ch * n_win
        layers = list(range(n_layers)) if args.layers == "all" else \
            [int(v) for v in args.layers.split(",")]
        alphas = DEFAULT_ALPHAS
        result["problem"] = {"n_words": n, "n_channels": n_ch, "n_windows": n_win,
                             "n_layers": n_layers, "d": d, "n_alphas": len(alphas),
                             "alphas": [float(a) for a in alphas], "n_folds": 10,
                             "n_inner": 5}
        result["matmul_gflops"] = {"float32": matmul_rate(d, t, np.float32),
                                   "float64": matmul_rate(d, t, np.float64)}
        print(f"matmul: {result['matmul_gflops']}", flush=True)

        per_layer, summaries = [], {}
        for layer in layers:
            res = fit_encoding(hidden[layer], ds, alphas=alphas, layer=layer)
            per_layer.append(res.params["seconds"])
            summaries[layer] = {"mean_r": float(np.mean(res.r)),
                                "peak_window": res.peak_window(),
                                "alpha_edge_share": res.alpha_edge_share()}
            print(f"fast layer {layer}: {per_layer[-1]:.1f} s, mean r "
                  f"{summaries[layer]['mean_r']:.4f}", flush=True)
        flops = fast_flops(n, d, t, len(alphas))
        fast_layer_s = float(np.mean(per_layer))
        result["fast"] = {
            "layers_measured": layers, "seconds_per_layer": per_layer,
            "seconds_all_layers": fast_layer_s * n_layers,
            "all_layers_extrapolated": len(layers) < n_layers,
            "gflop_per_layer": flops / 1e9, "achieved_gflops": flops / 1e9 / fast_layer_s,
            "fraction_of_float32_matmul": flops / 1e9 / fast_layer_s
            / result["matmul_gflops"]["float32"],
            "layer_summaries": summaries,
            "truth": {k: ds.provenance["truth"][k] for k in ("truth_layer", "lm_peak_window")},
        }

        try:
            if args.skip_torch:
                raise ImportError("skipped")
            import torch

            start = time.perf_counter()
            fit_encoding(hidden[layers[0]], ds, alphas=alphas, backend="torch", device="cpu")
            result["torch_cpu"] = {"seconds_per_layer": time.perf_counter() - start,
                                   "torch": torch.__version__,
                                   "torch_threads": torch.get_num_threads()}
            print(f"torch cpu: {result['torch_cpu']['seconds_per_layer']:.1f} s", flush=True)
        except ImportError:
            result["torch_cpu"] = None

        x = hidden[layers[0]].astype(np.float64)
        test = contiguous_folds(n, 10)[0]
        train = np.setdiff1d(np.arange(n), test)
        start = time.perf_counter()
        for w in range(args.baseline_windows):
            baseline_cell(x, ds.responses, train, test, w, alphas)
        cell = (time.perf_counter() - start) / args.baseline_windows
        base_layer = cell * 10 * n_win
        result["baseline"] = {
            "what": "per window: sklearn Ridge (float64) refit per penalty and inner split, "
                    "then refit per chosen penalty; same grid and folds",
            "cells_measured": args.baseline_windows, "seconds_per_cell": cell,
            "extrapolation": "seconds_per_cell x 10 outer folds x n_windows (x n_layers)",
            "seconds_per_layer": base_layer, "seconds_all_layers": base_layer * n_layers,
        }
        result["speedup"] = base_layer / fast_layer_s
        print(f"baseline: {cell:.1f} s per (fold, window) -> {base_layer:.0f} s per layer; "
              f"speed-up {result['speedup']:.1f}x", flush=True)
    return write_result(result, args.out, t_start)


if __name__ == "__main__":
    main()
