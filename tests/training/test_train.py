"""Training runs on a tiny phantom dataset: model folder with metrics, resume, repeatability, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from latentct.artifacts import load_model
from latentct.artifacts.checkpoints import load_training_state
from latentct.core.errors import ArtifactError, DatasetError, InvalidInputError
from latentct.training.data import batches_per_epoch, open_split
from latentct.training.run import run_training
from tests.training.conftest import run_cli, tiny_options

GAN = {"ngf": 4, "ndf": 4}
VAE = {"base_channels": 4}


def _params(nets: dict[str, torch.nn.Module]) -> dict[str, torch.Tensor]:
    return {f"{name}.{k}": v.detach().clone() for name, net in nets.items() for k, v in net.state_dict().items()}


@pytest.mark.slow
def test_one_gan_epoch_makes_a_loadable_model_folder_with_metrics(
    tiny_data: Path, tiny_probe: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "tiny-gan"
    result = run_training("gan", tiny_data, out, overrides=tiny_options(tiny_probe, **GAN), progress=False)
    card = result.card
    assert card is not None and card.id == "tiny-gan" and card.kind == "gan"
    for name in ("model.json", "generator.safetensors", "discriminator.safetensors", "config.json", "metrics.jsonl",
                 "curves.png", "samples.png", "samples/epoch_001.png", "checkpoint/state.json"):
        assert (out / name).is_file(), name
    metrics = card.metrics
    assert metrics["frechet_probe"] >= 0
    assert set(metrics["factor_distance"]["per_factor"]) >= {"z_position", "rotation_deg", "noise_hu"}
    assert "test_r2" in metrics["probe"]
    assert card.provenance["data_seed"] == 5 and card.provenance["epochs"] == 1 and "commit" in card.provenance
    assert card.training["config"]["lr_g"] == 2e-4 and card.training["config"]["real_label_min"] == 0.9
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert {"loss_d", "loss_g", "d_real", "d_fake", "noise_sigma"} <= set(records[0])
    loaded = load_model(out)
    with torch.no_grad():
        image = loaded.generator(torch.randn(2, loaded.latent_dim))
    assert image.shape == (2, 1, 32, 32) and image.abs().max() <= 1
    # the same measurement, later, from the command line (same fixed latents, same probe -> same distance)
    code, out_text, err = run_cli(capsys, monkeypatch, "models", "evaluate-quality", "--model", str(out),
                                  "--data", str(tiny_data), "--probe", str(tiny_probe), "--samples", "16")
    assert code == 0, err
    assert json.loads(out_text)["frechet_probe"] == pytest.approx(metrics["frechet_probe"], rel=0.2)
    assert "quality_data" in load_model(out).card.metrics


@pytest.mark.slow
def test_one_vae_epoch_makes_a_loadable_model_folder_with_metrics(tiny_data: Path, tiny_probe: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny-vae"
    card = run_training("vae", tiny_data, out, overrides=tiny_options(tiny_probe, **VAE), progress=False).card
    assert card is not None and card.kind == "vae"
    assert card.metrics["test_reconstruction_mae_hu"] > 0 and card.metrics["frechet_probe"] >= 0
    loaded = load_model(out)
    assert loaded.encoder is not None
    assert loaded.generator(torch.randn(2, loaded.latent_dim)).shape == (2, 1, 32, 32)


@pytest.mark.slow
def test_same_seed_same_data_gives_identical_weights(tiny_data: Path, tmp_path: Path) -> None:
    a = run_training("gan", tiny_data, tmp_path / "a", overrides=tiny_options(**GAN), progress=False)
    b = run_training("gan", tiny_data, tmp_path / "b", overrides=tiny_options(**GAN), progress=False)
    c = run_training("gan", tiny_data, tmp_path / "c", overrides=tiny_options(**GAN, seed=1), progress=False)
    pa, pb, pc = _params(a.nets), _params(b.nets), _params(c.nets)
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert not all(torch.equal(pa[k], pc[k]) for k in pa)


def _crash_after_checkpoint(monkeypatch: pytest.MonkeyPatch, at_step: int) -> list[int]:
    """Make the run die (KeyboardInterrupt) right after it writes the checkpoint of step `at_step`."""
    from latentct.training import run as run_module

    original, written = run_module._checkpoint, []

    def checkpoint_then_crash(trainer, out, position, rng, config):  # type: ignore[no-untyped-def]
        original(trainer, out, position, rng, config)
        written.append(position.step)
        if position.step == at_step:
            raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "_checkpoint", checkpoint_then_crash)
    return written


@pytest.mark.parametrize(
    ("interval_s", "every_steps", "epochs_checkpointed"),
    [
        (0.0, 0, [1, 2, 3, 4, 5, 6]),
        (120.0, 0, [1, 3, 5, 6]),  # the first, then one per 120 s of the fake clock (70 s per epoch), the last
        (1e9, 0, [1, 6]),
        (1e9, "epoch", [1, 2, 3, 4, 5, 6]),  # step checkpoints that fall on an epoch end still happen
    ],
)
def test_end_of_epoch_checkpoints_keep_the_interval(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interval_s: float, every_steps: Any,
    epochs_checkpointed: list[int],
) -> None:
    from latentct.training import run as run_module

    steps_per_epoch = batches_per_epoch(len(open_split(tiny_data)), 8)
    written = _crash_after_checkpoint(monkeypatch, at_step=-1)  # records every checkpoint, never crashes
    clock = {"now": 0.0}
    monkeypatch.setattr(run_module, "_clock", lambda: clock["now"])
    monkeypatch.setattr(run_module, "save_grid_png", lambda *a, **k: clock.update(now=clock["now"] + 70.0))  # each epoch
    every = steps_per_epoch if every_steps == "epoch" else every_steps
    options = tiny_options(**VAE, epochs=6, checkpoint_min_interval_s=interval_s, checkpoint_every_steps=every)
    run_training("vae", tiny_data, tmp_path / "run", overrides=options, progress=False)
    assert written == [steps_per_epoch * epoch for epoch in epochs_checkpointed]
    assert load_training_state(tmp_path / "run").meta["epoch"] == 6  # resumable from the end


@pytest.mark.slow
@pytest.mark.parametrize("kind,arch,checkpoint_every", [("gan", GAN, 0), ("vae", VAE, 2)])
def test_resume_continues_from_the_saved_step_exactly(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, arch: dict, checkpoint_every: int
) -> None:
    """A run killed after a checkpoint (end of epoch 1 for the GAN, mid-epoch for the VAE) and resumed ends with
    exactly the weights of a run that was never interrupted."""
    options = tiny_options(**arch, epochs=2, checkpoint_every_steps=checkpoint_every)
    straight = run_training(kind, tiny_data, tmp_path / "straight", overrides=options, progress=False)
    steps_per_epoch = straight.steps // 2
    crash_at = checkpoint_every or steps_per_epoch
    written = _crash_after_checkpoint(monkeypatch, crash_at)
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        run_training(kind, tiny_data, out, overrides=options, progress=False)
    monkeypatch.undo()
    assert written[-1] == crash_at and load_training_state(out).meta["step"] == crash_at
    assert not (out / "model.json").exists()
    with open(out / "metrics.jsonl", "a") as fh:  # a record logged after the checkpoint, before the crash
        fh.write(json.dumps({"event": "step", "epoch": 2, "step": crash_at + 1}) + "\n")
    resumed = run_training(kind, tiny_data, out, resume=True, progress=False)
    assert resumed.steps == straight.steps
    ps, pr = _params(straight.nets), _params(resumed.nets)
    assert all(torch.equal(ps[k], pr[k]) for k in ps)
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines() if '"event": "step"' in line]
    assert steps == sorted(steps) and len(steps) == len(set(steps))
    assert json.loads((out / "config.json").read_text())["resumed"] == [crash_at]


def test_config_file_unknown_key_and_impossible_value(tiny_data: Path, tmp_path: Path) -> None:
    bad_key = tmp_path / "bad_key.toml"
    bad_key.write_text("epochs = 2\nlearning_rate = 0.1\n")
    with pytest.raises(InvalidInputError, match="unknown option 'learning_rate'"):
        run_training("gan", tiny_data, tmp_path / "x", bad_key)
    bad_value = tmp_path / "bad_value.toml"
    bad_value.write_text("batch_size = -4\n")
    with pytest.raises(InvalidInputError, match="batch_size must be >= 1, got -4"):
        run_training("gan", tiny_data, tmp_path / "x", bad_value)
    wrong_type = tmp_path / "wrong_type.toml"
    wrong_type.write_text('epochs = "many"\n')
    with pytest.raises(InvalidInputError, match="epochs must be an integer, got 'many'"):
        run_training("gan", tiny_data, tmp_path / "x", wrong_type)
    with pytest.raises(InvalidInputError, match="real_label_min"):
        run_training("gan", tiny_data, tmp_path / "x", overrides={"real_label_min": 1.5})
    with pytest.raises(InvalidInputError, match="channels_last must be 'auto', 'on' or 'off', got 'yes'"):
        run_training("vae", tiny_data, tmp_path / "x", overrides={"channels_last": "yes"})
    with pytest.raises(InvalidInputError, match="unknown option 'ngf'"):
        run_training("vae", tiny_data, tmp_path / "x", overrides={"ngf": 8})
    with pytest.raises(InvalidInputError, match=r"checkpoint_min_interval_s must be >= 0 seconds, got -1\.0"):
        run_training("vae", tiny_data, tmp_path / "x", overrides={"checkpoint_min_interval_s": -1.0})
    good = tmp_path / "good.toml"
    good.write_text("[train]\nepochs = 3\nlr_d = 1e-4\n")
    from latentct.training.config import build_config

    config = build_config("gan", good, {"epochs": 4})
    assert config.epochs == 4 and config.lr_d == 1e-4  # flags override the file
    assert not (tmp_path / "x").exists()  # nothing written by any of the failures


def test_bad_inputs_raise_one_clear_error_and_write_nothing(tiny_data: Path, tmp_path: Path) -> None:
    not_data = tmp_path / "not-data"
    not_data.mkdir()
    with pytest.raises(DatasetError, match="not a LatentCT dataset"):
        run_training("gan", not_data, tmp_path / "run")
    with pytest.raises(DatasetError, match="does not exist"):
        run_training("gan", tmp_path / "missing", tmp_path / "run")
    assert not (tmp_path / "run").exists()
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="already exists"):
        run_training("gan", tiny_data, occupied, overrides=tiny_options(**GAN))
    with pytest.raises(InvalidInputError, match="holds no training checkpoint"):
        run_training("gan", tiny_data, occupied, resume=True)
    assert [p.name for p in occupied.iterdir()] == ["keep.txt"]
    with pytest.raises(InvalidInputError, match="fewer than one batch"):
        run_training("gan", tiny_data, tmp_path / "big-batch", overrides=tiny_options(**GAN, batch_size=4096))
    assert not (tmp_path / "big-batch").exists()


@pytest.mark.slow
def test_incompatible_checkpoint_on_resume(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_training("gan", tiny_data, out, overrides=tiny_options(**GAN), progress=False)
    before = (out / "model.json").read_bytes()
    with pytest.raises(InvalidInputError, match="is a 'gan' run"):
        run_training("vae", tiny_data, out, resume=True)
    with pytest.raises(InvalidInputError, match="ngf=8"):
        run_training("gan", tiny_data, out, overrides={"ngf": 8, "epochs": 2}, resume=True)
    with pytest.raises(InvalidInputError, match="already trained 1 epoch"):
        run_training("gan", tiny_data, out, resume=True)
    # a checkpoint whose weights no longer fit the recorded architecture
    config = json.loads((out / "config.json").read_text())
    config["config"]["ngf"] = 8
    config["arch"]["ngf"] = 8
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match="generator weights do not fit"):
        run_training("gan", tiny_data, out, overrides={"epochs": 2}, resume=True, progress=False)
    (out / "checkpoint" / "state.safetensors").write_bytes(b"corrupt")
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        run_training("gan", tiny_data, out, overrides={"epochs": 2}, resume=True, progress=False)
    assert (out / "model.json").read_bytes() == before


def test_cli_errors_are_one_line(tiny_data: Path, tmp_path: Path) -> None:
    """Through a real `latentct` process: exit code 2, one line on stderr, nothing written."""
    bad = tmp_path / "bad.toml"
    bad.write_text("epochz = 3\n")
    done = subprocess.run(
        [sys.executable, "-m", "latentct.cli", "train", "gan", "--data", str(tiny_data), "--out", str(tmp_path / "run"),
         "--config", str(bad)], capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown option 'epochz'" in lines[0], done.stderr
    assert not (tmp_path / "run").exists()


def test_cli_train_small_run_and_bad_data(tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run_cli(capsys, monkeypatch, "train", "vae", "--data", str(tmp_path), "--out", str(tmp_path / "run"))
    assert code == 2 and err.count("\n") == 1 and "not a LatentCT dataset" in err
    config = tmp_path / "run.toml"
    config.write_text('probe_dir = "none"\nlog_every_steps = 2\nsample_count = 4\nquality_samples = 8\n')
    code, out, err = run_cli(capsys, monkeypatch, "train", "vae", "--data", str(tiny_data), "--out", str(tmp_path / "cli-vae"),
                             "--config", str(config), "--epochs", "1", "--batch-size", "8", "--base-channels", "4",
                             "--device", "cpu", "--threads", "1", "--checkpoint-interval", "30", "--no-progress")
    assert code == 0, err
    assert "model cli-vae saved" in out and "test_reconstruction_mae_hu" in out
    recorded = json.loads((tmp_path / "cli-vae" / "config.json").read_text())["config"]
    assert recorded["base_channels"] == 4 and recorded["checkpoint_min_interval_s"] == 30.0
