"""The multi-process path of the fine-tuning CLI, run for real on the CPU.

``accelerate launch --config_file configs/accelerate_cpu_2proc.yaml -m analysis.finetune``
starts two data-parallel processes (torchrun, gloo backend) that fine-tune a tiny random
Llama (saved with the SmolLM2 tokenizer, as in ``test_finetune.py``) on demo Social IQa
items. The same run with one process and the same global batch (1 process x 2 items
against 2 processes x 1 item, same seed) must give the same model: the Trainer's
seeded sampler draws one order of the items, the two processes take alternate items of
it (so each step sees the same two items in both runs), and DDP averages the two
processes' gradients, which equals the gradient of the mean loss over the two items.
What differs is only floating-point rounding (the two items are padded and summed
together in one process, separately and then all-reduced in two).

The other configs in ``configs/`` (several GPUs, FSDP, DeepSpeed ZeRO-3) cannot run here;
they are checked against accelerate's own config loader.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
CPU_CONFIG = CONFIGS / "accelerate_cpu_2proc.yaml"

#: Largest |difference| allowed between a weight trained by 2 processes and by 1.
#: Measured: 1.3e-7 after 8 AdamW steps at lr 1e-3 (float32 rounding). Training moves
#: weights by up to ~4e-3 here, and a different global batch (1 item per step in one
#: process) gives differences of ~7e-3, so 1e-5 separates "the same run up to rounding"
#: from "a different run" by more than two orders of magnitude either way.
WEIGHT_TOL = 1e-5


def _cli_args(model_dir, cache, batch_size):
    return ["--task", "siqa", "--model", str(model_dir), "--source", "demo",
            "--n-train", "16", "--n-eval", "8", "--epochs", "1", "--lr", "1e-3",
            "--batch-size", str(batch_size), "--max-length", "64", "--seed", "0",
            "--device", "cpu", "--cache-dir", str(cache)]


def _env(tmp):
    """Environment of the runs: CPU only, offline, one thread per process."""
    env = dict(os.environ)
    env.update({
        "CUDA_VISIBLE_DEVICES": "",       # never a GPU, even on a machine that has one
        "ACCELERATE_USE_CPU": "true",
        "OMP_NUM_THREADS": "1",           # 2 processes on a small machine
        "MKL_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",            # nothing is downloaded
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "LIVING_PAPER_CACHE": str(tmp / "living_paper_cache"),
        "PYTHONPATH": os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p]),
    })
    # the port comes from the config (0: a free one); a stale torchrun variable must
    # not override it
    for name in ("MASTER_PORT", "MASTER_ADDR", "WORLD_SIZE", "RANK", "LOCAL_RANK"):
        env.pop(name, None)
    return env


def _start(cmd, env):
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc, timeout=300):
    """Wait for a run; its stdout, or a failure with the end of its stderr."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"timed out after {timeout} s: {' '.join(proc.args)}\n{err[-6000:]}")
    assert proc.returncode == 0, (f"exit {proc.returncode}: {' '.join(proc.args)}\n"
                                  f"--- stderr (end) ---\n{err[-6000:]}")
    return out


def _weights(model_dir):
    from safetensors.numpy import load_file

    return load_file(str(Path(model_dir) / "model.safetensors"))


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A tiny random Llama saved with the default model's (SmolLM2) tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from analysis.features import resolve_model

    spec = resolve_model("default")
    tok = AutoTokenizer.from_pretrained(spec.source, **spec.pretrained_kwargs())
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                      num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      tie_word_embeddings=True)
    folder = tmp_path_factory.mktemp("tiny_llama")
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_configs_are_valid_accelerate_configs():
    """Every config loads with accelerate's own loader (unknown keys are refused)."""
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DistributedType

    found = {p.name: load_config_from_file(str(p)) for p in sorted(CONFIGS.glob("*.yaml"))}
    assert {"accelerate_cpu_2proc.yaml", "accelerate_multi_gpu_ddp.yaml",
            "accelerate_fsdp.yaml", "accelerate_deepspeed_zero3.yaml"} <= set(found)
    cpu = found["accelerate_cpu_2proc.yaml"]
    # torchrun starts the processes (MULTI_CPU would start one without mpirun)
    assert cpu.distributed_type == DistributedType.MULTI_GPU and cpu.use_cpu
    assert cpu.num_processes == 2 and cpu.main_process_port == 0
    ddp = found["accelerate_multi_gpu_ddp.yaml"]
    assert ddp.distributed_type == DistributedType.MULTI_GPU and not ddp.use_cpu
    fsdp = found["accelerate_fsdp.yaml"]
    assert fsdp.distributed_type == DistributedType.FSDP
    assert fsdp.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    assert fsdp.fsdp_config["fsdp_cpu_ram_efficient_loading"] is False
    ds = found["accelerate_deepspeed_zero3.yaml"]
    assert ds.distributed_type == DistributedType.DEEPSPEED
    assert ds.deepspeed_config["zero_stage"] == 3
    assert ds.deepspeed_config["zero3_save_16bit_model"] is True
    assert ds.deepspeed_config["zero3_init_flag"] is False
    # left to the Trainer ("auto"), so that --grad-accum is obeyed
    assert not {"gradient_accumulation_steps", "gradient_clipping"} & set(ds.deepspeed_config)
    # DeepSpeed is optional: it is not the default and its config says so
    assert "deepspeed" not in (CPU_CONFIG.read_text().split("distributed_type:")[1]
                               .splitlines()[0].lower())
    assert "pip install deepspeed" in (CONFIGS / "accelerate_deepspeed_zero3.yaml").read_text()


def test_two_cpu_processes_train_the_same_model_as_one(tiny_model_dir, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from analysis import finetune as ft
    from analysis.features import extract_features

    env = _env(tmp_path)
    # (a) two processes, 1 item each per step; and (d) one process, 2 items per step:
    # the same global batch, seed and items. Both run at once (they share nothing).
    cache2, cache1 = tmp_path / "two", tmp_path / "one"
    two = _start([sys.executable, "-m", "accelerate.commands.launch",
                  "--config_file", str(CPU_CONFIG), "-m", "analysis.finetune",
                  *_cli_args(tiny_model_dir, cache2, batch_size=1)], env)
    one = _start([sys.executable, "-m", "analysis.finetune",
                  *_cli_args(tiny_model_dir, cache1, batch_size=2)], env)
    out2 = _finish(two)
    _finish(one)
    # the record is printed once (by the main process only)
    assert out2.count('"model_dir"') == 1, out2

    # (b) exactly one checkpoint and one record, nothing left behind
    runs = [p for p in cache2.iterdir()]
    assert len(runs) == 1, runs
    root = runs[0]
    assert sorted(p.name for p in root.iterdir()) == ["model", "result.json"]
    assert len(list(cache2.rglob("result.json"))) == 1
    assert len(list(cache2.rglob("config.json"))) == 1
    assert not [p for p in cache2.rglob("*") if p.name.endswith(".tmp")]
    model2 = root / "model"
    assert (model2 / "config.json").is_file() and (model2 / "model.safetensors").is_file()
    rec2 = json.loads((root / "result.json").read_text())
    assert rec2["params"]["n_processes"] == 2 and rec2["params"]["batch_size"] == 1
    assert rec2["params"]["n_train"] == 16 and rec2["params"]["n_eval"] == 8
    assert [a["epoch"] for a in rec2["accuracy"]] == [0, 1]
    assert Path(rec2["model_dir"]) == model2

    # (c) the checkpoint loads for feature extraction
    feats = extract_features(["the", "cup", "is", "blue"], model=str(model2), layers=[1],
                             cache_dir=False, progress=False, device="cpu")
    assert feats.hidden.shape == (1, 4, 32) and np.isfinite(feats.hidden).all()

    # (d) the single-process run: the same accuracies and, up to rounding, weights
    (rec1_path,) = cache1.rglob("result.json")
    rec1 = json.loads(rec1_path.read_text())
    assert "n_processes" not in rec1["params"]  # single-process keys are unchanged
    assert rec1["params"]["key"] != rec2["params"]["key"]
    assert rec1["accuracy"] == rec2["accuracy"], (rec1["accuracy"], rec2["accuracy"])
    assert rec1["best_epoch"] == rec2["best_epoch"]

    w1, w2, w0 = _weights(rec1["model_dir"]), _weights(model2), _weights(tiny_model_dir)
    assert sorted(w1) == sorted(w2)
    diff = max(float(np.abs(w1[k] - w2[k]).max()) for k in w1)
    moved = max(float(np.abs(w1[k] - w0[k]).max()) for k in w1 if k in w0)
    print(f"2 processes vs 1: max |weight difference| {diff:.2e}; "
          f"max |change in training| {moved:.2e}")
    assert moved > 100 * WEIGHT_TOL, "training did not move the weights"
    assert diff < WEIGHT_TOL

    # the two checkpoints score the held-out options alike (sums of log-probabilities)
    _, held, _ = ft.task_data("siqa", "demo", n_train=16, n_eval=8, seed=0)
    tok = AutoTokenizer.from_pretrained(model2)
    batch = ft.collate([ft.encode_item(tok, it, 64) for it in held], tok.pad_token_id or 0)
    with torch.no_grad():
        s1, s2 = (ft.option_scores(AutoModelForCausalLM.from_pretrained(d).eval(), batch)
                  for d in (rec1["model_dir"], model2))
    assert float((s1 - s2).abs().max()) < 1e-3
    acc = float((s2.argmax(1) == batch["mc_labels"]).float().mean())
    assert acc == pytest.approx(rec2["accuracy"][-1]["accuracy"])
