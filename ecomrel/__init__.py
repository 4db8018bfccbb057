"""ecomrel core: record schema, languages, prompts, scoring math, metrics, typed configs, manifests.

This package imports none of ``cluster``, ``pipelines``, ``train`` or ``serve``; they all import it.
"""

__version__ = "0.1.0"
