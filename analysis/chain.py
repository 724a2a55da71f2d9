"""The divergence chain in one call: from per-word errors to tested, confirmed hypotheses.

The paper's chain (the Methods page (book/methods.md), divergent sentences and hypotheses;
proposer and verifier after D5, Zhong et al. 2023) is a fixed sequence of the steps of
:mod:`analysis.hypotheses`: sentence scores, set size, sentence sets and roles, proposals,
domains, verification, validity with confirmation, and domain enrichment.
:func:`divergence_chain` runs them in that order and returns every intermediate table in
a :class:`ChainResult`, so that each chapter that runs the chain (the simulated study's
hypotheses chapter and the real-data chapter) makes the same calls and shows the fields
it needs. The steps stay in :mod:`analysis.hypotheses`; this module only composes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import hypotheses as H
from ._utils import DataError, check_array, check_same_rows

__all__ = ["ChainResult", "divergence_chain", "summary_texts", "PROPOSERS", "VERIFIERS"]

#: Proposers :func:`divergence_chain` knows by name.
PROPOSERS = ("offline", "llm")
#: Verifiers :func:`divergence_chain` knows by name (or pass an object with ``score``).
VERIFIERS = ("embedding", "llm")


@dataclass(frozen=True)
class ChainResult:
    """Every table of one run of the divergence chain, in the order the steps made them.

    Attributes
    ----------
    word_score : ndarray, shape (n_words,)
        Each word's error averaged over the window of interest (the input's units;
        NaN where a word has no finite error there).
    sentences : DataFrame
        One row per sentence (:func:`analysis.hypotheses.sentence_scores`).
    n_per_set : int
        Sentences per set (:func:`analysis.hypotheses.set_size`).
    set_note : str
        What decided ``n_per_set`` and why, for the prose.
    sentence_sets : DataFrame, shape (2 * n_per_set, 5)
        Divergent and convergent sentences (column ``set``) with their roles
        (:func:`analysis.hypotheses.select_sentence_sets`).
    proposals : DataFrame, shape (n_hypotheses, ...)
        Proposed hypotheses with their domains filled
        (:func:`analysis.hypotheses.assign_domains`).
    scores : ndarray, shape (n_hypotheses, 2 * n_per_set)
        Verifier scores in [0, 1], rows in the order of ``proposals``, columns in the
        order of ``sentence_sets``.
    table : DataFrame, shape (n_hypotheses, 13)
        The evaluated hypotheses, ranked by research validity
        (:func:`analysis.hypotheses.evaluate`).
    domains : DataFrame
        Hypotheses per domain (:func:`analysis.hypotheses.domain_table`).
    enrichment : dict
        The hypergeometric test of the top hypotheses' domains
        (:func:`analysis.hypotheses.domain_enrichment`).
    verifier : str
        The verifier that scored the sentences (its ``repr``).
    embedding_calibration : dict
        The embedding verifier's calibration (slope, intercept, n, accuracy); the
        embedding model assigns domains whichever verifier scores.
    settings : dict
        The arguments the chain ran with (window, requested set size, role shares,
        proposer, verifier, LLM, number of hypotheses wanted, FDR level, number
        confirmed, seed).
    """

    word_score: np.ndarray
    sentences: pd.DataFrame
    n_per_set: int
    set_note: str
    sentence_sets: pd.DataFrame
    proposals: pd.DataFrame
    scores: np.ndarray
    table: pd.DataFrame
    domains: pd.DataFrame
    enrichment: dict
    verifier: str
    embedding_calibration: dict
    settings: dict = field(default_factory=dict)

    @property
    def n_scored(self):
        """Sentences with a score (int)."""
        return int(self.sentences["score"].notna().sum())

    @property
    def role_counts(self):
        """Sentences per role in the divergent set (dict, one key per role)."""
        sets = self.sentence_sets
        counts = sets[sets["set"] == "divergent"]["role"].value_counts()
        return {r: int(counts.get(r, 0)) for r in H.ROLES}

    def window_text(self):
        """The window of interest in words: ``"300-425 ms"`` or ``"every window"``."""
        from .display import window_text

        return window_text(self.settings.get("window"))

    def set_texts(self):
        """What a page says about the sentence sets (dict of str to str, for glue).

        Returns
        -------
        dict
            ``n_sentences``, ``n_scored``, ``n_per_set``, ``set_note``, ``window_txt``,
            ``len_divergent``, ``len_convergent`` (mean scored words per sentence of the
            set), ``len_all`` (over every scored sentence) and ``n_<role>`` (divergent
            sentences per role).
        """
        lengths = self.sentences.set_index("sentence_id")["n_scored"]
        out = {"n_sentences": str(len(self.sentences)), "n_scored": str(self.n_scored),
               "n_per_set": str(self.n_per_set), "set_note": self.set_note,
               "window_txt": self.window_text(),
               "len_all": f"{lengths[lengths > 0].mean():.1f}"}
        sets = self.sentence_sets
        for name in ("divergent", "convergent"):
            ids = sets[sets["set"] == name]["sentence_id"]
            out[f"len_{name}"] = f"{lengths[ids].mean():.1f}"
        out.update({f"n_{r}": str(n) for r, n in self.role_counts.items()})
        return out

    def validity_texts(self):
        """What a page says about validity (dict of str to str, for glue).

        Returns
        -------
        dict
            ``n_hyp`` (hypotheses tested), ``n_sig`` (significant on the research
            sentences), ``n_positive`` (top hypotheses with a positive validity on the
            validation sentences), ``n_confirmed``; the embedding verifier's calibration:
            ``cal_slope``, ``cal_intercept`` (signed, with a typographic minus), ``cal_n``,
            ``cal_acc`` (percent).
        """
        cal, table = self.embedding_calibration, self.table
        top = table.head(self.settings["n_confirm"])
        return {"n_hyp": str(len(table)), "n_sig": str(int(table["significant"].sum())),
                "n_positive": str(int((top["V_validation"] > 0).sum())),
                "n_confirmed": str(int(table["confirmed"].sum())),
                "cal_slope": f"{cal['slope']:.1f}",
                "cal_intercept": f"{cal['intercept']:+.2f}".replace("+", "+ ").replace("-", "− "),
                "cal_n": str(cal["n"]), "cal_acc": f"{100 * cal['accuracy']:.0f}"}

    def top_records(self, columns):
        """The top ``settings["n_confirm"]`` hypotheses by research validity, as records.

        Parameters
        ----------
        columns : sequence of str
            Columns of ``table`` to keep, in this order.

        Returns
        -------
        list of dict
            One dict per hypothesis, best first.
        """
        return self.table.head(self.settings["n_confirm"])[list(columns)].to_dict(
            orient="records")

    def results(self, *, encoding_layer, encoding_layer_decision, planted_truth,
                unnamed_category):
        """The hypotheses chapter's results (``hypotheses.json``,
        :class:`analysis.results.HypothesesResults`).

        Parameters
        ----------
        encoding_layer : int
            The encoding chapter's layer, whose errors the chain ran on.
        encoding_layer_decision : dict
            How the encoding chapter decided it.
        planted_truth : dict
            The simulated study's check of the planted categories (empty on real data).
        unnamed_category : dict | None
            :func:`analysis.hypotheses.unnamed_category_check`, or None on real data.

        Returns
        -------
        dict
            The chain's counts (sentences, sets, roles, hypotheses, significant and
            confirmed ones), its settings (window in ms, proposer, verifier, LLM), the
            verifier's calibration, the top hypotheses with their validity on the
            research and the validation sentences, the domain counts and their
            enrichment test, beside the arguments.
        """
        table = self.table
        window = self.settings["window"]
        return {
            "n_sentences": len(self.sentences),
            "n_scored": self.n_scored,
            "n_per_set": self.n_per_set,
            "set_note": self.set_note,
            "n_per_role": self.role_counts,
            "window_ms": None if window is None else list(window),
            "proposer": self.settings["proposer"],
            "verifier": self.settings["verifier"],
            "llm": self.settings["llm"],
            "embedding_calibration": self.embedding_calibration,
            "encoding_layer": encoding_layer,
            "encoding_layer_decision": encoding_layer_decision,
            "n_hypotheses": len(table),
            "n_significant": int(table["significant"].sum()),
            "n_confirmed": int(table["confirmed"].sum()),
            "top": self.top_records(["hypothesis", "proposer", "domain", "V", "p", "q",
                                     "V_validation", "p_validation", "q_validation",
                                     "confirmed"]),
            "domains": self.domains.to_dict(),
            "domain_enrichment": self.enrichment,
            "planted_truth": planted_truth,
            "unnamed_category": unnamed_category,
        }

    def power(self, n_sim=1000, seed=0):
        """What the validity test on the research sentences could detect
        (:func:`analysis.power.chain_power` at the chain's FDR level).

        Parameters
        ----------
        n_sim, seed : int
            Simulations of the null and their seed.

        Returns
        -------
        dict
            From :func:`analysis.power.chain_power` (``sentence`` says it in words).

        Raises
        ------
        DataError
            Fewer than 2 research sentences in a set.
        """
        from .power import chain_power

        return chain_power(self.table, self.scores, self.sentence_sets,
                           alpha=self.settings["fdr_q"], n_sim=n_sim, seed=seed)

    def summary(self, power):
        """The chain's record in another chapter's results (the real-data chapter's
        ``divergence_chain``, :class:`analysis.results.RealDataResults`).

        Parameters
        ----------
        power : dict
            :meth:`power` of this run.

        Returns
        -------
        dict
            ``n_sentences`` (the scored ones), ``n_per_set``, ``set_note``,
            ``n_hypotheses``, ``n_significant``, ``n_confirmed``, ``domain_enrichment``,
            ``top`` (the top hypotheses with their research and validation validity) and
            ``power``.
        """
        table = self.table
        return {"n_sentences": self.n_scored, "n_per_set": self.n_per_set,
                "set_note": self.set_note, "n_hypotheses": len(table),
                "n_significant": int(table["significant"].sum()),
                "n_confirmed": int(table["confirmed"].sum()),
                "domain_enrichment": self.enrichment,
                "top": self.top_records(["hypothesis", "proposer", "domain", "V", "p", "q",
                                         "V_validation", "q_validation", "confirmed"]),
                "power": power}


def summary_texts(run, power=None):
    """What a page says about a chain run in another chapter (dict of str to str, for glue).

    Parameters
    ----------
    run : ChainResult | None
        None where the chain did not run (then every text is ``"n/a"``).
    power : dict | None
        :meth:`ChainResult.power` of ``run``.

    Returns
    -------
    dict
        ``chain_power`` (the power sentence), ``chain_n_per_set``, ``chain_n_sentences``
        (scored sentences), ``chain_set_note``, ``chain_n_sig``, ``chain_n_hyp``,
        ``chain_n_confirmed`` and ``chain_enrich_p``.
    """
    if run is None:
        return dict.fromkeys(("chain_power", "chain_n_per_set", "chain_n_sentences",
                              "chain_set_note", "chain_n_sig", "chain_n_hyp",
                              "chain_n_confirmed", "chain_enrich_p"), "n/a")
    table = run.table
    return {"chain_power": str(power["sentence"]), "chain_n_per_set": str(run.n_per_set),
            "chain_n_sentences": str(run.n_scored), "chain_set_note": run.set_note,
            "chain_n_sig": str(int(table["significant"].sum())),
            "chain_n_hyp": str(len(table)),
            "chain_n_confirmed": str(int(table["confirmed"].sum())),
            "chain_enrich_p": f"{run.enrichment['p']:.2g}"}


def _check_inputs(word_errors, times, words, sentence):
    """Arrays of the chain's inputs, or a :class:`DataError` naming the field at fault."""
    source = "divergence_chain"
    errors = check_array(word_errors, "word_errors", ndim=2, finite=False, source=source)
    times = check_array(times, "times", shape=(errors.shape[1],), source=source)
    sentence = check_array(sentence, "sentence", ndim=1, finite=False, source=source,
                           dtype=None)
    if not np.issubdtype(sentence.dtype, np.integer):
        whole = (np.issubdtype(sentence.dtype, np.floating)
                 and bool(np.all(sentence == np.round(sentence))))
        if not whole:
            raise DataError(f"{source}: 'sentence' has dtype {sentence.dtype}; expected "
                            "integer sentence indices, one per word.")
        sentence = sentence.astype(np.int64)
    words = list(words)
    check_same_rows({"word_errors": errors, "words": words, "sentence": sentence}, source)
    return errors, times, words, sentence


def divergence_chain(word_errors, times, words, sentence, *, window=None, n_per_set=None,
                     roles=H.DEFAULT_ROLE_SHARES, proposer="offline", verifier="embedding",
                     llm=None, goal=None, n_hypotheses=60, embedder=None, fdr_q=0.05,
                     n_confirm=10, seed=0, device="cpu"):
    """Run the divergence chain: sentence scores to confirmed hypotheses and their domains.

    The steps, each a function of :mod:`analysis.hypotheses`, in this order:
    :func:`~analysis.hypotheses.sentence_scores`, :func:`~analysis.hypotheses.set_size`,
    :func:`~analysis.hypotheses.select_sentence_sets`, the proposer
    (:func:`~analysis.hypotheses.propose_offline` or
    :func:`~analysis.hypotheses.propose_llm`, on the proposal sentences),
    :func:`~analysis.hypotheses.assign_domains`, the verifier's ``score`` on every
    sentence of both sets, :func:`~analysis.hypotheses.evaluate` (validity on the
    research sentences, confirmation on the validation sentences),
    :func:`~analysis.hypotheses.domain_table` and
    :func:`~analysis.hypotheses.domain_enrichment`. The protocol is the Methods page's
    (book/methods.md); the proposer and verifier follow D5 (Zhong et al. 2023).

    Parameters
    ----------
    word_errors : array_like, shape (n_words, n_windows)
        Per-word, per-window error (e.g. z-scored squared error of the encoding model;
        NaN where no channel was significant).
    times : array_like, shape (n_windows,)
        Window start times (ms).
    words : sequence of str, length n_words
    sentence : array_like of int, shape (n_words,)
        Sentence index of each word.
    window : (float, float) | None
        Window of interest in ms (the paper's MEG: 300-425 ms); ``None``: every window.
    n_per_set : int | None
        Sentences per set (the paper: 100); ``None``: a quarter of the scored sentences
        (:func:`~analysis.hypotheses.set_size` caps it at a third).
    roles : tuple of 3 floats
        Shares of each set given to the proposal, research and validation roles.
    proposer : {"offline", "llm"}
        ``offline``: the project's bank plus log-odds word hypotheses; ``llm``: D5
        prompts to ``llm`` with the goal paragraph ``goal``.
    verifier : {"embedding", "llm"} or object
        ``embedding``: ``embedder`` (all-MiniLM-L6-v2 through its fixed calibration);
        ``llm``: :class:`~analysis.hypotheses.LLMVerifier` on ``llm`` (P(Yes)); or any
        object with ``score(sentences, hypotheses)`` returning an array of shape
        (n_hypotheses, n_sentences).
    llm : analysis.llm.LLM | None
        Needed when the proposer or the verifier is ``"llm"``.
    goal : str | None
        The D5 goal paragraph for the LLM proposer
        (:func:`~analysis.hypotheses.goal_paragraph`); ``None``: its default text.
    n_hypotheses : int
        Distinct hypotheses wanted from the LLM proposer.
    embedder : analysis.embeddings.EmbeddingVerifier | None
        Assigns domains (and verifies when ``verifier="embedding"``); ``None`` loads one
        on ``device``.
    fdr_q : float
        Benjamini–Hochberg level, on the research and on the validation sentences.
    n_confirm : int
        Top hypotheses (by research validity) tested on the validation sentences and
        counted by the domain tables.
    seed : int
        Seeds the roles and the LLM proposer's rounds.
    device : str
        Device of the embedding model when ``embedder`` is None.

    Returns
    -------
    ChainResult

    Raises
    ------
    DataError
        Inputs of the wrong shape or type (the message names the field), no window in
        ``window``, too few scored sentences for the two sets, or verifier scores of the
        wrong shape.
    ValueError
        An unknown proposer or verifier, an LLM step without ``llm``, or bad role
        shares.
    RuntimeError
        The LLM proposer proposed no usable hypothesis.
    """
    if proposer not in PROPOSERS:
        raise ValueError(f"proposer={proposer!r}; expected one of {PROPOSERS}.")
    by_name = isinstance(verifier, str)
    if by_name and verifier not in VERIFIERS:
        raise ValueError(f"verifier={verifier!r}; expected one of {VERIFIERS} or an object "
                         "with a score(sentences, hypotheses) method.")
    if not by_name and not callable(getattr(verifier, "score", None)):
        raise ValueError(f"verifier {verifier!r} has no score(sentences, hypotheses) method.")
    if llm is None and (proposer == "llm" or verifier == "llm"):
        raise ValueError("proposer='llm' or verifier='llm' needs an LLM: pass llm= "
                         "(analysis.llm.make_llm).")
    word_errors, times, words, sentence = _check_inputs(word_errors, times, words, sentence)

    word_score, sentences = H.sentence_scores(word_errors, times, words, sentence, window)
    n_scored = int(sentences["score"].notna().sum())
    n_used, note = H.set_size(n_scored, n_per_set)
    sentence_sets = H.select_sentence_sets(sentences, n_per_set=n_used, roles=roles, seed=seed)
    texts_a, texts_b = H.role_texts(sentence_sets, "proposal")
    if proposer == "offline":
        proposals = H.propose_offline(texts_a, texts_b, sentences["text"].tolist())
    else:
        goal = H.goal_paragraph() if goal is None else goal
        proposals = H.propose_llm(llm, texts_a, texts_b, goal, n_hypotheses=n_hypotheses,
                                  seed=seed)
        if proposals.empty:
            raise RuntimeError(f"the LLM {llm} proposed no usable hypothesis; use a stronger "
                               "model or proposer='offline'.")
    embedder = H.EmbeddingVerifier(device=device) if embedder is None else embedder
    proposals = H.assign_domains(proposals, embedder)
    check = (embedder if verifier == "embedding" else
             H.LLMVerifier(llm, progress=True) if verifier == "llm" else verifier)
    scores = check.score(sentence_sets["text"].tolist(), proposals["hypothesis"].tolist())
    table = H.evaluate(proposals, scores, sentence_sets, fdr_q=fdr_q, n_confirm=n_confirm)
    settings = dict(window=None if window is None else tuple(window), n_per_set=n_per_set,
                    roles=tuple(roles), proposer=proposer,
                    verifier=verifier if by_name else repr(verifier),
                    llm=None if llm is None else repr(llm), n_hypotheses=n_hypotheses,
                    fdr_q=fdr_q, n_confirm=n_confirm, seed=seed)
    return ChainResult(
        word_score=word_score, sentences=sentences, n_per_set=n_used, set_note=note,
        sentence_sets=sentence_sets, proposals=proposals, scores=scores, table=table,
        domains=H.domain_table(table, n_confirm),
        enrichment=H.domain_enrichment(table, n_confirm), verifier=repr(check),
        embedding_calibration=embedder.calibration, settings=settings)
