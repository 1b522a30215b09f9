"""All errors qtcompute raises; see :mod:`qtcompute.engine.errors` for the hierarchy."""

from qtcompute.engine.errors import *  # noqa: F403
from qtcompute.engine.errors import __all__ as __all__
