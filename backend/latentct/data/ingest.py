"""Import real CT (DICOM trees such as LIDC-IDRI, NIfTI volumes, .npy HU slices or volumes) as a slice dataset.

Folder and file names are not trusted: every file under the source is looked at. DICOM files are grouped by
SeriesInstanceUID; only CT series are kept (LIDC also holds radiographs); localizers and unreadable files are
skipped and counted. Slices are ordered along the slice normal, converted to HU with RescaleSlope/Intercept,
padded to square with air and resized with Lanczos (antialiased) to the dataset size.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from latentct.core.errors import DatasetError
from latentct.core.hu import HU_RANGE, hu_to_unit

NIFTI_SUFFIXES = (".nii", ".nii.gz")
COLUMNS = ("patient", "series", "z")


@dataclass
class ImportReport:
    """What an import found and skipped; stored in dataset.json under counts / skipped."""

    files_seen: int = 0
    series_imported: int = 0
    slices: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    skipped_series: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        parts = [f"{self.slices} slices from {self.series_imported} series ({self.files_seen} files seen)"]
        if self.skipped:
            parts.append("skipped files: " + ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items())))
        if self.skipped_series:
            parts.append("skipped series: " + ", ".join(f"{k} {v}" for k, v in sorted(self.skipped_series.items())))
        return "; ".join(parts)


@dataclass
class _Series:
    patient: str
    uid: str
    files: list[tuple[float, Path, Any]] = field(default_factory=list)  # (position along normal, path, header)


def resize_hu(hu: np.ndarray, size: int) -> np.ndarray:
    """HU slice -> float32 [size, size]: pad to square with air (keeps the aspect), then Lanczos resampling."""
    hu = np.asarray(hu, dtype=np.float32)
    h, w = hu.shape
    if h != w:
        side = max(h, w)
        square = np.full((side, side), HU_RANGE[0], np.float32)
        top, left = (side - h) // 2, (side - w) // 2
        square[top : top + h, left : left + w] = hu
        hu = square
    if hu.shape[0] == size:
        return hu
    # clip before resampling so scanner padding values (e.g. -2048 outside the field of view) cannot ring inwards
    clipped = np.clip(hu, HU_RANGE[0], HU_RANGE[1])
    return np.asarray(Image.fromarray(clipped, mode="F").resize((size, size), Image.Resampling.LANCZOS), np.float32)


def _walk_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    found: list[Path] = []
    for root, dirs, files in os.walk(source):
        dirs.sort()
        found.extend(Path(root) / f for f in sorted(files) if not f.startswith("."))
    return found


def _is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES)


# ---------------------------------------------------------------------------------------------------------------
# DICOM


def _read_header(path: Path, report: ImportReport) -> Any | None:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # malformed values in odd files are reported as skipped, not warned
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        if "SeriesInstanceUID" not in ds or "Modality" not in ds:
            report.skipped["unreadable DICOM"] += 1  # a preamble but no usable image header
            return None
        return ds
    except InvalidDicomError:
        # files without the DICM preamble: tolerated only if they parse into something with a modality
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            if "Modality" in ds and "SeriesInstanceUID" in ds:
                return ds
        except Exception:
            pass
        key = "unreadable DICOM" if path.suffix.lower() == ".dcm" else "not DICOM"
        report.skipped[key] += 1
        return None
    except Exception:
        report.skipped["unreadable DICOM"] += 1
        return None


def _slice_position(ds: Any) -> float | None:
    try:
        orientation = np.array([float(v) for v in ds.ImageOrientationPatient], dtype=np.float64)
        position = np.array([float(v) for v in ds.ImagePositionPatient], dtype=np.float64)
    except (AttributeError, TypeError, ValueError):
        return None
    if orientation.shape != (6,) or position.shape != (3,):
        return None
    normal = np.cross(orientation[:3], orientation[3:])
    return float(np.dot(position, normal))


def _group_dicom(files: list[Path], report: ImportReport, progress: bool) -> list[_Series]:
    from tqdm import tqdm

    series: dict[str, _Series] = {}
    modality_of: dict[str, str] = {}
    for path in tqdm(files, disable=not progress, unit="file", desc="scan DICOM", leave=False):
        ds = _read_header(path, report)
        if ds is None:
            continue
        uid = str(getattr(ds, "SeriesInstanceUID", "") or "")
        if not uid:
            report.skipped["no SeriesInstanceUID"] += 1
            continue
        modality = str(getattr(ds, "Modality", "") or "").upper()
        modality_of.setdefault(uid, modality)
        if modality != "CT":
            report.skipped[f"modality {modality or 'unknown'}"] += 1
            continue
        image_type = [str(v).upper() for v in (getattr(ds, "ImageType", None) or [])]
        if "LOCALIZER" in image_type:
            report.skipped["localizer"] += 1
            continue
        position = _slice_position(ds)
        if position is None:
            report.skipped["no slice position"] += 1
            continue
        patient = str(getattr(ds, "PatientID", "") or uid)
        entry = series.setdefault(uid, _Series(patient=patient, uid=uid))
        entry.files.append((position, path, ds))
    for modality in modality_of.values():
        if modality != "CT":
            report.skipped_series[f"modality {modality or 'unknown'}"] += 1
    return [series[k] for k in sorted(series)]


def _dicom_hu(path: Path) -> np.ndarray:
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array.astype(np.float32)
    if pixels.ndim != 2:
        raise ValueError(f"expected one 2-D frame, got shape {pixels.shape}")
    slope = float(getattr(ds, "RescaleSlope", 1.0) or 1.0)
    intercept = float(getattr(ds, "RescaleIntercept", 0.0) or 0.0)
    return pixels * np.float32(slope) + np.float32(intercept)


def _iter_dicom(series: list[_Series], size: int, report: ImportReport, progress: bool) -> Iterator[tuple]:
    from tqdm import tqdm

    if not series:
        return
    total = sum(len(s.files) for s in series)
    bar = tqdm(total=total, disable=not progress, unit="slice", desc="import DICOM")
    for s in series:
        imported = 0
        for position, path, _header in sorted(s.files, key=lambda item: (item[0], str(item[1]))):
            bar.update(1)
            try:
                hu = _dicom_hu(path)
            except Exception:
                report.skipped["unreadable pixel data"] += 1
                continue
            imported += 1
            yield resize_hu(hu, size), {"patient": s.patient, "series": s.uid, "z": round(position, 4)}
        if imported:
            report.series_imported += 1
    bar.close()


# ---------------------------------------------------------------------------------------------------------------
# NIfTI and .npy


def _nifti_name(path: Path) -> str:
    name = path.name
    for suffix in NIFTI_SUFFIXES[::-1]:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _iter_nifti(path: Path, size: int, report: ImportReport) -> Iterator[tuple]:
    import nibabel as nib

    try:
        img = nib.as_closest_canonical(nib.load(str(path)))  # RAS+: axis 2 runs inferior -> superior
        data = np.asarray(img.dataobj, dtype=np.float32)
    except Exception:
        report.skipped["unreadable NIfTI"] += 1
        return
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        report.skipped["NIfTI not 3-D"] += 1
        return
    name = _nifti_name(path)
    affine = img.affine
    report.series_imported += 1
    for k in range(data.shape[2]):
        # radiological display: rows anterior -> posterior, columns patient right -> left
        hu = data[::-1, ::-1, k].T
        z = float((affine @ np.array([0.0, 0.0, k, 1.0]))[2])
        yield resize_hu(hu, size), {"patient": name, "series": name, "z": round(z, 4)}


def _iter_npy(paths: list[Path], source: Path, size: int, report: ImportReport) -> Iterator[tuple]:
    """3-D arrays are volumes [slices, H, W] (one series each); 2-D arrays in one folder form one series."""
    by_folder: dict[Path, list[Path]] = defaultdict(list)
    for path in paths:
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception:
            report.skipped["unreadable .npy"] += 1
            continue
        if arr.ndim == 3:
            name = _relative_name(path.with_suffix(""), source)
            report.series_imported += 1
            for k in range(arr.shape[0]):
                yield resize_hu(np.asarray(arr[k]), size), {"patient": name, "series": name, "z": float(k)}
        elif arr.ndim == 2:
            by_folder[path.parent].append(path)
        else:
            report.skipped[".npy not 2-D or 3-D"] += 1
    for folder, files in sorted(by_folder.items()):
        name = _relative_name(folder, source)
        report.series_imported += 1
        for k, path in enumerate(sorted(files)):
            yield resize_hu(np.load(path, allow_pickle=False), size), {"patient": name, "series": name, "z": float(k)}


def _relative_name(path: Path, source: Path) -> str:
    base = source if source.is_dir() else source.parent
    try:
        rel = path.relative_to(base).as_posix()
    except ValueError:
        rel = path.name
    return rel if rel not in ("", ".") else base.name


# ---------------------------------------------------------------------------------------------------------------
# Entry point


def import_source(
    source: Path | str,
    out: Path | str,
    size: int = 128,
    test_fraction: float = 0.1,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> ImportReport:
    """Import every CT slice found under `source` into a dataset at `out` (atomic). Raises DatasetError when the
    source is missing or holds no CT."""
    from latentct.data.dataset import DatasetWriter, split_patients

    source = Path(source)
    files = _source_files(source)
    report = ImportReport(files_seen=len(files))
    nifti = [p for p in files if _is_nifti(p)]
    npy = [p for p in files if p.suffix.lower() == ".npy"]
    other = [p for p in files if not _is_nifti(p) and p.suffix.lower() != ".npy"]  # DICOM whatever its name
    dicom_series = _scan_dicom(other, report, progress)
    if not nifti and not npy and not dicom_series:
        raise DatasetError(f"no CT series found under {str(source)!r} ({report.summary()})")

    def stream() -> Iterator[tuple]:
        yield from _iter_dicom(dicom_series, size, report, progress)
        for path in nifti:
            yield from _iter_nifti(path, size, report)
        yield from _iter_npy(npy, source, size, report)

    # Patients are known only once slices are read, but the split must be by patient: collect rows first.
    with DatasetWriter(out, size, COLUMNS, overwrite=overwrite) as writer:
        for hu, row in stream():
            writer.append(hu_to_unit(hu)[None].astype(np.float32), [row])
        report.slices = writer.count
        if writer.count == 0:
            raise DatasetError(f"no readable CT slices under {str(source)!r} ({report.summary()})")
        train, test = split_patients([r["patient"] for r in writer.rows], test_fraction, seed)
        kind = _source_kind(dicom_series, nifti, npy)
        writer.finish(_dataset_meta(source, kind, report, {"train": train, "test": test}, seed, test_fraction))
    return report


def _source_files(source: Path) -> list[Path]:
    """Every file under `source`; a missing or empty source is an error."""
    if not source.exists():
        raise DatasetError(f"source {str(source)!r} does not exist")
    files = _walk_files(source)
    if not files:
        raise DatasetError(f"source {str(source)!r} is empty: no files to import")
    return files


def _scan_dicom(files: list[Path], report: ImportReport, progress: bool) -> list[_Series]:
    """The CT series among `files`, with pydicom's logging quietened for the scan."""
    pydicom_log = logging.getLogger("pydicom")
    level = pydicom_log.level
    pydicom_log.setLevel(logging.ERROR)  # per-file complaints are counted in the report instead
    try:
        return _group_dicom(files, report, progress) if files else []
    finally:
        pydicom_log.setLevel(level)


def _dataset_meta(
    source: Path, kind: str, report: ImportReport, split: dict[str, list[str]], seed: int, test_fraction: float
) -> dict[str, Any]:
    """What dataset.json records about an import: where from, the patient split, and what was found and skipped."""
    return {
        "source": kind,
        "source_detail": {"path": str(source.resolve()), "summary": report.summary()},
        "patient_column": "patient",
        "split": split,
        "counts": {
            "series": report.series_imported,
            "files_seen": report.files_seen,
            "skipped_files": dict(sorted(report.skipped.items())),
            "skipped_series": dict(sorted(report.skipped_series.items())),
        },
        "split_seed": seed,
        "test_fraction": test_fraction,
    }


def _source_kind(dicom: list[_Series], nifti: list[Path], npy: list[Path]) -> str:
    kinds = [k for k, present in (("dicom", dicom), ("nifti", nifti), ("npy", npy)) if present]
    return "+".join(kinds)
