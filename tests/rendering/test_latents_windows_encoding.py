"""Shifted latents and traversals, HU windows, and the image encoders (seeds to latents: tests/core/test_latents.py)."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from latentct.api.caching import RENDER_VERSION
from latentct.core.errors import InvalidInputError, NotFoundError
from latentct.rendering.encoding import forth_and_back, gif_bytes, multipart_chunks, png_bytes, strip, upscale
from latentct.rendering.latents import (
    apply_shifts,
    check_direction_index,
    collect_shifts,
    latent_from_values,
    parse_shift,
    shifts_from_mapping,
    traversal_latents,
    traversal_values,
)
from latentct.rendering.numbers import ascii_decimal, ascii_index
from latentct.rendering.windows import PRESETS, parse_window, unit_to_grey

PINNED_SCANLINES = "19f9c2f16d88e1e9f5d8b75d999b2a033fab3d05b061f7ee7bde8cd58ed8f422"  # see the tripwire test


def test_shifts_parse_validate_and_add() -> None:
    assert parse_shift("3:-1.5") == (3, -1.5) and parse_shift("0:30") == (0, 30.0) and parse_shift("1:-0") == (1, 0.0)
    for bad, message in [("3", "k:v"), ("a:1", "direction index"), ("-1:2", "direction index"), ("1:x", "not a number"),
                         ("1:nan", "finite"), ("1:inf", "finite"), ("1:30.5", "<= 30")]:
        with pytest.raises(InvalidInputError, match=message):
            parse_shift(bad)
    with pytest.raises(InvalidInputError, match="twice"):
        collect_shifts([(1, 1.0), (1, 2.0)])
    assert shifts_from_mapping({"2": 1, "0": -3.5}) == {2: 1.0, 0: -3.5}
    with pytest.raises(NotFoundError, match="no direction 4"):
        check_direction_index(4, 4, "s")
    directions = torch.eye(3)
    z = torch.tensor([1.0, 2.0, 3.0])
    assert torch.equal(apply_shifts(z, directions, {0: 2.0, 2: -1.0}), torch.tensor([3.0, 2.0, 2.0]))
    assert torch.equal(apply_shifts(z, directions, {1: 0.0}), z)


UNICODE_DIGITS = ["²", "³", "¹", "⁰", "①", "٣", "۳", "３", "१"]  # isdigit() or int() / float() take each of them


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_request_numbers_are_ascii_only(digit: str) -> None:
    for bad in (f"{digit}:1", f"1{digit}:1", f"0:{digit}", f"0:1.{digit}"):
        with pytest.raises(InvalidInputError, match="ASCII digits 0-9"):
            parse_shift(bad)
    with pytest.raises(InvalidInputError, match="ASCII digits 0-9"):
        shifts_from_mapping({digit: 1.0})
    for window in (f"{digit},40", f"400,{digit}"):
        with pytest.raises(InvalidInputError, match="ASCII digits 0-9"):
            parse_window(window)


def test_the_ascii_number_grammar() -> None:
    for text, value in [("1", 1.0), ("-1.5", -1.5), (".5", 0.5), ("2.", 2.0), ("+2E-1", 0.2), (" 3 ", 3.0), ("\t-0", -0.0)]:
        assert ascii_decimal(text) == value, text
    for text in ("", " ", "1_0", "nan", "inf", "-infinity", "0x10", "1e", "e1", "--1", "1.2.3", "1 0", "\u20031", "1\n"):
        assert ascii_decimal(text) is None, text
    assert ascii_decimal("1e999") == float("inf")  # the callers' finiteness checks name it
    assert ascii_index("007", 9) == 7 and ascii_index(" 12 ", 9) == 12 and ascii_index("1" * 9, 9) == 111_111_111
    for text in ("", "-1", "+1", "1.0", "1_0", "1" * 10, "\u00b2", "1\n"):
        assert ascii_index(text, 9) is None, text
    assert parse_shift("0:1e-1") == (0, 0.1) and parse_window("1.5e3,-6e2").key == parse_window("1500,-600").key


def test_traversal_frames() -> None:
    assert traversal_values(6.0, 5) == [-6.0, -3.0, 0.0, 3.0, 6.0]
    frames = traversal_latents(torch.zeros(2), torch.tensor([1.0, 0.0]), [-1.0, 0.0, 2.0])
    assert torch.equal(frames, torch.tensor([[-1.0, 0.0], [0.0, 0.0], [2.0, 0.0]]))


def test_explicit_latent_validation() -> None:
    assert torch.equal(latent_from_values([1, 2.5], 2), torch.tensor([1.0, 2.5]))
    cases = [([1.0], "latent_dim = 2"), ([float("nan"), 0.0], "finite"), ([1e4, 0.0], "1000"), (["a", 0.0], "number")]
    for bad, message in cases:
        with pytest.raises(InvalidInputError, match=message):
            latent_from_values(bad, 2)  # type: ignore[arg-type]


def test_windows_parse_and_map() -> None:
    assert parse_window("full").name == "full" and parse_window(" Lung ").width_level((0, 1)) == PRESETS["lung"]
    assert parse_window("1500,-600").key == parse_window("1500.0, -600").key
    for bad in ("", "x", "0,0", "1,2,3", "nan,0", "10,inf", "20000,0", "100,20000"):
        with pytest.raises(InvalidInputError, match="window"):
            parse_window(bad)
    unit = np.array([-1.0, 0.0, 1.0, 2.0], np.float32)  # beyond 1 is clipped like tanh output would be
    assert unit_to_grey(unit, (-1000.0, 2000.0), parse_window("full")).tolist() == [0, 128, 255, 255]
    # lung W1500 L-600: -1350 -> 0, 150 -> 255; HU -1000 is (−1000+1350)/1500*255 = 59.5 -> 60 (round half to even: 60)
    assert unit_to_grey(np.array([-1.0], np.float32), (-1000.0, 2000.0), parse_window("lung")).tolist() == [60]


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (9, 1), (128, 128), (128, 1152), (300, 257), (1100, 300)])
def test_png_writer_round_trips_every_byte(shape: tuple[int, int]) -> None:
    """Our writer (average filter, zlib RLE), read back by Pillow: noise, flat, ramps wrapping at 255, a strided view."""
    rng = np.random.default_rng(sum(shape))
    images = [
        rng.integers(0, 256, shape, dtype=np.uint8),
        np.full(shape, 255, np.uint8),
        (np.arange(shape[0] * shape[1]) * 37 % 256).astype(np.uint8).reshape(shape),
        np.asarray(rng.integers(0, 256, (shape[0] * 2, shape[1] * 3), dtype=np.uint8))[::2, ::3],
    ]
    for grey in images:
        data = png_bytes(grey)
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decompresses and checks every chunk's CRC
            assert image.mode == "L" and image.size == (shape[1], shape[0])
            assert np.array_equal(np.asarray(image), grey)
    for bad in (np.zeros((0, 4), np.uint8), np.zeros((4, 4), np.uint16), np.zeros((2, 2, 2), np.uint8)):
        with pytest.raises(InvalidInputError, match="PNG needs a non-empty 2-D uint8 image"):
            png_bytes(bad)


def test_png_scanlines_are_pinned_with_the_render_version() -> None:
    """A tripwire: strong ETags promise identical bytes, so a change to how PNGs are filtered must bump RENDER_VERSION.

    The decompressed IDAT (filter bytes and filtered rows) is pinned, not the deflate stream, which may differ
    between zlib builds without changing the image. (1100 x 300 also spans two filter blocks.)
    """
    grey = (np.arange(1100 * 300).reshape(1100, 300) * 7 % 256).astype(np.uint8)
    data = png_bytes(grey)
    chunks, pos = {}, 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks[data[pos + 4 : pos + 8]] = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    assert chunks[b"IHDR"] == struct.pack(">IIBBBBB", 300, 1100, 8, 0, 0, 0, 0)
    scanlines = hashlib.sha256(zlib.decompress(chunks[b"IDAT"])).hexdigest()
    assert (RENDER_VERSION, scanlines) == (2, PINNED_SCANLINES), "PNG bytes changed: bump RENDER_VERSION, re-pin"


def test_png_writer_is_no_larger_than_pillows_fast_level_on_a_ct_slice() -> None:
    """What the writer is for: a 128 px slice (body, lungs, noise) compresses at least as well as Pillow at level 1."""
    rng = np.random.default_rng(5)
    y, x = np.mgrid[:128, :128] / 128 - 0.5
    hu = np.where((x / 0.45) ** 2 + (y / 0.32) ** 2 < 1, 40.0, -1000.0)
    hu[((abs(x) - 0.18) / 0.14) ** 2 + (y / 0.22) ** 2 < 1] = -850.0
    grey = unit_to_grey(np.clip((hu + rng.normal(0, 20, hu.shape) - 500) / 1500, -1, 1), (-1000.0, 2000.0), parse_window("full"))
    pillow = io.BytesIO()
    Image.fromarray(grey).save(pillow, format="PNG", compress_level=1)
    assert len(png_bytes(grey)) <= len(pillow.getvalue())


def test_png_upscale_strip_gif_multipart() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    with Image.open(io.BytesIO(png_bytes(grey))) as image:
        assert image.mode == "L" and np.array_equal(np.asarray(image), grey)
    assert upscale(grey, 2).shape == (6, 8) and np.array_equal(upscale(grey, 2)[::2, ::2], grey)
    with pytest.raises(InvalidInputError, match="scale"):
        upscale(grey, 9)
    frames = np.stack([grey, grey + 100, grey + 200])
    assert strip(frames).shape == (3, 12) and np.array_equal(strip(frames)[:, 4:8], grey + 100)
    assert forth_and_back(3) == [0, 1, 2, 1] and forth_and_back(2) == [0, 1]
    with Image.open(io.BytesIO(gif_bytes(frames, fps=25))) as gif:
        assert gif.n_frames == 4 and gif.info["duration"] == 40
    chunks = list(multipart_chunks([b"A", b"B"]))
    assert chunks[0] == b"--frame\r\nContent-Type: image/png\r\n\r\nA\r\n--frame\r\nContent-Type: image/png\r\n\r\n"
    assert chunks[1] == b"B\r\n--frame--\r\n"
