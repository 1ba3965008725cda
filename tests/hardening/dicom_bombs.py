"""DICOM files built with pydicom: legitimate slices (uncompressed, RLE, deflated) and decompression bombs.

Each bomb is small on disk and declares, or inflates to, far more than one slice; a server that decodes before it
checks allocates what the bytes say. Used by tests/hardening/test_bombs.py, tests/rendering/test_uploads.py and
bench/bench_fuzz.py.
"""

from __future__ import annotations

import io
import os
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import dcmwrite, write_dataset, write_file_meta_info
from pydicom.uid import (
    UID,
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

from tests.support.serverproc import ServerProcess

MIB = 1 << 20
PIXEL_DATA_OW = b"\xe0\x7f\x10\x00OW\x00\x00"  # (7FE0,0010) OW in explicit VR little endian, before its length
REPEAT_128 = b"\x81"  # PackBits control byte: repeat the next byte 257 - 0x81 = 128 times


def thorax_hu(size: int) -> np.ndarray:
    """A crude axial slice in HU (air, body, two lungs, spine): compresses the way CT does under RLE."""
    y, x = np.mgrid[:size, :size] / size - 0.5
    hu = np.full((size, size), -1000.0, np.float32)
    hu[(x / 0.45) ** 2 + (y / 0.32) ** 2 < 1] = 40.0
    for cx in (-0.18, 0.18):
        hu[((x - cx) / 0.14) ** 2 + (y / 0.22) ** 2 < 1] = -850.0
    hu[(x**2 + (y - 0.2) ** 2) < 0.004] = 700.0
    return hu + np.arange(size, dtype=np.float32)[None, :] % 7  # a little texture: runs of every length


def _file_meta(syntax: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = UID(syntax)
    return meta


def _header(rows: int, columns: int, bits: int = 16, samples: int = 1, frames: int | None = None) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, generate_uid(), "CT"
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = "MONOCHROME2" if samples == 1 else "RGB"
    if samples > 1:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 1
    if frames is not None:
        ds.NumberOfFrames = frames
    ds.RescaleSlope, ds.RescaleIntercept = 1.0, -1024.0
    return ds


def _save(ds: Dataset, syntax: str) -> bytes:
    """The dataset as a Part 10 file (preamble, DICM, file meta) in `syntax`, written as is (no re-encoding)."""
    file_ds = FileDataset("slice.dcm", ds, file_meta=_file_meta(syntax), preamble=b"\0" * 128)
    buffer = io.BytesIO()
    file_ds.save_as(buffer, enforce_file_format=False)
    return buffer.getvalue()


def slice_file(hu: np.ndarray, syntax: str = ExplicitVRLittleEndian) -> bytes:
    """A legitimate CT slice (int16, HU = stored - 1024) in an uncompressed (either endianness), RLE or deflated syntax."""
    rows, columns = hu.shape
    ds = _header(rows, columns)
    ds.PixelData = np.round(hu + 1024).astype(np.int16).tobytes()
    if syntax == RLELossless:
        file_ds = FileDataset("slice.dcm", ds, file_meta=_file_meta(ExplicitVRLittleEndian), preamble=b"\0" * 128)
        file_ds.compress(RLELossless, encoding_plugin="pydicom")
        buffer = io.BytesIO()
        file_ds.save_as(buffer, enforce_file_format=True)
        return buffer.getvalue()
    if syntax == DeflatedExplicitVRLittleEndian:
        return _deflated(ds, b"")  # pydicom deflates what it writes
    if syntax == ExplicitVRBigEndian:
        ds.PixelData = np.round(hu + 1024).astype(">i2").tobytes()
        file_ds = FileDataset("slice.dcm", ds, file_meta=_file_meta(syntax), preamble=b"\0" * 128)
        buffer = io.BytesIO()
        dcmwrite(buffer, file_ds, little_endian=False, implicit_vr=False, force_encoding=True)
        return buffer.getvalue()
    return _save(ds, syntax)


def bare_slice_dataset(hu: np.ndarray) -> bytes:
    """The dataset of `slice_file` alone, in Explicit VR Little Endian: no preamble, no DICM, no file meta."""
    ds = _header(*hu.shape)
    ds.PixelData = np.round(hu + 1024).astype(np.int16).tobytes()
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    return bytes(body.getvalue())


def _rle_frame(segments: list[bytes]) -> bytes:
    """An RLE frame: the 64-byte header (segment count, 15 offsets) and the segments."""
    offsets, at = [], 64
    for segment in segments:
        offsets.append(at)
        at += len(segment)
    return struct.pack("<16I", len(segments), *offsets, *[0] * (15 - len(segments))) + b"".join(segments)


def rle_file(rows: int, columns: int, segments: list[bytes], frames: int | None = None, **header: int) -> bytes:
    """An RLE Lossless file whose header says what the caller likes and whose pixel data is the given segments."""
    ds = _header(rows, columns, frames=frames, **header)
    frame = _rle_frame(segments)
    ds.PixelData = encapsulate([frame] * min(frames or 1, 8))  # a few frames; a decoder allocates for all it is told
    ds["PixelData"].VR = "OB"
    return _save(ds, RLELossless)


def _deflated(ds: Dataset, pixel_zeros_header: bytes, zero_bytes: int = 0) -> bytes:
    """Preamble, DICM, file meta (deflated syntax), then the deflated dataset: `ds`, plus `zero_bytes` of zeros after
    `pixel_zeros_header`, compressed chunk by chunk so that the test never holds the inflated dataset."""
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    meta = DicomBytesIO()
    meta.is_little_endian, meta.is_implicit_VR = True, False
    write_file_meta_info(meta, _file_meta(DeflatedExplicitVRLittleEndian), enforce_standard=True)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts = [compressor.compress(body.getvalue() + pixel_zeros_header)]
    zeros = bytes(min(MIB, zero_bytes))
    for start in range(0, zero_bytes, len(zeros) or 1):
        parts.append(compressor.compress(zeros[: zero_bytes - start]))
    parts.append(compressor.flush())
    return b"\0" * 128 + b"DICM" + meta.getvalue() + b"".join(parts)


def deflate_bomb(inflated_mib: int = 256, side: int = 512, bits: int = 16) -> bytes:
    """A slice header, then PixelData of `inflated_mib` MiB of zeros: about 1 KB on disk per MiB inflated."""
    length = inflated_mib * MIB
    return _deflated(_header(side, side, bits=bits), PIXEL_DATA_OW + struct.pack("<I", length), length)


def deflate_zeros(inflated_mib: int = 256) -> bytes:
    """Deflated zeros where the dataset should be: no header at all, only inflation."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(MIB)
    data = b"".join(compressor.compress(zeros) for _ in range(inflated_mib)) + compressor.flush()
    meta = DicomBytesIO()
    meta.is_little_endian, meta.is_implicit_VR = True, False
    write_file_meta_info(meta, _file_meta(DeflatedExplicitVRLittleEndian), enforce_standard=True)
    return b"\0" * 128 + b"DICM" + meta.getvalue() + data


def rle_run_bomb(segment_mib: int = 3) -> bytes:
    """A legal 512 x 512 16-bit header whose two RLE segments each decode to 64 x their size (128 bytes per 2)."""
    segment = (REPEAT_128 + b"\x00") * (segment_mib * MIB // 2)
    return rle_file(512, 512, [segment, segment])


def _tiny_segments(count: int) -> list[bytes]:
    return [REPEAT_128 + b"\x00"] * count


# name -> (builder, status): every bomb the server must refuse before it decodes, and the status it must answer
BOMBS: dict[str, tuple[Callable[[], bytes], int]] = {
    "rle-32768x32768": (lambda: rle_file(32768, 32768, _tiny_segments(2)), 400),
    "rle-65535x65535-rgb": (lambda: rle_file(65535, 65535, _tiny_segments(6), samples=3), 400),
    "rle-1000-frames": (lambda: rle_file(512, 512, _tiny_segments(2), frames=1000), 400),
    "rle-4096-rgb": (lambda: rle_file(4096, 4096, _tiny_segments(6), samples=3), 400),
    "rle-4096-64bit": (lambda: rle_file(4096, 4096, _tiny_segments(8), bits=64), 400),
    "rle-runs-64x": (rle_run_bomb, 400),
    "deflate-256mib": (deflate_bomb, 400),
    "deflate-256mib-4096-32bit": (lambda: deflate_bomb(side=4096, bits=32), 400),
    "deflate-zeros-256mib": (deflate_zeros, 400),
    "jpeg-4096": (lambda: _save(_jpeg_header(), JPEGBaseline8Bit), 415),
}


def _jpeg_header() -> Dataset:
    ds = _header(4096, 4096, bits=8)
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xd9"])  # a codec would trust the sizes in the JPEG stream itself
    ds["PixelData"].VR = "OB"
    return ds


@dataclass(frozen=True)
class UploadAnswer:
    """How a server answered one upload: status, wall time, peak RSS over its RSS before, CPU time it spent."""

    name: str
    size_bytes: int
    status: int
    seconds: float
    rss_growth_mib: float
    cpu_seconds: float
    detail: str


def reset_peak_rss(pid: int) -> bool:
    """Set the process's VmHWM (peak RSS) back to its current RSS (Linux clear_refs 5); False where not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the whole process (all threads) from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def send_upload(server: ServerProcess, client: httpx.Client, name: str, data: bytes, model: str = "tiny-vae") -> UploadAnswer:
    """POST `data` to /encode and measure the answer; the peak RSS is reset first so that the growth is this upload's."""
    if not reset_peak_rss(server.pid):
        raise RuntimeError(f"cannot reset the peak RSS of process {server.pid} (/proc/<pid>/clear_refs)")
    rss_before, cpu_before = server.rss_kib(), cpu_seconds(server.pid)
    start = time.perf_counter()
    response = client.post(f"/api/models/{model}/encode", files={"file": (f"{name}.dcm", data, "application/dicom")})
    seconds = time.perf_counter() - start
    growth_mib = (server.proc_status("VmHWM") - rss_before) / 1024
    detail = str(response.json().get("detail", "")) if response.headers.get("content-type") == "application/json" else ""
    return UploadAnswer(name, len(data), response.status_code, seconds, growth_mib, cpu_seconds(server.pid) - cpu_before, detail)
