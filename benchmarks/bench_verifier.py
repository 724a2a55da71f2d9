"""Benchmark of the hypothesis verifiers (analysis.hypotheses) on the project's story.

What it measures (one run, same machine state):

1. ``embedding``: :class:`analysis.hypotheses.EmbeddingVerifier` scoring every sentence of
   the story against every property of the bank (``--sentences`` sentences x all bank
   properties), from an empty embedding cache: each sentence and property is embedded
   once, then one matrix product and the calibration. Reported as (sentence, property)
   pairs per second, plus the model load time and the embedding rate (texts/s).
2. ``llm``: :class:`analysis.hypotheses.LLMVerifier` with the offline default LLM
   (SmolLM2-135M-Instruct through transformers), on ``--llm-pairs`` pairs only, with
   the disk cache disabled so every pair is a forward pass. Pairs per second, plus load
   time. (``--llm-pairs 0`` skips it.)

Usage::

    .venv/bin/python benchmarks/bench_verifier.py [--sentences 0] [--llm-pairs 24]
        [--threads N]

Writes ``benchmarks/results/hypotheses.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_encoding import machine_info, write_result  # noqa: E402  (shared helpers)

from analysis import hypotheses as H  # noqa: E402
from analysis.loaders import segment_sentences  # noqa: E402
from analysis.simulate import story_words  # noqa: E402


def story_sentences():
    """The story's sentences (as the chapter segments them)."""
    words, _ = story_words()
    sentence = segment_sentences(words)
    return [" ".join(w for w, s in zip(words, sentence) if s == k)
            for k in range(int(sentence.max()) + 1)]


def bench_embedding(sentences, hypotheses, device):
    start = time.perf_counter()
    verifier = H.EmbeddingVerifier(device=device)
    load = time.perf_counter() - start
    verifier._cache.clear()  # time the scoring from scratch (calibration texts included)
    start = time.perf_counter()
    scores = verifier.score(sentences, hypotheses)
    seconds = time.perf_counter() - start
    n_texts = len(set(sentences)) + len(set(hypotheses))
    return {"load_seconds": load, "pairs": int(scores.size), "seconds": seconds,
            "pairs_per_second": scores.size / seconds, "texts_embedded": n_texts,
            "texts_per_second": n_texts / seconds, "device": verifier.device}


def bench_llm(sentences, hypotheses, n_pairs, device):
    from analysis.llm import LLM, TransformersBackend

    start = time.perf_counter()
    backend = TransformersBackend("default", device=device)
    _ = backend.lm
    backend._yes_no_ids()
    load = time.perf_counter() - start
    verifier = H.LLMVerifier(LLM(backend, cache_dir=False))
    n_hyp = max(1, min(len(hypotheses), n_pairs // 8))
    n_sent = max(1, n_pairs // n_hyp)
    start = time.perf_counter()
    scores = verifier.score(sentences[:n_sent], hypotheses[:n_hyp])
    seconds = time.perf_counter() - start
    return {"model": backend.spec.name, "load_seconds": load, "pairs": int(scores.size),
            "seconds": seconds, "pairs_per_second": scores.size / seconds,
            "mean_p_yes": float(scores.mean()), "sd_p_yes": float(scores.std())}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sentences", type=int, default=0, help="0: every story sentence")
    ap.add_argument("--llm-pairs", type=int, default=24)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "hypotheses.json"))
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    import torch

    torch.set_num_threads(args.threads)
    sentences = story_sentences()
    if args.sentences:
        sentences = sentences[:args.sentences]
    hypotheses = H.load_bank()["hypothesis"].tolist()
    result = {"machine": machine_info(args.threads), "n_sentences": len(sentences),
              "n_hypotheses": len(hypotheses)}
    with threadpool_limits(args.threads):
        result["embedding"] = bench_embedding(sentences, hypotheses, args.device)
        e = result["embedding"]
        print(f"embedding: {e['pairs']} pairs in {e['seconds']:.2f} s = "
              f"{e['pairs_per_second']:.0f} pairs/s (load {e['load_seconds']:.1f} s)", flush=True)
        if args.llm_pairs:
            result["llm"] = bench_llm(sentences, hypotheses, args.llm_pairs, args.device)
            m = result["llm"]
            print(f"llm ({m['model']}): {m['pairs']} pairs in {m['seconds']:.1f} s = "
                  f"{m['pairs_per_second']:.2f} pairs/s (load {m['load_seconds']:.1f} s); "
                  f"P(Yes) {m['mean_p_yes']:.2f} +- {m['sd_p_yes']:.2f}", flush=True)
            result["embedding_over_llm"] = e["pairs_per_second"] / m["pairs_per_second"]
    return write_result(result, args.out, t_start)


if __name__ == "__main__":
    main()
