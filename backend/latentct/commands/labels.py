"""CLI: `latentct annotators`, `latentct labels` and `latentct db` commands over the label store."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL of the label database; default: LATENTCT_DATABASE_URL, else var/labels.sqlite3.",
        show_default=False,
    ),
]


class ExportFormat(str, Enum):
    csv = "csv"
    json = "json"


def _open_store(database_url: str | None):  # type: ignore[no-untyped-def]
    """Store for the CLI: migrated now, so an unreachable database is one error line, not a later surprise."""
    from latentct.core.config import Settings
    from latentct.labels.store import open_label_store

    settings = Settings()  # type: ignore[call-arg]  # mypy lacks the pydantic plugin: see report
    if database_url is not None:
        settings = settings.model_copy(update={"database_url": database_url})
    store = open_label_store(settings, initialize=False)
    try:
        store.initialize()
    except BaseException:
        store.close()
        raise
    return store


annotators_app = typer.Typer(help="Manage annotators and their tokens.", no_args_is_help=True)
labels_app = typer.Typer(help="Export clinicians' labels.", no_args_is_help=True)
db_app = typer.Typer(help="Label database maintenance.", no_args_is_help=True)


@annotators_app.command("add")
def annotators_add(
    name: Annotated[str, typer.Argument(help="Display name of the annotator, e.g. 'Dr Jane Roe'.")],
    admin: Annotated[bool, typer.Option("--admin", help="Give the annotator the admin role.")] = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Add an annotator and print their token once (only its hash is stored)."""
    store = _open_store(database_url)
    try:
        annotator, token = store.create_annotator(name, "admin" if admin else "annotator")
    finally:
        store.close()
    print(
        f"added annotator {annotator.id} {annotator.name!r} ({annotator.role}); token, shown once:",
        file=sys.stderr,
    )
    print(token)


@annotators_app.command("list")
def annotators_list(database_url: DatabaseUrlOption = None) -> None:
    """List annotators (id, role, name; revoked ones marked). Tokens are never shown."""
    store = _open_store(database_url)
    try:
        annotators = store.list_annotators()
    finally:
        store.close()
    for annotator in annotators:
        revoked = "  (revoked)" if annotator.revoked else ""
        print(f"{annotator.id}\t{annotator.role}\t{annotator.name}{revoked}")


@annotators_app.command("revoke")
def annotators_revoke(
    annotator_id: Annotated[
        int, typer.Argument(help="Id of the annotator (see `latentct annotators list`).")
    ],
    database_url: DatabaseUrlOption = None,
) -> None:
    """Invalidate an annotator's token; their labels stay."""
    store = _open_store(database_url)
    try:
        annotator = store.revoke_annotator(annotator_id)
    finally:
        store.close()
    print(f"revoked annotator {annotator.id} {annotator.name!r}")


@labels_app.command("export")
def labels_export(
    out: Annotated[
        Path, typer.Option("--out", help="Output file; written atomically (temporary file, then rename).")
    ],
    export_format: Annotated[ExportFormat, typer.Option("--format", help="csv or json.")] = ExportFormat.csv,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Write every label event (history included, current ones flagged) to a CSV or JSON file."""
    from latentct.labels.export import export_labels_to_file

    store = _open_store(database_url)
    try:
        count = export_labels_to_file(store, export_format.value, out)
    finally:
        store.close()
    print(f"wrote {count} labels to {out}")


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrlOption = None) -> None:
    """Run pending migrations of the label database (idempotent; the server also does it at startup)."""
    from latentct.labels.db import current_revision

    store = _open_store(database_url)
    try:
        revision = current_revision(store.engine)
    finally:
        store.close()
    print(f"label database at revision {revision}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(annotators_app, name="annotators")
    app.add_typer(labels_app, name="labels")
    app.add_typer(db_app, name="db")
