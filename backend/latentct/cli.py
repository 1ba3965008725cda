"""The one command line, `latentct`: each job is a subcommand registered by its module in `commands/`."""

from __future__ import annotations

import os
import sys

import typer

from latentct.core.errors import LatentCTError

app = typer.Typer(
    name="latentct",
    help=(
        "LatentCT: train generative models of thoracic CT, discover interpretable latent directions, "
        "serve traversals and collect clinicians' labels. Research only, not for clinical use."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    from latentct.commands import data, discover, labels, models, nearest, serve, study, train, volume

    for module in (data, train, models, discover, serve, labels, volume, study, nearest):
        module.register(app)


_register_commands()


def main() -> None:
    """Run the CLI; domain errors print one line and exit 2, anything unexpected one line and exit 1."""
    try:
        app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except LatentCTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:  # usage errors of click (or typer's vendored click) and anything unexpected
        if _is_usage_error(exc):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(getattr(exc, "exit_code", 2))
        if os.environ.get("LATENTCT_DEBUG"):
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc} (set LATENTCT_DEBUG=1 for a traceback)", file=sys.stderr)
        sys.exit(1)


def _is_usage_error(exc: BaseException) -> bool:
    """True for click's ClickException, whether from click itself or the copy typer >= 0.29 vendors."""
    import click

    bases: list[type] = [click.exceptions.ClickException]
    try:
        from typer._click import exceptions as vendored  # type: ignore[import-not-found]

        bases.append(vendored.ClickException)
    except ImportError:
        pass
    return isinstance(exc, tuple(bases))

if __name__ == "__main__":
    main()
