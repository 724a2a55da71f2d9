"""Divergent sentences, proposers, verifiers and validity (Methods page, divergent sentences and hypotheses).

The planted-truth tests build the two sentence sets from the simulated story's sentences
ranked by their share of planted words (the `emotion` and `physical` annotations that
carry the simulated divergence; the plain mean, ``length_correction=None``, since these
noiseless 0/1 word scores have no sampling noise for the length correction to remove),
not from a real encoding fit: extracting features and fitting the encoding model would
take minutes. The chapter itself checks the real
quick-run encoding outputs against the same truth (its "planted category" table).
"""

import numpy as np
import pandas as pd
import pytest

from analysis import hypotheses as H
from analysis.simulate import story_words
from analysis.text import segment_sentences

PLANTED = ["expresses strong emotions", "describes physical action or bodily movement",
           "involves physical force, weight or effort"]
UNRELATED = ["mentions numbers, times or dates", "describes a place or setting",
             "mentions colours"]


@pytest.fixture(scope="module")
def verifier():
    return H.EmbeddingVerifier(device="cpu")


@pytest.fixture(scope="module")
def story():
    """Sentences of the story scored by their share of planted words (see module notes)."""
    words, cats = story_words()
    sentence = segment_sentences(words)
    planted = (cats["emotion"] | cats["physical"]).astype(float)
    # tiny, word-order tie-breaker so that the ranking is strict
    mse = np.repeat(planted[:, None], 3, axis=1) + 1e-3 * np.arange(len(words))[:, None] / len(words)
    # ranked by the share itself (no noise to correct for length: see the module notes)
    _, sentences = H.sentence_scores(mse, np.array([300.0, 400.0, 450.0]), words, sentence,
                                     length_correction=None)
    return words, sentence, sentences


@pytest.fixture(scope="module")
def sentence_sets(story):
    return H.select_sentence_sets(story[2], n_per_set=60, seed=0)


# ------------------------------------------------------------------ scores and sentence sets
def test_sentence_scores_use_the_window_of_interest_and_skip_nan():
    times = np.array([275.0, 300, 325, 425, 450])
    mse = np.array([[100, 1, 3, 5, 100],
                    [100, np.nan, 2, np.nan, 100],
                    [100, np.nan, np.nan, np.nan, 100],
                    [100, 4, 4, 4, 100]], float)
    words, sentence = ["a", "b", "c", "d"], np.array([0, 0, 1, 1])
    word_score, table = H.sentence_scores(mse, times, words, sentence, (300, 425))
    np.testing.assert_allclose(word_score[[0, 1, 3]], [3.0, 2.0, 4.0])
    assert np.isnan(word_score[2])
    assert table["text"].tolist() == ["a b", "c d"]
    np.testing.assert_allclose(table["mean_score"], [2.5, 4.0])  # NaN word ignored
    assert table["n_scored"].tolist() == [2, 1] and table["n_words"].tolist() == [2, 2]
    # word scores 3, 2, 4: mean 3, SD 1; z = (mean - 3) * sqrt(n) / 1
    np.testing.assert_allclose(table["score"], [-0.5 * np.sqrt(2), 1.0])
    plain = H.sentence_scores(mse, times, words, sentence, (300, 425), length_correction=None)
    np.testing.assert_allclose(plain[1]["score"], [2.5, 4.0])
    with pytest.raises(ValueError, match="length_correction='ols'"):
        H.sentence_scores(mse, times, words, sentence, (300, 425), length_correction="ols")
    # a single-window dataset (ERP components, reading times): every window counts
    one, _ = H.sentence_scores(mse[:, [2]], [0.0], words, sentence, None)
    np.testing.assert_allclose(one[[0, 1, 3]], [3, 2, 4])
    with pytest.raises(H.DataError, match="no window starts within 500-600 ms"):
        H.sentence_scores(mse, times, words, sentence, (500, 600))


def test_short_sentences_do_not_fill_both_tails_once_corrected_for_length():
    """iid word scores (gamma, skewed like squared errors) in sentences of 3 to 30 words.

    The plain mean of few words varies more, so the shortest sentences (a fifth of
    them) fill both sets about twice as often as their share; standardised by the
    mean's standard error, their share of each tail is their share of all sentences.
    """
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 31, size=1500)
    sentence = np.repeat(np.arange(lengths.size), lengths)
    mse = rng.gamma(4.0, 1.0, size=(sentence.size, 1))
    words = ["w"] * sentence.size
    short = lengths <= np.quantile(lengths, 0.2)

    def tail_shares(table, k=150):
        order = table.sort_values("score")["sentence_id"].to_numpy()
        return short[order[-k:]].mean() / short.mean(), short[order[:k]].mean() / short.mean()

    plain = tail_shares(H.sentence_scores(mse, [0.0], words, sentence, None,
                                          length_correction=None)[1])
    fixed = tail_shares(H.sentence_scores(mse, [0.0], words, sentence, None)[1])
    assert min(plain) > 1.8, plain  # over-represented in both tails
    assert all(0.6 < r < 1.4 for r in fixed), fixed


def test_set_size_scales_with_the_data():
    assert H.set_size(423) == (106, "25% of the 423 scored sentences")
    assert H.set_size(205)[0] == 51  # Frank et al. (2015): 205 sentences
    size, note = H.set_size(205, n_per_set=100)
    assert size == 68 and "capped at a third" in note
    assert H.set_size(20)[0] == 6  # the floor
    with pytest.raises(H.DataError, match="only 12 sentences have a score"):
        H.set_size(12)


def test_sets_are_extremes_split_per_set_and_seeded(story, sentence_sets):
    sentences = story[2]
    div = sentence_sets[sentence_sets["set"] == "divergent"]
    con = sentence_sets[sentence_sets["set"] == "convergent"]
    assert len(div) == len(con) == 60
    assert set(div.sentence_id).isdisjoint(con.sentence_id)
    assert div.score.min() >= sentences.score.quantile(0.8)
    assert div.score.min() > con.score.max()
    for g in (div, con):
        assert g.role.value_counts().to_dict() == {"proposal": 24, "research": 24,
                                                   "validation": 12}
    again = H.select_sentence_sets(sentences, n_per_set=60, seed=0)
    other = H.select_sentence_sets(sentences, n_per_set=60, seed=1)
    pd.testing.assert_frame_equal(sentence_sets, again)
    assert not (other.role.to_numpy() == sentence_sets.role.to_numpy()).all()
    with pytest.raises(ValueError, match="n_per_set=300 needs 600"):
        H.select_sentence_sets(sentences, n_per_set=300)
    small = H.select_sentence_sets(sentences, n_per_set=6)
    assert (small.groupby(["set", "role"]).size() == 2).all()


def test_no_hypothesis_is_tested_on_a_sentence_that_produced_it(story, sentence_sets):
    """The three roles are disjoint; word hypotheses come from proposal sentences only."""
    ids = {r: set(sentence_sets[sentence_sets.role == r].sentence_id) for r in H.ROLES}
    assert not ids["proposal"] & ids["research"] and not ids["proposal"] & ids["validation"]
    assert not ids["research"] & ids["validation"]
    a, b = H.role_texts(sentence_sets, "proposal")
    props = H.propose_offline(a, b, story[2].text.tolist())
    words = set(" ".join(props[props.proposer == "log-odds"].words).split())
    assert words, "the proposal sentences yield word hypotheses"
    tested_on = sentence_sets[sentence_sets.role.isin(["research", "validation"])]
    made_from = sentence_sets[sentence_sets.role == "proposal"]
    assert set(tested_on.sentence_id).isdisjoint(made_from.sentence_id)


# ------------------------------------------------------------------ validity
def test_planted_domains_are_valid_and_unrelated_property_is_not(verifier, sentence_sets):
    hyps = pd.DataFrame({"hypothesis": PLANTED + UNRELATED, "proposer": "bank",
                         "domain": ["social/emotional", "physical", "physical"] + ["other"] * 3})
    scores = verifier.score(sentence_sets.text.tolist(), hyps.hypothesis)
    assert scores.min() >= 0 and scores.max() <= 1
    full = H.evaluate(hyps, scores, sentence_sets)
    assert list(full.columns) == H.TABLE_COLUMNS and full["rank"].tolist() == [1, 2, 3, 4, 5, 6]
    table = full.set_index("hypothesis")
    for h in PLANTED:
        assert table.loc[h, "V"] > 0.05 and table.loc[h, "significant"], table.loc[h]
    for h in UNRELATED:
        assert not table.loc[h, "significant"], table.loc[h]
    assert table.loc[PLANTED, "V"].min() > table.loc[UNRELATED, "V"].max()


def test_swapping_sets_flips_v_and_identical_sets_give_nothing(verifier, sentence_sets):
    hyps = H.load_bank()
    scores = verifier.score(sentence_sets.text.tolist(), hyps.hypothesis)
    table = H.evaluate(hyps, scores, sentence_sets).set_index("hypothesis")
    swapped = sentence_sets.assign(set=sentence_sets["set"].map({"divergent": "convergent",
                                                                 "convergent": "divergent"}))
    flipped = H.evaluate(hyps, scores, swapped).set_index("hypothesis").loc[table.index]
    np.testing.assert_allclose(flipped.V, -table.V, atol=1e-12)
    np.testing.assert_allclose(flipped.V_validation, -table.V_validation, atol=1e-12)
    assert table.significant.any()
    # identical sets: the same sentences, labelled once as A and once as B
    div = sentence_sets[sentence_sets["set"] == "divergent"]
    same = pd.concat([div, div.assign(set="convergent")], ignore_index=True)
    same_scores = np.concatenate([scores[:, :len(div)], scores[:, :len(div)]], axis=1)
    null = H.evaluate(hyps, same_scores, same)
    np.testing.assert_allclose(null.V, 0, atol=1e-12)
    assert not null.significant.any() and not null.confirmed.any()
    # only the top n_confirm are confirmed on the validation sentences
    assert table.q_validation.notna().sum() == 10 and table.confirmed.sum() <= 10


def test_offline_proposer_finds_planted_words_and_domains(verifier, story, sentence_sets):
    a, b = H.role_texts(sentence_sets, "proposal")
    props = H.propose_offline(a, b, story[2].text.tolist())
    words = props[props.proposer == "log-odds"]
    assert len(props[props.proposer == "bank"]) == len(H.load_bank()) and len(words) >= 2
    # the most distinguishing words are planted (emotional or physical) words
    _, cats = story_words()
    tokens = [w.strip('.,!?;:"\'').lower() for w in story[0]]
    planted = {t for t, e, p in zip(tokens, cats["emotion"], cats["physical"]) if e or p}
    top = " ".join(words.words).split()[:6]
    assert sum(w in planted for w in top) >= 4, top
    dom = H.assign_domains(props, verifier)
    assert dom.domain.notna().all() and set(dom.domain) <= set(H.DOMAINS)
    assert (dom[dom.proposer == "bank"].domain == props[props.proposer == "bank"].domain).all()


def test_domain_rule_on_word_lists(verifier):
    hyps = pd.DataFrame({"hypothesis": ["w1", "w2", "w3"], "domain": [None] * 3,
                         "words": ["tears afraid hugged", "rope lifted water",
                                   "Tuesday library seven"]})
    out = H.assign_domains(hyps, verifier)
    assert out.domain.tolist() == ["social/emotional", "physical", "other"]


def test_log_odds_matches_formula_and_is_antisymmetric():
    ya, yb, prior = np.array([5.0, 1, 0]), np.array([1.0, 5, 2]), np.array([1.0, 1, 1])
    delta, z = H.log_odds_dirichlet(ya, yb, prior)
    d0 = np.log(6 / (6 + 3 - 6)) - np.log(2 / (8 + 3 - 2))
    assert delta[0] == pytest.approx(d0)
    assert z[0] == pytest.approx(d0 / np.sqrt(1 / 6 + 1 / 2))
    d2, z2 = H.log_odds_dirichlet(yb, ya, prior)
    np.testing.assert_allclose(d2, -delta)
    np.testing.assert_allclose(z2, -z)


def test_calibration_is_fixed_monotone_and_fits_its_labels(verifier):
    cal = verifier.calibration
    assert cal["slope"] > 0 and cal["accuracy"] >= 0.8
    c = np.linspace(-1, 1, 50)
    assert np.all(np.diff(verifier.calibrate(c)) > 0)


# ------------------------------------------------------------------ LLM proposer pieces
def test_clean_hypothesis_drops_comparatives_and_group_mentions():
    assert H.clean_hypothesis("- Expresses strong emotions.") == "expresses strong emotions"
    assert H.clean_hypothesis("2) The sentence describes lifting a boat") == \
        "describes lifting a boat"
    for bad in ("- more emotional content", "- is longer than others", "- uses fewer names",
                "- sentences in group A mention water", "- unlike group B, is sad", "- sad",
                "- unlike the other group, is sad", "- mentions Group 'A' themes"):
        assert H.clean_hypothesis(bad) is None, bad
    assert H.clean_hypothesis("* describes a group of people") == "describes a group of people"


def test_diverse_sample_is_seeded_and_avoids_near_duplicates():
    texts = ["the cat sat on the mat"] * 5 + ["a storm broke the old bridge",
                                               "she laughed and hugged him"]
    pick = H.diverse_sample(texts, 3, seed=0)
    assert pick == H.diverse_sample(texts, 3, seed=0)
    assert {5, 6} <= set(pick) and len(set(pick)) == 3


class CannedLLM:
    """Stands in for analysis.llm.LLM: canned replies, keyword P(Yes)."""

    def __init__(self):
        self.prompts = []

    def generate(self, prompt, temperature=0.7, max_tokens=512, seed=0, system=None):
        self.prompts.append(prompt)
        return ("Here are ideas:\n- expresses strong emotions\n- More physical than B\n"
                f"- mentions water or rope\n- Expresses strong emotions.\n- idea number {seed}\n")

    def p_yes(self, question, system=None):
        return 0.9 if 'Sentence: "The water' in question else 0.1


def test_llm_proposer_rounds_clean_and_dedupe(sentence_sets):
    llm = CannedLLM()
    a = sentence_sets[sentence_sets["set"] == "divergent"].text.tolist()
    b = sentence_sets[sentence_sets["set"] == "convergent"].text.tolist()
    out = H.propose_llm(llm, a, b, H.goal_paragraph(), n_hypotheses=4, per_set=25, seed=0)
    assert out.hypothesis.tolist()[:2] == ["expresses strong emotions", "mentions water or rope"]
    assert len(out) == 4 and out["round"].max() == 1  # a new seed each round adds one idea
    assert llm.prompts[0].count("\n- ") >= 50 and "group A" in llm.prompts[0]
    assert llm.prompts[0] != llm.prompts[1]  # another sample of sentences per round
    verifier = H.LLMVerifier(llm)
    s = verifier.score(["The water rose.", "She smiled."], ["mentions water or rope"])
    np.testing.assert_allclose(s, [[0.9, 0.1]])


# ------------------------------------------------------------------ contract files
def test_results_round_trip_and_missing_files(tmp_path, sentence_sets):
    from analysis.contracts import ContractError, HypothesisResults

    hyps = pd.DataFrame({"hypothesis": ["h1", "h2"], "proposer": "bank",
                         "domain": ["other", "physical"]})
    scores = np.random.default_rng(0).random((2, len(sentence_sets)))
    table = H.evaluate(hyps, scores, sentence_sets)
    with pytest.raises(ContractError, match="hypotheses_sentences.csv not found.*hypotheses"):
        HypothesisResults.read(tmp_path)
    H.results_for_later(sentence_sets, table, hyps.hypothesis, scores,
                        {"n_per_set": 60}).write(tmp_path)
    back = HypothesisResults.read(tmp_path)
    assert list(back.sentences.columns) == ["sentence_id", "text", "score", "set", "role"]
    assert list(back.table.columns) == H.TABLE_COLUMNS and back.table.significant.dtype == bool
    assert len(back.scores) == 2 * len(sentence_sets) and back.meta["development_fixture"] is False
    row = back.scores[(back.scores.hypothesis == "h2")].score.to_numpy()
    np.testing.assert_allclose(row, scores[1])
    back.sentences.drop(columns="role").to_csv(tmp_path / "hypotheses_sentences.csv", index=False)
    with pytest.raises(ContractError, match=r"sentences lack column\(s\) \['role'\]"):
        HypothesisResults.read(tmp_path)


def test_domain_enrichment_is_a_hypergeometric_tail():
    table = pd.DataFrame({"domain": ["physical"] * 4 + ["other"] * 16})
    out = H.domain_enrichment(table, n_top=4)
    assert (out["k"], out["K"], out["N"]) == (4, 4, 20)
    from scipy.special import comb

    assert out["p"] == pytest.approx(1 / comb(20, 4))
    assert H.domain_enrichment(table.iloc[::-1].reset_index(drop=True), n_top=4)["p"] == 1.0


# ------------------------------------------------------------------ the unnamed category
def _ranked_by(words, sentence, mask):
    planted = mask.astype(float)
    mse = np.repeat(planted[:, None], 3, axis=1) + 1e-3 * np.arange(len(words))[:, None] / len(words)
    return H.sentence_scores(mse, np.array([300.0, 400.0, 450.0]), words, sentence)[1]


def _as_ranked_table(props):
    """Proposals in their proposer's order, shaped like :func:`evaluate`'s table."""
    t = props.reset_index(drop=True).copy()
    t["rank"], t["V"] = np.arange(1, len(t) + 1), np.nan
    t["significant"] = t["confirmed"] = False
    return t[t.proposer != "bank"]


def test_unnamed_category_check_on_a_hand_made_table():
    table = pd.DataFrame({
        "hypothesis": ["describes a sound or a noise", "contains words such as: bang, hush",
                       "expresses strong emotions"],
        "proposer": ["bank", "log-odds", "llm"], "rank": [1, 2, 3], "V": [0.4, 0.2, 0.1],
        "significant": [True, False, False], "confirmed": [True, False, False]})
    out = H.unnamed_category_check(table, ["bang", "whisper"])
    assert out["found"] and [h["rank"] for h in out["hypotheses"]] == [2]  # bank rows skipped
    assert not out["significant"]
    assert not H.unnamed_category_check(table.iloc[[0, 2]], ["bang"])["found"]


def test_unnamed_category_check_matches_whole_words_only():
    """'heartfelt' contains 'hear' but does not name hearing; 'Loud' and 'heard' do."""
    table = pd.DataFrame({
        "hypothesis": ["expresses heartfelt emotion", "mentions soundly sleeping people",
                       "describes what someone Heard", "contains LOUD words"],
        "proposer": ["llm"] * 4, "rank": [1, 2, 3, 4], "V": [0.4, 0.3, 0.2, 0.1],
        "significant": [True, True, False, False], "confirmed": [False] * 4})
    out = H.unnamed_category_check(table, ["bang"])
    assert [h["rank"] for h in out["hypotheses"]] == [3, 4]
    assert not out["significant"]
    assert not H.unnamed_category_check(table.iloc[:2], ["bang"])["found"]


def test_unnamed_sound_category_found_only_where_it_drives_the_divergence():
    """States what the offline proposer does with the planted sound words.

    The story has 34 sound words in 32 of its sentences. When they alone make sentences
    divergent, the log-odds proposer names them with 20 sentences per set (found); with
    40 per set the 8 sentences without a sound word dilute them below its threshold.
    When emotion and physical words drive the divergence, as in the simulated study, the
    sound category is not found, which is also what the quick and default runs report.
    """
    from analysis.simulate import sound_words

    words, cats = story_words()
    sentence = segment_sentences(words)
    sound, vocab = sound_words(words)
    assert sound.sum() >= 10
    found = {}
    for name, mask in (("sound", sound), ("emotion+physical", cats["emotion"] | cats["physical"])):
        sentence_sets = H.select_sentence_sets(_ranked_by(words, sentence, mask), n_per_set=20,
                                               seed=0)
        a, b = H.role_texts(sentence_sets, "proposal")
        props = H.propose_offline(a, b, [])
        found[name] = H.unnamed_category_check(_as_ranked_table(props), vocab, n_top=10)["found"]
    assert found == {"sound": True, "emotion+physical": False}, found
