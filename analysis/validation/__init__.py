"""Human validation of the hypotheses (moved into a package; split by concept next)."""
from .trials import *  # noqa: F401,F403
from .trials import CONSENT_QUESTION, TRIAL_COLUMNS  # noqa: F401
