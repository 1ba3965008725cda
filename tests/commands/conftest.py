"""Fixtures of the CLI tests: each command runs on what the tests of the package it drives build, so the fixtures are
imported from where they are defined (one definition each), not copied."""

from __future__ import annotations

from tests.api.conftest import models_dir
from tests.data.conftest import phantom_volume
from tests.discovery.conftest import tiny_models, tiny_probe_dir
from tests.labels.conftest import sqlite_url

__all__ = ["models_dir", "phantom_volume", "sqlite_url", "tiny_models", "tiny_probe_dir"]
