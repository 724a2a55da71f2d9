"""The declared schema of every chapter's results file, with its typed reader.

Each chapter ends by writing ``<results_dir>/<section>.json`` through
:meth:`analysis.provenance.Chapter.save`: the headline numbers its prose quotes, read back
by the introduction's glance tables (:mod:`analysis.glance`). This module declares, per
section, which top-level fields ``results`` must hold and of which JSON type, which are
optional (and why a chapter may leave them out), and which nested keys a reader relies
on. The writer (:func:`validate_results`, called by ``Chapter.save``) and the reader
(:func:`read_results`) check the same declaration, so a chapter cannot write a file its
readers would reject, and a missing, renamed or wrongly typed field is a
:class:`~analysis.contracts.ContractError` that names the file, the section and the
field, never a silently empty row.

It sits beside :mod:`analysis.contracts` rather than in it: the contracts are the data
products one chapter computes with (arrays, tables, checkpoints); these records are the
chapters' summaries for the reader of the book. Both raise the same
:class:`~analysis.contracts.ContractError`.

Declaring a field
-----------------
A field's annotation is its JSON type (``int``, ``float``, ``str``, ``bool``, ``dict``,
``list``, or a union with ``None``; a ``float`` accepts an integer, and any number that
was NaN is written as ``null``, hence ``float | None``). :func:`_required` marks a field
every run writes; :func:`_optional` one a chapter writes only in some runs, with the reason.
``keys`` lists nested keys (dotted for deeper ones) a reader relies on when the value is
not ``None``; ``each`` lists keys every value of a mapping must have.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path

from ._utils import ContractError

__all__ = ["ChapterResults", "DataResults", "EncodingResults", "HypothesesResults",
           "HumanValidationResults", "FinetuningResults", "RealDataResults", "ModelsResults",
           "RESULTS_SCHEMAS", "read_results", "validate_results", "results_path"]


def _required(keys=(), each=()):
    return field(metadata={"keys": tuple(keys), "each": tuple(each)})


def _optional(why, keys=(), each=()):
    return field(default=None, metadata={"why": why, "keys": tuple(keys), "each": tuple(each)})


_GLUED_WHY = "written only when the chapter glued a number into its prose"


@dataclass(frozen=True, kw_only=True)
class ChapterResults:
    """One chapter's ``results``, checked against its declaration.

    Attributes
    ----------
    path : Path | None
        The file it was read from (``None`` for a record not read from a file).
    glued : dict | None
        Every text the chapter's prose quotes (:meth:`analysis.provenance.Chapter.glue`).
    """

    SECTION: typing.ClassVar[str] = ""

    path: Path | None = field(default=None, compare=False, metadata={"meta": True})
    glued: dict | None = _optional(_GLUED_WHY)

    @classmethod
    def schema(cls):
        """``{name: dataclasses.Field}`` of the declared fields (``path`` excluded)."""
        return {f.name: f for f in fields(cls) if not f.metadata.get("meta")}

    @classmethod
    def from_results(cls, results, path=None):
        """Check a ``results`` mapping against the declaration and build the record.

        Parameters
        ----------
        results : dict
            The JSON-ready ``results`` of the section's file.
        path : str | Path | None
            Named in errors (the file written or read).

        Raises
        ------
        ContractError
            A required field is missing, a field is not declared, or a field or a nested
            key it relies on does not have the declared type.
        """
        where = f"{path if path is not None else cls.SECTION + '.json'} (section {cls.SECTION!r})"
        if not isinstance(results, dict):
            raise ContractError(f"{where}: 'results' is a {type(results).__name__}; expected "
                                "a JSON object. Re-run that chapter.")
        schema, hints = cls.schema(), typing.get_type_hints(cls)
        missing = [n for n, f in schema.items() if "why" not in f.metadata and n not in results]
        if missing:
            raise ContractError(f"{where}: required field(s) {missing} missing; expected the "
                                f"results written by the {cls.SECTION} chapter of this version. "
                                "Re-run that chapter.")
        unknown = sorted(set(results) - set(schema))
        if unknown:
            raise ContractError(f"{where}: field(s) {unknown} are not declared in "
                                f"{cls.__name__} (analysis/results.py); declare them there "
                                "(required, or optional with the reason).")
        for name, spec in schema.items():
            if name in results:
                _check(where, name, results[name], hints[name], spec.metadata)
        return cls(path=None if path is None else Path(path),
                   **{k: v for k, v in results.items()})

    def optional(self, name):
        """A field the chapter writes only in some runs, or ``None`` where it did not.

        Parameters
        ----------
        name : str
            A field declared optional; the declaration says why it may be absent
            (:meth:`why_optional`).

        Raises
        ------
        ContractError
            ``name`` is a required field (read it as an attribute) or is not declared.
        """
        self.why_optional(name)
        return getattr(self, name)

    @classmethod
    def why_optional(cls, name):
        """Why the optional field ``name`` may be absent, in words."""
        spec = cls.schema().get(name)
        if spec is None or "why" not in spec.metadata:
            raise ContractError(f"{cls.__name__}: {name!r} is not an optional field of the "
                                f"{cls.SECTION} results.")
        return spec.metadata["why"]


def _type_ok(value, hint):
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for t in options:
        if t is type(None) and value is None:
            return True
        if t in (int, float) and isinstance(value, bool):
            continue
        if t is float and isinstance(value, (int, float)):
            return True
        if t is not type(None) and isinstance(value, t):
            return True
    return False


def _type_name(hint):
    return str(hint).replace("NoneType", "None")


def _check(where, name, value, hint, meta):
    if not _type_ok(value, hint):
        raise ContractError(f"{where}: field {name!r} is {type(value).__name__} "
                            f"({str(value)[:60]}); expected {_type_name(hint)}. Re-run that "
                            "chapter.")
    if value is None:
        return
    for key in meta.get("keys", ()):
        node = value
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ContractError(f"{where}: field {name!r} lacks {key!r}; expected the "
                                    "results of this version. Re-run that chapter.")
            node = node[part]
    for entry, rec in value.items() if meta.get("each") else ():
        lacking = [k for k in meta["each"] if not isinstance(rec, dict) or k not in rec]
        if lacking:
            raise ContractError(f"{where}: field {name!r}, entry {entry!r} lacks {lacking}; "
                                "expected the results of this version. Re-run that chapter.")


# --------------------------------------------------------------------------- the sections
_SIMULATED = "written only on the simulated study, whose truth was planted"


@dataclass(frozen=True, kw_only=True)
class DataResults(ChapterResults):
    """``data.json``: the study the chain runs on (notebook 00)."""

    SECTION: typing.ClassVar[str] = "data"

    dataset: dict = _required(keys=("source",))
    dataset_record: dict = _required()
    truth: dict | None = _optional(_SIMULATED)
    variance_ratio_peak_ms: float | None = _optional(_SIMULATED)


@dataclass(frozen=True, kw_only=True)
class EncodingResults(ChapterResults):
    """``encoding.json``: the layer sweep, the chain's layer decision and its checks
    (notebook 01)."""

    SECTION: typing.ClassVar[str] = "encoding"

    dataset: dict = _required(keys=("source",))
    models: dict = _required()
    chosen_layer: int = _required()
    layer_decision: dict = _required(keys=("layer", "rule", "fold_layers"))
    peak_window: int = _required()
    peak_ms: float = _required()
    peak_mean_r: float | None = _required()
    max_r: float | None = _required()
    significant_channels_per_window: list = _required()
    chance_bound_significant: int = _required()
    alpha_edge_share: dict = _required()
    planted_word_error_ratio: float | None = _required()
    window_of_interest_ms: list | None = _required()
    channels_of_interest: list = _required()
    cv_groups: str | None = _required()
    per_word_error_note: str | None = _required()
    rsa: list | None = _required()
    rsa_noise_ceiling: dict | None = _required()
    layer_margin: dict | None = _required()
    noise_ceiling_median: float | None = _required()
    share_of_ceiling_median: float | None = _required()
    truth_check: dict | None = _optional(_SIMULATED, keys=(
        "truth_layer", "truth_peak_ms", "layer_recovered", "peak_recovered"))


@dataclass(frozen=True, kw_only=True)
class HypothesesResults(ChapterResults):
    """``hypotheses.json``: the proposed hypotheses and their tests (notebook 02).
    ``planted_truth`` is empty and ``unnamed_category`` None unless the study is simulated."""

    SECTION: typing.ClassVar[str] = "hypotheses"

    n_sentences: int = _required()
    n_scored: int = _required()
    n_per_set: int = _required()
    set_note: str | None = _required()
    n_per_role: dict = _required()
    window_ms: list | None = _required()
    proposer: str = _required()
    verifier: str = _required()
    llm: str | None = _required()
    embedding_calibration: dict | None = _required()
    encoding_layer: int = _required()
    encoding_layer_decision: dict = _required()
    n_hypotheses: int = _required()
    n_significant: int = _required()
    n_confirmed: int = _required()
    top: list = _required()
    domains: dict = _required()
    domain_enrichment: dict | None = _required(keys=("p",))
    planted_truth: dict = _required()
    unnamed_category: dict | None = _required(keys=("found",))


@dataclass(frozen=True, kw_only=True)
class HumanValidationResults(ChapterResults):
    """``human_validation.json``: the survey and its tests (notebook 03)."""

    SECTION: typing.ClassVar[str] = "human_validation"

    simulated: bool = _required()
    development_fixture: bool = _required()
    answers_path: str | None = _required()
    survey: dict = _required()
    skipped_word_list_hypotheses: dict = _required()
    attention: dict = _required()
    n_answers: int = _required()
    n_raters: int = _required()
    shares_by_group: dict = _required()
    shares_by_hypothesis: dict = _required()
    participant_test: dict = _required(keys=("p_value",))
    hypothesis_test: dict | None = _required()


@dataclass(frozen=True, kw_only=True)
class FinetuningResults(ChapterResults):
    """``finetuning.json``: the fine-tuned models, their brain re-tests and verdicts
    (notebook 04). The planted controls are None unless the study is simulated."""

    SECTION: typing.ClassVar[str] = "finetuning"

    layer: int = _required()
    base_model: str = _required()
    n_words: int = _required()
    n_permutations: int = _required()
    accuracy: dict = _required()
    recipe: dict = _required(keys=("lora", "lora_rank", "lr", "epochs", "n_train"))
    positive_control: dict | None = _required(keys=("percent_better", "percent_better_ci",
                                                    "category_windows_ms"))
    null_control: dict | None = _required(keys=("percent_better", "percent_better_ci",
                                                "category_windows_ms"))
    better_worse: dict = _required()
    power: dict = _required()
    verdicts: dict = _required(each=("model", "answer", "reason"))
    lm_loss: list = _required()
    times: list = _required()
    tasks: dict = _required()


_FRANK = "written only when Frank et al. (2015) is found"
_FRANK_ERP = "written only when Frank et al. (2015) trial-by-trial ERPs are found"
_NS = "written only when Natural Stories is found"


@dataclass(frozen=True, kw_only=True)
class RealDataResults(ChapterResults):
    """``real_data.json``: the chain on EEG and reading times (notebook 05). Each block
    exists only when its dataset is found; ``futrell2018`` is keyed by model name (the
    chapter's models, then published references)."""

    SECTION: typing.ClassVar[str] = "real_data"

    surprisal_vs_erp: dict | None = _optional(_FRANK)
    surprisal_vs_erp_n400_interval: dict | None = _optional(_FRANK)
    surprisal_vs_erp_published: dict | None = _optional(_FRANK)
    futrell2018: dict | None = _optional(_NS, each=(
        "raw_r", "ceiling", "normalised", "n_words", "source", "normalised_ci", "raw_r_ci"))
    noise_ceiling: dict = _required()
    noise_ceiling_details: dict = _required()
    encoding: dict | None = _optional(_FRANK_ERP, keys=(
        "N400", "N400.power_gain_over_lexical"), each=(
        "baseline", "nested", "gain", "gain_ci", "p_gain", "gain_over_lexical",
        "gain_over_lexical_ci", "p_gain_over_lexical", "layer"))
    encoding_sweep: dict | None = _optional(_FRANK_ERP)
    encoding_sweep_note: str | None = _optional(_FRANK_ERP)
    divergence_chain: dict | None = _optional(_FRANK_ERP, keys=(
        "n_hypotheses", "n_significant", "n_confirmed", "power.sentence"))
    finetuned_on_n400: dict = _required()


@dataclass(frozen=True, kw_only=True)
class ModelsResults(ChapterResults):
    """``models.json``: other models and task instructions (notebook 06); ``instructions``
    and ``models`` are keyed by the datasets that were found."""

    SECTION: typing.ClassVar[str] = "models"

    instructions: dict = _required(each=("summary",))
    models: dict = _required()
    model_profiles: dict | None = _optional("written only when some dataset was found to "
                                            "profile the models on")
    registry: list = _required()
    hub_models_documented: list = _required()
    timings_s: dict = _required()


#: Section name -> its record class.
RESULTS_SCHEMAS = {cls.SECTION: cls for cls in (
    DataResults, EncodingResults, HypothesesResults, HumanValidationResults,
    FinetuningResults, RealDataResults, ModelsResults)}


def _schema_of(section, where):
    try:
        return RESULTS_SCHEMAS[section]
    except KeyError:
        raise ContractError(f"{where}: section {section!r} has no declared results schema; "
                            f"expected one of {sorted(RESULTS_SCHEMAS)} "
                            "(analysis/results.py).") from None


def results_path(results_dir, section):
    """``<results_dir>/<section>.json``."""
    return Path(results_dir) / f"{section}.json"


def validate_results(section, results, path=None):
    """The writer's check: the record ``results`` would be read back as.

    Parameters
    ----------
    section : str
        One of :data:`RESULTS_SCHEMAS`.
    results : dict
        JSON-ready results (after :func:`analysis.provenance.to_jsonable`).
    path : str | Path | None
        The file about to be written (named in errors).

    Returns
    -------
    ChapterResults

    Raises
    ------
    ContractError
        Unknown section, or a missing, undeclared or wrongly typed field.
    """
    return _schema_of(section, path or section).from_results(results, path)


def read_results(results_dir, section):
    """The typed results of one chapter.

    Parameters
    ----------
    results_dir : str | Path
        The run's ``results`` folder.
    section : str
        One of :data:`RESULTS_SCHEMAS` (``"data"``, ``"encoding"``, ...).

    Returns
    -------
    ChapterResults
        The section's frozen record (:class:`EncodingResults`, ...).

    Raises
    ------
    ContractError
        The file is missing or damaged, is another section's, or a field is missing,
        undeclared or wrongly typed (the message names file, section and field).
    """
    path = results_path(results_dir, section)
    cls = _schema_of(section, path)
    if not path.is_file():
        raise ContractError(f"{path} not found: run the {section} chapter first "
                            f"(python -m analysis.run --only {section} with the same profile "
                            "and results_dir).")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ContractError(f"{path}: not valid JSON ({err}); expected the results of the "
                            f"{section} chapter. Re-run that chapter.") from None
    if not isinstance(data, dict) or "results" not in data:
        raise ContractError(f"{path}: field 'results' missing; expected the results file of "
                            f"the {section} chapter. Re-run that chapter.")
    if data.get("section", section) != section:
        raise ContractError(f"{path}: field 'section' is {data['section']!r}; expected "
                            f"{section!r}.")
    return cls.from_results(data["results"], path)
