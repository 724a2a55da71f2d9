"""A comparison of language models (see :mod:`analysis.models.registry`; split by concept next)."""

from .._utils import DataError  # noqa: F401  (read by the tests as before)
from . import registry
from .registry import *  # noqa: F401,F403

__all__ = list(registry.__all__)
