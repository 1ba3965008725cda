"""CLI: `latentct study create` and `latentct study results`: blinded reader studies over the label store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from latentct.commands.labels import DatabaseUrlOption, _open_store

if TYPE_CHECKING:
    from latentct.artifacts.cards import Scorecard

study_app = typer.Typer(help="Blinded reader studies: several direction sets, shown to annotators unnamed.",
                        no_args_is_help=True)

ModelsDirOption = Annotated[
    Path, typer.Option("--models-dir", help="Folder of the model folders (as `latentct serve` uses).")
]


class FolderCatalog:
    """DirectionCatalog over model folders on disk: the same identities the server computes when it loads them."""

    def __init__(self, models_dir: Path) -> None:
        self.models_dir = models_dir

    def direction_set_identity(self, model_id: str, set_id: str) -> Any:
        from latentct.artifacts.catalog import SetIdentity
        from latentct.artifacts.directions import load_direction_set
        from latentct.artifacts.models import load_model_card, validate_id
        from latentct.core.errors import NotFoundError

        model_dir = self.models_dir / validate_id("model id", model_id)
        if not (model_dir / "model.json").is_file():
            raise NotFoundError(f"model {model_id!r} does not exist in {self.models_dir}")
        card = load_model_card(model_dir)
        direction_set = load_direction_set(model_dir, validate_id("set id", set_id), card)
        return SetIdentity(
            model_id=model_id,
            model_checksum=card.generator_checksum,
            set_id=set_id,
            set_checksum=direction_set.checksum,
            count=direction_set.count,
        )


def _bootstrap_admin(store: Any) -> Any:
    """The CLI acts as the first admin (whoever runs it can open the database), created if need be."""
    admins = [a for a in store.list_annotators() if a.is_admin and not a.revoked]
    if admins:
        return admins[0]
    admin, _token = store.create_annotator("admin (CLI)", "admin")
    return admin


@study_app.command("create")
def study_create(
    model: Annotated[str, typer.Option("--model", help="Model id, e.g. phantom-dcgan.")],
    sets: Annotated[str, typer.Option("--sets", help="Comma-separated direction set ids, at least two.")],
    name: Annotated[str, typer.Option("--name", help="Shown to annotators; must not name a set.")] = "",
    directions_per_set: Annotated[
        int | None, typer.Option("--directions-per-set", help="The first K directions of each set (default: all).")
    ] = None,
    models_dir: ModelsDirOption = Path("models"),
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create a study; prints its id (stdout) and its sets (stderr)."""
    from latentct.labels.studies import StudyStore

    catalog = FolderCatalog(models_dir)
    set_ids = [part.strip() for part in sets.split(",") if part.strip()]
    identities = [catalog.direction_set_identity(model, set_id) for set_id in set_ids]
    store = _open_store(database_url)
    try:
        detail = StudyStore(store).create(_bootstrap_admin(store), identities, name, directions_per_set)
    finally:
        store.close()
    parts = ", ".join(f"{s.set_id} ({s.directions})" for s in detail.sets)
    print(f"created study {detail.id} {detail.name!r} of {detail.model_id}: {parts}", file=sys.stderr)
    print(detail.id)


@study_app.command("results")
def study_results_command(
    study_id: Annotated[int, typer.Argument(help="Study id.", min=1)],
    out: Annotated[Path, typer.Option("--out", help="Folder for study-<id>-results.csv and .png.")],
    models_dir: ModelsDirOption = Path("models"),
    database_url: DatabaseUrlOption = None,
) -> None:
    """Write the results per method as CSV and a PNG figure (each to a temporary file, then renamed)."""
    from latentct.artifacts.directions import load_scorecard
    from latentct.core.errors import NotFoundError
    from latentct.labels.studies import StudyStore
    from latentct.labels.study_results import study_results, write_results

    store = _open_store(database_url)
    try:
        studies = StudyStore(store)
        detail = studies.detail(study_id)
        items, answers = studies.items(study_id), studies.answers(study_id)
    finally:
        store.close()
    try:
        scorecard: Scorecard | None = load_scorecard(models_dir / detail.model_id)
    except NotFoundError:
        scorecard = None
        print(f"note: {detail.model_id} has no scorecard in {models_dir}; the match column stays empty", file=sys.stderr)
    rows = study_results(detail, items, answers, scorecard)
    for path in write_results(out, detail.id, detail.name, rows):
        print(path)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(study_app, name="study")
