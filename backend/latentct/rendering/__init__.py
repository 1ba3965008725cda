"""Rendering: latents from seeds and shifts, HU windows, image encoding, the model registry and the inference engine."""
