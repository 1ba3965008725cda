"""`latentct discover / evaluate / export traversals / scorecard`: bad input is one line naming the value, exit 2, nothing
written; good input saves, measures and exports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_cli

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def model_copy(tiny_models: Path, tmp_path: Path) -> Path:
    target = tmp_path / "tiny-gan"
    shutil.copytree(tiny_models / "tiny-gan", target)
    return target


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--method", "pca"], "method 'pca' is unknown; allowed: voynov, sefa, ganspace, random, axes"),
        (
            ["--method", "voynov", "-k", "5"],
            "-k 5 does not fit the 'ortho' direction model: it needs K equal to the latent size 8",
        ),
        (["--method", "voynov", "--direction-model", "proj"], "direction model 'proj' is unknown"),
        (["--method", "sefa", "-k", "40"], "-k 40 does not fit method 'sefa'"),
        (["--method", "random", "--set-id", "../evil"], "is not a valid id"),
        (["--method", "random", "--device", "tpu"], "device 'tpu' must be one of auto, cpu, cuda"),
        (["--method", "sefa", "--preset", "paper"], "--preset paper is a Voynov preset; it does not apply to method 'sefa'"),
        (["--method", "voynov", "--preset", "quick"], "preset 'quick' is unknown; allowed: paper, original"),
        (["--method", "jacobian", "-k", "0"], "-k 0: a set needs at least one direction (K >= 1)"),
        (["--method", "supervised", "--probe", "/nonexistent/probe"], "probe"),
        (["--method", "sefa", "--checkpoint", "run"], "--checkpoint applies to method 'voynov' only, not to 'sefa'"),
        (["--method", "voynov", "--resume"], "--resume needs --checkpoint DIR"),
        (["--method", "ica", "--ica-contrast", "tanh"], "ICA contrast 'tanh' is unknown; allowed: kurtosis, logcosh"),
        (["--method", "ica", "-k", "1", "--ganspace-samples", "64"], "-k 1 does not fit method 'ica': it gives 2..63"),
    ],
)
def test_discover_bad_input_is_one_line(
    extra: list[str], message: str, model_copy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = sorted(p.name for p in (model_copy / "directions").iterdir())
    code, _, err = run_cli(capsys, monkeypatch, "discover", "--model", str(model_copy), *extra)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert sorted(p.name for p in (model_copy / "directions").iterdir()) == before  # nothing half-written


def test_model_folder_without_generator(
    model_copy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (model_copy / "generator.safetensors").unlink()
    code, _, err = run_cli(capsys, monkeypatch, "discover", "--model", str(model_copy), "--method", "sefa")
    assert code == 2 and err.count("\n") == 1 and "no generator (generator.safetensors is missing)" in err
    code, _, err = run_cli(capsys, monkeypatch, "discover", "--model", str(model_copy.parent / "nope"), "--method", "sefa")
    assert code == 2 and err.count("\n") == 1 and "model folder not found" in err


def test_evaluate_and_export_name_unknown_sets(
    model_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run_cli(capsys, monkeypatch, "evaluate", "--model", str(model_copy), "--set", "nope", "--probe", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and "has no direction set 'nope'" in err
    code, _, err = run_cli(
        capsys, monkeypatch, "evaluate", "--model", str(model_copy), "--set", "random", "--probe", str(tmp_path)
    )
    assert code == 2 and err.count("\n") == 1 and "no phantom probe here" in err
    out = tmp_path / "out"
    code, _, err = run_cli(
        capsys, monkeypatch,
        "export", "traversals", "--model", str(model_copy), "--set", "random", "--out", str(out), "--window", "soft",
    )
    assert code == 2 and "window 'soft' is not allowed" in err and not out.exists()


def test_discover_evaluate_export_succeed(
    model_copy: Path, tiny_probe_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_cli(capsys, monkeypatch, "discover", "--model", str(model_copy), "--method", "sefa", "--device", "cpu")
    assert code == 0 and "saved direction set 'sefa' (sefa, K=8)" in out
    code, out, _ = run_cli(
        capsys,
        monkeypatch,
        "evaluate",
        "--model",
        str(model_copy),
        "--set",
        "sefa",
        "--seeds",
        "4",
        "--steps",
        "5",
        "--realism-samples",
        "32",
        "--probe",
        str(tiny_probe_dir),
        "--device",
        "cpu",
    )
    assert code == 0 and out.startswith("sefa: ") and "random" in out and "disentanglement " in out and ", z " in out
    code, out, _ = run_cli(
        capsys,
        monkeypatch,
        "export",
        "traversals",
        "--model",
        str(model_copy),
        "--set",
        "sefa",
        "--out",
        str(tmp_path / "x"),
        "--seeds",
        "2",
        "--device",
        "cpu",
    )
    assert code == 0 and "wrote 8 GIFs" in out


def test_real_process_prints_no_traceback(model_copy: Path) -> None:
    env = {**os.environ, "LATENTCT_DEBUG": ""}
    result = subprocess.run(
        [sys.executable, "-m", "latentct.cli", "discover", "--model", str(model_copy), "--method", "voynov", "-k", "3"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: -k 3 does not fit the 'ortho' direction model: it needs K equal to the latent size 8"
    ]


def test_scorecard_cli_prints_the_table_and_names_bad_input(
    model_copy: Path, tiny_probe_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run_cli(capsys, monkeypatch, "scorecard", "--model", str(model_copy), "--probe", str(tiny_probe_dir),
                             "--seeds", "3", "--steps", "3", "--random-directions", "16", "--device", "cpu")
    assert code == 0, err
    assert out.startswith("| set | K |") and "| random | 4 |" in out and (model_copy / "scorecard.json").is_file()
    code, _, err = run_cli(capsys, monkeypatch, "scorecard", "--model", str(model_copy), "--set", "nope",
                           "--probe", str(tiny_probe_dir))
    assert code == 2 and err.count("\n") == 1 and "has no direction set 'nope'" in err
    code, _, err = run_cli(capsys, monkeypatch, "scorecard", "--model", str(model_copy), "--probe", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and "probe" in err


def test_discover_says_when_its_time_budget_cut_the_training_short(
    model_copy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_cli(capsys, monkeypatch, "discover", "--model", str(model_copy), "--method", "voynov", "--steps",
                           "100000", "--batch-size", "4", "--max-minutes", "0.002", "--device", "cpu", "--set-id", "budget")
    assert code == 0 and "saved direction set 'budget' (voynov, K=8, RCA" in out
    match = re.search(r"note: --max-minutes stopped training after (\d+) of 100000 steps \((\d+\.\d) %\)", out)
    assert match and 0 < int(match[1]) < 100_000, out
    assert "this one cannot" in out  # no --checkpoint: nothing to resume
    checkpoint = model_copy.parent / "run"
    code, out, _ = run_cli(capsys, monkeypatch, "discover", "--model", str(model_copy), "--method", "voynov", "--steps",
                           "100000", "--batch-size", "4", "--max-minutes", "0.002", "--device", "cpu", "--set-id", "piece",
                           "--checkpoint", str(checkpoint))
    assert code == 0 and f"`--checkpoint {checkpoint} --resume` continues it" in out, out
    code, out, _ = run_cli(capsys, monkeypatch, "discover", "--model", str(model_copy), "--method", "voynov", "--steps",
                           "2", "--batch-size", "4", "--device", "cpu", "--set-id", "whole")
    assert code == 0 and "saved direction set 'whole'" in out and "note:" not in out
