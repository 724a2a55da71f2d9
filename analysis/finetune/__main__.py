"""The command line of the fine-tuning: ``python -m analysis.finetune --task ...`` (or
``accelerate launch -m analysis.finetune ...``); see :mod:`analysis.finetune`."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from .data import TASKS, task_data
from .training import finetune


def main(argv=None):
    """``python -m analysis.finetune`` (or ``accelerate launch -m analysis.finetune``)."""
    ap = argparse.ArgumentParser(prog="python -m analysis.finetune",
                                 description="Multiple-choice fine-tuning (Methods page, fine-tuning and the brain re-test).")
    ap.add_argument("--task", choices=sorted(TASKS), required=True)
    ap.add_argument("--model", default="default")
    ap.add_argument("--source", default="auto", choices=["auto", "official", "demo", "hf"])
    ap.add_argument("--data", default=None, help="official files (zip or folder)")
    ap.add_argument("--n-train", type=int, default=0, help="0 = all")
    ap.add_argument("--n-eval", type=int, default=0, help="0 = all")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--grad-accum", type=int, default=1)
    ap.add_argument("--lora", action="store_true")
    ap.add_argument("--lora-rank", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--bf16", action="store_true", default=None)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--label-shuffle", action="store_true",
                    help="the shuffled-answer control (answers permuted across items)")
    a = ap.parse_args(argv)
    train, held, info = task_data(a.task, a.source, a.data, a.n_train, a.n_eval, a.seed)
    print(f"{a.task}: {info['split']}; training on {len(train)}, evaluating on {len(held)}",
          file=sys.stderr)
    res = finetune(a.task, train, held, model=a.model, epochs=a.epochs, lr=a.lr,
                   batch_size=a.batch_size, grad_accum=a.grad_accum, lora=a.lora,
                   lora_rank=a.lora_rank, max_length=a.max_length, seed=a.seed,
                   device=a.device, bf16=a.bf16, cache_dir=a.cache_dir, data_info=info,
                   label_shuffle=a.label_shuffle)
    if res is not None:
        print(json.dumps(asdict(res), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
