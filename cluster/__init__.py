"""The front door: the ``ecomrel`` CLI, the recipe, Ray start-up and job submission.

Ray 2.60 enables token authentication for local clusters, and a Ray client decides whether to present the
cluster's token when ``ray`` is *imported* (setting ``RAY_AUTH_MODE`` later has no effect). Every ecomrel entry
point imports this package before Ray, so token auth is on for all of our clients unless a user explicitly sets
``RAY_AUTH_MODE`` otherwise.
"""

import os

os.environ.setdefault("RAY_AUTH_MODE", "token")
