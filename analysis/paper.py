"""The paper beside the book: what Zhou et al. (2024) report next to what this build measured.

A registry of the quantities the paper states (:data:`PAPER`), each with where in the
paper it is stated, and :func:`paper_beside_book`, which puts the book's value for the
same quantity beside it, read from the chapters' results files, with what differs
(model, data, modality, scale). The runner writes the table into the book's page
"The paper beside the book" at build time; nothing in it is typed by hand on the book's
side.

Only what the paper states in words that this project could check is listed: its
abstract, and the data, model and protocol settings of its methods as the book's Methods
page records them. Values read off the paper's figures (the peak latency and layer, the
share of channels a fine-tuned model improves, the raters' shares) are not listed,
because this build could not check them against the paper offline; :data:`NOT_COMPARED`
names them, and the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from .contracts import ContractError, EncodingOutputs
from .display import escape_markdown, model_label, window_text
from .results import read_results, results_path

__all__ = ["PaperValue", "PAPER", "NOT_COMPARED", "paper_beside_book"]

#: Where the paper states a value.
ABSTRACT = "abstract"
METHODS = "methods (as recorded on the Methods page)"


@dataclass(frozen=True)
class PaperValue:
    """One quantity as the paper reports it.

    Attributes
    ----------
    key : str
        Identifier of the quantity (a key of the book's side in :func:`paper_beside_book`).
    quantity : str
        What is compared, in a few words.
    paper : str
        The paper's value, in words.
    source : str
        Where in the paper it is stated (:data:`ABSTRACT` or :data:`METHODS`).
    chapter : str
        Results name of the chapter that measures it here.
    """

    key: str
    quantity: str
    paper: str
    source: str
    chapter: str


#: What Zhou et al. (2024) report, in their words' substance (not their wording).
PAPER = (
    PaperValue("data", "brain data",
               "MEG of 8 readers of one Harry Potter chapter (5,176 words, one word every "
               "500 ms), 306 channels, 20 windows of 25 ms; a second MEG dataset of "
               "people listening to stories", METHODS, "data"),
    PaperValue("model", "language model", "GPT-2 XL (48 layers, 1.5 billion parameters)",
               METHODS, "encoding"),
    PaperValue("sentence_sets", "divergent and convergent sentences",
               "the 100 sentences with the highest and the 100 with the lowest error, "
               "words scored over 300-425 ms", METHODS, "hypotheses"),
    PaperValue("domains", "what the divergent sentences share",
               "social/emotional intelligence and physical commonsense", ABSTRACT,
               "hypotheses"),
    PaperValue("raters", "people agree with the hypotheses",
               "behavioural experiments validate the two domains", ABSTRACT,
               "human_validation"),
    PaperValue("recipe", "fine-tuning recipe",
               "GPT-2 XL, all weights, AdamW at 1e-5, 16-bit, the Social IQa and PIQA "
               "training sets", METHODS, "finetuning"),
    PaperValue("retest", "fine-tuning on the two domains brings the model closer to "
               "the brain", "yes: the fine-tuned models align better with the MEG "
               "responses", ABSTRACT, "finetuning"),
    PaperValue("null", "brain re-test", "10,000 permutations of the word order, "
               "Benjamini-Hochberg over channels and windows", METHODS, "finetuning"),
)

#: Quantities the paper reports in its figures that the book measures but does not
#: compare, because this build could not check the paper's values offline.
NOT_COMPARED = ("the peak latency and the best layer of the encoding model",
                "the share of channels and windows a fine-tuned model predicts better",
                "the raters' shares of 'more true for the divergent sentence'",
                "the validity scores of the top hypotheses")

_CHAPTER_DOCS = {"data": "00_data", "encoding": "01_encoding", "hypotheses": "02_hypotheses",
                 "human_validation": "03_human_validation", "finetuning": "04_finetuning"}


def _load(results_dir, name):
    """A chapter's typed results (:func:`analysis.results.read_results`), or None."""
    return (read_results(results_dir, name) if results_path(results_dir, name).exists()
            else None)


def _book_values(res):
    """The book's value and what differs, per :data:`PAPER` key (missing chapters skipped)."""
    data, enc, hyp, val, fin = (res.get(k) for k in ("data", "encoding", "hypotheses",
                                                     "human_validation", "finetuning"))
    out = {}
    if data is not None:
        d = data.dataset
        simulated = "simulated" in str(d["source"])
        windows = (f"{d['n_windows']} windows of {d['window_ms']:g} ms"
                   if d["window_ms"] is not None else f"{d['n_windows']} window(s)")
        out["data"] = (f"{d['source']}: {d['n_subjects']} subject(s), {d['n_words']:,} words, "
                       f"{d['n_channels']} channels, {windows}",
                       "simulated responses on real sensor geometry; real EEG and reading "
                       "times in the real-data chapter" if simulated else "another recording")
    identity = res.get("encoding_model")
    if identity is not None:
        name, layer = model_label(identity[0]), identity[1]
        small = "135M" in name
        out["model"] = (f"{name}, layer {layer} (chosen inside the cross-validation)",
                        "135 million parameters, about 11 times fewer than GPT-2 XL, so that "
                        "the book runs on a CPU" if small else "another model")
    if hyp is not None:
        window = window_text(hyp.window_ms)  # None: no window of interest (one ERP, RTs)
        out["sentence_sets"] = (f"{hyp.n_per_set} and {hyp.n_per_set} of {hyp.n_scored} "
                                f"sentences, words scored over {window}",
                                "set size scaled to the story's length"
                                if hyp.n_per_set != 100 else "same")
        top = hyp.domains["top 10"]
        named = ", ".join(f"{k} {v}" for k, v in top.items())
        out["domains"] = (f"domains of the top 10 hypotheses: {named or 'none'}; "
                          f"{hyp.n_confirmed} confirmed on held-out sentences",
                          "a bank of properties and an embedding verifier instead of an LLM "
                          f"(proposer: {hyp.proposer}); on the simulated study the "
                          "divergence is planted" if simulated_build(data) else
                          f"proposer: {hyp.proposer}")
    if val is not None:
        t = val.participant_test
        out["raters"] = (f"top vs bottom hypotheses: difference {t['mean_difference']:+.3f} "
                         f"(p = {t['p_value']:.3g}, {t['n_participants']} raters)",
                         "simulated raters until people answer the survey" if val.simulated
                         else "real raters")
    if fin is not None:
        n_train = ", ".join(f"{t} {v['data']['n_train']}" for t, v in fin.tasks.items())
        par = fin.recipe
        how = f"LoRA (rank {par['lora_rank']})" if par["lora"] else "all weights"
        out["recipe"] = (f"{how}, AdamW at {par['lr']:g}, {par['epochs']} epoch(s); "
                         f"training items: {n_train or 'see the chapter'}",
                         "a subset of the items and fewer steps, to fit a CPU (the `full` "
                         "profile runs the paper's recipe on a GPU)" if par["lora"]
                         or par["n_train"] else "the paper's scale")
        said = "; ".join(f"{v['model']}: {v['answer']}" for v in fin.verdicts.values())
        out["retest"] = (said or "no re-test", "a verdict counts only when the model learnt "
                         "the task (accuracy gain above 0) and beats both controls")
        out["null"] = (f"{fin.n_permutations:,} permutations that keep the dependence of "
                       "neighbouring words (blocks, sentences or story shifts); one "
                       "Benjamini-Hochberg family for better and worse",
                       "free word shuffles are liberal on autocorrelated responses "
                       "(measured on the Methods page)")
    return out


def simulated_build(data):
    """Whether the data chapter ran on the simulated study (``data`` results or None)."""
    return data is not None and "simulated" in str(data.dataset["source"])


def paper_beside_book(results_dir):
    """The page's table: the paper's value, the book's, and what differs.

    Parameters
    ----------
    results_dir : str | Path
        The chapters' results folder (``_build/results``).

    Returns
    -------
    str
        MyST markdown: one table row per :data:`PAPER` entry whose chapter has run, each
        linked to that chapter, then the list of :data:`NOT_COMPARED` quantities. Text
        from results files is escaped.

    Raises
    ------
    KeyError
        A results file lacks a field the table needs.
    """
    res = {k: _load(results_dir, k) for k in _CHAPTER_DOCS}
    if res["encoding"] is not None:
        try:
            enc = EncodingOutputs.read(results_dir)
            res["encoding_model"] = (enc.model_identity, enc.layer)
        except ContractError:  # an encoding chapter run before the contract existed
            res["encoding_model"] = None
    book = _book_values(res)
    rows = ["| quantity | the paper | where | this build | what differs |",
            "|---|---|---|---|---|"]
    for p in PAPER:
        if p.key not in book:
            continue
        value, differs = book[p.key]
        link = f"{{doc}}`{p.quantity} <../notebooks/{_CHAPTER_DOCS[p.chapter]}>`"
        rows.append("| " + " | ".join([link, p.paper, p.source, escape_markdown(value),
                                       escape_markdown(differs)]).replace("\n", " ") + " |")
    if len(rows) == 2:
        return "*No chapter has been run yet: the table fills in as chapters run.*\n"
    missing = "; ".join(NOT_COMPARED)
    return "\n".join(rows) + (
        "\n\nNot compared: " + missing + ". The paper reports these in its figures; this "
        "build could not check the paper's values offline, and a value copied without a "
        "check would be worse than none. The chapters report the book's own values.\n")
