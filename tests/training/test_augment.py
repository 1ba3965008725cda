"""The random affine keeps shape and range and is the identity at zero angle and unit scale; instance noise decays."""

from __future__ import annotations

import pytest
import torch

from latentct.training.augment import add_instance_noise, affine_matrices, instance_noise_sigma, random_affine


def test_random_affine_keeps_shape_and_range() -> None:
    images = torch.rand(6, 1, 32, 32) * 2 - 1
    out = random_affine(images, torch.Generator().manual_seed(0), max_rotation_deg=1.0, scale_range=(1.0, 1.1))
    assert out.shape == images.shape and out.dtype == images.dtype
    assert out.min() >= -1.0 - 1e-6 and out.max() <= 1.0 + 1e-6
    assert not torch.equal(out, images)


def test_random_affine_is_identity_at_zero_angle_and_unit_scale() -> None:
    images = torch.rand(3, 1, 32, 32) * 2 - 1
    out = random_affine(images, torch.Generator().manual_seed(0), max_rotation_deg=0.0, scale_range=(1.0, 1.0))
    assert torch.allclose(out, images, atol=1e-5)


def test_random_affine_is_seeded_and_fills_with_air() -> None:
    images = torch.ones(2, 1, 16, 16)  # bright everywhere: a zoom-out would pull in background
    a = random_affine(images, torch.Generator().manual_seed(3), 20.0, (1.0, 1.0))
    b = random_affine(images, torch.Generator().manual_seed(3), 20.0, (1.0, 1.0))
    assert torch.equal(a, b)
    assert a[:, :, 0, 0].max() < 0  # a 20-degree rotation brings air (-1) into the corners


def test_affine_matrix_rotates_and_zooms() -> None:
    theta = affine_matrices(torch.tensor([90.0]), torch.tensor([2.0]))
    assert torch.allclose(theta[0], torch.tensor([[0.0, -0.5, 0.0], [0.5, 0.0, 0.0]]), atol=1e-6)


def test_instance_noise_decays_linearly_to_zero_over_the_first_half() -> None:
    assert instance_noise_sigma(0.0, 10) == pytest.approx(0.1)
    assert instance_noise_sigma(2.5, 10) == pytest.approx(0.05)
    assert instance_noise_sigma(5.0, 10) == 0.0
    assert instance_noise_sigma(9.0, 10) == 0.0
    assert instance_noise_sigma(1.0, 10, sigma0=0.2, until=0.2) == pytest.approx(0.1)
    assert instance_noise_sigma(0.0, 10, sigma0=0.0) == 0.0


def test_add_instance_noise() -> None:
    images = torch.zeros(64, 1, 16, 16)
    assert add_instance_noise(images, 0.0, torch.Generator()) is images
    noisy = add_instance_noise(images, 0.1, torch.Generator().manual_seed(0))
    assert noisy.std().item() == pytest.approx(0.1, rel=0.05)
