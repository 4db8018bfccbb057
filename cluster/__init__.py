"""The front door: the ``ecomrel`` CLI, the recipe, Ray start-up and job submission."""
