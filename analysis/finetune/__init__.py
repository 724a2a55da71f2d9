"""Fine-tuning on social and physical commonsense, and the model after it (Methods page, fine-tuning and the brain re-test).

Data
----
Multiple-choice items (:class:`MCItem`) come from

* the official **Social IQa** files (``socialiqa-train-dev.zip`` as distributed, or the
  extracted folder): one JSON object per line with ``context, question, answerA,
  answerB, answerC`` and a label file with 1, 2 or 3 per line. The question is
  ``context + " " + question``; ``__MACOSX/`` entries of the zip are ignored;
* the official **PIQA** files: ``goal, sol1, sol2`` per line and labels 0 or 1. Only
  ``valid.jsonl`` may be at hand (the training labels were not obtainable for this
  project): then the items are split, seeded, into 1,338 for training and 500 held out,
  and :func:`task_data` says so in its ``info``. An official ``train.jsonl`` +
  ``train-labels.lst`` beside it is used when present;
* Hugging Face ``datasets`` (``source="hf"``; needs network access and the package,
  which is not a requirement of the project);
* the **demo set** written for the project (``analysis/resources/commonsense/``), in
  the same layouts, so that everything runs without the official files.

A bad record (bad JSON, a missing or empty option, a label out of range, label and item
counts that differ) raises :class:`~analysis.data.DataError` naming the file and line.

Objective
---------
Each option is scored by the SUM of the log-probabilities of its tokens given the
question: for the sequence ``[BOS] question option`` the logits at position ``t``
predict token ``t + 1``, so the option token at position ``t`` is scored with the
log-softmax of the logits at ``t - 1`` (the public code used unshifted raw logits).
The option's tokens are identified by tokenising the question alone and the question
followed by ``" " + option``: the tokens after their common prefix are the option's
(normally exactly the option; if a tokenizer merges across the boundary, the merged
token is scored too). If the tokenizer has a BOS token it is prepended, as for the
features. Cross-entropy over the options' scores is the loss. Sequences longer than
``max_length`` lose tokens from the start of the question.

Held-out accuracy is reported with the summed score and, beside it, with the
length-normalised score (mean log-probability per token), since a sum favours short
options; the "pick the shorter option" baseline is reported with them
(:func:`choice_correctness`, :func:`shorter_option_correct`).

Training uses the Hugging Face :class:`transformers.Trainer` (AdamW, linear schedule,
bf16 autocast on GPUs, gradient accumulation, a checkpoint per epoch) with a custom loss
and evaluation, so the same code runs on one CPU or, through an ``accelerate`` config
(DeepSpeed, FSDP, several GPUs), at the paper's scale::

    accelerate launch --config_file configs/accelerate_multi_gpu_ddp.yaml \\
        -m analysis.finetune --task siqa --model gpt2-xl --lr 1e-5 \\
        --batch-size 1 --epochs 3 --n-train 0 --n-eval 0 --bf16

(``configs/`` also holds FSDP, DeepSpeed ZeRO-3 and two-CPU-process configs; the last is
what ``tests/test_distributed.py`` runs.) With ``n`` processes every step trains on
``n x batch_size x grad_accum`` items: the processes' gradients are averaged, and every
process evaluates the whole held-out set, so all of them agree on the accuracy and on the
best epoch. Only the main process writes files.

Held-out accuracy is measured before training (epoch 0) and after each epoch; the
checkpoint of the best epoch is kept in Hugging Face format (``save_pretrained`` of
model and tokenizer; a LoRA adapter is merged first), so that
``analysis.features.extract_features(..., model=<dir>)`` loads it directly.

Cache and resumption
--------------------
A run lives in ``<cache_dir>/<task>-<model>-<key[:16]>/`` where ``key`` hashes the model
identity, the items, every hyper-parameter and :data:`FINETUNE_VERSION`. ``run/`` holds
the Trainer's epoch checkpoints (with optimizer state): an interrupted run resumes from
the last one. When the run finishes, the best model is written to ``model/`` and the
record to ``result.json`` (both atomically), and ``run/`` is removed; a later call with
the same key returns the record without training. A multi-process run's key also holds
its number of processes (a single-process key does not). Default ``cache_dir``:
``$LIVING_PAPER_CACHE/finetune``, else ``<repo>/cache/finetune``.

Modules
-------
:mod:`~analysis.finetune.data` (items and their loaders), :mod:`~analysis.finetune.scoring`
(encoding and scoring items, accuracy), :mod:`~analysis.finetune.training` (the Trainer,
LoRA, the cache, :func:`finetune`), :mod:`~analysis.finetune.retest` (the brain re-test
and its verdicts), :mod:`~analysis.finetune.report` (the chapter's tables and texts) and
``__main__`` (the command line). Everything public is importable from
``analysis.finetune`` itself.
"""

from .data import (CHANCE, PIQA_VALID_SPLIT, TASKS, MCItem, check_task, default_data_path,
                   demo_dir, load_demo, load_hf, load_piqa, load_siqa, task_data)
from .report import (accuracy_table, chapter_results, example_markdown, finetuned_for_later,
                     power_note, retest_table, task_table, train_all, training_texts)
from .retest import (CATEGORY_OF_TASK, REFIT_MAX_FITS, RETEST_DTYPE, SHUFFLED_CONTROL,
                     TASK_NAMES, VERDICTS, RetestVerdict, brain_retest, refit_r_difference, fit_base, reopen_encoding_study,
                     retest_features, retest_null_text, retest_summary, retest_texts,
                     retest_verdict, retest_verdicts, verdict_table)
from .scoring import (SCORING_RULES, accuracy, choice_correctness, collate, encode_fitting,
                      encode_item, lm_loss, option_scores, shorter_option_correct)
from .training import FINETUNE_VERSION, FinetuneResult, default_cache_dir, finetune, shuffle_labels

__all__ = [
    "FINETUNE_VERSION", "TASKS", "CHANCE", "MCItem", "FinetuneResult",
    "load_siqa", "load_piqa", "load_demo", "load_hf", "default_data_path", "task_data",
    "encode_item", "collate", "option_scores", "accuracy", "finetune", "lm_loss",
    "SCORING_RULES", "choice_correctness", "shorter_option_correct",
    "default_cache_dir", "demo_dir", "reopen_encoding_study", "brain_retest",
    "retest_summary", "retest_null_text", "retest_texts", "accuracy_table",
    "finetuned_for_later",
    "CATEGORY_OF_TASK", "TASK_NAMES", "RETEST_DTYPE", "retest_features", "fit_base",
    "SHUFFLED_CONTROL", "shuffle_labels", "VERDICTS", "RetestVerdict",
    "retest_verdict", "retest_verdicts", "verdict_table", "task_table", "example_markdown",
    "train_all", "training_texts", "retest_table", "power_note",
    "PIQA_VALID_SPLIT", "check_task", "encode_fitting", "REFIT_MAX_FITS", "refit_r_difference",
    "chapter_results",
]
