"""Fine-tuning with the Hugging Face Trainer: :class:`FinetuneResult`, the cache keys of a
run, the Trainer with the multiple-choice loss and evaluation, LoRA, the shuffled-answer
control's labels and :func:`finetune` (cache and resumption are described in
:mod:`analysis.finetune`)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .._utils import atomic_write
from ..provenance import cache_dir
from .data import CHANCE, check_task
from .scoring import (accuracy, choice_correctness, collate, encode_fitting, option_scores,
                      shorter_option_correct)

__all__ = ["FINETUNE_VERSION", "FinetuneResult", "default_cache_dir", "shuffle_labels",
           "finetune"]

#: Version of the fine-tuning code; part of every cache key.
FINETUNE_VERSION = "3"  # 3: records hold the per-token (length-normalised) correctness


@dataclass
class FinetuneResult:
    """Record of a finished fine-tuning run.

    Attributes
    ----------
    task : str
    model_dir : str
        The kept model in Hugging Face format (model + tokenizer): the last one, or
        the best evaluation's with ``keep="best"``.
    accuracy : list of dict
        The learning curve: ``{"epoch", "step", "items", "accuracy"}`` before training
        (step 0) and at every evaluation (each epoch, or every ``eval_every`` items).
    best_epoch : float
        Epoch of the kept model.
    chance : float
    params : dict
        Model, data summary, hyper-parameters, cache key.
    seconds : float
        Training time (of the run that produced the record).
    best_step : int
        Optimizer step of the kept checkpoint.
    correct_base, correct_final : list of int
        0/1 correctness of every held-out item before training and for the kept
        checkpoint (paired: the same items), for confidence intervals.
    correct_base_per_token, correct_final_per_token : list of int
        The same with the length-normalised score (mean log-probability per token; see
        :func:`choice_correctness`).
    correct_shorter : list of int
        The "pick the shorter option" baseline on the same items
        (:func:`shorter_option_correct`).
    reused : bool
        True when the record was read from the cache (no training in this call).
    """

    task: str
    model_dir: str
    accuracy: list
    best_epoch: float
    chance: float
    params: dict = field(default_factory=dict)
    seconds: float = 0.0
    best_step: int | None = None
    correct_base: list = field(default_factory=list)
    correct_final: list = field(default_factory=list)
    correct_base_per_token: list = field(default_factory=list)
    correct_final_per_token: list = field(default_factory=list)
    correct_shorter: list = field(default_factory=list)
    reused: bool = False

    @property
    def final_accuracy(self):
        """Held-out accuracy of the kept model."""
        if self.best_step is not None:
            return next(a["accuracy"] for a in self.accuracy if a.get("step") == self.best_step)
        return next(a["accuracy"] for a in self.accuracy if a["epoch"] == self.best_epoch)

    def accuracy_interval(self, level=0.95, n_boot=10000, seed=0):
        """Accuracies with intervals, and the gain over the base model.

        Returns
        -------
        dict
            ``base`` and ``fine_tuned`` (accuracy with the summed score), their Wilson
            score intervals (``base_ci``, ``ci``), ``gain`` (fine-tuned minus base, the
            same items) with a paired bootstrap interval over items (``gain_ci``), ``n``,
            ``chance``; ``per_token``: the same keys for the length-normalised score, and
            ``shorter``: ``{"accuracy", "ci"}`` of the pick-the-shorter-option baseline
            (both None for a record without them).
        """
        from ..stats import wilson_interval

        out = _paired_accuracies(self.correct_base, self.correct_final, level, n_boot, seed)
        out.update(chance=self.chance, per_token=None, shorter=None)
        if len(self.correct_final_per_token) == out["n"] > 0:
            out["per_token"] = _paired_accuracies(self.correct_base_per_token,
                                                  self.correct_final_per_token, level,
                                                  n_boot, seed)
        if len(self.correct_shorter) == out["n"] > 0:
            k = int(np.sum(self.correct_shorter))
            out["shorter"] = {"accuracy": k / out["n"],
                              "ci": wilson_interval(k, out["n"], level)}
        return out


def _paired_accuracies(correct_base, correct_final, level, n_boot, seed):
    """Accuracies with Wilson intervals and the paired-bootstrap gain of two 0/1 lists."""
    from ..stats import paired_accuracy_gain, wilson_interval

    n = len(correct_final)
    base, final = np.asarray(correct_base), np.asarray(correct_final)
    gain = paired_accuracy_gain(base, final, level=level, n_boot=n_boot, seed=seed)
    return {"base": float(base.mean()), "fine_tuned": float(final.mean()),
            "base_ci": wilson_interval(int(base.sum()), n, level),
            "ci": wilson_interval(int(final.sum()), n, level), "gain": gain["gain"],
            "gain_ci": gain["ci"], "n": n}


def default_cache_dir():
    """``$LIVING_PAPER_CACHE/finetune`` if set, else ``<repo>/cache/finetune``."""
    return cache_dir("finetune")


def _items_digest(items):
    h = hashlib.sha256()
    for it in items:
        h.update(json.dumps([it.question, list(it.options), it.label]).encode())
    return h.hexdigest()


def _run_key(identity, task, train, held, hyper):
    payload = {"model": identity, "task": task, "train": _items_digest(train),
               "held_out": _items_digest(held), "hyper": hyper, "version": FINETUNE_VERSION}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class _EncodedItems:
    """A torch-style dataset of encoded items (kept as dicts for the collator)."""

    def __init__(self, encoded):
        self.encoded = encoded

    def __len__(self):
        return len(self.encoded)

    def __getitem__(self, i):
        return self.encoded[i]


def _make_trainer_class():
    from transformers import Trainer

    class MCTrainer(Trainer):
        """Trainer with the multiple-choice loss and held-out accuracy as evaluation."""

        def __init__(self, *args, pad_id=0, **kwargs):
            super().__init__(*args, **kwargs)
            self.pad_id = pad_id
            self.per_item = {}  # global step -> 0/1 correctness of each held-out item
            # The loss is a mean over items, so gradient accumulation must divide it.
            self.model_accepts_loss_kwargs = False

        def _get_train_sampler(self, train_dataset=None):
            # batches of items of similar length (little padding), in a seeded random
            # order of such batches: the Trainer's own length grouping needs token ids
            # under one key, and an item here holds several option sequences
            from transformers.trainer_pt_utils import LengthGroupedSampler

            data = train_dataset if train_dataset is not None else self.train_dataset
            lengths = [sum(len(ids) for ids, _ in e["rows"]) for e in data.encoded]
            return LengthGroupedSampler(
                self.args.train_batch_size * self.args.gradient_accumulation_steps,
                lengths=lengths)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            import torch

            scores = option_scores(model, inputs)
            loss = torch.nn.functional.cross_entropy(scores, inputs["mc_labels"])
            return (loss, {"scores": scores}) if return_outputs else loss

        def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval"):
            data = eval_dataset if eval_dataset is not None else self.eval_dataset
            correct = choice_correctness(self.model_wrapped, data.encoded,
                                         self.args.per_device_eval_batch_size, self.pad_id)
            self.per_item[self.state.global_step] = correct
            n = max(1, len(data.encoded))
            metrics = {f"{metric_key_prefix}_accuracy": sum(correct["sum"]) / n,
                       f"{metric_key_prefix}_accuracy_per_token": sum(correct["per_token"]) / n}
            self.log(metrics)
            self.control = self.callback_handler.on_evaluate(self.args, self.state,
                                                             self.control, metrics)
            return metrics

    return MCTrainer


def _drop_gguf_marker(net):
    """Make a GGUF-loaded model a plain trainable one.

    transformers dequantises every GGUF tensor to a torch tensor at load time but keeps a
    GGUF "quantizer" on the model, which makes the Trainer refuse to train it and would
    write a ``quantization_config`` into the saved checkpoint. Both are removed; the
    weights are untouched.
    """
    quantizer = getattr(net, "hf_quantizer", None)
    if quantizer is None:
        return
    method = str(getattr(quantizer.quantization_config, "quant_method", ""))
    if "gguf" not in method.lower():
        raise ValueError(f"the model is quantized with {method}; full fine-tuning needs "
                         "a float model (use lora=True with a quantization that supports it).")
    from transformers import PreTrainedModel

    for module in net.modules():
        if isinstance(module, PreTrainedModel):
            module.hf_quantizer = None
            module.is_quantized = False
            module.config._is_quantized = False
            if hasattr(module.config, "quantization_config"):
                del module.config.quantization_config


def _top_block_targets(net, n_top):
    """LoRA targets: the linear layers of the last ``n_top`` transformer blocks."""
    import torch

    depth = int(net.config.num_hidden_layers)
    blocks = None
    for _, module in net.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == depth:
            blocks = module
            break
    if blocks is None:
        raise ValueError("lora_layers: cannot find the model's list of blocks; use "
                         "lora_layers=None (adapters on every block).")
    names = sorted({n.split(".")[-1] for n, m in blocks[0].named_modules()
                    if isinstance(m, torch.nn.Linear)})
    return {"target_modules": names,
            "layers_to_transform": list(range(max(0, depth - n_top), depth))}


def _launch_world():
    """Number of processes of this run and this process's rank, from the launcher.

    ``accelerate launch`` (torchrun), the DeepSpeed launcher and MPI set these variables
    before the script starts, so they are known before the Trainer sets up the process
    group (the cache key needs them first).

    Returns
    -------
    n_processes : int
        1 for a plain ``python`` run.
    rank : int
        0 for the main process.
    """
    def first(names, default):
        for name in names:
            if os.environ.get(name, "").strip().isdigit():
                return int(os.environ[name])
        return default

    n = first(("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE"), 1)
    rank = first(("RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "MV2_COMM_WORLD_RANK"), 0)
    return max(n, 1), rank


def _read_result(path):
    try:
        data = json.loads(Path(path).read_text())
        return FinetuneResult(**data)
    except (OSError, ValueError, TypeError):
        return None


def shuffle_labels(items, seed=0):
    """The same items with their answers permuted across items (seeded).

    Item ``i`` gets the label of item ``perm[i]``: the questions and options (the text a
    model is trained on) and the share of each answer position stay the same, but which
    option is called right no longer depends on the question. Training on such items
    follows the recipe without teaching the task's knowledge (the shuffled-answer
    control of the fine-tuning chapter; cf. the random-label training of Zhang et al.,
    2017, "Understanding deep learning requires rethinking generalization").

    Parameters
    ----------
    items : list of MCItem
        All with the same number of options.
    seed : int

    Returns
    -------
    list of MCItem
        ``source`` gains ``" (answer shuffled)"``.
    """
    from dataclasses import replace

    n_opt = {len(it.options) for it in items}
    if len(n_opt) > 1:
        raise ValueError(f"shuffle_labels: items with {sorted(n_opt)} options; a label of "
                         "one item may not exist in another.")
    perm = np.random.default_rng([int(seed), 101]).permutation(len(items))
    return [replace(it, label=int(items[j].label), source=f"{it.source} (answer shuffled)")
            for it, j in zip(items, perm)]


def finetune(task, train, held_out, model="default", epochs=1, lr=1e-5, batch_size=4,
             grad_accum=1, lora=False, lora_rank=8, max_length=256, seed=0, device="auto",
             bf16=None, cache_dir=None, eval_batch_size=16, progress=True, data_info=None,
             eval_every=None, lora_layers=None, keep="last", label_shuffle=False):
    """Fine-tune a causal LM on multiple-choice items; keep the last (or best) model.

    Parameters
    ----------
    task : {"siqa", "piqa"}
    train, held_out : list of MCItem
    model : str | Path | analysis.features.LoadedModel
        Anything :func:`analysis.features.resolve_model` accepts (GGUF files are
        dequantised to a trainable float32 model), or an already loaded float32 model,
        which is copied (never modified).
    epochs : int
    lr : float
        AdamW learning rate (the paper: 1e-5).
    batch_size : int
        Items per device and step (per step in all: ``batch_size x grad_accum x`` the
        number of processes).
    grad_accum : int
        Gradient accumulation steps.
    lora : bool
        Train a LoRA adapter (``peft``, all linear layers, rank ``lora_rank``, alpha
        ``2 * lora_rank``) instead of all weights; it is merged before saving.
    lora_rank : int
    lora_layers : int | None
        With ``lora``: put adapters on the linear layers of the last ``lora_layers``
        blocks only (``None``: every block). The backward pass then stops at the first
        adapted block: on a 2-core CPU with SmolLM2-135M a Social IQa item costs 0.33 s
        with the last 6 of 30 blocks adapted, 0.63 s with all of them and 0.85 s for full
        fine-tuning (measured; see the chapter).
    max_length : int
        Longest sequence in tokens.
    seed : int
        Seed of initialisation (LoRA), data order and dropout.
    device : {"auto", "cpu", "cuda"}
        Single-process runs; under ``accelerate launch`` the launcher decides.
    bf16 : bool | None
        bf16 mixed precision; default: on for CUDA GPUs that support it.
    cache_dir : str | Path | None
        Default :func:`default_cache_dir`.
    eval_batch_size : int
    progress : bool
        Trainer progress bars.
    data_info : dict | None
        Stored with the record (where the items came from).
    eval_every : int | None
        Evaluate (and keep a checkpoint) every this many training items, for a learning
        curve; ``None`` evaluates after each epoch.
    keep : {"last", "best"}
        The model kept and reported: the one at the end of training (default), or the
        evaluation with the best held-out accuracy. Choosing the best on the same held-out
        items makes its accuracy optimistic: measured on Social IQa (1,200 items, three
        evaluations), the kept model's gain over the base was +5.0 points at 400 items
        while the last was +2.7.
    label_shuffle : bool
        Train on ``train`` with its answers permuted across items
        (:func:`shuffle_labels`, seeded by ``seed``): the shuffled-answer control, which
        sees the same text with the same budget but learns no knowledge of the task. The
        held-out items keep their true answers. Part of the cache key.

    Returns
    -------
    FinetuneResult | None
        ``None`` on processes other than the main one of a multi-process run.
        ``params["label_shuffle"]`` says whether the answers were shuffled.
    """
    import torch
    from transformers import TrainingArguments, set_seed
    from transformers.trainer_utils import get_last_checkpoint

    from analysis.lm import LoadedModel, load_model, resolve_model
    from analysis.provenance import resolve_device

    check_task(task)
    if not train or not held_out:
        raise ValueError(f"finetune: {len(train)} training and {len(held_out)} held-out "
                         "items; both must be non-empty.")
    loaded = model if isinstance(model, LoadedModel) else None
    spec = loaded.spec if loaded else resolve_model(model)
    device = resolve_device(device)
    if bf16 is None:
        bf16 = device.startswith("cuda") and torch.cuda.is_bf16_supported()
    hyper = {"epochs": int(epochs), "lr": float(lr), "batch_size": int(batch_size),
             "grad_accum": int(grad_accum), "lora": bool(lora),
             "lora_rank": int(lora_rank) if lora else None,
             "lora_layers": int(lora_layers) if lora and lora_layers else None,
             "max_length": int(max_length),
             "seed": int(seed), "bf16": bool(bf16),
             "eval_every": None if eval_every is None else int(eval_every)}
    if keep not in ("last", "best"):
        raise ValueError(f"keep={keep!r}; expected 'last' or 'best'.")
    if keep == "best":  # left out for "last", so that earlier cache keys stay valid
        hyper["keep"] = "best"
    if label_shuffle:  # left out when off, like "keep"
        hyper["label_shuffle"] = True
    n_proc, rank = _launch_world()
    if n_proc > 1:
        # Several data-parallel processes train with a global batch of n_proc x
        # batch_size items per step: a different run from one process with the same
        # batch_size, so the number of processes is part of the cache key. It is left out
        # for one process, so that single-process keys (and caches) stay as they were.
        hyper["n_processes"] = n_proc
    key = _run_key(spec.identity, task, train, held_out, hyper)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    slug = "".join(c if c.isalnum() or c in "._-" else "-" for c in spec.name)[:40]
    root = folder / f"{task}{'-shuffled' if label_shuffle else ''}-{slug}-{key[:16]}"
    record = root / "result.json"
    done = _read_result(record)
    if done is not None and Path(done.model_dir, "config.json").is_file():
        done.reused = True
        return done if rank == 0 else None

    t0 = time.time()
    set_seed(seed)
    if loaded is not None and loaded.dtype == "float32" and loaded.device != "auto":
        import copy

        tokenizer, net = loaded.tokenizer, copy.deepcopy(loaded.model).to("cpu")
    else:
        lm = load_model(spec, device="cpu", dtype="float32")  # the Trainer places it
        tokenizer, net = lm.tokenizer, lm.model
    _drop_gguf_marker(net)
    net.train()
    if lora:
        from peft import LoraConfig, get_peft_model

        where = {"target_modules": "all-linear"}
        if lora_layers:
            where = _top_block_targets(net, int(lora_layers))
        net = get_peft_model(net, LoraConfig(r=lora_rank, lora_alpha=2 * lora_rank,
                                             lora_dropout=0.0, task_type="CAUSAL_LM",
                                             **where))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    if label_shuffle:
        train = shuffle_labels(train, seed)
    enc_train = _EncodedItems(encode_fitting(tokenizer, train, max_length, "training"))
    enc_held = _EncodedItems(encode_fitting(tokenizer, held_out, max_length, "held-out"))

    run_dir = root / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    items_per_step = batch_size * grad_accum * n_proc
    if eval_every:
        every = dict(eval_strategy="steps", save_strategy="steps", logging_strategy="steps",
                     eval_steps=max(1, int(eval_every) // items_per_step),
                     save_steps=max(1, int(eval_every) // items_per_step),
                     logging_steps=max(1, int(eval_every) // items_per_step))
    else:
        every = dict(eval_strategy="epoch", save_strategy="epoch", logging_strategy="epoch")
    args = TrainingArguments(
        output_dir=str(run_dir), num_train_epochs=epochs, learning_rate=lr,
        per_device_train_batch_size=batch_size, per_device_eval_batch_size=eval_batch_size,
        gradient_accumulation_steps=grad_accum, weight_decay=0.0, warmup_steps=0,
        lr_scheduler_type="linear", save_total_limit=1, load_best_model_at_end=keep == "best",
        metric_for_best_model="accuracy", greater_is_better=True, seed=seed, data_seed=seed,
        bf16=bool(bf16), use_cpu=device == "cpu", report_to="none",
        remove_unused_columns=False, disable_tqdm=not progress, dataloader_num_workers=0,
        **every,
    )
    # Accuracy before training, on the device the Trainer trains on: under
    # ``accelerate launch`` ``args.device`` is this process's own GPU (``device`` alone,
    # "cuda", put every process's copy on the first GPU); for one process it is the CPU
    # or the first GPU, as before. Every process scores all held-out items (see
    # ``accuracy``); only the main one writes the file.
    epoch0_file = run_dir / "epoch0.json"
    if epoch0_file.exists():
        correct0 = json.loads(epoch0_file.read_text())["correct"]
    else:
        correct0 = choice_correctness(net.to(args.device), enc_held.encoded, eval_batch_size,
                                      pad_id)
        if args.process_index == 0:
            atomic_write(epoch0_file, lambda p: p.write_text(json.dumps({"correct": correct0})))
    acc0 = sum(correct0["sum"]) / len(correct0["sum"])
    trainer = _make_trainer_class()(
        model=net, args=args, train_dataset=enc_train, eval_dataset=enc_held,
        data_collator=lambda batch: collate(batch, pad_id), pad_id=pad_id,
    )
    if not progress:  # the log history is kept in ``trainer.state``; no printed dicts
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    last = get_last_checkpoint(str(run_dir)) if run_dir.exists() else None
    trainer.train(resume_from_checkpoint=last)

    history = [{"epoch": 0.0, "step": 0, "items": 0, "accuracy": acc0,
                "accuracy_per_token": sum(correct0["per_token"]) / len(correct0["per_token"])}]
    for entry in trainer.state.log_history:
        if "eval_accuracy" in entry:
            history.append({"epoch": round(float(entry["epoch"]), 3), "step": int(entry["step"]),
                            "items": int(entry["step"]) * items_per_step,
                            "accuracy": float(entry["eval_accuracy"]),
                            "accuracy_per_token": float(entry["eval_accuracy_per_token"])})
    if keep == "best":
        best_entry = max(history[1:], key=lambda h: (h["accuracy"], -h["step"]))
    else:
        last_step = int(trainer.state.global_step)
        if history[-1]["step"] != last_step:  # no evaluation at the very end: add one
            correct = choice_correctness(trainer.model_wrapped, enc_held.encoded,
                                         eval_batch_size, pad_id)
            trainer.per_item[last_step] = correct
            history.append({"epoch": round(float(trainer.state.epoch or epochs), 3),
                            "step": last_step, "items": last_step * items_per_step,
                            "accuracy": sum(correct["sum"]) / len(correct["sum"]),
                            "accuracy_per_token": (sum(correct["per_token"])
                                                   / len(correct["per_token"]))})
        best_entry = history[-1]
    best, best_step = best_entry["epoch"], best_entry["step"]
    correct_best = trainer.per_item.get(best_step)
    if correct_best is None:  # resumed after that evaluation: score the kept model again
        correct_best = choice_correctness(trainer.model_wrapped, enc_held.encoded,
                                          eval_batch_size, pad_id)

    model_dir = root / "model"
    tmp = root / ".model.tmp"
    main_process = trainer.is_world_process_zero()
    if main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    if lora:
        final = trainer.model.merge_and_unload()
        if main_process:
            final.save_pretrained(tmp)
    else:
        # every process calls save_model: under DeepSpeed ZeRO-3 or FSDP it gathers the
        # sharded weights; only the main process writes.
        trainer.save_model(str(tmp))
    trainer.accelerator.wait_for_everyone()
    if not main_process:
        return None
    tokenizer.save_pretrained(tmp)
    (tmp / "training_args.bin").unlink(missing_ok=True)
    shutil.rmtree(model_dir, ignore_errors=True)
    os.replace(tmp, model_dir)
    result = FinetuneResult(
        task=task, model_dir=str(model_dir), accuracy=history, best_epoch=best,
        best_step=best_step, correct_base=list(correct0["sum"]),
        correct_final=list(correct_best["sum"]),
        correct_base_per_token=list(correct0["per_token"]),
        correct_final_per_token=list(correct_best["per_token"]),
        correct_shorter=shorter_option_correct(enc_held.encoded, seed=seed),
        chance=CHANCE[task],
        params={"model": spec.name, "model_identity": spec.identity, "key": key,
                "n_train": len(enc_train), "n_eval": len(enc_held), "data": data_info,
                "label_shuffle": bool(label_shuffle), **hyper},
        seconds=round(time.time() - t0, 1))
    atomic_write(record, lambda p: p.write_text(json.dumps(asdict(result), indent=2)))
    shutil.rmtree(run_dir, ignore_errors=True)
    return result

