"""Shared test helpers."""

import numpy as np


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
