"""Argument checks shared by the network constructors: a bad value raises ValueError naming it."""

from __future__ import annotations


def check_image_size(image_size: int, minimum: int = 8, maximum: int = 1024) -> int:
    if not isinstance(image_size, int) or image_size < minimum or image_size > maximum or image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of two in {minimum}..{maximum}, got {image_size!r}")
    return image_size


def check_positive(name: str, value: int, maximum: int = 4096) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1 or value > maximum:
        raise ValueError(f"{name} must be an integer in 1..{maximum}, got {value!r}")
    return value


def log2(value: int) -> int:
    return value.bit_length() - 1
