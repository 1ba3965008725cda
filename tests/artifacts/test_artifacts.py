"""Model folders and direction sets: save, reload, identical outputs; every corruption is a clear ArtifactError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from latentct import INTENDED_USE
from latentct.artifacts import (
    list_direction_sets,
    list_model_dirs,
    load_direction_set,
    load_manifest,
    load_model,
    load_model_card,
    save_direction_set,
    save_model,
    update_direction_set_meta,
    update_manifest,
    validate_id,
)
from latentct.core.errors import ArtifactError, InvalidInputError, NotFoundError
from latentct.nets import build_component

GAN_ARCH = {"latent_dim": 8, "ngf": 4, "ndf": 4, "image_size": 16}
VAE_ARCH = {"latent_dim": 8, "base_channels": 4, "image_size": 16}


def _move_batchnorm_statistics(generator: torch.nn.Module) -> None:
    """One forward pass in train mode moves BatchNorm running statistics, so a lost buffer would show."""
    generator.train()
    with torch.no_grad():
        generator(torch.randn(4, 8))
    generator.eval()


@pytest.fixture
def gan_dir(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    nets = {name: build_component("gan", name, GAN_ARCH) for name in ("generator", "discriminator")}
    _move_batchnorm_statistics(nets["generator"])
    save_model(tmp_path / "tiny-gan", kind="gan", arch=GAN_ARCH, nets=nets, description="test")
    return tmp_path / "tiny-gan"


def test_gan_round_trip_gives_identical_outputs(gan_dir: Path) -> None:
    z = torch.randn(5, 8)
    reference = build_component("gan", "generator", GAN_ARCH)
    loaded = load_model(gan_dir, components=("generator", "discriminator"))
    with torch.no_grad():
        out = loaded.generator(z)
    assert loaded.kind == "gan" and loaded.latent_dim == 8 and loaded.image_size == 16
    assert loaded.discriminator is not None and not loaded.generator.training
    again = load_model(gan_dir).generator
    with torch.no_grad():
        assert torch.equal(out, again(z))
        assert not torch.equal(out, reference.eval()(z))  # a fresh net differs: the weights really came from disk
    card = load_model_card(gan_dir)
    assert card.intended_use == INTENDED_USE == "research only, not for clinical use"
    assert len(card.generator_checksum) == 64 and card.description == "test"


def test_vae_round_trip_encoder_and_decoder(tmp_path: Path) -> None:
    nets = {"generator": build_component("vae", "generator", VAE_ARCH), "encoder": build_component("vae", "encoder", VAE_ARCH)}
    save_model(tmp_path / "tiny-vae", kind="vae", arch=VAE_ARCH, nets=nets)
    loaded = load_model(tmp_path / "tiny-vae")
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded.encoder(x)[0], nets["encoder"].eval()(x)[0])
        assert torch.equal(loaded.generator(torch.ones(1, 8)), nets["generator"].eval()(torch.ones(1, 8)))


def test_corrupt_weights_are_reported_by_file(gan_dir: Path) -> None:
    path = gan_dir / "generator.safetensors"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"generator\.safetensors: checksum mismatch"):
        load_model(gan_dir)


def test_incompatible_arch_is_reported_with_file_and_field(gan_dir: Path) -> None:
    manifest = json.loads((gan_dir / "model.json").read_text())
    manifest["arch"]["ngf"] = 8
    (gan_dir / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"generator\.safetensors: weights do not fit arch"):
        load_model(gan_dir)
    manifest["arch"]["colour"] = 3
    (gan_dir / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"model\.json: field 'arch': unknown arch key"):
        load_model(gan_dir)


def test_manifest_problems_name_the_field(gan_dir: Path) -> None:
    manifest = json.loads((gan_dir / "model.json").read_text())
    (gan_dir / "model.json").write_text(json.dumps({**manifest, "hu_range": [5, 1]}))
    with pytest.raises(ArtifactError, match="field 'hu_range'"):
        load_manifest(gan_dir)
    (gan_dir / "model.json").write_text(json.dumps({**manifest, "id": "other"}))
    with pytest.raises(ArtifactError, match="must equal the folder name"):
        load_manifest(gan_dir)
    (gan_dir / "model.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_manifest(gan_dir)


def test_missing_generator_is_reported(gan_dir: Path) -> None:
    (gan_dir / "generator.safetensors").unlink()
    with pytest.raises(ArtifactError, match="no generator"):
        load_model(gan_dir)


@pytest.mark.parametrize("bad", ["..", "../etc", "a/b", "", ".hidden", "x" * 65, "a..b"])
def test_ids_cannot_escape_the_models_dir(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="not a valid id"):
        validate_id("model id", bad)


def test_direction_set_round_trip_and_checks(gan_dir: Path) -> None:
    raw = torch.randn(3, 8) * 5
    metrics = [{"a": i} for i in range(3)]
    saved = save_direction_set(gan_dir, "rand", raw, method="random", params={"seed": 1}, direction_metrics=metrics)
    loaded = load_direction_set(gan_dir, "rand")
    assert torch.allclose(loaded.directions.norm(dim=1), torch.ones(3), atol=1e-6)
    assert torch.allclose(loaded.directions, raw / raw.norm(dim=1, keepdim=True), atol=1e-6)
    assert loaded.checksum == saved.checksum and loaded.count == 3 and loaded.method == "random"
    assert loaded.card.directions[2] == {"index": 2, "metrics": {"a": 2}}
    assert loaded.card.direction_metrics() == metrics and loaded.card.params == {"seed": 1}
    assert list_direction_sets(gan_dir) == ["rand"]
    update_direction_set_meta(gan_dir, "rand", {"evaluation": {"score": 0.5}})
    assert load_direction_set(gan_dir, "rand").card.evaluation == {"score": 0.5}
    with pytest.raises(NotFoundError, match="no direction set 'nope'"):
        load_direction_set(gan_dir, "nope")
    with pytest.raises(InvalidInputError, match=r"shape \[K >= 1, 8\]"):
        save_direction_set(gan_dir, "bad", torch.randn(3, 7), method="random")
    with pytest.raises(InvalidInputError, match="zero-length"):
        save_direction_set(gan_dir, "bad", torch.zeros(2, 8), method="random")
    assert list_direction_sets(gan_dir) == ["rand"]  # failed saves left nothing behind


def test_direction_set_of_another_generator_is_refused(gan_dir: Path, tmp_path: Path) -> None:
    save_direction_set(gan_dir, "rand", torch.randn(2, 8), method="random")
    update_manifest(gan_dir, {"metrics": {"fid": 1.0}})
    assert load_model_card(gan_dir).metrics == {"fid": 1.0}
    # retrain: new generator weights, same folder
    save_model(gan_dir, kind="gan", arch=GAN_ARCH, nets={"generator": build_component("gan", "generator", GAN_ARCH)})
    with pytest.raises(ArtifactError, match="made for another generator"):
        load_direction_set(gan_dir, "rand")
    assert list_model_dirs(gan_dir.parent) == [gan_dir]
