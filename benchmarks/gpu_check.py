"""Every GPU path of the book against its CPU result, and its speed at paper scale.

CI never has a GPU, so this script is the check of the GPU code: run it on a machine with
a CUDA device (``python benchmarks/gpu_check.py --out results.json``). It covers

1. **bf16 features** (:func:`analysis.features.extract_features` on CUDA in bfloat16) against
   float32 on the CPU, on a small random Llama with the project's tokenizer; then the
   speed of features on a model of GPT-2 XL's depth and width (48 blocks of width 1,600,
   built from a Llama config with random weights, no download; its gated MLP and the
   project's 49k-token vocabulary make it 2.1 B parameters against GPT-2 XL's 1.5 B);
2. **torch ridge** (:func:`analysis.encoding.fit_encoding` with ``backend="torch"``) against
   numpy on the CPU, on stand-in features of the paper's size (4,697 words x 1,600
   columns, 306 channels x 20 windows);
3. **training steps** (the multiple-choice loss of :mod:`analysis.finetune`, bf16 autocast,
   AdamW) against float32 on the CPU on the small model (the loss of the same steps), and
   the time per step at GPT-2 XL's size;
4. **the permutation test** (:func:`analysis.stats.permutation_r_difference` with
   ``backend="torch"``) against the numpy backend with the same permutations, at the
   paper's size (5,000 words, 306 x 20 columns, 10,000 permutations).

``--small`` shrinks every size so the script can be tried on a CPU-only machine (the
"GPU" side then runs on the CPU too). The tokenizer is read from ``--tokenizer`` (a folder
saved with ``save_pretrained``; by default the project's offline model's tokenizer).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _sync(device):
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _tokenizer(path):
    from transformers import AutoTokenizer

    if path:
        return AutoTokenizer.from_pretrained(path)
    from analysis.lm import _default_gguf

    g = _default_gguf()
    return AutoTokenizer.from_pretrained(g.parent, gguf_file=g.name)


def _llama(tok, layers, width, heads, kv_heads, ffn, folder, seed=0):
    """A random Llama with the given size, saved in HF format (a loadable model folder)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=len(tok), hidden_size=width, intermediate_size=ffn,
                         num_hidden_layers=layers, num_attention_heads=heads,
                         num_key_value_heads=kv_heads, max_position_embeddings=1024,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, tie_word_embeddings=False,
                         initializer_range=0.02)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    folder = Path(folder)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    n = sum(p.numel() for p in model.parameters())
    del model
    return folder, n


def _words(n):
    from analysis.simulate import story_words

    words = story_words()[0]
    return (words * (n // len(words) + 1))[:n]


def check_features(tok, gpu, work, small):
    """bf16 on the GPU against float32 on the CPU; speed at GPT-2 XL size."""
    from analysis.features import extract_features

    out = {}
    folder, _ = _llama(tok, 4, 128, 4, 2, 256, work / "small-llama")
    words = _words(300 if small else 1000)
    t = time.perf_counter()
    cpu = extract_features(words, model=str(folder), device="cpu", dtype="float32",
                           cache_dir=False, progress=False)
    out["small_cpu_float32_s"] = time.perf_counter() - t
    t = time.perf_counter()
    dev = extract_features(words, model=str(folder), device=gpu, cache_dir=False,
                           progress=False, dtype="bfloat16" if gpu.startswith("cuda") else None)
    out["small_gpu_s"] = time.perf_counter() - t
    out["small_gpu_dtype"] = dev.params["dtype"]
    corr = [float(np.corrcoef(cpu.hidden[k].ravel(), dev.hidden[k].ravel())[0, 1])
            for k in range(cpu.hidden.shape[0])]
    rel = float(np.abs(cpu.hidden - dev.hidden).max() / np.abs(cpu.hidden).max())
    out["hidden_correlation_per_layer"] = corr
    out["hidden_max_relative_difference"] = rel
    out["surprisal_max_abs_difference_nats"] = float(np.nanmax(np.abs(cpu.surprisal -
                                                                       dev.surprisal)))
    out["surprisal_correlation"] = float(np.corrcoef(cpu.surprisal, dev.surprisal)[0, 1])
    out["ok"] = bool(min(corr) > 0.99 and out["surprisal_correlation"] > 0.99)
    # paper scale: GPT-2 XL's 48 blocks of width 1,600
    size = (2, 256, 4, 4, 1024) if small else (48, 1600, 25, 25, 6400)
    folder, n_params = _llama(tok, *size, work / "xl-llama")
    out["paper_scale_parameters"] = n_params
    n = 200 if small else 4000
    words = _words(n)
    t = time.perf_counter()
    xl = extract_features(words, model=str(folder), device=gpu, cache_dir=False,
                          progress=False, batch_size=128 if gpu.startswith("cuda") else 16)
    _sync(gpu)
    seconds = time.perf_counter() - t
    out["paper_scale_words"] = n
    out["paper_scale_seconds"] = seconds
    out["paper_scale_words_per_s"] = n / seconds
    out["paper_scale_all_finite"] = bool(np.isfinite(xl.hidden).all())
    return out, folder


def check_ridge(gpu, small):
    """torch ridge on the GPU against numpy on the CPU at the paper's size."""
    from analysis.encoding import fit_encoding

    rng = np.random.default_rng(0)
    n, d, ch, win = (600, 64, 12, 5) if small else (4697, 1600, 306, 20)
    x = rng.standard_normal((n, d)).astype(np.float32)
    w = rng.standard_normal((d, ch * win)).astype(np.float32) / np.sqrt(d)
    y = (0.3 * x @ w + rng.standard_normal((n, ch * win))).reshape(n, ch, win)
    out = {"n_words": n, "d": d, "targets": ch * win}
    t = time.perf_counter()
    ref = fit_encoding(x, y, backend="numpy")
    out["numpy_cpu_s"] = time.perf_counter() - t
    t = time.perf_counter()
    got = fit_encoding(x, y, backend="torch", device=gpu)
    _sync(gpu)
    out["torch_gpu_s"] = time.perf_counter() - t
    out["max_abs_r_difference"] = float(np.nanmax(np.abs(ref.r - got.r)))
    out["same_penalty_share"] = float(np.mean(ref.best_alphas_ == got.best_alphas_))
    out["speedup"] = out["numpy_cpu_s"] / out["torch_gpu_s"]
    out["ok"] = bool(out["max_abs_r_difference"] < 5e-3)
    return out


def check_training(tok, gpu, small_folder, xl_folder, small):
    """Multiple-choice loss steps: bf16 on the GPU against float32 on the CPU."""
    import torch

    from analysis.finetune import collate, encode_item, load_demo, option_scores
    from analysis.lm import load_model

    items = load_demo("siqa")[:16]
    out = {}

    def run(folder, device, steps, autocast):
        lm = load_model(str(folder), device=device, dtype="float32")
        model = lm.model
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        pad = tok.pad_token_id or 0
        losses, t0 = [], None
        for step in range(steps):
            it = items[step % len(items)]
            batch = {k: v.to(device) for k, v in collate([encode_item(tok, it, 256)], pad).items()}
            if step == 1:
                _sync(device)
                t0 = time.perf_counter()
            with torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu",
                                dtype=torch.bfloat16, enabled=autocast):
                scores = option_scores(model, batch)
                loss = torch.nn.functional.cross_entropy(scores.float(), batch["mc_labels"])
            loss.backward()
            opt.step()
            opt.zero_grad()
            losses.append(float(loss.detach()))
        _sync(device)
        per_step = (time.perf_counter() - t0) / max(1, steps - 1)
        del model, lm
        return losses, per_step

    cpu_losses, cpu_step = run(small_folder, "cpu", 8, False)
    gpu_losses, gpu_step = run(small_folder, gpu, 8, gpu.startswith("cuda"))
    out["small_cpu_float32_losses"] = cpu_losses
    out["small_gpu_bf16_losses"] = gpu_losses
    out["first_loss_relative_difference"] = abs(cpu_losses[0] - gpu_losses[0]) / abs(cpu_losses[0])
    out["ok"] = bool(out["first_loss_relative_difference"] < 0.05
                     and np.all(np.isfinite(gpu_losses)))
    xl_losses, xl_step = run(xl_folder, gpu, 4 if small else 12, gpu.startswith("cuda"))
    out["paper_scale_seconds_per_step"] = xl_step
    out["paper_scale_losses_finite"] = bool(np.all(np.isfinite(xl_losses)))
    if gpu.startswith("cuda"):
        out["peak_gpu_memory_gib"] = torch.cuda.max_memory_allocated() / 2 ** 30
    return out


def check_permutations(gpu, small):
    """The paired permutation test on the GPU against numpy, same permutations."""
    from analysis.stats import permutation_r_difference

    rng = np.random.default_rng(1)
    n, ch, win, n_perm = (400, 6, 4, 500) if small else (5000, 306, 20, 10000)
    y = rng.standard_normal((n, ch, win)).astype(np.float32)
    a = (y + 2.0 * rng.standard_normal(y.shape)).astype(np.float32)
    b = (y + 1.9 * rng.standard_normal(y.shape)).astype(np.float32)
    out = {"n_words": n, "columns": ch * win, "n_permutations": n_perm}
    t = time.perf_counter()
    ref = permutation_r_difference(y, a, b, n_permutations=n_perm, seed=0)
    out["numpy_cpu_s"] = time.perf_counter() - t
    t = time.perf_counter()
    got = permutation_r_difference(y, a, b, n_permutations=n_perm, seed=0, backend="torch",
                                   device=gpu)
    _sync(gpu)
    out["torch_gpu_s"] = time.perf_counter() - t
    diff = np.abs(ref["p_greater"] - got["p_greater"])
    out["max_p_difference"] = float(diff.max())
    out["share_identical_p"] = float(np.mean(diff == 0))
    out["speedup"] = out["numpy_cpu_s"] / out["torch_gpu_s"]
    out["ok"] = bool(out["max_p_difference"] <= 2.0 / (n_perm + 1))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="benchmarks/results/gpu_check.json")
    ap.add_argument("--small", action="store_true", help="small sizes (a CPU-only try)")
    ap.add_argument("--tokenizer", default=None, help="folder of a saved tokenizer")
    ap.add_argument("--work", default="/tmp/gpu_check")
    ap.add_argument("--only", action="append", default=[],
                    help="features, ridge, training, permutations (repeatable)")
    args = ap.parse_args(argv)
    import torch

    gpu = "cuda" if torch.cuda.is_available() else "cpu"
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    tok = _tokenizer(args.tokenizer)
    report = {"device": torch.cuda.get_device_name(0) if gpu == "cuda" else "cpu only",
              "torch": torch.__version__, "python": platform.python_version(),
              "small": args.small}
    import transformers

    report["transformers"] = transformers.__version__
    todo = args.only or ["features", "ridge", "training", "permutations"]
    t0 = time.perf_counter()
    small_folder = xl_folder = None
    if "features" in todo or "training" in todo:
        report["features"], xl_folder = check_features(tok, gpu, work, args.small)
        small_folder = work / "small-llama"
        print(json.dumps({"features": report["features"]}, indent=1), flush=True)
    if "ridge" in todo:
        report["ridge"] = check_ridge(gpu, args.small)
        print(json.dumps({"ridge": report["ridge"]}, indent=1), flush=True)
    if "training" in todo:
        report["training"] = check_training(tok, gpu, small_folder, xl_folder, args.small)
        print(json.dumps({"training": report["training"]}, indent=1), flush=True)
    if "permutations" in todo:
        report["permutations"] = check_permutations(gpu, args.small)
        print(json.dumps({"permutations": report["permutations"]}, indent=1), flush=True)
    report["total_s"] = time.perf_counter() - t0
    report["all_ok"] = all(v.get("ok", True) for v in report.values() if isinstance(v, dict))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"all ok: {report['all_ok']}; {report['total_s']:.0f} s; written to {args.out}")
    return 0 if report["all_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
