"""Settings read from LATENTCT_* environment variables, checked when built, and the label database URL they imply."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from latentct.core.config import REPO_ROOT, Settings, default_models_dir


@pytest.fixture(autouse=True)
def no_caller_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' own environment: no LATENTCT_* of whoever runs them."""
    for name in [n for n in os.environ if n.startswith("LATENTCT_")]:
        monkeypatch.delenv(name)


def test_environment_variables_are_read_when_built(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LATENTCT_PORT", "8123")
    monkeypatch.setenv("LATENTCT_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("LATENTCT_CORS_ORIGINS", '["https://a.example"]')
    monkeypatch.setenv("LATENTCT_ACCESS_LOG", "true")
    settings = Settings()
    assert settings.port == 8123 and settings.models_dir == tmp_path / "models"
    assert settings.cors_origins == ["https://a.example"] and settings.access_log is True
    monkeypatch.setenv("LATENTCT_PORT", "8124")
    assert Settings().port == 8124 and settings.port == 8123  # read per build, never cached at import
    assert Settings(port=9000).port == 9000  # an argument wins over the environment


@pytest.mark.parametrize(("name", "value"), [("port", 0), ("workers", 65), ("device", "tpu"), ("cpu_threads", -1),
                                             ("max_upload_bytes", 10), ("half_precision", "maybe")])
def test_out_of_range_values_are_refused_naming_the_field(name: str, value: object) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings(**{name: value})


def test_an_out_of_range_environment_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATENTCT_QUEUE_SIZE", "0")
    with pytest.raises(ValidationError, match="queue_size"):
        Settings()


def test_the_label_database_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    assert settings.resolved_database_url() == f"sqlite:///{(tmp_path / 'var' / 'labels.sqlite3').resolve()}"
    url = "postgresql+psycopg://labels@db:5432/labels"
    assert Settings(data_dir=tmp_path, database_url=url).resolved_database_url() == url


def test_the_default_models_dir_is_the_shipped_one_in_a_checkout() -> None:
    shipped = REPO_ROOT / "models"
    assert default_models_dir() == (shipped if shipped.is_dir() else Path("models"))
    assert Settings().models_dir == default_models_dir()
