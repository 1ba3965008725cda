"""Import of the paper's checkpoints (reference key layout) and the training-state checkpoint files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from latentct.artifacts import load_model
from latentct.artifacts.checkpoints import TrainingState, load_training_state, save_training_state
from latentct.artifacts.legacy import import_legacy
from latentct.core.errors import ArtifactError, InvalidInputError
from latentct.nets import DCGANDiscriminator, DCGANGenerator, VAEDecoder, VAEEncoder
from tests.support.reference_layout import (
    randomise,
    reference_decoder_state,
    reference_discriminator_state,
    reference_generator_state,
)


def test_import_legacy_gan_with_both_nets(tmp_path: Path) -> None:
    torch.manual_seed(0)
    g = randomise(DCGANGenerator(latent_dim=32, ngf=4, image_size=32)).eval()
    d = randomise(DCGANDiscriminator(ndf=6, image_size=32)).eval()
    checkpoint = tmp_path / "gan.pt"
    torch.save({"modelG_state_dict": reference_generator_state(g), "modelD_state_dict": reference_discriminator_state(d),
                "epoch": 49, "fid": [123.4, 99.0]}, checkpoint)
    manifest = import_legacy("gan", checkpoint, tmp_path / "paper-dcgan")
    assert manifest.arch == {"latent_dim": 32, "ngf": 4, "image_size": 32, "ndf": 6}
    loaded = load_model(tmp_path / "paper-dcgan", components=("generator", "discriminator"))
    z = torch.randn(3, 32)
    with torch.no_grad():
        assert torch.equal(loaded.generator(z), g(z))
        image = torch.rand(2, 1, 32, 32) * 2 - 1
        assert torch.equal(loaded.discriminator(image), d(image))


def test_import_legacy_plain_state_dicts_gan_and_vae(tmp_path: Path) -> None:
    """The test-suite's stand-ins for the paper's files: torch.save of a plain state dict."""
    g = randomise(DCGANGenerator(latent_dim=100, ngf=2, image_size=16)).eval()
    torch.save(reference_generator_state(g), tmp_path / "netG.pt")
    manifest = import_legacy("gan", tmp_path / "netG.pt", tmp_path / "g")
    assert manifest.arch["latent_dim"] == 100 and manifest.arch["ndf"] == 2
    dec = randomise(VAEDecoder(latent_dim=32, base_channels=4, image_size=32)).eval()
    torch.save({"state_dict": reference_decoder_state(dec)}, tmp_path / "decoder.pt")  # the reference's decoder.pt
    manifest = import_legacy("vae", tmp_path / "decoder.pt", tmp_path / "v")
    assert manifest.arch == {"latent_dim": 32, "base_channels": 4, "image_size": 32}
    z = torch.randn(2, 32)
    with torch.no_grad():
        assert torch.equal(load_model(tmp_path / "v").generator(z), dec(z))


def test_import_legacy_whole_vae_brings_the_encoder(tmp_path: Path) -> None:
    dec = randomise(VAEDecoder(latent_dim=8, base_channels=4, image_size=32)).eval()
    enc = randomise(VAEEncoder(latent_dim=8, base_channels=4, image_size=32)).eval()
    blocks = ["conv1", "conv2", "conv3", "conv4", "conv5"]
    parts = {"conv1": "conv1", "bn1": "BN1", "conv2": "conv2", "bn2": "BN2", "skip": "conv3"}
    state = reference_decoder_state(dec, "decoder.")
    for key, value in enc.state_dict().items():
        head, rest = key.split(".", 1)
        if head in ("mean", "log_var"):
            state[f"encoder.{'conv_mu' if head == 'mean' else 'conv_logvar'}.{rest}"] = value.clone()
        else:
            index, part, tail = rest.split(".", 2)
            state[f"encoder.{blocks[int(index)]}.{parts[part]}.{tail}"] = value.clone()
    torch.save({"epoch": 29, "state_dict": state}, tmp_path / "checkpoint.pt")
    import_legacy("vae", tmp_path / "checkpoint.pt", tmp_path / "whole")
    loaded = load_model(tmp_path / "whole")
    image = torch.rand(2, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded.encoder(image)[0], enc(image)[0])


def test_import_legacy_rejects_incompatible_files(tmp_path: Path) -> None:
    torch.save({"modelG_state_dict": {"main.0.weight": torch.zeros(32, 64, 4, 4), "main.9.weight": torch.zeros(3)}},
               tmp_path / "broken.pt")
    with pytest.raises(ArtifactError, match="not the reference DCGAN generator"):
        import_legacy("gan", tmp_path / "broken.pt", tmp_path / "out")
    g = reference_generator_state(DCGANGenerator(latent_dim=8, ngf=2, image_size=16))
    g.pop("main.1.running_mean")
    torch.save({"modelG_state_dict": g}, tmp_path / "missing_key.pt")
    with pytest.raises(ArtifactError, match=r"do not fit.*running_mean"):
        import_legacy("gan", tmp_path / "missing_key.pt", tmp_path / "out")
    torch.save({"something": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ArtifactError, match="not the reference VAE decoder"):
        import_legacy("vae", tmp_path / "other.pt", tmp_path / "out")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ArtifactError, match="weights_only"):
        import_legacy("gan", tmp_path / "junk.pt", tmp_path / "out")
    torch.save({"modelG_state_dict": {"x": nn.Linear(2, 2)}}, tmp_path / "module.pt")  # pickled code: refused
    with pytest.raises(ArtifactError):
        import_legacy("gan", tmp_path / "module.pt", tmp_path / "out")
    with pytest.raises(InvalidInputError, match="kind"):
        import_legacy("flow", tmp_path / "junk.pt", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_training_state_round_trip_without_pickle(tmp_path: Path) -> None:
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.999))
    net(torch.randn(8, 3)).sum().backward()
    optimizer.step()
    rng = torch.Generator().manual_seed(3)
    save_training_state(tmp_path, TrainingState(nets={"net": net.state_dict()}, optimizers={"net": optimizer.state_dict()},
                                                tensors={"rng": rng.get_state()}, meta={"step": 1}))
    assert sorted(p.name for p in (tmp_path / "checkpoint").iterdir()) == ["state.json", "state.safetensors"]
    state = load_training_state(tmp_path)
    fresh = torch.optim.Adam(net.parameters(), lr=5.0)
    fresh.load_state_dict(state.optimizers["net"])
    assert fresh.param_groups[0]["lr"] == 1e-3 and fresh.param_groups[0]["betas"] == (0.5, 0.999)
    for a, b in zip(optimizer.state.values(), fresh.state.values(), strict=True):
        assert torch.equal(a["exp_avg"], b["exp_avg"]) and torch.equal(a["step"], b["step"])
    assert torch.equal(state.tensors["rng"], rng.get_state()) and state.meta == {"step": 1}
    (tmp_path / "checkpoint" / "state.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(ArtifactError, match="not a LatentCT training checkpoint"):
        load_training_state(tmp_path)
