"""Divergent and convergent sentences, hypotheses about them, and their validity (Methods page, divergent sentences and hypotheses).

Steps, each a function:

1. :func:`sentence_scores` averages each word's error (from the encoding chapter's
   :class:`~analysis.contracts.EncodingOutputs`) over the window of interest (300–425 ms
   for the paper's MEG data; the dataset registry says) and each sentence's words, and
   standardises the sentence mean by its standard error so that short sentences do not
   fill both tails;
   :func:`set_size` scales the two sets with the data; :func:`select_sentence_sets` takes the
   most divergent (A) and most convergent (B) sentences and gives each sentence of each
   set, separately and with a seed, one of three roles: *proposal* (shown to the
   proposers and used for data-driven hypotheses), *research* (validity is computed and
   ranked there) and *validation* (held out, confirms). Nothing is tested on a sentence
   that helped produce it.
2. Proposers turn the two sets into candidate properties ("hypotheses", sentence
   fragments such as "expresses strong emotions"):
   :func:`propose_offline` (a bank of properties written for the project, plus words that
   distinguish A from B by :func:`log_odds_dirichlet`) and :func:`propose_llm` (D5-style
   prompting of an instruction-tuned LLM, :mod:`analysis.llm`).
3. Verifiers score how well each sentence satisfies each property, in [0, 1]:
   :class:`EmbeddingVerifier` (all-MiniLM-L6-v2 cosine similarity through a fixed
   logistic calibration) and :class:`LLMVerifier` (the D5 question, P(Yes)).
4. :func:`evaluate` computes the validity V = mean score over A − mean over B, a
   one-sided Welch t-test and Benjamini–Hochberg q-values over all hypotheses on the
   research sentences, ranks by V, and confirms the top ones on the validation
   sentences (Benjamini–Hochberg over those confirmed).
5. :class:`analysis.contracts.HypothesisResults` writes and reads the files that the
   human-validation chapter uses.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ._utils import DataError, welch_ttest
from .embeddings import EmbeddingVerifier  # noqa: F401  (the offline verifier, re-exported)

__all__ = [
    "RESOURCES", "PROMPTS", "DOMAINS", "ROLES",
    "sentence_scores", "LENGTH_CORRECTIONS", "set_size", "select_sentence_sets", "role_texts",
    "category_shares",
    "load_bank", "coarse_domain", "tokenize", "log_odds_dirichlet", "distinguishing_words",
    "propose_offline", "diverse_sample", "clean_hypothesis", "parse_bullets",
    "goal_paragraph", "propose_llm",
    "EmbeddingVerifier", "LLMVerifier", "assign_domains",
    "validity", "evaluate", "scores_long", "results_for_later", "domain_enrichment",
    "domain_table", "unnamed_category_check", "SOUND_TERMS",
]

RESOURCES = Path(__file__).resolve().parent / "resources"
PROMPTS = RESOURCES / "prompts"
DOMAINS = ("social/emotional", "physical", "other")
FINE_DOMAINS = ("social/emotional", "physical", "syntactic", "lexical", "discourse",
                "figurative", "other")
#: The three roles of the sentences of each set (divergent, convergent; Methods page, divergent sentences and hypotheses) and their default shares.
ROLES = ("proposal", "research", "validation")
DEFAULT_ROLE_SHARES = (0.4, 0.4, 0.2)
TABLE_COLUMNS = ["rank", "hypothesis", "proposer", "domain", "V", "t", "p", "q",
                 "significant", "V_validation", "p_validation", "q_validation", "confirmed"]


# --------------------------------------------------------------------------- sentence sets
#: How :func:`sentence_scores` corrects a sentence's mean for its length.
LENGTH_CORRECTIONS = ("standardise", None)


def sentence_scores(mse, times, words, sentence, window=None, length_correction="standardise"):
    """Word and sentence scores: per-word MSE averaged over the window of interest.

    A sentence's mean of ``n`` word scores has variance ``sd**2 / n`` when the word
    scores are independent with SD ``sd``: ranking sentences by their plain mean (the
    paper's choice) puts short sentences in both tails, the divergent and the convergent
    set, for no reason but their length. With ``length_correction="standardise"``
    (default) the score is the mean's z-value against all words,
    ``(mean - mu) / (sd / sqrt(n))``, with ``mu`` and ``sd`` the mean and SD of every
    finite word score and ``n`` the sentence's words with a score: under independent
    word scores every sentence's score then has variance 1, whatever its length (the
    one-sample z statistic). This is chosen over regressing the mean on ``1 / n``, which
    corrects a length-dependent *mean* but not the length-dependent *spread* that puts
    short sentences in both tails. Where neighbouring words' scores are positively
    correlated, the mean's variance falls more slowly than ``1 / n`` and this correction
    favours long sentences somewhat; ``n_scored`` is returned so that a chapter can
    show the sets' lengths.

    Parameters
    ----------
    mse : ndarray, shape (n_words, n_windows)
        Per-word, per-window error (NaN where no channel was significant).
    times : ndarray, shape (n_windows,)
        Window start times (ms); windows starting within ``window`` (inclusive) count.
    words : list of str
    sentence : ndarray of int, shape (n_words,)
        Sentence index per word.
    window : (float, float) | None
        Window of interest in ms (the paper: 300-425 ms); ``None``: every window (data
        with a single window, such as ERP components or reading times).
    length_correction : {"standardise", None}
        ``None``: the score is the plain mean (the paper's).

    Returns
    -------
    word_score : ndarray, shape (n_words,)
        NaN where a word has no finite error in the window.
    sentences : DataFrame
        One row per sentence: ``sentence_id``, ``text``, ``score`` (the length-corrected
        score, or the mean; NaN where no word has a score), ``n_words``, ``mean_score``
        (mean of its words' finite scores), ``n_scored`` (words with a score).

    Raises
    ------
    DataError
        When no window starts inside ``window``.
    ValueError
        An unknown ``length_correction``.
    """
    if length_correction not in LENGTH_CORRECTIONS:
        raise ValueError(f"length_correction={length_correction!r}; expected one of "
                         f"{LENGTH_CORRECTIONS}.")
    times = np.asarray(times, float)
    sel = np.ones(times.size, bool) if window is None else \
        (times >= window[0]) & (times <= window[1])
    if not sel.any():
        raise DataError(f"no window starts within {window[0]:g}-{window[1]:g} ms "
                        f"(window starts: {times.tolist()}).")
    block = np.asarray(mse, float)[:, sel]
    finite = np.isfinite(block)
    word_score = np.where(finite.any(axis=1),
                          np.nansum(block, axis=1) / np.maximum(finite.sum(axis=1), 1), np.nan)
    sentence = np.asarray(sentence)
    frame = pd.DataFrame({"sentence_id": sentence.astype(int), "word": list(words),
                          "score": word_score})
    grouped = frame.groupby("sentence_id", sort=True)
    mean, n_scored = grouped["score"].mean(), grouped["score"].count()
    score = mean
    if length_correction == "standardise":
        finite = word_score[np.isfinite(word_score)]
        sd = finite.std(ddof=1) if finite.size > 1 else 0.0
        score = ((mean - finite.mean()) * np.sqrt(n_scored) / sd if sd > 0
                 else mean - mean)  # all word scores equal: every sentence alike
    out = pd.DataFrame({"text": grouped["word"].agg(" ".join), "score": score,
                        "n_words": grouped.size(), "mean_score": mean,
                        "n_scored": n_scored}).reset_index()
    return word_score, out


def set_size(n_scored, n_per_set=None, share=0.25, floor=6):
    """Sentences per set (divergent, convergent), scaled with the data.

    Parameters
    ----------
    n_scored : int
        Sentences with a score.
    n_per_set : int | None
        Requested size (the paper: 100); ``None`` takes ``share`` of the sentences.
    share : float
        Share of the scored sentences per set when ``n_per_set`` is None.
    floor : int
        Smallest set (two sentences per role).

    Returns
    -------
    size : int
        At most a third of the scored sentences, so the two sets stay apart.
    note : str
        What was used and why, for the chapter's prose.

    Raises
    ------
    DataError
        Fewer than ``3 * floor`` scored sentences.
    """
    cap = n_scored // 3
    if cap < floor:
        raise DataError(f"only {n_scored} sentences have a score; the two sentence sets need "
                        f"at least {3 * floor} (sets of {floor}, a third of the sentences each).")
    if n_per_set is None:
        size = max(floor, int(round(share * n_scored)))
        note = f"{share:.0%} of the {n_scored} scored sentences"
    else:
        size = int(n_per_set)
        note = f"n_per_set = {n_per_set}"
    if size > cap:
        note += f", capped at a third of the {n_scored} scored sentences"
        size = cap
    return max(size, floor), note


def select_sentence_sets(sentences, n_per_set=100, roles=DEFAULT_ROLE_SHARES, seed=0):
    """The most divergent and most convergent sentences, each given three roles.

    Parameters
    ----------
    sentences : DataFrame
        From :func:`sentence_scores` (``sentence_id``, ``text``, ``score``).
    n_per_set : int
        Sentences per set (the paper: 100; see :func:`set_size`).
    roles : tuple of 3 floats
        Shares of each set given the roles ``proposal``, ``research`` and
        ``validation`` (each role keeps at least 2 sentences per set). Each set is
        split on its own, with ``seed``.
    seed : int

    Returns
    -------
    DataFrame
        ``sentence_id``, ``text``, ``score``, ``set`` (``divergent`` | ``convergent``),
        ``role`` (``proposal`` | ``research`` | ``validation``); divergent first, by
        score.

    Raises
    ------
    ValueError
        Sets too small for the roles, too few scored sentences, bad shares.
    """
    scored = sentences[np.isfinite(sentences["score"])].sort_values(
        ["score", "sentence_id"], ascending=[False, True], kind="stable")
    n_per_set = int(n_per_set)
    if n_per_set < 6:
        raise ValueError(f"n_per_set must be at least 6 (2 sentences per role and set), "
                         f"got {n_per_set}.")
    if 2 * n_per_set > len(scored):
        raise ValueError(f"n_per_set={n_per_set} needs {2 * n_per_set} scored sentences but "
                         f"there are only {len(scored)}; lower n_per_set.")
    shares = np.asarray(roles, float)
    if shares.shape != (3,) or np.any(shares <= 0):
        raise ValueError(f"roles={roles!r}; expected three positive shares (proposal, "
                         "research, validation).")
    counts = np.maximum(np.floor(shares / shares.sum() * n_per_set).astype(int), 2)
    counts[1] = n_per_set - counts[0] - counts[2]  # research takes what rounding leaves
    if counts[1] < 2:
        raise ValueError(f"n_per_set={n_per_set} leaves {counts[1]} research sentences; raise it.")
    rng = np.random.default_rng(seed)
    parts = []
    for name, rows in (("divergent", scored.iloc[:n_per_set]),
                       ("convergent", scored.iloc[::-1].iloc[:n_per_set])):
        role = np.repeat(np.array(ROLES, dtype=object), counts)[rng.permutation(n_per_set)]
        parts.append(rows.assign(set=name, role=role))
    out = pd.concat(parts, ignore_index=True)
    return out[["sentence_id", "text", "score", "set", "role"]]


def role_texts(sentence_sets, role):
    """Texts of the divergent and the convergent sentences of one role.

    Returns
    -------
    texts_a, texts_b : list of str
    """
    rows = sentence_sets[sentence_sets["role"] == role]
    return (rows[rows["set"] == "divergent"]["text"].tolist(),
            rows[rows["set"] == "convergent"]["text"].tolist())


def category_shares(sentence_sets, categories, sentence, names=("emotion", "physical", "sound")):
    """Share of each word category among the words of each set's sentences.

    Parameters
    ----------
    sentence_sets : DataFrame
        From :func:`select_sentence_sets`.
    categories : dict of str to ndarray of bool, each (n_words,)
        Word labels (e.g. the simulation's planted categories).
    sentence : ndarray of int, shape (n_words,)
    names : sequence of str
        Categories to report (those present).

    Returns
    -------
    DataFrame
        Rows: categories; columns ``divergent``, ``convergent`` (mean over the set's
        sentences of the share of its words in the category).
    """
    sentence = np.asarray(sentence)
    out = {}
    for cat in names:
        if cat not in categories:
            continue
        per_sentence = pd.Series(np.asarray(categories[cat], float)).groupby(sentence).mean()
        out[cat] = {s: float(per_sentence.loc[sentence_sets[sentence_sets["set"] == s].sentence_id]
                                    .mean())
                    for s in ("divergent", "convergent")}
    return pd.DataFrame(out).T.rename_axis("category")


# --------------------------------------------------------------------------- proposers
def coarse_domain(domain):
    """Map a bank domain to the table's three domains (others become ``"other"``)."""
    return domain if domain in ("social/emotional", "physical") else "other"


def load_bank(path=None):
    """The project's bank of candidate properties.

    Parameters
    ----------
    path : str | Path | None
        A CSV with columns ``hypothesis`` and ``domain`` (one of social/emotional,
        physical, syntactic, lexical, discourse, figurative, other); default the
        project's ``analysis/resources/hypothesis_bank.csv``.

    Returns
    -------
    DataFrame
        ``hypothesis``, ``fine_domain``, ``domain`` (coarse), ``proposer`` = ``"bank"``.
    """
    path = Path(path) if path is not None else RESOURCES / "hypothesis_bank.csv"
    bank = pd.read_csv(path)
    for col in ("hypothesis", "domain"):
        if col not in bank.columns:
            raise DataError(f"{path}: missing column {col!r}; expected hypothesis,domain.")
    bad = sorted(set(bank["domain"]) - set(FINE_DOMAINS))
    if bad:
        raise DataError(f"{path}: field 'domain' has {bad}; expected one of {FINE_DOMAINS}.")
    return pd.DataFrame({"hypothesis": bank["hypothesis"].str.strip(),
                         "fine_domain": bank["domain"],
                         "domain": bank["domain"].map(coarse_domain), "proposer": "bank"})


_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")


def tokenize(text):
    """Lower-case word tokens of a text (letters and inner apostrophes)."""
    return _TOKEN.findall(str(text).lower())


def log_odds_dirichlet(counts_a, counts_b, prior):
    """Log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008).

    Parameters
    ----------
    counts_a, counts_b : ndarray, shape (n_terms,)
        Term counts in the two corpora.
    prior : ndarray, shape (n_terms,)
        Dirichlet pseudo-counts alpha_w (e.g. background frequencies scaled to a total
        alpha_0); all must be positive.

    Returns
    -------
    delta : ndarray
        Smoothed log-odds ratio of each term in A versus B.
    z : ndarray
        ``delta / sqrt(var)``, var ≈ 1/(y_a + alpha) + 1/(y_b + alpha) (their eq. 22).
    """
    ya, yb, a = (np.asarray(x, float) for x in (counts_a, counts_b, prior))
    if (a <= 0).any():
        raise ValueError("every Dirichlet pseudo-count must be positive.")
    a0, na, nb = a.sum(), ya.sum(), yb.sum()
    delta = (np.log((ya + a) / (na + a0 - ya - a))
             - np.log((yb + a) / (nb + a0 - yb - a)))
    var = 1.0 / (ya + a) + 1.0 / (yb + a)
    return delta, delta / np.sqrt(var)


def distinguishing_words(texts_a, texts_b, background, prior_strength=1.0, min_count=2,
                         stop_words="english"):
    """Words that distinguish sentences A from sentences B.

    Parameters
    ----------
    texts_a, texts_b : list of str
    background : list of str
        All sentences of the text: the prior is their word frequencies, scaled so that
        the pseudo-counts total ``prior_strength`` x (words in A + words in B).
    prior_strength : float
    min_count : int
        Keep words seen at least this often in A and B together.
    stop_words : "english" | None
        Drop scikit-learn's English stop words (function words say little as a property).

    Returns
    -------
    DataFrame
        ``word``, ``z``, ``delta``, ``count_a``, ``count_b``, sorted by z descending.
    """
    from collections import Counter

    ca = Counter(t for s in texts_a for t in tokenize(s))
    cb = Counter(t for s in texts_b for t in tokenize(s))
    bg = Counter(t for s in background for t in tokenize(s))
    vocab = sorted(set(ca) | set(cb) | set(bg))
    if not vocab:
        return pd.DataFrame(columns=["word", "z", "delta", "count_a", "count_b"])
    ya = np.array([ca[w] for w in vocab], float)
    yb = np.array([cb[w] for w in vocab], float)
    freq = np.array([bg[w] for w in vocab], float) + 0.5  # every term gets some prior
    prior = freq / freq.sum() * prior_strength * max(ya.sum() + yb.sum(), 1.0)
    delta, z = log_odds_dirichlet(ya, yb, prior)
    out = pd.DataFrame({"word": vocab, "z": z, "delta": delta, "count_a": ya.astype(int),
                        "count_b": yb.astype(int)})
    out = out[out["count_a"] + out["count_b"] >= min_count]
    if stop_words == "english":
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        out = out[~out["word"].isin(ENGLISH_STOP_WORDS)]
    return out.sort_values(["z", "word"], ascending=[False, True]).reset_index(drop=True)


def _word_list(words):
    quoted = [f'"{w}"' for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def propose_offline(texts_a, texts_b, background, n_lexical=8, words_per=3, z_min=1.0,
                    bank=None):
    """Candidate properties without an LLM: the bank plus data-driven word hypotheses.

    Parameters
    ----------
    texts_a, texts_b : list of str
        Sentences of the divergent and convergent sets (the research split).
    background : list of str
        All sentences of the text (the log-odds prior).
    n_lexical : int
        At most this many word hypotheses, each naming ``words_per`` words in order of
        their z-score among words with z > ``z_min`` (favouring A).
    bank : DataFrame | None
        From :func:`load_bank` (default: the project's bank).

    Returns
    -------
    DataFrame
        ``hypothesis``, ``proposer`` (``bank`` | ``log-odds``), ``domain`` (None for
        word hypotheses: see :func:`assign_domains`), ``words`` (the words, or "").
    """
    bank = load_bank() if bank is None else bank
    rows = [dict(hypothesis=h, proposer="bank", domain=d, words="")
            for h, d in zip(bank["hypothesis"], bank["domain"])]
    table = distinguishing_words(texts_a, texts_b, background)
    top = table[table["z"] > z_min]["word"].tolist()[: n_lexical * words_per]
    for i in range(0, len(top), words_per):
        chunk = top[i:i + words_per]
        rows.append(dict(hypothesis=f"contains words such as {_word_list(chunk)}",
                         proposer="log-odds", domain=None, words=" ".join(chunk)))
    return pd.DataFrame(rows)


def diverse_sample(texts, k, seed=0):
    """Indices of up to ``k`` texts chosen for lexical diversity.

    Greedy max-min selection on Jaccard distance between word sets: start from a
    seeded random text, then repeatedly add the text farthest from those chosen.

    Returns
    -------
    list of int
    """
    n = len(texts)
    if n <= k:
        return list(range(n))
    sets = [set(tokenize(t)) for t in texts]
    rng = np.random.default_rng(seed)
    chosen = [int(rng.integers(n))]
    nearest = np.full(n, np.inf)
    for _ in range(k - 1):
        last = sets[chosen[-1]]
        for i in range(n):
            union = len(sets[i] | last)
            dist = 1.0 - (len(sets[i] & last) / union if union else 1.0)
            nearest[i] = min(nearest[i], dist)
        nearest[chosen] = -1.0
        chosen.append(int(np.argmax(nearest)))
    return chosen


_COMPARATIVE = re.compile(r"\b(more|less|fewer|most|least|compared|than)\b|\b\w+er than\b")
_GROUP = re.compile(r"\bgroups?\s*['\"(]?[ab]\b|\b(?:other|both|either|two|first|second)\s+"
                    r"groups?\b", re.IGNORECASE)


def clean_hypothesis(text):
    """Normalise one proposed hypothesis, or None if it must be dropped.

    Drops comparatives ("more ...", "fewer", "-er than", "compared"), mentions of
    "group A/B", and fragments shorter than 2 or longer than 25 words; strips bullets,
    quotes, a leading "The sentence" and a final full stop, and lower-cases the first
    letter.
    """
    h = re.sub(r"^\s*(?:[-*\u2022]|\d+[.)])\s*", "", str(text)).strip().strip('"').strip()
    if _GROUP.search(h):
        return None
    h = re.sub(r"^(?:the\s+)?sentences?\s+", "", h, flags=re.IGNORECASE).rstrip(" .;")
    if not h or _COMPARATIVE.search(h.lower()):
        return None
    n_words = len(h.split())
    if n_words < 2 or n_words > 25:
        return None
    return h[0].lower() + h[1:]


def parse_bullets(text):
    """The bullet or numbered items of an LLM reply (one per line)."""
    items = []
    for line in str(text).splitlines():
        if re.match(r"^\s*(?:[-*\u2022]|\d+[.)])\s+\S", line):
            items.append(line)
    return items


def goal_paragraph(data_description="a reading study in which words were shown one at a time",
                   template=None):
    """The D5 goal paragraph (``resources/prompts/goal.txt``) for a dataset."""
    template = template or (PROMPTS / "goal.txt").read_text(encoding="utf-8")
    return template.format(data_description=data_description).strip()


def propose_llm(llm, texts_a, texts_b, goal, n_hypotheses=60, per_set=25, n_per_round=10,
                max_rounds=12, temperature=0.8, max_tokens=400, seed=0, template=None):
    """D5-style proposer: prompt an LLM in rounds until enough distinct hypotheses.

    Each round shows up to ``per_set`` sentences of each set, chosen for lexical
    diversity (:func:`diverse_sample`) from a seeded shuffle that changes per round, and
    samples a reply with a per-round seed; bullets are cleaned
    (:func:`clean_hypothesis`) and duplicates (case and punctuation ignored) dropped.

    Parameters
    ----------
    llm : analysis.llm.LLM
    texts_a, texts_b : list of str
        Research-split sentences of the divergent and convergent sets.
    goal : str
        The goal paragraph (:func:`goal_paragraph`).
    n_hypotheses : int
        Stop once this many distinct hypotheses exist.
    max_rounds : int
        Stop after this many rounds even if fewer were found (a weak model may repeat
        itself); the result says how many rounds ran.

    Returns
    -------
    DataFrame
        ``hypothesis``, ``proposer`` = ``"llm"``, ``domain`` = None, ``round``.
    """
    template = template or (PROMPTS / "propose.txt").read_text(encoding="utf-8")
    seen, rows = set(), []
    for rnd in range(int(max_rounds)):
        rng = np.random.default_rng([seed, rnd])
        pa = rng.permutation(len(texts_a))
        pb = rng.permutation(len(texts_b))
        sa = [texts_a[pa[i]] for i in diverse_sample([texts_a[i] for i in pa], per_set, seed + rnd)]
        sb = [texts_b[pb[i]] for i in diverse_sample([texts_b[i] for i in pb], per_set, seed + rnd)]
        prompt = template.format(goal=goal, n_per_round=n_per_round,
                                 samples_a="\n".join(f"- {s}" for s in sa),
                                 samples_b="\n".join(f"- {s}" for s in sb))
        reply = llm.generate(prompt, temperature=temperature, max_tokens=max_tokens,
                             seed=seed * 1000 + rnd)
        for item in parse_bullets(reply):
            h = clean_hypothesis(item)
            key = None if h is None else re.sub(r"[^a-z0-9 ]", "", h.lower()).strip()
            if h and key not in seen:
                seen.add(key)
                rows.append(dict(hypothesis=h, proposer="llm", domain=None, round=rnd))
        if len(rows) >= n_hypotheses:
            break
    return pd.DataFrame(rows[:n_hypotheses], columns=["hypothesis", "proposer", "domain", "round"])


# --------------------------------------------------------------------------- verifiers
class LLMVerifier:
    """The D5 verifier: P(Yes) that a sentence has a property, from an LLM.

    Parameters
    ----------
    llm : analysis.llm.LLM
    template : str | None
        Prompt with ``{hypothesis}`` and ``{sentence}`` (default
        ``resources/prompts/verify.txt``).
    progress : bool
        Show a progress bar over hypotheses.
    """

    name = "llm"

    def __init__(self, llm, template=None, progress=False):
        self.llm = llm
        self.template = template or (PROMPTS / "verify.txt").read_text(encoding="utf-8")
        self.progress = progress

    def __repr__(self):
        return f"<LLMVerifier {self.llm!r}>"

    def score(self, sentences, hypotheses):
        """P(Yes), shape (n_hypotheses, n_sentences) (every call cached by the LLM)."""
        hypotheses = list(hypotheses)
        out = np.empty((len(hypotheses), len(sentences)))
        rows = range(len(hypotheses))
        if self.progress:
            from tqdm.auto import tqdm

            rows = tqdm(rows, desc="LLM verifier", unit="hypothesis")
        many = getattr(self.llm, "p_yes_many", None)  # batched when the LLM offers it
        for i in rows:
            questions = [self.template.format(hypothesis=hypotheses[i], sentence=s).strip()
                         for s in sentences]
            out[i] = (many(questions) if many is not None
                      else [self.llm.p_yes(q) for q in questions])
        return out


def assign_domains(hypotheses, embedder, descriptions=None):
    """Fill missing domains: nearest domain description by embedding similarity.

    Rule: a hypothesis without a domain (LLM or log-odds proposals) is embedded with
    the sentence-embedding model and gets the domain of the most similar description in
    ``resources/domain_descriptions.csv`` (several short descriptions each for
    social/emotional, physical and other topics). Word hypotheses are embedded as
    their word list alone (the shared frame "contains words such as" would otherwise
    dominate). Bank entries keep their own domain.

    Parameters
    ----------
    hypotheses : DataFrame
        ``hypothesis``, ``domain`` (None/NaN where unknown), optional ``words``.
    embedder : EmbeddingVerifier
    descriptions : str | Path | None

    Returns
    -------
    DataFrame
        A copy with ``domain`` filled.
    """
    desc = pd.read_csv(descriptions or RESOURCES / "domain_descriptions.csv")
    out = hypotheses.copy()
    todo = out["domain"].isna().to_numpy()
    if not todo.any():
        return out
    words = out["words"] if "words" in out else pd.Series("", index=out.index)
    texts = [w.replace(" ", ", ") if isinstance(w, str) and w else h
             for h, w in zip(out["hypothesis"], words)]
    texts = [t for t, d in zip(texts, todo) if d]
    sim = embedder.embed(texts) @ embedder.embed(desc["description"].tolist()).T
    out.loc[todo, "domain"] = desc["domain"].to_numpy()[sim.argmax(axis=1)]
    return out


# --------------------------------------------------------------------------- validity
def validity(scores, in_a, in_b):
    """Validity of each hypothesis: mean score over A minus mean over B, and its test.

    Parameters
    ----------
    scores : ndarray, shape (n_hypotheses, n_sentences)
    in_a, in_b : ndarray of bool, shape (n_sentences,)
        Sentences of set A (divergent) and set B (convergent).

    Returns
    -------
    V, t, p : ndarray, shape (n_hypotheses,)
        ``p`` is the one-sided (A > B) p-value of Welch's unequal-variance t-test;
        1.0 where both sets have zero variance (no evidence either way).

    Raises
    ------
    DataError
        Fewer than 2 sentences in a set, or non-finite scores.
    """
    from ._utils import check_array

    scores = check_array(scores, "verifier scores", ndim=2,
                         row_name=lambda i: f"hypothesis {i}", col_name=lambda j: f"sentence {j}")
    a, b = scores[:, np.asarray(in_a, bool)], scores[:, np.asarray(in_b, bool)]
    if a.shape[1] < 2 or b.shape[1] < 2:
        raise DataError(f"each set needs at least 2 sentences (got {a.shape[1]} and "
                        f"{b.shape[1]}).")
    V = a.mean(axis=1) - b.mean(axis=1)
    t, p = welch_ttest(a, b, axis=1, alternative="greater")
    p = np.where(np.isnan(p), 1.0, p)
    return V, np.nan_to_num(t), p


def evaluate(hypotheses, scores, sentences, fdr_q=0.05, n_confirm=10):
    """The hypothesis table: validity on the research sentences, confirmed on validation.

    Parameters
    ----------
    hypotheses : DataFrame
        ``hypothesis``, ``proposer``, ``domain`` (one row per row of ``scores``).
    scores : ndarray, shape (n_hypotheses, n_sentences)
        Verifier scores for the sentences of ``sentences``, in its row order.
    sentences : DataFrame
        From :func:`select_sentence_sets` (columns ``set``, ``role``).
    fdr_q : float
        Benjamini–Hochberg level.
    n_confirm : int
        The top hypotheses by research V that are tested on the validation sentences
        (Benjamini–Hochberg over them); they are chosen on the research sentences, so
        their confirmation uses only sentences that took no part in choosing them.

    Returns
    -------
    DataFrame
        ``rank ... q_validation, confirmed`` sorted by research V descending.
        ``significant``: research q < ``fdr_q`` (BH over all hypotheses, none of which
        was produced from research sentences); ``V_validation`` and ``p_validation``
        for every hypothesis; ``q_validation`` and ``confirmed`` for the top
        ``n_confirm`` only (NaN / False elsewhere).
    """
    from .stats import fdr_bh

    scores = np.asarray(scores, float)
    if scores.shape != (len(hypotheses), len(sentences)):
        raise DataError(f"scores has shape {scores.shape}, expected "
                        f"({len(hypotheses)}, {len(sentences)}).")
    which, role = sentences["set"].to_numpy(), sentences["role"].to_numpy()
    out = hypotheses[["hypothesis", "proposer", "domain"]].reset_index(drop=True).copy()
    for name, suffix in (("research", ""), ("validation", "_validation")):
        in_role = role == name
        V, t, p = validity(scores, in_role & (which == "divergent"),
                           in_role & (which == "convergent"))
        out["V" + suffix], out["p" + suffix] = V, p
        if not suffix:
            reject, q = fdr_bh(p, fdr_q)
            out["q"], out["t"], out["significant"] = q, t, reject
    out = out.sort_values(["V", "hypothesis"], ascending=[False, True], kind="stable")
    out = out.reset_index(drop=True)
    top = np.arange(len(out)) < n_confirm
    reject, q = fdr_bh(np.where(top, out["p_validation"], np.nan), fdr_q)
    out["q_validation"], out["confirmed"] = q, reject & top
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out[TABLE_COLUMNS]


def scores_long(hypotheses, scores, sentences):
    """Long-format scores: ``hypothesis``, ``sentence_id``, ``score``."""
    scores = np.asarray(scores, float)
    return pd.DataFrame({
        "hypothesis": np.repeat(list(hypotheses), len(sentences)),
        "sentence_id": np.tile(sentences["sentence_id"].to_numpy(int), len(hypotheses)),
        "score": scores.ravel(),
    })


def domain_enrichment(table, n_top=10, domains=("social/emotional", "physical")):
    """Are the top hypotheses richer in some domains than all hypotheses tested?

    One-sided hypergeometric test: of the ``N`` hypotheses, ``K`` are in ``domains``;
    the top ``n`` (by research V) hold ``k`` of them; p = P(X >= k) for X ~
    Hypergeometric(N, K, n) (the chance of at least that many when the top ``n`` are a
    random draw).

    Parameters
    ----------
    table : DataFrame
        From :func:`evaluate` (column ``domain``, sorted by rank).
    n_top : int
    domains : sequence of str

    Returns
    -------
    dict
        ``k``, ``n``, ``K``, ``N``, ``expected`` (n K / N) and ``p``.
    """
    from scipy import stats

    in_dom = table["domain"].isin(list(domains)).to_numpy()
    n = min(int(n_top), len(table))
    k, big_k, big_n = int(in_dom[:n].sum()), int(in_dom.sum()), len(table)
    p = float(stats.hypergeom.sf(k - 1, big_n, big_k, n)) if big_n else float("nan")
    return {"k": k, "n": n, "K": big_k, "N": big_n,
            "expected": n * big_k / big_n if big_n else float("nan"), "p": p}


def domain_table(table, n_top=10):
    """Hypotheses per domain: all, significant on research, top ``n_top``, confirmed."""
    sig = table[table["significant"]]
    top = table.head(n_top)
    return pd.DataFrame({
        "all hypotheses": table["domain"].value_counts(),
        "significant (research)": sig["domain"].value_counts(),
        f"top {n_top}": top["domain"].value_counts(),
        "confirmed (validation)": table[table["confirmed"]]["domain"].value_counts(),
    }).reindex(list(DOMAINS)).fillna(0).astype(int)


#: Word forms that name the unnamed planted category (sound, silence, listening) in a
#: hypothesis, besides the category's own word forms. Each is matched as a whole word
#: (so "heartfelt" does not name hearing), case-insensitively.
SOUND_TERMS = (
    "sound", "sounds", "sounded", "sounding", "noise", "noises", "noisy", "noisily",
    "silence", "silences", "silent", "silently", "quiet", "quietly", "quieter", "quietness",
    "listen", "listens", "listened", "listening", "listener", "listeners",
    "hear", "hears", "heard", "hearing", "loud", "louder", "loudly", "loudness",
    "auditory", "acoustic",
)


def unnamed_category_check(table, vocabulary, n_top=10, terms=SOUND_TERMS):
    """Did a data-driven proposer find the planted category that no bank property names?

    Parameters
    ----------
    table : DataFrame
        From :func:`evaluate` (ranked by research V).
    vocabulary : list of str
        The category's word forms (the simulation's truth).
    n_top : int
        Hypotheses looked at, from the top of the ranking.
    terms : sequence of str
        Word forms that name the category in a hypothesis. They and ``vocabulary`` are
        matched against whole words of the hypothesis (its :func:`tokenize` tokens),
        case-insensitively, never as substrings.

    Returns
    -------
    dict
        ``found`` (bool), ``hypotheses`` (the top data-driven hypotheses that name it, with
        rank, V and confirmed), ``n_top``, ``significant`` (whether one of them is
        significant on the research sentences).
    """
    names = {str(v).lower() for v in vocabulary} | {str(t).lower() for t in terms}
    hits = []
    for _, row in table.head(n_top).iterrows():
        if row["proposer"] == "bank":
            continue
        if set(tokenize(row["hypothesis"])) & names:
            hits.append({"rank": int(row["rank"]), "hypothesis": row["hypothesis"],
                         "proposer": row["proposer"], "V": float(row["V"]),
                         "significant": bool(row["significant"]),
                         "confirmed": bool(row["confirmed"])})
    return {"found": bool(hits), "hypotheses": hits, "n_top": int(n_top),
            "significant": any(h["significant"] for h in hits)}


def results_for_later(sentence_sets, table, hypotheses, scores, meta):
    """The :class:`~analysis.contracts.HypothesisResults` the human-validation chapter reads.

    Parameters
    ----------
    sentence_sets : DataFrame
        From :func:`select_sentence_sets`.
    table : DataFrame
        From :func:`evaluate`.
    hypotheses : sequence of str
        Row order of ``scores``.
    scores : ndarray, shape (n_hypotheses, n_sentences)
    meta : dict
        Dataset record, window, set size, proposer and verifier.

    Returns
    -------
    analysis.contracts.HypothesisResults
    """
    from .contracts import HypothesisResults

    return HypothesisResults(sentence_sets, table,
                             scores_long(hypotheses, scores, sentence_sets),
                             dict(meta, development_fixture=False))
