"""What an evaluation is asked for (EvaluationConfig) and the thresholds fixed before looking at results."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from latentct.core.checks import check_range
from latentct.core.errors import InvalidInputError

# The factors the paper reported finding (by eye); named as the phantom records them.
PAPER_FACTORS = ("rotation_deg", "breast_size", "fat_thickness", "y_offset", "z_position")
TRACK_MIN_ALIGNMENT = 0.7
TRACK_MIN_EFFECT = 0.5
CLEAN_MIN_SPECIFICITY = 0.5**0.5  # more than half of the direction's squared standardised change is this factor
BASELINE_SEED = 1_234_567
RANDOM_DRAWS = 1000
HEADLINE_SCORE = "effect_disentanglement"
CLEAR_MIN_Z = 3.0
MIN_RANDOM_SD = 1e-4  # scores are rounded to 4 decimals: a smaller spread is rounding, not a scale


@dataclass
class EvaluationConfig:
    seeds: int = 32
    first_seed: int = 0
    extent: float = 6.0
    steps: int = 9
    realism_samples: int = 256
    batch_size: int = 64
    random_sets: int = 4

    def check(self) -> EvaluationConfig:
        check_range("seeds", self.seeds, 2, 4096)
        check_range("steps", self.steps, 3, 64)
        check_range("extent", self.extent, 0, 30, low_open=True)
        check_range("realism_samples", self.realism_samples, 16, 100_000)
        if self.batch_size < 1:
            raise InvalidInputError(f"batch_size must be >= 1, got {self.batch_size}")
        check_range("random_sets", self.random_sets, 2, 64, note=" (a distribution needs two)")
        return self

    def shifts(self) -> torch.Tensor:
        return torch.linspace(-self.extent, self.extent, self.steps)  # (T,), ascending
