"""LatentCT: interpret the latent spaces of generative models of thoracic CT."""

__version__ = "0.1.0"

INTENDED_USE = "research only, not for clinical use"
