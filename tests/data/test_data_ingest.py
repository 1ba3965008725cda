"""Real-data import from inputs built here the way real sources look: DICOM trees, NIfTI, .npy."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import numpy as np
import pytest

from latentct.core.errors import DatasetError
from latentct.core.hu import hu_to_unit
from latentct.data.dataset import SliceDataset, read_dataset_meta
from latentct.data.ingest import import_source

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
DX_IMAGE = "1.2.840.10008.5.1.4.1.1.1.1"


def write_dicom(path: Path, pixels: np.ndarray, *, series: str, modality: str, z: float, image_type: list[str]) -> None:
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE if modality == "CT" else DX_IMAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID = "LIDC-IDRI-0001"
    ds.SeriesInstanceUID = series
    ds.Modality = modality
    ds.ImageType = image_type
    ds.ImagePositionPatient = [-160.0, -160.0, z]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [0.7, 0.7]
    ds.RescaleSlope = 1
    ds.RescaleIntercept = -1024
    stored = (pixels + 1024).astype(np.int16)
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.PixelData = stored.tobytes()
    ds.save_as(str(path), enforce_file_format=True)


def test_dicom_tree_keeps_the_ct_series_in_order(tmp_path: Path, phantom_volume: np.ndarray) -> None:
    # a misleading folder layout with random file names, files written in shuffled order
    root = tmp_path / "LIDC-IDRI" / "LIDC-IDRI-0001" / "01-01-2000-XR CHEST"
    root.mkdir(parents=True)
    ct_uid = "1.2.3.4.5.100"
    order = list(range(len(phantom_volume)))
    random.Random(0).shuffle(order)
    for k in order:  # z descends with k: the importer must sort by position, not by name or time
        write_dicom(
            root / f"{uuid.uuid4().hex}.dcm",
            phantom_volume[k],
            series=ct_uid,
            modality="CT",
            z=-50.0 - 2.5 * k,
            image_type=["ORIGINAL", "PRIMARY", "AXIAL"],
        )
    write_dicom(
        root / "scout.dcm",
        phantom_volume[0],
        series=ct_uid,
        modality="CT",
        z=0.0,
        image_type=["ORIGINAL", "PRIMARY", "LOCALIZER"],
    )
    xr = tmp_path / "LIDC-IDRI" / "LIDC-IDRI-0001" / "CT 1mm"
    xr.mkdir()
    for i in range(2):
        write_dicom(
            xr / f"{i}.dcm", phantom_volume[i], series="1.2.3.4.5.200", modality="DX", z=0.0, image_type=["ORIGINAL", "PRIMARY"]
        )
    (root / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00garbage" * 7)
    write_dicom(root / "cut", phantom_volume[0], series=ct_uid, modality="CT", z=99.0, image_type=["ORIGINAL"])
    (root / "cut").write_bytes((root / "cut").read_bytes()[:-300])  # truncated pixel data
    (root / "069.xml").write_text("<LidcReadMessage/>")

    out = tmp_path / "ds"
    report = import_source(tmp_path / "LIDC-IDRI", out, size=32, progress=False)
    assert report.slices == 6 and report.series_imported == 1
    assert report.skipped["localizer"] == 1 and report.skipped["modality DX"] == 2
    assert report.skipped["unreadable DICOM"] == 1 and report.skipped["not DICOM"] == 1
    assert report.skipped["unreadable pixel data"] == 1
    ds = SliceDataset(out, split="all")
    assert ds.factors["series"].tolist() == [ct_uid] * 6
    z = ds.factors["z"]
    assert np.all(np.diff(z) > 0)  # ascending along the slice normal
    expected = hu_to_unit(phantom_volume[::-1])  # highest k has the lowest z
    np.testing.assert_allclose(np.asarray(ds.slices), expected, atol=1e-6)
    meta = read_dataset_meta(out)
    assert meta["source"] == "dicom" and meta["counts"]["skipped_series"] == {"modality DX": 1}
    assert meta["split"]["train"] == ["LIDC-IDRI-0001"]


def test_dicom_resized_to_128_with_antialiasing(tmp_path: Path, phantom_volume: np.ndarray) -> None:
    big = np.kron(phantom_volume[2], np.ones((8, 8), np.float32))  # 256 px
    write_dicom(tmp_path / "a", big, series="9.9", modality="CT", z=1.0, image_type=["ORIGINAL"])
    import_source(tmp_path, tmp_path.parent / "resized", size=128, progress=False)
    ds = SliceDataset(tmp_path.parent / "resized", split="all")
    assert ds.image_size == 128
    assert np.asarray(ds.slices).min() >= -1 and np.asarray(ds.slices).max() <= 1


def test_nifti_volume(tmp_path: Path, phantom_volume: np.ndarray) -> None:
    import nibabel as nib

    # build RAS data so that the radiological display of slice k is phantom_volume[k]
    data = np.stack([s.T[::-1, ::-1] for s in phantom_volume], axis=2)
    nib.save(nib.Nifti1Image(data, np.diag([0.7, 0.7, 2.5, 1.0])), str(tmp_path / "case_01.nii.gz"))
    import_source(tmp_path / "case_01.nii.gz", tmp_path / "ds", size=32, progress=False)
    ds = SliceDataset(tmp_path / "ds", split="all")
    np.testing.assert_allclose(np.asarray(ds.slices), hu_to_unit(phantom_volume), atol=1e-6)
    assert ds.factors["patient"].tolist() == ["case_01"] * 6
    assert ds.factors["z"].tolist() == [2.5 * k for k in range(6)]


def test_npy_volumes_and_slices(tmp_path: Path, phantom_volume: np.ndarray) -> None:
    src = tmp_path / "src"
    (src / "patient_b").mkdir(parents=True)
    np.save(src / "patient_a.npy", phantom_volume[:3])
    for k in range(3):
        np.save(src / "patient_b" / f"slice_{k:03d}.npy", phantom_volume[3 + k])
    import_source(src, tmp_path / "ds", size=32, test_fraction=0.5, progress=False)
    ds = SliceDataset(tmp_path / "ds", split="all")
    assert ds.factors["patient"].tolist() == ["patient_a"] * 3 + ["patient_b"] * 3
    np.testing.assert_allclose(np.asarray(ds.slices), hu_to_unit(phantom_volume), atol=1e-6)
    train, test = SliceDataset(tmp_path / "ds", "train"), SliceDataset(tmp_path / "ds", "test")
    assert len(train) == 3 and len(test) == 3


def test_sources_without_ct(tmp_path: Path, phantom_volume: np.ndarray) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        import_source(tmp_path / "missing", tmp_path / "o1", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty"):
        import_source(tmp_path / "empty", tmp_path / "o2", progress=False)
    xr = tmp_path / "xr"
    xr.mkdir()
    write_dicom(xr / "1", phantom_volume[0], series="7.7", modality="CR", z=0, image_type=["ORIGINAL"])
    with pytest.raises(DatasetError, match=r"no CT series found.*modality CR 1"):
        import_source(xr, tmp_path / "o3", progress=False)
    assert not any(p.name.startswith(("o1", "o2", "o3", ".o")) for p in tmp_path.iterdir())
