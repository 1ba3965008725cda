"""The improved recipe (weight average, spectral norm, hinge loss, augmented fakes), quality tracked during a run,
the time budget, precision choice and their bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from latentct.artifacts import load_model
from latentct.artifacts.checkpoints import load_training_state
from latentct.core.errors import InvalidInputError
from latentct.core.hardware import cpu_has_native_bf16
from latentct.nets import DCGANDiscriminator, DCGANGenerator
from latentct.training import best
from latentct.training.augment import random_affine
from latentct.training.config import RECIPES, build_config
from latentct.training.ema import WeightAverage, ema_decay_at
from latentct.training.run import run_training
from latentct.training.runtime import resolve_precision
from tests.training.conftest import tiny_options

GAN = {"ngf": 4, "ndf": 4}


def _records(out: Path, event: str) -> list[dict]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("event") == event]


def test_recipe_sets_defaults_that_a_file_and_flags_still_override(tmp_path: Path) -> None:
    improved = build_config("gan", overrides={"recipe": "improved"})
    assert (improved.loss, improved.d_norm, improved.ema_decay, improved.augment_fakes) == ("hinge", "spectral", 0.999, True)
    paper = build_config("gan")
    assert (paper.recipe, paper.loss, paper.d_norm, paper.ema_decay, paper.augment_fakes) == ("paper", "bce", "batch", 0.0, False)
    assert set(RECIPES["gan"]) == set(RECIPES["vae"]) == {"paper", "improved"}
    toml = tmp_path / "run.toml"
    toml.write_text('recipe = "improved"\nema_decay = 0.99\n')
    from_file = build_config("gan", toml, {"loss": "bce"})
    assert (from_file.recipe, from_file.ema_decay, from_file.loss, from_file.d_norm) == ("improved", 0.99, "bce", "spectral")


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"recipe": "fancy"}, "recipe must be one of \\['improved', 'paper'\\], got 'fancy'"),
        ({"loss": "wasserstein"}, "loss must be 'bce' or 'hinge', got 'wasserstein'"),
        ({"d_norm": "layer"}, "d_norm must be 'batch' or 'spectral', got 'layer'"),
        ({"ema_decay": 1.0}, "ema_decay must be in \\[0, 1\\)"),
        ({"precision": "fp8"}, "precision must be one of \\['auto', 'fp32', 'bf16'\\], got 'fp8'"),
        ({"max_minutes": -1.0}, "max_minutes must be in \\[0, 100000\\]"),
        ({"quality_every_steps": -5}, "quality_every_steps must be >= 0, got -5"),
        ({"aug_translate_px": 40.0}, "aug_translate_px must be in \\[0, 32\\] px, got 40.0"),
    ],
)
def test_bad_recipe_options_name_the_value(overrides: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        build_config("gan", overrides=overrides)


def test_weight_average_blends_parameters_and_copies_buffers() -> None:
    torch.manual_seed(0)
    net = DCGANGenerator(8, 4, 16)
    average = WeightAverage(net, decay=0.9)
    before = [p.detach().clone() for p in average.average.parameters()]
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
        for b in net.buffers():
            b.fill_(3)
    average.update(net, step=1000)  # past the ramp: the decay is 0.9
    for old, new, current in zip(before, average.average.parameters(), net.parameters(), strict=True):
        assert torch.allclose(new, 0.9 * old + 0.1 * current, atol=1e-6)
    assert all(torch.all(b == 3) for b in average.average.buffers())
    assert not average.average.training and not any(p.requires_grad for p in average.average.parameters())
    assert ema_decay_at(0, 0.999) == pytest.approx(0.1) and ema_decay_at(10**6, 0.999) == 0.999


def test_recalibrated_statistics_are_the_average_network_s_own() -> None:
    from latentct.training.ema import recalibrate_batchnorm

    torch.manual_seed(0)
    net = DCGANGenerator(8, 4, 16)
    for b in net.buffers():
        if b.dtype.is_floating_point:
            b.fill_(5.0)  # statistics of some other network
    recalibrate_batchnorm(net, 8, batches=4, batch_size=32)
    first = net.net[1]
    assert isinstance(first, torch.nn.BatchNorm2d) and not net.training
    with torch.no_grad():
        activations = net.net[0](torch.randn(4096, 8)[:, :, None, None])
    assert torch.allclose(first.running_mean, activations.mean(dim=(0, 2, 3)), atol=0.05)
    assert first.momentum == 0.1  # restored


def test_spectral_discriminator_has_unit_spectral_norm_and_no_batchnorm() -> None:
    torch.manual_seed(0)
    d = DCGANDiscriminator(4, 32, d_norm="spectral")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules())
    for _ in range(20):  # power iterations run in training-mode forwards
        d(torch.randn(4, 1, 32, 32))
    d.eval()
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    for conv in convs:
        sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
        assert sigma == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="d_norm must be one of \\['batch', 'spectral'\\], got 'group'"):
        DCGANDiscriminator(4, 32, d_norm="group")


def test_translation_moves_content_by_at_most_the_limit() -> None:
    image = -torch.ones(64, 1, 32, 32)
    image[:, :, 16, 16] = 1.0  # one bright pixel in the middle of every image
    moved = random_affine(image, torch.Generator().manual_seed(0), 0.0, (1.0, 1.0), max_translate_px=4.0)
    brightest = moved.flatten(1).argmax(dim=1)
    rows, cols = brightest // 32, brightest % 32
    assert (rows - 16).abs().max() <= 4 and (cols - 16).abs().max() <= 4
    assert len({(int(r), int(c)) for r, c in zip(rows, cols, strict=True)}) > 10  # it does move them


def test_precision_auto_follows_the_cpu_flags() -> None:
    assert cpu_has_native_bf16("flags\t\t: fpu avx2 avx512f amx_bf16 amx_tile\n")
    assert cpu_has_native_bf16("flags : avx512_bf16 avx512f\n")
    assert not cpu_has_native_bf16("flags : fpu avx2 fma\n")
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) is None and resolve_precision("bf16", cpu) is torch.bfloat16
    assert resolve_precision("auto", cpu) is (torch.bfloat16 if cpu_has_native_bf16() else None)


@pytest.mark.slow
def test_improved_recipe_saves_the_average_and_tracks_quality(tiny_data: Path, tiny_probe: Path, tmp_path: Path) -> None:
    out = tmp_path / "improved"
    options = tiny_options(tiny_probe, **GAN, epochs=2, recipe="improved", quality_every_steps=2, quality_track_samples=8)
    result = run_training("gan", tiny_data, out, overrides=options, progress=False)
    card = result.card
    assert card is not None and card.arch["d_norm"] == "spectral" and card.training["recipe"] == "improved"
    assert card.training["images_seen"] == result.steps * 8 and card.training["stopped_by"] == "epochs"
    saved = load_model(out, components=("generator", "discriminator"))
    average, trained = result.nets["generator_ema"].state_dict(), result.nets["generator"].state_dict()
    served = saved.generator.state_dict()
    choice = card.training["generator_choice"]["frechet_probe"]
    shipped = card.training["saved_generator"]
    assert shipped == ("trained" if choice["trained"] < choice["average"] else "average")
    expected = trained if shipped == "trained" else average
    assert all(torch.equal(served[k].cpu(), expected[k].cpu()) for k in served)
    assert not all(torch.equal(average[k].cpu(), trained[k].cpu()) for k in served if k.endswith("weight"))
    quality = _records(out, "quality")
    assert [r["step"] for r in quality] == list(range(2, result.steps + 1, 2))
    assert all({"frechet_probe", "trained_frechet_probe", "frechet_probe_real_floor", "factor_distance_mean"} <= set(r)
               for r in quality)
    assert "generator_ema" in load_training_state(out).nets  # a resumed run keeps its average


def test_keep_best_keeps_the_lowest_tracked_generator_and_saves_it_when_it_beats_the_end(
    tiny_data: Path, tiny_probe: Path, tmp_path: Path
) -> None:
    out = tmp_path / "best"
    options = tiny_options(tiny_probe, **GAN, epochs=1, recipe="improved", quality_every_steps=1, quality_track_samples=8,
                           ema_decay=0.5)  # an average that moves within a few steps
    assert build_config("gan", None, {"recipe": "improved"}).keep_best  # the demo recipe keeps the best
    run_training("gan", tiny_data, out, overrides=options, progress=False)
    quality = _records(out, "quality")
    measured = [min(r["frechet_probe"], r["trained_frechet_probe"]) for r in quality]
    assert len(quality) >= 3  # (the tiny probe's distances barely move: the rule itself is tested on its own below)
    kept = json.loads((out / "best" / "best.json").read_text())
    lowest = measured.index(min(measured))
    assert kept["step"] == quality[lowest]["step"] and kept["frechet_probe"] == min(measured)
    assert [r["new_best"] for r in quality] == [m < min(measured[:i], default=float("inf")) for i, m in enumerate(measured)]
    # a kept best lower than both generators at the end is what the model folder gets (made lowest here by hand)
    (out / "best" / "best.json").write_text(json.dumps({**kept, "frechet_probe": 0.0}))
    resumed = run_training("gan", tiny_data, out, overrides={"epochs": 2}, resume=True, progress=False)
    assert resumed.card is not None and resumed.card.training["saved_generator"] == "best"
    assert resumed.card.training["best"]["step"] == kept["step"]
    assert resumed.card.training["generator_choice"]["frechet_probe"][f"best (step {kept['step']})"] == 0.0
    served = load_model(out).generator.state_dict()
    snapshot = load_file(str(out / "best" / "generator.safetensors"))
    assert all(torch.equal(served[k].cpu(), snapshot[k]) for k in served)


def test_offered_generators_replace_the_kept_best_only_when_lower(tmp_path: Path) -> None:
    torch.manual_seed(0)
    first, second = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    assert best.offer(tmp_path, {"average": (first, 5.0), "trained": (second, 4.0)}, step=1, images_seen=8)
    kept = best.read_best(tmp_path)
    assert kept is not None and (kept.step, kept.which, kept.frechet_probe) == (1, "trained", 4.0)
    assert not best.offer(tmp_path, {"trained": (first, 4.5)}, step=2, images_seen=16)  # worse: the kept one stays
    assert best.offer(tmp_path, {"average": (first, 3.0)}, step=3, images_seen=24)
    target = torch.nn.Linear(3, 2)
    assert best.load_best(tmp_path, target).step == 3 and torch.equal(target.weight, first.weight)
    best.forget_after(tmp_path, 3)  # a resume from step 3 keeps it
    assert best.read_best(tmp_path) is not None
    best.forget_after(tmp_path, 2)  # one from step 2 retraces step 3: dropped
    assert best.read_best(tmp_path) is None


def test_keep_best_needs_quality_tracking_and_a_gan() -> None:
    with pytest.raises(InvalidInputError, match="keep_best needs quality_every_steps > 0"):
        build_config("gan", None, {"keep_best": True})
    with pytest.raises(InvalidInputError, match="unknown option 'keep_best'"):
        build_config("vae", None, {"keep_best": True})


@pytest.mark.slow
def test_time_budget_stops_checkpoints_and_resumes(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "budget"
    options = tiny_options(**GAN, epochs=3, max_minutes=1e-6)  # spent after the first step
    stopped = run_training("gan", tiny_data, out, overrides=options, progress=False)
    assert stopped.steps == 1 and stopped.card is not None and stopped.card.training["stopped_by"] == "max_minutes"
    assert _records(out, "stop")[0]["reason"] == "max_minutes"
    assert load_training_state(out).meta["step"] == 1
    resumed = run_training("gan", tiny_data, out, overrides={"max_minutes": 0.0}, resume=True, progress=False)
    straight = run_training("gan", tiny_data, tmp_path / "straight", overrides={**options, "max_minutes": 0.0},
                            progress=False)
    assert resumed.steps == straight.steps and resumed.card is not None
    assert resumed.card.training["stopped_by"] == "epochs"


def test_resume_with_another_recipe_is_refused(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_training("gan", tiny_data, out, overrides=tiny_options(**GAN, max_minutes=1e-6), progress=False)
    with pytest.raises(InvalidInputError, match="cannot resume with recipe='improved': the run was started with recipe='paper'"):
        run_training("gan", tiny_data, out, overrides={"recipe": "improved"}, resume=True, progress=False)


def test_memorisation_flags_a_copier_and_not_fresh_slices(tiny_data: Path, tiny_probe: Path) -> None:
    from latentct.artifacts.probe import load_probe
    from latentct.training.data import open_split
    from latentct.training.quality import memorisation

    train, test = open_split(tiny_data, "train"), open_split(tiny_data, "test")
    probe = load_probe(tiny_probe)
    copies = train.images(list(range(0, len(train), 2)))  # a generator that returns its training slices
    held_out = test.all_images()
    copier = memorisation(copies, held_out, train, probe)
    for space in ("probe_features", "pixels_rms_hu"):
        assert copier[space]["generated_to_train"]["median"] == pytest.approx(0.0, abs=1e-3)
        assert copier[space]["ratio_of_medians"] < 0.01
        assert copier[space]["generated_closer_than_p05_held_out"] == 1.0
    blurred = torch.nn.functional.avg_pool2d(copies, 5, stride=1, padding=2)  # new images, not copies
    honest = memorisation(blurred, held_out, train, probe)
    assert honest["pixels_rms_hu"]["ratio_of_medians"] > 0.2
    assert honest["pixels_rms_hu"]["held_out_to_train"]["median"] > 0
    assert copier["train_slices"] == len(train)


def test_memorisation_cli_writes_the_card(tiny_data: Path, tiny_probe: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.training.conftest import run_cli

    out = tmp_path / "gan"
    run_training("gan", tiny_data, out, overrides=tiny_options(**GAN), progress=False)
    code, text, err = run_cli(capsys, monkeypatch, "models", "memorisation", "--model", str(out), "--data", str(tiny_data),
                              "--probe", str(tiny_probe), "--samples", "8")
    assert code == 0, err
    assert json.loads(text)["generated"] == 8
    assert load_model(out).card.metrics["memorisation"]["probe_features"]["ratio_of_medians"] > 0
    code, _, err = run_cli(capsys, monkeypatch, "models", "memorisation", "--model", str(out), "--data", str(tiny_data),
                           "--samples", "1")
    assert code != 0 and "--samples must be in 2..100000, got 1" in err
