"""Benchmark of the BIDS study loader (analysis.loaders.bids) on one realistic recording.

What it measures, on a synthetic MEG recording of MEG-MASC's shape (by default 10 min,
208 magnetometers, 1 kHz, written as FIF with mne-bids; a word every 0.4 s, i.e. 2.5
words/s, with three phoneme events per word, all as MEG-MASC-like dictionaries in
``trial_type``):

1. ``cold``: :func:`analysis.loaders.bids.load_bids` with an empty window cache: the
   recording is read in blocks of ``block_s`` seconds and windowed (20 x 25 ms).
2. ``cached``: the same call again: the windows come from the cache.
3. ``filtered``: a 0.5-30 Hz band-pass (``l_freq``/``h_freq``), which loads the whole
   recording before windowing (a new cache folder).
4. ``epochs_baseline``: the usual in-memory way (``read_raw_bids``, ``load_data``,
   ``mne.Epochs(..., preload=True)``, then the same window means), for comparison.

Each runs in a fresh Python process; the JSON records its wall time and its peak
resident memory (``VmHWM`` of ``/proc/self/status``, Linux), and the peak of a
process that only imports the same modules (``imports_only``), so ``peak - imports`` is
what the loading itself needs. It also records the cache size per recording and an
estimate for a study of MEG-MASC's size (27 subjects x 2 sessions x 4 stories; the
recording minutes and words per session are options, see ``--study-*``).

Usage::

    .venv/bin/python benchmarks/bench_bids.py [--minutes 10] [--channels 208] [--sfreq 1000]

Writes ``benchmarks/results/bids.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MEASURE = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np, mne, mne_bids
from analysis.loaders.bids import load_bids
mode, root, cache = sys.argv[1], sys.argv[2], sys.argv[3]
t1 = time.perf_counter()
n_words = None
if mode == "epochs_baseline":
    from analysis.loaders._io import _window_edges
    from analysis.loaders.bids import read_word_events
    path = mne_bids.BIDSPath(root=root, subject="01", session="0", task="0", datatype="meg")
    raw = mne_bids.read_raw_bids(path, verbose="error").load_data(verbose="error")
    ev = read_word_events(path.copy().update(suffix="events", extension=".tsv").fpath)
    sf = raw.info["sfreq"]
    events = np.column_stack([np.rint(ev.onsets * sf).astype(int) + raw.first_samp,
                              np.zeros(len(ev.words), int), np.ones(len(ev.words), int)])
    ep = mne.Epochs(raw, events, tmin=0.0, tmax=0.5, baseline=None, preload=True,
                    verbose="error")
    edges = _window_edges(20, 25.0, sf, "bench")
    d = ep.get_data(copy=False)
    out = np.stack([d[:, :, a:b].mean(-1) for a, b in zip(edges[:-1], edges[1:])], -1)
    n_words = out.shape[0]
elif mode != "imports_only":
    kw = dict(l_freq=0.5, h_freq=30.0) if mode == "filtered" else {}
    ds = load_bids(root, cache_dir=cache, verbose=False, **kw)
    n_words = ds.n_words
t2 = time.perf_counter()
# VmHWM: this process's peak resident memory (ru_maxrss would carry the parent's over exec)
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "n_words": n_words,
                  "peak_rss_mb": hwm / 1024}))
"""


def write_recording(root, minutes, n_channels, sfreq, word_every_s, seed=0):
    """One MEG-MASC-like recording (sub-01 ses-0 task-0) written with mne-bids as FIF."""
    import mne
    import mne_bids

    rng = np.random.default_rng(seed)
    n_times = int(minutes * 60 * sfreq)
    info = mne.create_info([f"MEG {k:03d}" for k in range(n_channels)], sfreq, "mag")
    data = np.empty((n_channels, n_times))
    for c in range(n_channels):  # one channel at a time keeps the writer's memory down
        data[c] = 1e-13 * rng.standard_normal(n_times)
    raw = mne.io.RawArray(data, info, verbose="error")
    del data
    raw.set_meas_date(1_600_000_000)
    raw.info["line_freq"] = 60
    onsets = np.arange(1.0, minutes * 60 - 1.0, word_every_s)
    desc, times = [], []
    for i, t in enumerate(onsets):
        desc.append(str({"story": "lw1", "kind": "word", "word": f"w{i % 997}",
                         "word_index": i}))
        times.append(t)
        for p in range(3):
            desc.append(str({"story": "lw1", "kind": "phoneme", "phoneme": "a_I"}))
            times.append(t + 0.08 * p)
    raw.set_annotations(mne.Annotations(times, [0.1] * len(times), desc,
                                        orig_time=raw.info["meas_date"]))
    path = mne_bids.BIDSPath(subject="01", session="0", task="0", datatype="meg", root=root)
    mne_bids.write_raw_bids(raw, path, allow_preload=True, format="FIF", overwrite=True,
                            verbose="error")
    return len(onsets)


def measure(mode, root, cache):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", MEASURE, mode, str(root), str(cache)],
                          cwd=ROOT, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(f"{mode}: {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_s"] = time.perf_counter() - t0
    return out


def folder_mb(path):
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 2 ** 20


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--channels", type=int, default=208)
    p.add_argument("--sfreq", type=float, default=1000.0)
    p.add_argument("--word-every", type=float, default=0.4, help="seconds between words")
    p.add_argument("--study-subjects", type=int, default=27)
    p.add_argument("--study-sessions", type=int, default=2)
    p.add_argument("--study-stories", type=int, default=4)
    p.add_argument("--study-minutes-per-session", type=float, default=60.0,
                   help="recorded minutes of one session (all stories)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bids.json"))
    p.add_argument("--write-only", metavar="ROOT", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.write_only:  # the child process that writes the recording
        print(write_recording(Path(args.write_only), args.minutes, args.channels, args.sfreq,
                              args.word_every))
        return

    t_start = time.time()
    result = {"machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                          "processor": platform.processor(), "cpus": os.cpu_count(),
                          "load_average_start": list(os.getloadavg())},
              "recording": {"minutes": args.minutes, "channels": args.channels,
                            "sfreq": args.sfreq,
                            "format": "FIF written by mne-bids (float64 samples)",
                            "windows": "20 x 25 ms from onset", "block_s": 60.0}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "study"
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--write-only", str(root),
                               "--minutes", str(args.minutes), "--channels", str(args.channels),
                               "--sfreq", str(args.sfreq), "--word-every", str(args.word_every)],
                              cwd=ROOT, capture_output=True, text=True, check=True)
        n_words = int(proc.stdout.split()[-1])
        result["recording"]["n_words"] = n_words
        result["recording"]["write_s"] = time.perf_counter() - t0
        result["recording"]["file_mb"] = folder_mb(root / "sub-01")
        runs = {}
        for mode, cache in (("imports_only", "none"), ("cold", Path(tmp) / "cache"),
                            ("cached", Path(tmp) / "cache"), ("filtered", Path(tmp) / "cache_f"),
                            ("epochs_baseline", "none")):
            runs[mode] = measure(mode, root, cache)
            print(mode, runs[mode], flush=True)
        base = runs["imports_only"]["peak_rss_mb"]
        for mode, r in runs.items():
            r["loading_peak_mb"] = r["peak_rss_mb"] - base
        result["runs"] = runs
        cache_mb = folder_mb(Path(tmp) / "cache")
    result["cache_mb_per_recording"] = cache_mb
    # a study of MEG-MASC's size, scaled from this recording
    rec_min = args.minutes
    n_rec = args.study_subjects * args.study_sessions * args.study_stories
    total_min = args.study_subjects * args.study_sessions * args.study_minutes_per_session
    words_per_session = args.study_minutes_per_session * 60 / args.word_every
    out_bytes = words_per_session * args.channels * 20 * 4
    est = {
        "recordings": n_rec, "recorded_minutes": total_min,
        "assumed_words_per_session": int(words_per_session),
        "cold_hours": runs["cold"]["load_s"] / rec_min * total_min / 3600,
        "cached_minutes": runs["cached"]["load_s"] / rec_min * total_min / 60,
        "filtered_hours": runs["filtered"]["load_s"] / rec_min * total_min / 3600,
        "cache_gb": cache_mb / rec_min * total_min / 1024,
        "subject_responses_gb": args.study_subjects * out_bytes / 2 ** 30,
        # from array sizes, not measured: the outputs (each subject and the mean, float32),
        # the float64 sums and uint16 counts of one subject and of the mean (5 x the mean's
        # size) and the temporaries of one subject's division (about 5 x), plus the
        # measured peak of windowing one recording (it does not grow with the study)
        "peak_memory_gb_estimate": ((args.study_subjects + 11) * out_bytes) / 2 ** 30
        + runs["cold"]["loading_peak_mb"] / 1024,
        "peak_memory_gb_estimate_keep_subjects_false": 11 * out_bytes / 2 ** 30
        + runs["cold"]["loading_peak_mb"] / 1024,
    }
    result["study_estimate"] = est
    result["machine"]["load_average_end"] = list(os.getloadavg())
    result["machine"]["total_s"] = time.time() - t_start
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(est, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
