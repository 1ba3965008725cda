"""The phantom probe: learns factors, saves and reloads identically (the distances it feeds: tests/core/test_metrics.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentct.artifacts.probe import load_probe, save_probe
from latentct.core.errors import ArtifactError, InvalidInputError
from latentct.nets.probe import PhantomProbe
from latentct.training.probe import ProbeConfig, fit_probe, r2_scores


def disks(n: int, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """Bright disks on a dark background with known radius and horizontal offset (two 'factors')."""
    rng = np.random.default_rng(seed)
    radius = rng.uniform(3, 10, n)
    offset = rng.uniform(-6, 6, n)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    dist = np.sqrt((xx[None] - offset[:, None, None]) ** 2 + yy[None] ** 2)
    images = np.clip(radius[:, None, None] - dist, 0, 1) * 1.6 - 0.8 + rng.normal(0, 0.05, (n, size, size))
    return torch.from_numpy(images[:, None].astype(np.float32)), np.stack([radius, offset], axis=1)


def test_r2_scores() -> None:
    target = np.arange(10.0)[:, None]
    assert r2_scores(target, target)[0] == pytest.approx(1.0)
    assert r2_scores(np.full_like(target, target.mean()), target)[0] == pytest.approx(0.0)


def test_probe_learns_factors_on_tiny_data_and_round_trips(tmp_path) -> None:
    train_x, train_y = disks(768, seed=0)
    test_x, test_y = disks(256, seed=1)
    config = ProbeConfig(epochs=10, batch_size=32, width=8, feature_dim=32, device="cpu")
    net, meta = fit_probe(train_x, train_y, test_x, test_y, ["radius", "offset"], config, progress=False)
    r2 = meta["metrics"]["test_r2"]
    assert r2["radius"] > 0.9 and r2["offset"] > 0.9, r2
    save_probe(tmp_path / "probe", net, meta)
    probe = load_probe(tmp_path / "probe")
    assert probe.factor_names == ["radius", "offset"]
    assert probe.meta["metrics"]["test_r2"] == r2
    predicted = probe.predict(test_x).numpy()
    assert np.abs(predicted - test_y).mean(axis=0)[0] < 1.0  # radius in px, range 3..10
    with torch.no_grad():
        assert torch.equal(probe.features(test_x[:5]), net.features(test_x[:5]))
    # another resolution is resized to the probe's
    assert probe.features(torch.zeros(2, 1, 64, 64)).shape == (2, 32)


def test_probe_shapes_and_load_errors(tmp_path) -> None:
    net = PhantomProbe(image_size=16, width=4, n_factors=3, feature_dim=8)
    assert net(torch.zeros(2, 1, 16, 16)).shape == (2, 3)
    assert net.features(torch.zeros(2, 1, 16, 16)).shape == (2, 8)
    with pytest.raises(ValueError, match="image must have shape"):
        net(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="width"):
        PhantomProbe(width=0)
    with pytest.raises(ArtifactError, match="no phantom probe"):
        load_probe(tmp_path / "missing")
    meta = {"factor_names": ["a", "b", "c"], "factor_mean": [0.0] * 3, "factor_std": [1.0] * 3}
    save_probe(tmp_path / "p", net, meta)
    (tmp_path / "p" / "probe.safetensors").write_bytes(b"garbage")
    with pytest.raises(ArtifactError, match="checksum"):
        load_probe(tmp_path / "p")
    with pytest.raises(InvalidInputError, match="factor_std"):
        save_probe(tmp_path / "q", net, {**meta, "factor_std": [1.0, 0.0, 1.0]})


def test_train_probe_cli_on_a_phantom_dataset(tiny_data, tmp_path, capsys, monkeypatch) -> None:
    from tests.support.cli import run_cli

    code, out, err = run_cli(capsys, monkeypatch, "train", "probe", "--out", str(tmp_path / "probe"), "--data", str(tiny_data),
                             "--epochs", "1", "--width", "4", "--device", "cpu", "--no-progress")
    assert code == 0, err
    assert "held-out R^2" in out and "z_position" in out
    probe = load_probe(tmp_path / "probe")
    assert probe.factor_names[0] == "z_position" and probe.image_size == 32
    assert probe.meta["data"]["path"] == str(tiny_data.resolve()) and probe.meta["metrics"]["n_test"] > 0
    code, _, err = run_cli(capsys, monkeypatch, "train", "probe", "--out", str(tmp_path / "p2"), "--data", str(tmp_path))
    assert code == 2 and "not a LatentCT dataset" in err
