"""CLI: `latentct data` commands: make the phantom dataset, import real CT, draw a contact sheet."""

from __future__ import annotations

from pathlib import Path

import typer

from latentct.core.errors import InvalidInputError

data_app = typer.Typer(
    help="Datasets of axial CT slices: the procedural thorax phantom, real CT import, preview sheets.",
    no_args_is_help=True,
)


def _check_count(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise InvalidInputError(f"{name} {value} must be between {low} and {high}")


@data_app.command("phantom")
def phantom(
    out: Path = typer.Option(..., "--out", help="Dataset directory to create (must not exist unless --overwrite)."),
    patients: int = typer.Option(200, "--patients", help="Number of random patients (>= 1)."),
    slices_per_patient: int = typer.Option(
        32, "--slices-per-patient", help="Slices per patient, at random z between lung apex and upper abdomen."
    ),
    size: int = typer.Option(128, "--size", help="Image size in px: a power of two from 16 to 512."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same dataset, bit for bit."),
    test_fraction: float = typer.Option(0.1, "--test-fraction", help="Fraction of patients held out as test."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing dataset at --out."),
) -> None:
    """Write a dataset of phantom slices with their factors (z_position, rotation, breast size, fat, body width,
    offsets, noise, patient id)."""
    from latentct.data.dataset import check_image_size, split_patients
    from latentct.data.phantom import generate_dataset

    check_image_size(size)
    _check_count("--patients", patients, 1, 1_000_000)
    _check_count("--slices-per-patient", slices_per_patient, 1, 10_000)
    split_patients(["a"], test_fraction, seed)  # validates the fraction before any work
    path = generate_dataset(
        out, patients, slices_per_patient, size=size, seed=seed, test_fraction=test_fraction, overwrite=overwrite
    )
    typer.echo(f"wrote {patients * slices_per_patient} slices of {patients} patients to {path}")


@data_app.command("import")
def import_(
    source: Path = typer.Argument(..., help="DICOM tree (e.g. LIDC-IDRI from TCIA), NIfTI file/folder, or .npy HU."),
    out: Path = typer.Option(..., "--out", help="Dataset directory to create (must not exist unless --overwrite)."),
    size: int = typer.Option(128, "--size", help="Image size in px: a power of two from 16 to 512."),
    test_fraction: float = typer.Option(0.1, "--test-fraction", help="Fraction of patients held out as test."),
    seed: int = typer.Option(0, "--seed", help="Seed of the train/test split by patient."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing dataset at --out."),
) -> None:
    """Import real CT: CT series only (radiographs, localizers and unreadable files are skipped and counted),
    slices sorted along the slice normal, HU clipped to [-1000, 2000], resized with Lanczos."""
    from latentct.data.dataset import check_image_size, split_patients
    from latentct.data.ingest import import_source

    check_image_size(size)
    split_patients(["a"], test_fraction, seed)
    report = import_source(source, out, size=size, test_fraction=test_fraction, seed=seed, overwrite=overwrite)
    typer.echo(f"wrote {out}: {report.summary()}")


@data_app.command("preview")
def preview(
    dataset: Path = typer.Argument(..., help="Dataset directory (from `data phantom` or `data import`)."),
    out: Path = typer.Option(..., "--out", help="PNG file to write."),
    count: int = typer.Option(24, "--count", help="Number of slices on the sheet (1..400)."),
) -> None:
    """Draw a contact sheet: slices with their factors as captions, and a histogram of every factor."""
    from latentct.data.preview import draw_preview

    path = draw_preview(dataset, out, count=count)
    typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the `data` sub-app to the main app."""
    app.add_typer(data_app, name="data")
