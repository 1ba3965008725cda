"""The base layer: errors, crash-safe files, settings, device choice, seeds and latents, provenance, HU, distances.

Every other package may import it; it imports nothing of ours (tests/test_architecture.py enforces the layers).
"""
