"""The divergence chain in one call (:mod:`analysis.chain`).

A small synthetic text: 24 sentences about emotions and 24 neutral ones, interleaved;
every word of an emotional sentence carries a high error (a planted divergence) and the
rest noise, so the divergent group is the emotional sentences and the top hypotheses
should name emotions (the positive control).
"""

import numpy as np
import pandas as pd
import pytest

from analysis import hypotheses as H
from analysis.chain import ChainResult, divergence_chain
from test_hypotheses import CannedLLM

EMOTIONAL = [
    "She wept with grief at the grave.", "He screamed in sheer terror.",
    "They hugged and cried with joy.", "Her heart ached with lonely sorrow.",
    "He was furious and full of rage.", "The child sobbed in fear all night.",
    "She felt deep shame and regret.", "His jealousy turned into bitter hatred.",
    "They laughed with delight and love.", "Panic and dread filled his mind.",
    "She mourned her lost friend in tears.", "He trembled with anxious worry.",
    "Their love gave her warm comfort.", "He felt betrayed, hurt and angry.",
    "She was proud and deeply moved.", "Despair crushed his hopeful spirit.",
    "The widow grieved for her husband.", "He begged for forgiveness in tears.",
    "She was thrilled and full of hope.", "Fear of loss haunted her dreams.",
    "He felt lonely, sad and unloved.", "Her anger burst out in fury.",
    "They embraced with tender affection.", "The news left him heartbroken.",
]
NEUTRAL = [
    "The table stands near the window.", "The report lists three numbers.",
    "The train leaves at nine today.", "A map of the town hangs there.",
    "The shop sells paper and pens.", "The road runs north to the coast.",
    "The meeting is on the third floor.", "Tuesday follows Monday each week.",
    "The box holds twelve small cups.", "The library opens at ten.",
    "The form has four blank fields.", "The bus stops by the bank.",
    "The file is stored on the disk.", "The price is listed in euros.",
    "The chair is made of oak wood.", "The office has two grey desks.",
    "The street has a row of houses.", "The clock shows half past five.",
    "The manual covers page one to six.", "The bridge spans the small river.",
    "The list names every county.", "The garden lies behind the hall.",
    "The catalogue shows new lamps.", "The schedule changes in June.",
]


def _text():
    """Words, sentence indices and word errors (n_words, 2) of the synthetic text."""
    rng = np.random.default_rng(0)
    sentences = [s for pair in zip(EMOTIONAL, NEUTRAL) for s in pair]
    words, sentence, errors = [], [], []
    for i, s in enumerate(sentences):
        toks = s.split()
        words += toks
        sentence += [i] * len(toks)
        planted = 1.5 if s in EMOTIONAL else 0.0
        errors.append(planted + rng.normal(size=(len(toks), 2)))
    return words, np.array(sentence), np.vstack(errors)


TIMES = np.array([300.0, 500.0])


@pytest.fixture(scope="module")
def embedder():
    return H.EmbeddingVerifier(device="cpu")


@pytest.fixture(scope="module")
def text():
    return _text()


@pytest.fixture(scope="module")
def result(text, embedder):
    words, sentence, errors = text
    return divergence_chain(errors, TIMES, words, sentence, window=(250, 400), seed=3,
                            embedder=embedder, n_confirm=8)


def test_one_call_gives_the_tables_of_the_steps(text, embedder, result):
    words, sentence, errors = text
    word_score, sentences = H.sentence_scores(errors, TIMES, words, sentence, (250, 400))
    n_scored = int(sentences["score"].notna().sum())
    n_per_set, note = H.set_size(n_scored, None)
    sentence_sets = H.select_sentence_sets(sentences, n_per_set=n_per_set,
                                           roles=H.DEFAULT_ROLE_SHARES, seed=3)
    proposals = H.propose_offline(*H.role_texts(sentence_sets, "proposal"),
                                  sentences["text"].tolist())
    proposals = H.assign_domains(proposals, embedder)
    scores = embedder.score(sentence_sets["text"].tolist(), proposals["hypothesis"].tolist())
    table = H.evaluate(proposals, scores, sentence_sets, fdr_q=0.05, n_confirm=8)

    np.testing.assert_array_equal(result.word_score, word_score)
    pd.testing.assert_frame_equal(result.sentences, sentences)
    assert (result.n_per_set, result.set_note, result.n_scored) == (n_per_set, note, n_scored)
    pd.testing.assert_frame_equal(result.sentence_sets, sentence_sets)
    pd.testing.assert_frame_equal(result.proposals, proposals)
    np.testing.assert_array_equal(result.scores, scores)
    pd.testing.assert_frame_equal(result.table, table)
    pd.testing.assert_frame_equal(result.domains, H.domain_table(table, 8))
    assert result.enrichment == H.domain_enrichment(table, 8)
    assert result.embedding_calibration == embedder.calibration
    assert result.verifier == repr(embedder)
    # window of 250-400 ms: only the first window counts
    np.testing.assert_array_equal(result.word_score, errors[:, 0])


def test_result_holds_every_intermediate_table_and_the_settings(text, result):
    assert isinstance(result, ChainResult)
    n_hyp = len(result.proposals)
    assert result.word_score.shape == (len(text[0]),)
    assert len(result.sentences) == 48 and result.n_per_set == 12  # a quarter of 48
    assert len(result.sentence_sets) == 24 and result.scores.shape == (n_hyp, 24)
    assert len(result.table) == n_hyp and list(result.table.columns) == H.TABLE_COLUMNS
    assert result.proposals.domain.notna().all()
    assert set(result.domains.index) == set(H.DOMAINS)
    assert set(result.enrichment) == {"k", "n", "K", "N", "expected", "p"}
    assert result.role_counts == {"proposal": 4, "research": 6, "validation": 2}
    assert result.settings == dict(window=(250, 400), n_per_set=None, roles=(0.4, 0.4, 0.2),
                                   proposer="offline", verifier="embedding", llm=None,
                                   n_hypotheses=60, fdr_q=0.05, n_confirm=8, seed=3)
    with pytest.raises(AttributeError):
        result.n_per_set = 5  # frozen


def test_planted_emotions_come_out_on_top(result):
    """Positive control: the divergent group is the emotional sentences."""
    div = result.sentence_sets[result.sentence_sets["set"] == "divergent"]
    assert set(div.text) <= set(EMOTIONAL)
    top = result.table.head(3)
    assert (top.domain == "social/emotional").all(), top[["hypothesis", "domain", "V"]]
    assert result.table.iloc[0].significant
    assert result.enrichment["p"] < 0.05, result.enrichment


# the canned P(Yes) is constant on most hypotheses: scipy warns of zero variance
@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")
def test_llm_proposer_and_verifier_as_the_steps_call_them(text, embedder):
    """The hypotheses chapter's LLM path: D5 proposer and P(Yes) verifier on one LLM."""
    words, sentence, errors = text
    goal = H.goal_paragraph("a synthetic text")
    run = divergence_chain(errors, TIMES, words, sentence, proposer="llm", verifier="llm",
                           llm=CannedLLM(), goal=goal, n_hypotheses=4, embedder=embedder,
                           n_per_set=10, roles=(0.5, 0.3, 0.2), seed=1)
    _, sentences = H.sentence_scores(errors, TIMES, words, sentence)
    sentence_sets = H.select_sentence_sets(sentences, n_per_set=10, roles=(0.5, 0.3, 0.2),
                                           seed=1)
    llm = CannedLLM()
    proposals = H.propose_llm(llm, *H.role_texts(sentence_sets, "proposal"), goal,
                              n_hypotheses=4, seed=1)
    proposals = H.assign_domains(proposals, embedder)
    scores = H.LLMVerifier(llm).score(sentence_sets["text"].tolist(), proposals["hypothesis"])
    pd.testing.assert_frame_equal(run.proposals, proposals)
    np.testing.assert_array_equal(run.scores, scores)
    pd.testing.assert_frame_equal(run.table, H.evaluate(proposals, scores, sentence_sets))
    assert run.verifier.startswith("<LLMVerifier") and run.settings["llm"] is not None
    assert run.set_note == "n_per_set = 10"


@pytest.mark.parametrize("field, change, message", [
    ("word_errors", lambda w, s, e: (w, s, e[:-3]), "row counts differ"),
    ("words", lambda w, s, e: (w[:-1], s, e), "row counts differ"),
    ("sentence", lambda w, s, e: (w, s.astype(str), e), "'sentence' has dtype"),
    ("times", lambda w, s, e: (w, s, e[:, :1]), "'times' has shape"),
])
def test_bad_input_names_the_field(text, field, change, message):
    words, sentence, errors = change(*text)
    with pytest.raises(H.DataError, match=message) as err:
        divergence_chain(errors, TIMES, words, sentence, embedder=object())
    assert f"'{field}'" in str(err.value)


def test_bad_choices_are_refused_before_any_work(text):
    words, sentence, errors = text
    with pytest.raises(ValueError, match="proposer='gpt'"):
        divergence_chain(errors, TIMES, words, sentence, proposer="gpt")
    with pytest.raises(ValueError, match="verifier='nli'"):
        divergence_chain(errors, TIMES, words, sentence, verifier="nli")
    with pytest.raises(ValueError, match="needs an LLM"):
        divergence_chain(errors, TIMES, words, sentence, proposer="llm")


def test_page_texts_and_figures_come_from_the_result(result):
    """What chapter 02 glues and draws is read off the ChainResult."""
    import matplotlib

    matplotlib.use("Agg")
    from analysis import plots

    g = result.set_texts()
    assert g["n_per_set"] == str(result.n_per_set) and g["n_scored"] == str(result.n_scored)
    assert g["window_txt"] == result.window_text()
    assert {f"n_{r}" for r in result.role_counts} <= set(g)
    div = result.sentence_sets[result.sentence_sets["set"] == "divergent"]
    lengths = result.sentences.set_index("sentence_id")["n_scored"]
    assert g["len_divergent"] == f"{lengths[div['sentence_id']].mean():.1f}"
    v = result.validity_texts()
    assert v["n_hyp"] == str(len(result.table))
    assert v["n_sig"] == str(int(result.table["significant"].sum()))
    assert "-" not in v["cal_intercept"]  # a typographic minus or a plus, spaced
    for fig in (plots.plot_sentence_scores(result.sentences, result.sentence_sets,
                                           g["window_txt"]),
                plots.plot_validity(result.table)):
        assert fig.axes and fig.axes[0].get_legend() is not None
        matplotlib.pyplot.close(fig)


def test_chapter_results_come_from_the_result_and_pass_the_schemas(result):
    """Chapter 02's results and chapter 05's chain record are calls on the ChainResult."""
    from analysis.chain import summary_texts
    from analysis.provenance import to_jsonable
    from analysis.results import validate_results

    decision = {"layer": 2, "rule": "test", "fold_layers": [2, 2]}
    out = result.results(encoding_layer=2, encoding_layer_decision=decision, planted_truth={},
                         unnamed_category=None)
    rec = validate_results("hypotheses", to_jsonable(out))
    table = result.table
    assert (rec.n_sentences, rec.n_scored, rec.n_per_set) == (48, result.n_scored, 12)
    assert rec.n_per_role == result.role_counts and rec.window_ms == [250, 400]
    assert (rec.proposer, rec.verifier, rec.llm) == ("offline", "embedding", None)
    assert rec.n_hypotheses == len(table) and rec.n_significant == table["significant"].sum()
    assert len(rec.top) == 8 and rec.top[0]["hypothesis"] == table.iloc[0]["hypothesis"]
    assert rec.encoding_layer_decision == decision and rec.domain_enrichment == result.enrichment

    chain_power = result.power(n_sim=50, seed=0)
    summary = result.summary(chain_power)
    rec = validate_results("real_data", to_jsonable({
        "divergence_chain": summary, "noise_ceiling": {}, "noise_ceiling_details": {},
        "finetuned_on_n400": {}}))
    chain = rec.divergence_chain
    assert chain["n_sentences"] == result.n_scored
    assert chain["n_confirmed"] == int(table["confirmed"].sum())
    assert chain["power"] == to_jsonable(chain_power) and "p_validation" not in chain["top"][0]
    texts = summary_texts(result, chain_power)
    assert texts["chain_n_hyp"] == str(len(table))
    assert texts["chain_power"] == chain_power["sentence"]
    assert texts["chain_enrich_p"] == f"{result.enrichment['p']:.2g}"
    assert summary_texts(None) == dict.fromkeys(texts, "n/a")
