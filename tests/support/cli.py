"""`latentct ARGS` run in this process through the console script's entry point (its error handling included)."""

from __future__ import annotations

import sys

import pytest


def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    """Run `latentct ARGS` through `latentct.cli.main`; returns (exit code, stdout, stderr)."""
    from latentct.cli import main

    monkeypatch.setattr(sys, "argv", ["latentct", *args])
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err
