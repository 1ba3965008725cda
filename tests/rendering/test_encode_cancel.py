"""GAN inversion stops between slices once its client has gone; a model's pixel spacing comes from its card."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from latentct.rendering.engine import InferenceEngine
from latentct.rendering.errors import EncodeCancelledError
from latentct.rendering.inversion import OPT_SLICE_STEPS, OPT_STEPS, encode_slice
from latentct.rendering.registry import ServedModel, load_served_model
from latentct.rendering.volumes import model_pixel_spacing_mm, pixel_spacing_mm
from tests.factories import make_tiny_model


@pytest.fixture(scope="module")
def gan(tmp_path_factory: pytest.TempPathFactory) -> ServedModel:
    model_dir = make_tiny_model(tmp_path_factory.mktemp("models"), "tiny-gan", "gan", seed=1)
    return load_served_model(Path(model_dir), torch.device("cpu"), half_precision="off")


def test_a_gan_encode_stops_after_the_slice_in_which_its_client_left(gan: ServedModel) -> None:
    image = np.zeros((gan.image_size, gan.image_size), np.float32)
    asked: list[int] = []

    async def cancelled_after_two_slices() -> bool:
        asked.append(1)
        return len(asked) > 2

    async def scenario() -> None:
        engine = InferenceEngine(torch.device("cpu"), batch_wait_s=0.0).start()
        try:
            with pytest.raises(EncodeCancelledError, match=f"stopped after {2 * OPT_SLICE_STEPS} steps"):
                await encode_slice(engine, gan, image, cancelled=cancelled_after_two_slices)
            finished = await encode_slice(engine, gan, image, cancelled=None)  # nobody asks: it runs to the end
            assert finished.steps == OPT_STEPS and finished.original_hu.shape == image.shape
        finally:
            await engine.close()

    asyncio.run(scenario())
    assert len(asked) == 3


def test_pixel_spacing_is_the_phantoms_or_the_cards_or_unknown(gan: ServedModel) -> None:
    assert model_pixel_spacing_mm(gan) is None  # the tiny card says nothing about its data
    phantom = replace(gan, data={"source": "phantom"})
    assert model_pixel_spacing_mm(phantom) == pytest.approx(pixel_spacing_mm(gan.image_size))
    assert pixel_spacing_mm(128) == pytest.approx(3.38, abs=0.005)  # docs/volumes.md
    recorded = replace(gan, data={"source": "dicom", "pixel_spacing_mm": 0.7, "image_size": 512})
    assert model_pixel_spacing_mm(recorded) == pytest.approx(0.7 * 512 / gan.image_size)
