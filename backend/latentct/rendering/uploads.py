"""Uploaded slices -> HU: a DICOM file (RescaleSlope/Intercept), an 8- or 16-bit PNG, or an .npy of HU values.

The format is recognised by its bytes (PNG and NumPy signatures, the DICOM preamble), the file name only helps for
DICOM files written without a preamble. Conventions for PNG, which carries no HU of its own:
- 8-bit: grey 0..255 maps linearly onto the model's hu_range (the inverse of `window=full`, so an image.png from this
  server comes back as what it showed);
- 16-bit: value = HU + 32768 (the DeepLesion convention), so 0..65535 covers -32768..32767 HU.

A DICOM header is checked before any pixel is decoded (one frame, one sample, 8/16/32 bits, sides 8..4096 px, a
transfer syntax from ACCEPTED_SYNTAXES); RLE is decoded and deflate inflated here, each capped by that header. Error
messages name the value and what is allowed; a parser's own complaint reaches the client without paths or reprs.
"""

from __future__ import annotations

import io
import logging
import warnings
import zlib
from itertools import pairwise
from typing import Any

import numpy as np
from PIL import Image

from latentct.rendering.errors import (
    CorruptUploadError,
    EmptyUploadError,
    UnsupportedUploadError,
    UploadError,
    public_detail,
)

log = logging.getLogger(__name__)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NPY_SIGNATURE = b"\x93NUMPY"
DICOM_MAGIC_OFFSET = 128
PNG16_HU_OFFSET = 32768
MIN_SIDE_PX = 8
MAX_SIDE_PX = 4096
MAX_ABS_HU = 100_000.0
FORMATS_HELP = "send one slice as DICOM (.dcm), PNG (8 or 16 bit) or .npy of HU values"

# DICOM transfer syntaxes taken. The other compressed ones need codecs (Pillow, pylibjpeg, GDCM) that trust the sizes in
# their own headers; RLE is decoded and deflate inflated here, under caps from the checked DICOM header.
IMPLICIT_LE_SYNTAX = "1.2.840.10008.1.2"
EXPLICIT_LE_SYNTAX = "1.2.840.10008.1.2.1"
EXPLICIT_BE_SYNTAX = "1.2.840.10008.1.2.2"
DEFLATED_SYNTAX = "1.2.840.10008.1.2.1.99"
RLE_SYNTAX = "1.2.840.10008.1.2.5"
ACCEPTED_SYNTAXES = (IMPLICIT_LE_SYNTAX, EXPLICIT_LE_SYNTAX, EXPLICIT_BE_SYNTAX, DEFLATED_SYNTAX, RLE_SYNTAX)
DICOM_SYNTAX_HELP = (
    "send it uncompressed (Implicit or Explicit VR Little Endian, Explicit VR Big Endian), "
    "Deflated Explicit VR Little Endian or RLE Lossless"
)
DICOM_BITS_ALLOCATED = (8, 16, 32)
PIXEL_DATA_TAG = 0x7FE00010
PIXEL_DATA_TAG_LE = b"\xe0\x7f\x10\x00"
PIXEL_DATA_ELEMENT_HEADER = 12  # explicit VR OB/OW: tag 4, VR 2, reserved 2, length 4
# Of an inflated dataset before its pixel data: pydicom took 0.7 s to parse 1 MiB of 8-byte elements (2 busy cores).
DEFLATE_HEADER_BYTES = 1 << 20
# Inflated in all: what an uncompressed upload may hold (16 MiB by default) and a header; inflating it takes 0.1-0.4 s.
# Larger slices (up to 4096 x 4096 x 32 bits) come as RLE, decoded under the cap of their header.
DEFLATE_MAX_INFLATED_BYTES = (16 << 20) + DEFLATE_HEADER_BYTES
DEFLATE_TRAILER_BYTES = 64 << 10  # elements after the pixel data (padding, signatures)
RLE_HEADER_BYTES = 64
RLE_SEGMENT_SLACK_BYTES = 8  # encoded bytes allowed after a segment's full plane (even-length padding, a stray run)


def detect_format(data: bytes, filename: str | None) -> str:
    """'png' | 'npy' | 'dicom'; raises UnsupportedUploadError for anything else."""
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(NPY_SIGNATURE):
        return "npy"
    if data[DICOM_MAGIC_OFFSET : DICOM_MAGIC_OFFSET + 4] == b"DICM":
        return "dicom"
    if (filename or "").lower().endswith((".dcm", ".dicom")):
        return "dicom"
    name = filename or "(unnamed)"
    raise UnsupportedUploadError(
        f"file {name!r} ({len(data)} bytes, {_describe_start(data)}) is not a supported image; {FORMATS_HELP}"
    )


def _describe_start(data: bytes, count: int = 8) -> str:
    """The first bytes of an upload in words a reader can check: as text when they are printable, else in hex."""
    head = data[:count]
    if head and all(32 <= b < 127 for b in head):
        text = head.decode("ascii").replace('"', "'")
        return f'it starts with the text "{text}"'
    return f"its first bytes are {head.hex(' ')} (hex)" if head else "it is empty"


def _reason(exc: BaseException) -> str:
    """A parser's complaint fit for the client: no paths, no reprs with heap addresses; the whole of it goes to the log."""
    log.info("upload refused: %s: %s", type(exc).__name__, exc)
    return public_detail(str(exc)) or type(exc).__name__


def _checked_slice(pixels: np.ndarray, source: str) -> np.ndarray:
    """A 2-D finite float32 HU slice of a sensible size (a single-frame 3-D array is squeezed)."""
    if pixels.ndim == 3 and 1 in (pixels.shape[0], pixels.shape[-1]):
        pixels = pixels.reshape([s for s in pixels.shape if s != 1] or [1])
    if pixels.ndim != 2:
        raise CorruptUploadError(f"{source}: expected one 2-D slice, got an array of shape {list(pixels.shape)}")
    h, w = pixels.shape
    if min(h, w) < MIN_SIDE_PX or max(h, w) > MAX_SIDE_PX:
        raise CorruptUploadError(f"{source}: slice of {h}x{w} px; each side must be {MIN_SIDE_PX}..{MAX_SIDE_PX} px")
    hu = np.asarray(pixels, dtype=np.float32)  # no copy when it is float32 already
    if not np.isfinite(hu).all():
        raise CorruptUploadError(f"{source}: contains non-finite values (nan or inf)")
    largest = max(float(hu.max()), -float(hu.min()))  # not np.abs(hu): another copy of the slice
    if largest > MAX_ABS_HU:
        raise CorruptUploadError(f"{source}: values up to {largest:g}; HU must stay within +-{MAX_ABS_HU:g}")
    return hu


def _png_hu(data: bytes, hu_range: tuple[float, float]) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as image:
            w, h = image.size
            if max(w, h) > MAX_SIDE_PX:  # checked before decoding: a small file can declare a huge image
                raise CorruptUploadError(f"PNG of {w}x{h} px; each side must be {MIN_SIDE_PX}..{MAX_SIDE_PX} px")
            mode = image.mode
            image.load()
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                values = np.asarray(image, dtype=np.float64)
                return _checked_slice(values - PNG16_HU_OFFSET, "16-bit PNG")
            grey = np.asarray(image.convert("L"), dtype=np.float32)  # 8-bit grey; colour via ITU-R 601 luma
    except CorruptUploadError:
        raise
    except Exception as exc:  # untrusted bytes through Pillow's decoders: any failure is a corrupt upload
        raise CorruptUploadError(f"the PNG cannot be decoded ({_reason(exc)})") from None
    lo, hi = hu_range
    return _checked_slice(lo + grey / 255.0 * (hi - lo), f"8-bit PNG ({mode})")


def _npy_header(buffer: io.BytesIO) -> tuple[tuple[int, ...], np.dtype[Any]]:
    version = np.lib.format.read_magic(buffer)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(buffer)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(buffer)
    return shape, dtype


def _npy_hu(data: bytes) -> np.ndarray:
    try:
        shape, dtype = _npy_header(io.BytesIO(data))
        # numpy allocates the declared shape before reading: check it against what was actually sent
        if dtype.hasobject or int(np.prod(shape, dtype=np.float64)) * max(dtype.itemsize, 1) > len(data):
            raise CorruptUploadError(f"the .npy header declares {list(shape)} {dtype} but the file is {len(data)} bytes")
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except CorruptUploadError:
        raise
    except Exception as exc:  # untrusted bytes through numpy's parser: any failure is a corrupt upload
        raise CorruptUploadError(f"the .npy file cannot be read ({_reason(exc)})") from None
    if not isinstance(array, np.ndarray) or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise CorruptUploadError(f"the .npy array must hold numbers (HU), not {getattr(array, 'dtype', type(array))}")
    if np.iscomplexobj(array):
        raise CorruptUploadError("the .npy array must hold real numbers (HU), not complex ones")
    return _checked_slice(array, ".npy")


def _dicom_hu(data: bytes) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset = _checked_dicom(data)
            hu = dataset.pixel_array.astype(np.float32)
            slope = float(dataset.get("RescaleSlope", 1.0) or 1.0)
            intercept = float(dataset.get("RescaleIntercept", 0.0) or 0.0)
    except UploadError:
        raise
    except Exception as exc:  # untrusted bytes through pydicom (and its pixel handlers): any failure is a corrupt upload
        raise CorruptUploadError(f"the DICOM file cannot be read ({_reason(exc)})") from None
    hu *= np.float32(slope)  # in place: a 4096 x 4096 slice is 64 MiB a copy
    hu += np.float32(intercept)
    return _checked_slice(hu, "DICOM")


def _checked_dicom(data: bytes) -> Any:
    """The dataset, its header checked and its pixel data uncompressed and of the size the header declares.

    Nothing here decodes pixels: pydicom's RLE decoder and its inflation of deflated files allocate what the bytes
    say (a 658-byte RLE file made it allocate 1 GiB), so both are done here under caps from the checked header.
    """
    import pydicom

    meta, dataset_start = _file_meta(data)
    syntax = str(meta.get("TransferSyntaxUID", "")).strip("\0 ")
    if syntax and syntax not in ACCEPTED_SYNTAXES:
        raise UnsupportedUploadError(f"DICOM transfer syntax {_syntax_name(syntax)} is not accepted; {DICOM_SYNTAX_HELP}")
    if syntax == DEFLATED_SYNTAX:
        dataset = _inflated_dataset(data[dataset_start:], meta)
    else:
        # parsing copies at most the upload's own bytes; pixels are decoded only by pixel_array, after the checks
        dataset = pydicom.dcmread(io.BytesIO(data), force=True)
    expected = _expected_pixel_bytes(dataset)
    if "PixelData" not in dataset:
        raise CorruptUploadError("the DICOM file has no pixel data (PixelData is missing)")
    if syntax == RLE_SYNTAX:
        _decode_rle_in_place(dataset)
    else:
        _check_native_length(len(dataset.PixelData), expected)
    if not syntax:  # no file meta (a bare dataset): pixel_array needs a transfer syntax, say the one the parser found
        dataset.file_meta.TransferSyntaxUID = _syntax_of_encoding(dataset.original_encoding)
    return dataset


def _file_meta(data: bytes) -> tuple[Any, int]:
    """(file meta group, offset of the dataset after it); an empty group for a file written without one."""
    # pydicom's own reader of group 0002, private but the one dcmread uses: dcmread itself would inflate a deflated
    # dataset in full before we could look at its transfer syntax
    from pydicom.filereader import _read_file_meta_info, read_preamble

    fp = io.BytesIO(data)
    read_preamble(fp, True)
    meta = _read_file_meta_info(fp)
    return meta, fp.tell()


def _syntax_name(uid: str) -> str:
    """'JPEG Baseline (Process 1) (1.2.840.10008.1.2.4.50)', or the quoted UID when pydicom does not know it."""
    from pydicom.uid import UID

    shown = uid if len(uid) <= 64 else uid[:61] + "..."
    name = UID(uid).name if len(uid) <= 64 else shown
    return f"{name} ({shown})" if name != shown else repr(shown)


def _syntax_of_encoding(encoding: tuple[bool | None, bool | None]) -> str:
    """The uncompressed transfer syntax of pydicom's (is_implicit_VR, is_little_endian) guess."""
    implicit, little = encoding
    if implicit:
        return IMPLICIT_LE_SYNTAX
    return EXPLICIT_LE_SYNTAX if little is not False else EXPLICIT_BE_SYNTAX


def _header_int(dataset: Any, keyword: str, default: int | None = None) -> int:
    """An integer of the header, or CorruptUploadError naming the element."""
    value = dataset.get(keyword, default)
    if value is None or value == "":
        if default is None:
            raise CorruptUploadError(f"the DICOM header has no {keyword}; a slice needs Rows, Columns and BitsAllocated")
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise CorruptUploadError(f"the DICOM header's {keyword} is {str(value)[:40]!r}, not an integer") from None


def _expected_pixel_bytes(dataset: Any) -> int:
    """Bytes of the one slice the header declares, after checking each value against what a slice may be."""
    rows, columns = _header_int(dataset, "Rows"), _header_int(dataset, "Columns")
    for keyword, side in (("Rows", rows), ("Columns", columns)):
        if not MIN_SIDE_PX <= side <= MAX_SIDE_PX:
            raise CorruptUploadError(
                f"the DICOM header declares {keyword} = {side}; each side must be {MIN_SIDE_PX}..{MAX_SIDE_PX} px"
            )
    samples = _header_int(dataset, "SamplesPerPixel", 1)
    if samples != 1:
        raise CorruptUploadError(f"the DICOM header declares SamplesPerPixel = {samples}; a CT slice has 1 (greyscale)")
    bits = _header_int(dataset, "BitsAllocated")
    if bits not in DICOM_BITS_ALLOCATED:
        allowed = ", ".join(map(str, DICOM_BITS_ALLOCATED))
        raise CorruptUploadError(f"the DICOM header declares BitsAllocated = {bits}; allowed: {allowed}")
    frames = _header_int(dataset, "NumberOfFrames", 1)
    if frames != 1:
        raise CorruptUploadError(f"the DICOM header declares NumberOfFrames = {frames}; send a single slice (1 frame)")
    return rows * columns * samples * bits // 8


def _check_native_length(length: int, expected: int) -> None:
    # an odd length is padded to even with one byte
    if length not in (expected, expected + expected % 2):
        raise CorruptUploadError(
            f"the DICOM PixelData holds {length} bytes; Rows x Columns x BitsAllocated / 8 = {expected} bytes"
        )


def _inflated_dataset(deflated: bytes, meta: Any) -> Any:
    """A deflated dataset inflated under a cap set by its own header, as an Explicit VR Little Endian FileDataset."""
    from pydicom.dataset import FileDataset
    from pydicom.filereader import read_dataset
    from pydicom.valuerep import VR

    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        head = inflater.decompress(deflated, DEFLATE_HEADER_BYTES)
        if head[4:6].decode("latin-1") not in {vr.value for vr in VR}:  # deflated zeros keep the parser busy for seconds
            raise CorruptUploadError("the deflated DICOM dataset does not start with a data element")
        fp = io.BytesIO(head)
        header = read_dataset(fp, is_implicit_VR=False, is_little_endian=True, stop_when=_at_pixel_data)
        pixel_data_at = fp.tell()
        if head[pixel_data_at : pixel_data_at + 4] != PIXEL_DATA_TAG_LE and len(head) == DEFLATE_HEADER_BYTES:
            raise CorruptUploadError(
                f"the deflated DICOM dataset has over {DEFLATE_HEADER_BYTES >> 20} MiB before its pixel data; "
                "send it uncompressed"
            )
        needed = pixel_data_at + PIXEL_DATA_ELEMENT_HEADER + _expected_pixel_bytes(header) + 1 + DEFLATE_TRAILER_BYTES
        limit = min(needed, DEFLATE_MAX_INFLATED_BYTES)
        # max_length 0 would mean "no limit": ask for at least one byte, and one more than allowed to see an excess
        rest = inflater.decompress(inflater.unconsumed_tail, limit - len(head) + 1) if len(head) <= limit else b""
    except zlib.error as exc:
        raise CorruptUploadError(f"the deflated DICOM dataset cannot be inflated ({_reason(exc)})") from None
    if len(head) + len(rest) > limit:
        raise CorruptUploadError(
            f"the deflated DICOM dataset inflates to more than {limit} bytes: more than its header declares "
            f"({int(header.Rows)} x {int(header.Columns)} x {int(header.BitsAllocated)} bits and other elements) or "
            f"than the {DEFLATE_MAX_INFLATED_BYTES >> 20} MiB taken inflated; send it RLE compressed or uncompressed"
        )
    if not inflater.eof:
        raise CorruptUploadError("the deflated DICOM dataset is truncated (the deflate stream does not end)")
    dataset = read_dataset(io.BytesIO(head + rest), is_implicit_VR=False, is_little_endian=True)
    meta.TransferSyntaxUID = EXPLICIT_LE_SYNTAX  # what it is now that it is inflated
    return FileDataset("upload.dcm", dataset, preamble=None, file_meta=meta, is_implicit_VR=False, is_little_endian=True)


def _at_pixel_data(tag: Any, vr: str | None, length: int) -> bool:
    """read_dataset's stop condition: the top-level PixelData element (nested icons have their own)."""
    return bool(tag == PIXEL_DATA_TAG)


def _decode_rle_in_place(dataset: Any) -> None:
    """Replace RLE Lossless pixel data by its decoded bytes (Explicit VR Little Endian), each segment capped."""
    from pydicom.encaps import generate_frames

    frames = list(generate_frames(dataset.PixelData, number_of_frames=1))
    if len(frames) != 1:
        raise CorruptUploadError(f"the RLE pixel data holds {len(frames)} frames; send a single slice")
    bytes_per_pixel = int(dataset.BitsAllocated) // 8
    plane = int(dataset.Rows) * int(dataset.Columns)
    segments = _rle_segments(frames[0], bytes_per_pixel)
    # segment k holds byte k of every pixel, most significant first; little endian wants the least significant first
    planes = [np.frombuffer(_rle_decode_segment(segment, plane), np.uint8) for segment in segments]
    raw = np.stack(planes[::-1], axis=1).tobytes()
    dataset.file_meta.TransferSyntaxUID = EXPLICIT_LE_SYNTAX
    dataset.PixelData = raw
    dataset["PixelData"].VR = "OW" if bytes_per_pixel > 1 else "OB"
    dataset["PixelData"].is_undefined_length = False


def _rle_segments(frame: bytes, count: int) -> list[bytes]:
    """The `count` encoded segments of an RLE frame, from its 64-byte header of segment offsets (DICOM PS3.5 G)."""
    if len(frame) < RLE_HEADER_BYTES:
        raise CorruptUploadError(f"the RLE frame is {len(frame)} bytes, shorter than its {RLE_HEADER_BYTES}-byte header")
    header = np.frombuffer(frame[:RLE_HEADER_BYTES], "<u4")
    if int(header[0]) != count:
        raise CorruptUploadError(f"the RLE frame has {int(header[0])} segments; BitsAllocated says {count}")
    offsets = [int(o) for o in header[1 : count + 1]] + [len(frame)]
    if offsets[0] != RLE_HEADER_BYTES or any(b < a for a, b in pairwise(offsets)):
        raise CorruptUploadError(f"the RLE frame's segment offsets {offsets[:-1]} do not fit its {len(frame)} bytes")
    return [frame[a:b] for a, b in pairwise(offsets)]


def _rle_decode_segment(src: bytes, size: int) -> bytearray:
    """One PackBits segment decoded to exactly `size` bytes; stops there, so a run-length bomb costs nothing.

    A control byte n < 128 copies the next n + 1 bytes, n > 128 repeats the next byte 257 - n times, 128 is a no-op.
    A few bytes after a full plane are padding (pydicom ignores them too); more are refused: pydicom would decode them
    all, 64 bytes out for every 1 in, before finding the plane too long.
    """
    out = bytearray()
    pos, end = 0, len(src)
    while pos < end and len(out) < size:  # each turn consumes input: at most len(src) turns
        control = src[pos]
        if control < 128:
            out += src[pos + 1 : pos + 2 + control]
            pos += 2 + control
        elif control > 128:
            out += src[pos + 1 : pos + 2] * (257 - control)
            pos += 2
        else:
            pos += 1
    if len(out) < size:
        raise CorruptUploadError(f"an RLE segment decodes to {len(out)} bytes; Rows x Columns = {size}")
    if end - pos > RLE_SEGMENT_SLACK_BYTES:  # more runs after a full plane: another plane (or a bomb), not padding
        raise CorruptUploadError(f"an RLE segment holds {end - pos} bytes past the Rows x Columns = {size} it decodes to")
    del out[size:]
    return out


def read_upload_hu(data: bytes, filename: str | None, hu_range: tuple[float, float]) -> tuple[np.ndarray, str]:
    """Upload bytes -> (HU slice float32 (H, W), format name). Raises an UploadError subclass naming the problem."""
    if not data:
        raise EmptyUploadError(f"the uploaded file {filename or '(unnamed)'!r} is empty; {FORMATS_HELP}")
    kind = detect_format(data, filename)
    if kind == "png":
        return _png_hu(data, hu_range), kind
    if kind == "npy":
        return _npy_hu(data), kind
    return _dicom_hu(data), kind
