"""`latentct models list / show / import-legacy / publish` through the real entry point."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from latentct.artifacts import load_model
from latentct.nets import DCGANGenerator
from tests.factories import make_tiny_models_dir
from tests.support.cli import run_cli
from tests.support.reference_layout import randomise, reference_generator_state


def test_models_cli_list_show_import_and_publish(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def _cli(*args: str) -> SimpleNamespace:
        code, out, err = run_cli(capsys, monkeypatch, *args)
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)

    models = make_tiny_models_dir(tmp_path / "models")
    g = randomise(DCGANGenerator(latent_dim=8, ngf=2, image_size=16)).eval()
    torch.save({"modelG_state_dict": reference_generator_state(g)}, tmp_path / "paper.pt")
    done = _cli("models", "import-legacy", "--kind", "gan", "--checkpoint", str(tmp_path / "paper.pt"),
                "--out", str(models / "paper-gan"))
    assert done.returncode == 0, done.stderr
    listed = _cli("models", "list", "--models-dir", str(models))
    assert listed.returncode == 0 and all(name in listed.stdout for name in ("tiny-gan", "tiny-vae", "paper-gan"))
    shown = _cli("models", "show", "paper-gan", "--models-dir", str(models))
    assert shown.returncode == 0 and '"intended_use": "research only, not for clinical use"' in shown.stdout
    missing = _cli("models", "show", "nope", "--models-dir", str(models))
    assert missing.returncode == 2 and missing.stderr.strip().count("\n") == 0 and "no model 'nope'" in missing.stderr
    again = _cli("models", "import-legacy", "--kind", "gan", "--checkpoint", str(tmp_path / "paper.pt"),
                 "--out", str(models / "paper-gan"))
    assert again.returncode == 2 and "already exists" in again.stderr
    published = _cli("models", "publish", str(models / "tiny-gan"), "--models-dir", str(tmp_path / "shipped"))
    assert published.returncode == 0, published.stderr
    assert sorted(p.name for p in (tmp_path / "shipped" / "tiny-gan").iterdir()) == ["generator.safetensors", "model.json"]
    assert load_model(tmp_path / "shipped" / "tiny-gan").discriminator is None
