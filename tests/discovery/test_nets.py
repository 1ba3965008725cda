"""Direction models and reconstructors: shapes, unit/orthonormal rows on the CPU, gradients, argument errors."""

from __future__ import annotations

import pytest
import torch

from latentct.nets.directions import LinearDirections, OrthoDirections, UnitDirections, build_direction_model, row_norms
from latentct.nets.reconstructors import LeNetReconstructor, ResNet18Reconstructor, build_reconstructor


@pytest.mark.parametrize("name", ["unit", "ortho", "linear"])
def test_direction_models_give_additive_shifts_and_unit_rows(name: str) -> None:
    torch.manual_seed(0)
    model = build_direction_model(name, 6, 6)
    index, shift = torch.tensor([0, 3, 5, 3]), torch.tensor([1.0, -2.0, 0.5, 4.0])
    out = model(index, shift)
    assert out.shape == (4, 6)
    rows = model.directions()
    assert rows.shape == (6, 6)
    assert torch.allclose(rows.norm(dim=1), torch.ones(6), atol=1e-5)
    if name != "linear":  # unit and ortho shifts are exactly eps * unit row: served units equal trained units
        assert torch.allclose(out, shift[:, None] * rows[index], atol=1e-6)
    # gradients reach the direction parameters
    out.pow(2).sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)


def test_ortho_is_orthonormal_on_cpu_far_from_identity() -> None:
    model = OrthoDirections(12, 12)
    with torch.no_grad():
        model.log_rotation.normal_(0, 1.0)  # a large rotation, not the near-identity start
    q = model.directions()
    assert q.device.type == "cpu"
    assert torch.allclose(q @ q.T, torch.eye(12), atol=1e-5)
    assert (q - torch.eye(12)).abs().max() > 0.3


def test_ortho_rejects_k_other_than_latent_size() -> None:
    with pytest.raises(ValueError, match=r"K = 10, latent_dim = 32"):
        OrthoDirections(10, 32)
    with pytest.raises(ValueError, match="direction model must be one of"):
        build_direction_model("proj", 4, 4)


def test_linear_records_its_trained_norms() -> None:
    model = LinearDirections(3, 5)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[2.0, 0, 0, 0, 0], [0, 0.5, 0, 0, 0], [0, 0, 0, 3, 4]]))
    assert torch.allclose(row_norms(model), torch.tensor([2.0, 0.5, 5.0]))
    assert torch.allclose(model(torch.tensor([2]), torch.tensor([1.0])), torch.tensor([[0, 0, 0, 3.0, 4.0]]))
    assert torch.allclose(model.directions()[2], torch.tensor([0, 0, 0, 0.6, 0.8]))
    assert torch.equal(row_norms(UnitDirections(3, 5)), torch.ones(3))


@pytest.mark.parametrize(
    ("cls", "image_size", "kwargs"),
    [
        (LeNetReconstructor, 16, {}),
        (LeNetReconstructor, 128, {}),
        (ResNet18Reconstructor, 32, {"width": 4}),
        (ResNet18Reconstructor, 64, {"width": 4}),
    ],
)
def test_reconstructor_shapes(cls: type, image_size: int, kwargs: dict) -> None:
    net = cls(7, image_size, **kwargs)
    pair = torch.rand(3, 2, image_size, image_size) * 2 - 1
    logits, shift = net(pair)
    assert logits.shape == (3, 7) and shift.shape == (3,)
    (logits.sum() + shift.sum()).backward()
    with pytest.raises(ValueError, match=r"image pair must have shape \[B, 2"):
        net(torch.rand(3, 1, image_size, image_size))


def test_resnet18_has_the_standard_layout() -> None:
    net = ResNet18Reconstructor(32, 128)  # width 64: the real ResNet-18 body, 2-channel stem
    assert net.features[0].in_channels == 2
    blocks = [m for m in net.features if m.__class__.__name__ == "BasicBlock"]
    assert len(blocks) == 8
    body = sum(p.numel() for p in net.features.parameters())
    assert 11.0e6 < body < 11.3e6  # torchvision's resnet18 minus its fc is 11.18 M (3-channel stem)
    with pytest.raises(ValueError, match="reconstructor must be one of"):
        build_reconstructor("vgg", 4, 32)
