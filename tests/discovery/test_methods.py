"""Discovery methods: Voynov training on a tiny generator, SeFa and GANSpace on planted structure, the baselines,
and `discover` saving sets beside a model."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from latentct.artifacts import load_direction_set, load_model
from latentct.core.errors import InvalidInputError
from latentct.discovery.closed_form import (
    IMAGE_FEATURE_PX,
    IMAGE_LAYER,
    activation_after_block,
    coordinate_axes,
    first_layer_latent_map,
    ganspace,
    ganspace_from_features,
    random_orthonormal,
    sefa,
    sefa_from_weight,
)
from latentct.discovery.discover import DiscoveryRequest, discover
from latentct.discovery.voynov import (
    VoynovCheckpoint,
    VoynovConfig,
    _one_precision,
    _pair,
    frozen,
    recalibrate_batch_norm,
    sample_batch,
    sample_shifts,
    train_step,
    train_voynov,
)
from latentct.nets import DCGANGenerator, VAEDecoder
from latentct.nets.directions import build_direction_model
from latentct.nets.reconstructors import build_reconstructor
from tests.discovery.conftest import make_lively_model


@pytest.fixture(scope="module")
def gan16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_lively_model(tmp_path_factory.mktemp("gan16"), "gan16", "gan", image_size=16, seed=3)


def test_shifts_are_uniform_with_a_gap_around_zero() -> None:
    eps = sample_shifts(20_000, VoynovConfig(), torch.Generator().manual_seed(0), torch.device("cpu"))
    assert eps.abs().min() >= 0.5 and eps.abs().max() <= 6.0
    assert (eps.abs() == 0.5).float().mean() == pytest.approx(1 / 12, abs=0.01)  # the pushed-out share
    assert eps.mean().abs() < 0.1


def test_gradients_flow_through_the_frozen_generator(gan16: Path) -> None:
    generator = load_model(gan16).generator
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    config = VoynovConfig(count=8, batch_size=8, lr=1e-2)
    directions = build_direction_model("ortho", 8, 8)
    reconstructor = build_reconstructor("lenet", 8, 16)
    optimizer = torch.optim.Adam([*directions.parameters(), *reconstructor.parameters()], lr=config.lr)
    batch = (torch.randn(8, 8), torch.randint(0, 8, (8,)), torch.full((8,), 3.0))
    with frozen(generator):
        assert not generator.training and not any(p.requires_grad for p in generator.parameters())
        train_step(generator, directions, reconstructor, optimizer, batch, config)
    assert directions.log_rotation.grad is not None and directions.log_rotation.grad.abs().sum() > 0
    assert all(p.grad is None for p in generator.parameters())
    assert all(torch.equal(before[k], v) for k, v in generator.state_dict().items())  # eval mode: BN stats untouched
    assert all(p.requires_grad for p in generator.parameters())  # restored afterwards


def test_batch_norm_recalibration_makes_eval_mode_match_batch_statistics(gan16: Path) -> None:
    generator = load_model(gan16).generator
    config = VoynovConfig(count=8, batch_size=64)
    torch.manual_seed(0)
    directions = build_direction_model("unit", 8, 8)
    reconstructor = build_reconstructor("lenet", 8, 16)
    for module in reconstructor.modules():  # stale statistics, as an EMA lagging behind drifting weights leaves them
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.running_mean.normal_(0, 3)
            module.running_var.uniform_(0.01, 0.1)
    with torch.no_grad():
        z, index, shift = sample_batch(8, 512, config, torch.Generator().manual_seed(1), torch.device("cpu"))
        pair = _pair(generator, z, directions(index, shift))
        batch_logits = reconstructor.train()(pair)[0]
        stale_logits = reconstructor.eval()(pair)[0]
        recalibrate_batch_norm(generator, directions, reconstructor, config, 8, torch.device("cpu"), seed=2, batches=16)
        assert not reconstructor.training
        calibrated_logits = reconstructor(pair)[0]
    stale_error = (stale_logits - batch_logits).abs().mean()
    calibrated_error = (calibrated_logits - batch_logits).abs().mean()
    assert calibrated_error < 0.1 * stale_error
    assert reconstructor.features[1].momentum == 0.1  # momentum restored for any further training


@pytest.mark.slow
def test_voynov_learns_directions_the_reconstructor_tells_apart(gan16: Path) -> None:
    generator = load_model(gan16).generator
    untrained = VoynovConfig(count=8, direction_model="ortho", steps=1, batch_size=32, lr=1e-3, rca_samples=512, seed=0)
    assert train_voynov(generator, 8, 16, untrained, progress=False).metrics["rca"] < 0.2  # chance is 1/8
    config = VoynovConfig(count=8, direction_model="ortho", steps=200, batch_size=32, lr=1e-3, rca_samples=512, seed=0)
    result = train_voynov(generator, 8, 16, config, progress=False)
    assert result.metrics["rca"] > 3 * result.metrics["rca_chance"]
    assert result.directions.shape == (8, 8)
    assert torch.allclose(result.directions @ result.directions.T, torch.eye(8), atol=1e-4)
    assert len(result.direction_metrics) == 8 and "rca" in result.direction_metrics[0]
    # seeded: a short rerun gives the same directions
    short = VoynovConfig(count=8, steps=3, batch_size=4, rca_samples=8, seed=5)
    a = train_voynov(generator, 8, 16, short, progress=False).directions
    b = train_voynov(generator, 8, 16, short, progress=False).directions
    assert torch.equal(a, b)
    # a time limit stops early and says so
    limited = train_voynov(
        generator, 8, 16, VoynovConfig(count=8, steps=10_000, batch_size=4, rca_samples=8, max_minutes=0.01), progress=False
    )
    assert limited.metrics["stopped_by_time_limit"] and limited.metrics["steps_done"] < 10_000


def test_a_voynov_run_cut_into_pieces_equals_an_uninterrupted_one(gan16: Path, tmp_path: Path) -> None:
    """The paper's schedule on a CPU: run a piece, keep the state, continue later; the steps are the same steps."""
    generator = load_model(gan16).generator
    config = VoynovConfig(count=8, steps=6, batch_size=4, rca_samples=16, seed=5, lr=1e-2)
    straight = train_voynov(generator, 8, 16, config, progress=False)
    identity = {"generator_checksum": "abc"}
    first = VoynovCheckpoint(tmp_path / "run", every_minutes=0, identity=identity)  # saved after every step too
    piece = train_voynov(generator, 8, 16, VoynovConfig(**{**vars(config), "steps": 3}), progress=False, checkpoint=first)
    assert piece.metrics["steps_done"] == 3 and piece.metrics["stopped_by_time_limit"] is False
    assert (tmp_path / "run" / "checkpoint" / "state.safetensors").is_file()
    resumed = train_voynov(generator, 8, 16, config, progress=False,
                           checkpoint=VoynovCheckpoint(tmp_path / "run", resume=True, identity=identity))
    assert resumed.metrics["steps_done"] == 6 and resumed.metrics["resumed_from_step"] == 3
    assert straight.metrics["resumed_from_step"] == 0
    assert torch.equal(resumed.directions, straight.directions)
    assert resumed.metrics["rca"] == straight.metrics["rca"]
    # the history has every 10th step and each piece's last: here also step 2, where the first piece ended
    assert [h for h in resumed.history if h["step"] != 2] == straight.history
    assert [h for h in resumed.history if h["step"] == 2] == [h for h in piece.history if h["step"] == 2]
    assert resumed.metrics["train_seconds"] >= piece.metrics["train_seconds"]  # training time adds up over the pieces
    # each run of the training is recorded with the arithmetic it got (bf16 only where asked for and native)
    assert [(p["from_step"], p["to_step"], p["precision"], p["device"]) for p in resumed.metrics["pieces"]] == [
        (0, 3, "fp32", "cpu"), (3, 6, "fp32", "cpu")]
    assert [(p["from_step"], p["to_step"]) for p in straight.metrics["pieces"]] == [(0, 6)]
    assert resumed.metrics["precision"] == straight.metrics["precision"] == "fp32"
    again = train_voynov(generator, 8, 16, config, progress=False,  # nothing left to run: no empty piece
                         checkpoint=VoynovCheckpoint(tmp_path / "run", resume=True, identity=identity))
    assert again.metrics["pieces"] == resumed.metrics["pieces"]


def test_voynov_checkpoints_refuse_what_would_mix_two_runs(gan16: Path, tmp_path: Path) -> None:
    generator = load_model(gan16).generator
    config = VoynovConfig(count=8, steps=2, batch_size=4, rca_samples=8, seed=1)
    folder = tmp_path / "run"
    with pytest.raises(InvalidInputError, match=f"--resume: {folder} holds no checkpoint to continue"):
        train_voynov(generator, 8, 16, config, progress=False, checkpoint=VoynovCheckpoint(folder, resume=True))
    train_voynov(generator, 8, 16, config, progress=False, checkpoint=VoynovCheckpoint(folder, identity={"g": "a"}))
    with pytest.raises(InvalidInputError, match="already holds a Voynov checkpoint; add --resume to continue it"):
        train_voynov(generator, 8, 16, config, progress=False, checkpoint=VoynovCheckpoint(folder, identity={"g": "a"}))
    with pytest.raises(InvalidInputError, match=re.escape("was trained with lr = 0.0001, this run asks for 0.001; only steps")):
        train_voynov(generator, 8, 16, VoynovConfig(**{**vars(config), "lr": 1e-3}), progress=False,
                     checkpoint=VoynovCheckpoint(folder, resume=True, identity={"g": "a"}))
    with pytest.raises(InvalidInputError, match="was trained with g = 'a', this run has 'b'"):
        train_voynov(generator, 8, 16, config, progress=False,
                     checkpoint=VoynovCheckpoint(folder, resume=True, identity={"g": "b"}))
    longer = VoynovConfig(**{**vars(config), "steps": 4, "max_minutes": 5.0, "rca_samples": 16})  # may change
    result = train_voynov(generator, 8, 16, longer, progress=False,
                          checkpoint=VoynovCheckpoint(folder, resume=True, identity={"g": "a"}))
    assert result.metrics["steps_done"] == 4 and result.metrics["resumed_from_step"] == 2


def test_voynov_config_rejects_bad_values() -> None:
    with pytest.raises(InvalidInputError, match=r"K = 5, latent_dim = 8"):
        VoynovConfig(count=5, direction_model="ortho").check(8)
    with pytest.raises(InvalidInputError, match="reconstructor 'vgg' is unknown"):
        VoynovConfig(count=8, reconstructor="vgg").check(8)
    with pytest.raises(InvalidInputError, match="direction_lr must be > 0"):
        VoynovConfig(count=8, direction_lr=-1.0).check(8)


def test_sefa_recovers_a_planted_dominant_direction() -> None:
    torch.manual_seed(0)
    generator = DCGANGenerator(latent_dim=8, ngf=2, image_size=16)
    planted = F.normalize(torch.randn(8), dim=0)
    weight = generator.first_layer_weight  # (8, C, 4, 4)
    rest = weight[0].numel()
    with torch.no_grad():
        weight.copy_((planted[:, None] * torch.randn(1, rest) + 0.05 * torch.randn(8, rest)).reshape(weight.shape))
    result = sefa(generator, 8, 8)
    assert abs(float(result.directions[0] @ planted)) > 0.99
    eigenvalues = [m["eigenvalue"] for m in result.direction_metrics]
    assert eigenvalues == sorted(eigenvalues, reverse=True) and eigenvalues[0] > 0.8 * rest
    assert torch.allclose(result.directions @ result.directions.T, torch.eye(8), atol=1e-5)


def test_sefa_column_normalisation_ignores_output_scale() -> None:
    torch.manual_seed(1)
    weight = torch.randn(6, 40)
    a, _ = sefa_from_weight(weight, 6)
    b, _ = sefa_from_weight(weight * torch.rand(1, 40) * 10, 6)  # rescaled output units (e.g. by BatchNorm)
    assert torch.allclose(a, b, atol=1e-5)


def test_vae_first_layer_map_is_the_decoders_exact_linear_response() -> None:
    torch.manual_seed(0)
    decoder = VAEDecoder(latent_dim=5, base_channels=4, image_size=16).eval()
    block = decoder.blocks[0]
    latent_map = first_layer_latent_map(decoder)  # (5, C * 4 + mid)
    channels, mid = block.skip.out_channels, block.conv1.out_channels
    assert latent_map.shape == (5, channels * 4 + mid)
    z = torch.randn(3, 5)
    with torch.no_grad():
        up = lambda x: F.interpolate(x[:, :, None, None], scale_factor=2, mode="nearest")  # noqa: E731
        skip = block.skip(up(z)) - block.skip(up(torch.zeros(3, 5)))  # (3, C, 2, 2), bias removed
        centre = block.conv1(z[:, :, None, None]) - block.conv1(torch.zeros(3, 5, 1, 1))  # (3, mid, 1, 1)
    assert torch.allclose(z @ latent_map[:, : channels * 4], skip.flatten(1), atol=1e-5)
    assert torch.allclose(z @ latent_map[:, channels * 4 :], centre.flatten(1), atol=1e-5)
    result = sefa(decoder, 5, 3)
    assert result.directions.shape == (3, 5)


def test_ganspace_top_component_explains_planted_variance_and_maps_back_to_its_latent() -> None:
    torch.manual_seed(0)
    v = F.normalize(torch.randn(50), dim=0)
    mixing = torch.randn(6, 50)

    def features(z: torch.Tensor) -> torch.Tensor:  # one strong factor along latent 2, weak clutter elsewhere
        return torch.relu(4 * z[:, 2])[:, None] * v + 0.1 * torch.relu(z @ mixing)

    directions, explained = ganspace_from_features(features, 6, 4, n_samples=1024, seed=0)
    assert explained[0] > 0.8 and bool((explained[:-1] >= explained[1:]).all())
    assert abs(float(directions[0, 2])) > 0.95
    assert torch.allclose(directions.norm(dim=1), torch.ones(4), atol=1e-5)


def test_ganspace_on_real_generators(gan16: Path, tiny_models: Path) -> None:
    for model_dir in (gan16, tiny_models / "tiny-vae"):
        model = load_model(model_dir)
        result = ganspace(model.generator, 8, 5, block=2, n_samples=256, progress=False)
        assert result.directions.shape == (5, 8)
        assert torch.allclose(result.directions.norm(dim=1), torch.ones(5), atol=1e-5)
        ratios = [m["explained_variance"] for m in result.direction_metrics]
        assert ratios == sorted(ratios, reverse=True) and 0 < sum(ratios) <= 1
    with pytest.raises(InvalidInputError, match=r"block 9 does not exist; this generator has blocks 1\.\.\d+, or 0 for the"):
        activation_after_block(load_model(gan16).generator, 9)


def test_ganspace_of_the_image_is_pca_of_the_pooled_pixels(tiny_models: Path) -> None:
    """Block 0 (IMAGE_LAYER) reads the generated image, average-pooled to 32 px: what a reader sees."""
    model = load_model(tiny_models / "tiny-gan")
    z = torch.randn(6, model.latent_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        pixels = activation_after_block(model.generator, IMAGE_LAYER)(z)
        images = model.generator(z)
    size = images.shape[-1]
    pooled = torch.nn.functional.avg_pool2d(images, max(1, size // IMAGE_FEATURE_PX))
    assert torch.equal(pixels, pooled.flatten(1)) and pixels.shape[1] == min(size, IMAGE_FEATURE_PX) ** 2
    image = ganspace(model.generator, model.latent_dim, 4, block=IMAGE_LAYER, n_samples=256, progress=False)
    block = ganspace(model.generator, model.latent_dim, 4, block=2, n_samples=256, progress=False)
    assert image.params["layer"] == "the generated image, average-pooled to 32 px" and image.params["block"] == 0
    assert not torch.allclose(image.directions.abs(), block.directions.abs(), atol=1e-2)  # another feature space
    ratios = [m["explained_variance"] for m in image.direction_metrics]
    assert ratios == sorted(ratios, reverse=True) and 0 < sum(ratios) <= 1


def test_random_directions_are_orthonormal_and_seeded() -> None:
    a = random_orthonormal(10, 7, seed=3)
    assert torch.allclose(a @ a.T, torch.eye(7), atol=1e-6)
    assert torch.equal(a, random_orthonormal(10, 7, seed=3))
    assert not torch.allclose(a, random_orthonormal(10, 7, seed=4))
    assert torch.equal(random_orthonormal(10, 3, seed=3), a[:3])  # a smaller set is a prefix of the larger one
    assert torch.equal(coordinate_axes(4, 2), torch.eye(4)[:2])
    with pytest.raises(InvalidInputError, match="K = 11 is not allowed"):
        random_orthonormal(10, 11)


@pytest.mark.parametrize("method", ["sefa", "ganspace", "random", "axes", "voynov"])
def test_discover_saves_a_set_beside_the_model(method: str, gan16: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "gan16"
    shutil.copytree(gan16, model_dir)
    request = DiscoveryRequest(
        method=method, steps=3, batch_size=4, rca_samples=8, ganspace_samples=128, direction_model="unit", count=4
    )
    saved = discover(model_dir, request, device="cpu", progress=False)
    loaded = load_direction_set(model_dir, saved.id)
    assert loaded.count == 4 and loaded.method == method
    assert loaded.meta["generator_checksum"] == load_model(model_dir).generator_checksum
    assert len(loaded.meta["directions"]) == 4
    if method == "voynov":
        assert saved.id == "voynov-unit" and "rca" in loaded.meta["metrics"] and "export_note" in loaded.meta
        assert loaded.meta["params"]["steps"] == 3 and loaded.meta["params"]["paper_steps"] == 3000


def test_discover_rejects_incompatible_k(gan16: Path) -> None:
    with pytest.raises(InvalidInputError, match="needs K equal to the latent size 8"):
        discover(gan16, DiscoveryRequest(method="voynov", count=5), device="cpu")
    with pytest.raises(InvalidInputError, match=r"gives 1\.\.8 directions"):
        discover(gan16, DiscoveryRequest(method="sefa", count=9), device="cpu")
    with pytest.raises(InvalidInputError, match="method 'pca' is unknown"):
        discover(gan16, DiscoveryRequest(method="pca"), device="cpu")


def test_a_run_resumed_with_other_arithmetic_says_mixed() -> None:
    """A resume checks the flags, not what they give on another machine: `--amp` is bf16 on a CPU with native bf16 and
    fp32 elsewhere, so a set whose pieces ran both says so."""
    piece = {"from_step": 0, "to_step": 3, "device": "cpu", "seconds": 1.0}
    assert _one_precision([{**piece, "precision": "fp32"}, {**piece, "precision": "fp32"}]) == "fp32"
    assert _one_precision([{**piece, "precision": "fp32"}, {**piece, "precision": "bf16"}]) == "mixed: bf16, fp32"
    assert _one_precision([{**piece, "precision": "unrecorded"}, {**piece, "precision": "bf16"}]) == "mixed: bf16, unrecorded"
