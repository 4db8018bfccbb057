"""Synthetic CIKM AnalytiCup 2025 benchmark data with exact ground truth, so ecomrel runs and is tested offline.

``make_data(out_dir, rows, seed, noise)`` writes the six competition files, dev/test answers and a
``ground_truth/`` folder; ``load_ground_truth(out_dir)`` answers whether any (task, query, target) of that
data is relevant, and ``noise_ids(out_dir)`` names the training rows whose labels were flipped on purpose.
"""

from .generator import make_data
from .stage import MakeDataConfig, make_data_stage
from .truth import GroundTruth, Intent, Item, category_relevant, item_relevant, load_ground_truth, noise_ids

__all__ = [
    "GroundTruth",
    "Intent",
    "Item",
    "MakeDataConfig",
    "category_relevant",
    "item_relevant",
    "load_ground_truth",
    "make_data",
    "make_data_stage",
    "noise_ids",
]
