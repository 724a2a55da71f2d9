"""Shared test helpers and fixtures."""

import numpy as np
import pytest


def standin_hidden(n_words, n_layers=6, seed=42):
    """Stand-in hidden states: layers that share little, so a layer is identifiable.

    Parameters
    ----------
    n_words, n_layers, seed : int

    Returns
    -------
    ndarray of float32, shape (n_layers, n_words, 48)
    """
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal((n_words, 16))
    return np.stack([
        shared @ rng.standard_normal((16, 48)) + 1.5 * rng.standard_normal((n_words, 48))
        for _ in range(n_layers)
    ]).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """A random 2-block Llama with the SmolLM2 tokenizer, saved in HF format."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from analysis.lm import _default_gguf

    gguf = _default_gguf()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=256, initializer_range=0.2,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    folder = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
