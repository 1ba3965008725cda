"""Procedural 3-D thorax phantom: random patients with known factors, rendered as axial CT slices in HU.

Geometry lives in "anatomical units": the lateral half-width of the chest wall is about 1, `u` runs to the
image's right (the patient's left, radiological convention), `v` runs posterior (down the image), and `z` runs
from the lung apex (0) to the upper abdomen (1); one z unit is about Z_TO_U anatomical units (about 28 cm).
A slice is rendered by mapping every pixel back into anatomical units (pose: scale, rotation, offsets) and
painting tissues as soft-edged shapes in order, then blurring slightly and adding correlated noise.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from latentct.core.errors import InvalidInputError

REFERENCE_SIZE = 128  # offsets are drawn in px of a 128-px image and scaled to the rendered size
Z_TO_U = 1.75  # anatomical units per z unit (thorax length / chest half-width)
SLAB_Z = 0.012  # slice thickness in z units (~3 mm)
PX_PER_UNIT_AT_WIDTH_1 = 0.37  # chest half-width as a fraction of the image size when body_width is 1

# Continuous factors recorded per slice, in the order of factors.csv. `patient_id` is recorded beside them.
FACTOR_NAMES: tuple[str, ...] = (
    "z_position",
    "rotation_deg",
    "breast_size",
    "fat_thickness",
    "body_width",
    "y_offset",
    "x_offset",
    "noise_hu",
)
# Ranges the sampler draws from (offsets in px at REFERENCE_SIZE); render_from_factors accepts these, widened a bit.
FACTOR_RANGES: dict[str, tuple[float, float]] = {
    "z_position": (0.0, 1.0),
    "rotation_deg": (-10.0, 10.0),
    "breast_size": (0.0, 1.0),
    "fat_thickness": (0.0, 1.0),
    "body_width": (0.85, 1.12),
    "y_offset": (-5.0, 5.0),
    "x_offset": (-6.0, 6.0),
    "noise_hu": (5.0, 30.0),
}
_ACCEPTED_RANGES: dict[str, tuple[float, float]] = {
    "z_position": (0.0, 1.0),
    "rotation_deg": (-45.0, 45.0),
    "breast_size": (0.0, 1.5),
    "fat_thickness": (0.0, 1.5),
    "body_width": (0.6, 1.3),
    "y_offset": (-20.0, 20.0),
    "x_offset": (-20.0, 20.0),
    "noise_hu": (0.0, 200.0),
}

# Tissue HU (non-contrast CT).
HU_AIR = -1000.0
HU_FAT = -100.0
HU_MUSCLE = 50.0
HU_BLOOD = 40.0
HU_LIVER = 58.0
HU_SPLEEN = 48.0
HU_CSF = 15.0
HU_CUSHION = -820.0
HU_TABLE_SHELL = 250.0
TABLE_TOP = 0.86  # table top at the image centre, as a fraction of the image height
BODY_BOXINESS = -0.45  # < 0 squares the body outline's shoulders, > 0 would pinch them


@dataclass(frozen=True)
class Anatomy:
    """Hidden per-patient anatomy (not a factor): shapes, positions and the pulmonary vessel tree."""

    ap_ratio: float
    cavity_width: float
    lung_apex_z: tuple[float, float]
    lung_density_hu: float
    dome_z: tuple[float, float]  # right, left hemidiaphragm top
    heart_z: float
    heart_size: float
    heart_u: float
    heart_angle_deg: float
    carina_z: float
    aorta_r: float
    arch_z: float
    rib_phase: float
    disc_phase: float
    vertebra_r: float
    stomach_size: float
    gas_fraction: float
    liver_reach: float
    # vessel sample points: u, v, z, splat weight (vessel volume per slab thickness, in anatomical units^2)
    vessels: np.ndarray


@dataclass(frozen=True)
class Patient:
    """One random patient: its id, its factor values (offsets in px at REFERENCE_SIZE) and hidden anatomy."""

    patient_id: int
    rotation_deg: float
    breast_size: float
    fat_thickness: float
    body_width: float
    y_offset: float
    x_offset: float
    noise_hu: float
    anatomy: Anatomy

    def factors(self, z_position: float, size: int) -> dict[str, float | int]:
        """The factor row of one slice of this patient rendered at `size` px (offsets in px of that size)."""
        px = size / REFERENCE_SIZE
        return {
            "patient_id": self.patient_id,
            "z_position": float(z_position),
            "rotation_deg": self.rotation_deg,
            "breast_size": self.breast_size,
            "fat_thickness": self.fat_thickness,
            "body_width": self.body_width,
            "y_offset": self.y_offset * px,
            "x_offset": self.x_offset * px,
            "noise_hu": self.noise_hu,
        }


# ---------------------------------------------------------------------------------------------------------------
# Sampling


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _vessel_tree(rng: np.random.Generator, carina_z: float, lung_apex_z: tuple[float, float]) -> np.ndarray:
    """Branching pulmonary vessels from each hilum; returns points [N, 4] = u, v, z, splat weight."""
    segments: list[np.ndarray] = []  # rows: start(3), end(3), radius, in anatomical units (z scaled by Z_TO_U)
    for side in (-1.0, 1.0):
        hilum = np.array([side * 0.2, 0.02, (carina_z + 0.08) * Z_TO_U])
        apex = lung_apex_z[0 if side < 0 else 1]
        targets = np.array(
            [
                [side * 0.42, 0.05, (apex + 0.12) * Z_TO_U],  # upper lobe
                [side * 0.5, -0.22, 0.55 * Z_TO_U],  # middle lobe / lingula
                [side * 0.45, 0.28, 0.8 * Z_TO_U],  # lower lobe
                [side * 0.38, 0.4, 0.45 * Z_TO_U],  # superior segment
                [side * 0.62, 0.1, 0.62 * Z_TO_U],  # lateral basal
            ]
        )
        start = np.repeat(hilum[None], len(targets), axis=0)
        direction = targets - start
        length = np.linalg.norm(direction, axis=1, keepdims=True)
        direction /= length
        length = length[:, 0] * 0.42
        radius = np.full(len(targets), 0.045)
        for _generation in range(8):
            end = start + direction * length[:, None]
            segments.append(np.concatenate([start, end, radius[:, None]], axis=1))
            # two children per branch: parent direction, bent at random and pulled toward a point in the lung
            n = len(start) * 2
            start = np.repeat(end, 2, axis=0)
            parent = np.repeat(direction, 2, axis=0)
            attractor = np.stack(
                [
                    side * rng.uniform(0.12, 0.78, n),
                    rng.uniform(-0.45, 0.5, n),
                    rng.uniform(apex + 0.02, 0.98, n) * Z_TO_U,
                ],
                axis=1,
            )
            pull = attractor - start
            pull /= np.linalg.norm(pull, axis=1, keepdims=True) + 1e-6
            direction = parent + 0.8 * pull + rng.normal(0.0, 0.35, (n, 3))
            direction /= np.linalg.norm(direction, axis=1, keepdims=True) + 1e-6
            length = np.repeat(length, 2) * rng.uniform(0.7, 0.9, n)
            radius = np.repeat(radius, 2) * 0.75
    seg = np.concatenate(segments, axis=0)
    step = 0.008
    counts = np.maximum(1, np.ceil(np.linalg.norm(seg[:, 3:6] - seg[:, 0:3], axis=1) / step).astype(int))
    owner = np.repeat(np.arange(len(seg)), counts)
    # fraction along each segment, at point centres
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    t = (offsets + 0.5) / counts[owner]
    pts = seg[owner, 0:3] + (seg[owner, 3:6] - seg[owner, 0:3]) * t[:, None]
    ds = np.linalg.norm(seg[owner, 3:6] - seg[owner, 0:3], axis=1) / counts[owner]
    weight = math.pi * seg[owner, 6] ** 2 * ds / (SLAB_Z * Z_TO_U)
    out = np.stack([pts[:, 0], pts[:, 1], pts[:, 2] / Z_TO_U, weight], axis=1).astype(np.float32)
    return out[np.argsort(out[:, 2], kind="stable")]  # sorted by z for a fast slab look-up


def sample_patient(rng: np.random.Generator, patient_id: int = 0) -> Patient:
    """Draw one patient: every factor independently, then hidden anatomy. Always draws the same amount of
    randomness, so a factor's value never shifts the anatomy of the patient drawn from the same generator."""
    lo, hi = FACTOR_RANGES["rotation_deg"]
    rotation = _u(rng, lo, hi)
    has_breasts = rng.uniform() < 0.5
    breast = _u(rng, 0.0, 1.0)
    fat = _u(rng, *FACTOR_RANGES["fat_thickness"])
    width = _u(rng, *FACTOR_RANGES["body_width"])
    y_off = _u(rng, *FACTOR_RANGES["y_offset"])
    x_off = _u(rng, *FACTOR_RANGES["x_offset"])
    noise = _u(rng, *FACTOR_RANGES["noise_hu"])
    carina = _u(rng, 0.33, 0.4)
    apex = (_u(rng, 0.0, 0.05), _u(rng, 0.0, 0.05))
    dome_r = _u(rng, 0.6, 0.7)
    anatomy = Anatomy(
        ap_ratio=_u(rng, 0.88, 1.08),
        cavity_width=_u(rng, 0.8, 0.86),
        lung_apex_z=apex,
        lung_density_hu=_u(rng, -875.0, -835.0),
        dome_z=(dome_r, dome_r + _u(rng, 0.03, 0.08)),
        heart_z=_u(rng, 0.58, 0.64),
        heart_size=_u(rng, 0.88, 1.12),
        heart_u=_u(rng, 0.1, 0.18),
        heart_angle_deg=_u(rng, -35.0, -20.0),
        carina_z=carina,
        aorta_r=_u(rng, 0.058, 0.075),
        arch_z=carina - _u(rng, 0.07, 0.1),
        rib_phase=_u(rng, 0.0, 1.0),
        disc_phase=_u(rng, 0.0, 1.0),
        vertebra_r=_u(rng, 0.92, 1.08),
        stomach_size=_u(rng, 0.75, 1.2),
        gas_fraction=_u(rng, 0.15, 0.55),
        liver_reach=_u(rng, 0.85, 1.15),
        vessels=_vessel_tree(rng, carina, apex),
    )
    return Patient(
        patient_id=int(patient_id),
        rotation_deg=rotation,
        breast_size=breast if has_breasts else 0.0,
        fat_thickness=fat,
        body_width=width,
        y_offset=y_off,
        x_offset=x_off,
        noise_hu=noise,
        anatomy=anatomy,
    )


# ---------------------------------------------------------------------------------------------------------------
# Rendering helpers


@functools.lru_cache(maxsize=8)
def _pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x = column, y = row), read-only and shared between renders."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def _table_top_px(x: np.ndarray, size: int) -> np.ndarray:
    # the table is a shallow trough, higher at its edges
    return size * (TABLE_TOP - 0.45 * ((x - size / 2) / size) ** 2)


@functools.lru_cache(maxsize=8)
def _table_template(size: int) -> np.ndarray:
    """Background in HU: air, the CT table (two shells around a foam core) and its cushion; fixed in the image."""
    x, y = _pixel_grid(size)
    top = _table_top_px(x, size)
    inside_x = np.abs(x - size / 2) < size * 0.43
    img = np.full((size, size), HU_AIR, np.float32)
    cushion = inside_x & (y >= top - size * 0.045) & (y < top)
    img[cushion] = HU_CUSHION
    shell_px = max(1.0, size / 128)
    img[inside_x & (y >= top) & (y < top + shell_px)] = HU_TABLE_SHELL
    img[inside_x & (y >= top + shell_px) & (y < top + size * 0.06)] = -950.0
    bottom = inside_x & (y >= top + size * 0.06) & (y < top + size * 0.06 + shell_px)
    img[bottom] = HU_TABLE_SHELL * 0.7
    img.setflags(write=False)
    return img


@functools.lru_cache(maxsize=8)
def _gaussian_kernel(sigma_px: float) -> np.ndarray:
    radius = max(1, math.ceil(2.5 * sigma_px))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_px) ** 2)
    return (k / k.sum()).astype(np.float32)


def gaussian_blur(img: np.ndarray, sigma_px: float) -> np.ndarray:
    """Separable Gaussian blur with edge padding (numpy only; a handful of shifted multiply-adds)."""
    k = _gaussian_kernel(float(sigma_px))
    r = len(k) // 2
    p = np.pad(img, ((0, 0), (r, r)), mode="edge")
    w = img.shape[1]
    tmp = k[0] * p[:, 0:w]
    for i in range(1, len(k)):
        tmp += k[i] * p[:, i : i + w]
    p = np.pad(tmp, ((r, r), (0, 0)), mode="edge")
    h = img.shape[0]
    out = k[0] * p[0:h]
    for i in range(1, len(k)):
        out += k[i] * p[i : i + h]
    return out


class _Canvas:
    """An HU image plus, for every pixel, its anatomical coordinates (u, v) under the patient's pose."""

    def __init__(self, size: int, cx: float, cy: float, px_per_unit: float, rotation_deg: float) -> None:
        self.size = size
        self.cx, self.cy, self.px = cx, cy, px_per_unit
        theta = math.radians(rotation_deg)
        self.cos, self.sin = math.cos(theta), math.sin(theta)
        x, y = _pixel_grid(size)
        dx = x - np.float32(cx)
        dy = y - np.float32(cy)
        inv = np.float32(1.0 / px_per_unit)
        self.u = (np.float32(self.cos) * dx + np.float32(self.sin) * dy) * inv
        self.v = (np.float32(-self.sin) * dx + np.float32(self.cos) * dy) * inv
        self.hu = _table_template(size).copy()

    def to_px(self, u: np.ndarray | float, v: np.ndarray | float) -> tuple[np.ndarray | float, np.ndarray | float]:
        x = self.cx + self.px * (self.cos * u - self.sin * v)
        y = self.cy + self.px * (self.sin * u + self.cos * v)
        return x, y

    def window(self, u: float, v: float, radius_u: float) -> tuple[slice, slice] | None:
        """Pixel box that surely holds a shape of `radius_u` around (u, v); None when off the image."""
        x, y = self.to_px(u, v)
        r = radius_u * self.px + 2.0
        x0, x1 = max(0, int(x - r)), min(self.size, int(x + r) + 2)
        y0, y1 = max(0, int(y - r)), min(self.size, int(y + r) + 2)
        if x0 >= x1 or y0 >= y1:
            return None
        return slice(y0, y1), slice(x0, x1)

    def ellipse(
        self, cu: float, cv: float, a: float, b: float, angle_deg: float = 0.0, box: bool = True
    ) -> tuple[tuple[slice, slice], np.ndarray] | None:
        """Soft coverage (0..1, about one pixel of edge) of an ellipse with semi-axes a (along angle) and b."""
        if a <= 1e-4 or b <= 1e-4:
            return None
        full = (slice(0, self.size), slice(0, self.size))
        win = self.window(cu, cv, max(a, b)) if box else full
        if win is None:
            return None
        du = self.u[win] - np.float32(cu)
        dv = self.v[win] - np.float32(cv)
        if angle_deg:
            t = math.radians(angle_deg)
            c, s = np.float32(math.cos(t)), np.float32(math.sin(t))
            du, dv = c * du + s * dv, c * dv - s * du
        r = np.sqrt((du * np.float32(1.0 / a)) ** 2 + (dv * np.float32(1.0 / b)) ** 2)
        cover = np.clip((1.0 - r) * np.float32(min(a, b) * self.px) + np.float32(0.5), 0.0, 1.0)
        return win, cover

    def paint(self, shape: tuple[tuple[slice, slice], np.ndarray] | None, hu: float | np.ndarray) -> None:
        if shape is None:
            return
        win, cover = shape
        region = self.hu[win]
        region += cover * (hu - region)

    def paint_ellipse(self, cu: float, cv: float, a: float, b: float, hu: float, angle_deg: float = 0.0) -> None:
        self.paint(self.ellipse(cu, cv, a, b, angle_deg), hu)

    def paint_bar(self, u0: float, v0: float, u1: float, v1: float, half_width: float, hu: float) -> None:
        """An elongated ellipse from (u0, v0) to (u1, v1): a vessel or bone running in the slice plane."""
        length = math.hypot(u1 - u0, v1 - v0) / 2 + half_width
        angle = math.degrees(math.atan2(v1 - v0, u1 - u0))
        self.paint_ellipse((u0 + u1) / 2, (v0 + v1) / 2, length, half_width, hu, angle)


def _smooth(t: float) -> float:
    t = min(1.0, max(0.0, t))
    return t * t * (3 - 2 * t)


def _ellipsoid_section(z: float, zc: float, half_height: float) -> float:
    """Scale of an ellipsoid's cross-section at height z (0 outside)."""
    f = 1.0 - ((z - zc) / half_height) ** 2
    return math.sqrt(f) if f > 0 else 0.0


def _squircle_cover(cv: _Canvas, a: float, b_ant: float, b_post: float, squareness: float) -> np.ndarray:
    """Coverage of the body-like outline: an ellipse made boxier, flatter at the back than at the front."""
    un = cv.u * np.float32(1.0 / a)
    vn = cv.v * np.where(cv.v < 0, np.float32(1.0 / b_ant), np.float32(1.0 / b_post))
    u2, v2 = un * un, vn * vn
    # the cross term only shapes the inside of the unit box, so q stays >= 1 outside the outline
    q = u2 + v2 + np.float32(squareness) * np.minimum(u2, 1.0) * np.minimum(v2, 1.0)
    edge_px = np.float32(min(a, b_ant, b_post) * cv.px)
    return np.clip((1.0 - np.sqrt(q)) * edge_px + np.float32(0.5), 0.0, 1.0)


# ---------------------------------------------------------------------------------------------------------------
# Anatomy, painted outside in


@dataclass(frozen=True)
class _Level:
    """Shapes of the patient at one z: outlines and cavity, derived from anatomy and factors."""

    z: float
    wall_a: float  # muscle outline semi-axes
    wall_b_ant: float
    wall_b_post: float
    fat_u: float
    cavity_a: float
    cavity_b: float
    cavity_v: float


def _level(p: Patient, z: float) -> _Level:
    a = p.anatomy
    grow = _smooth(z / 0.45)
    return _Level(
        z=z,
        wall_a=0.95 - 0.04 * z,
        wall_b_ant=0.58 * a.ap_ratio,
        wall_b_post=0.62 * a.ap_ratio,
        fat_u=0.025 + 0.14 * p.fat_thickness,
        cavity_a=a.cavity_width * (0.64 + 0.36 * grow),
        cavity_b=a.ap_ratio * (0.42 + 0.1 * grow),
        cavity_v=0.0,
    )


def _paint_body_wall(cv: _Canvas, p: Patient, lv: _Level) -> None:
    fat = lv.fat_u
    outer = _squircle_cover(cv, lv.wall_a + fat, lv.wall_b_ant + fat, lv.wall_b_post + fat * 0.8, BODY_BOXINESS)
    cv.hu += outer * (HU_FAT - cv.hu)
    _paint_breasts(cv, p, lv)
    wall = _squircle_cover(cv, lv.wall_a, lv.wall_b_ant, lv.wall_b_post, BODY_BOXINESS)
    cv.hu += wall * (HU_MUSCLE - cv.hu)
    # pectoral muscles in the upper chest, under the subcutaneous fat, with a thin fat plane beneath them
    pec = 0.07 * (1.0 - _smooth((lv.z - 0.3) / 0.4))
    if pec > 0.01:
        for side in (-1.0, 1.0):
            for extra, hu in ((0.02, HU_FAT + 30), (0.0, HU_MUSCLE)):
                shape = cv.ellipse(side * 0.4, -lv.wall_b_ant + 0.06, 0.34 + extra, pec + extra, side * -10)
                if shape is not None:
                    cv.paint((shape[0], shape[1] * outer[shape[0]]), hu)


BREAST_LEVELS = (0.3, 0.85)  # the slice levels (z) between which breasts are painted


def breast_profile(z: float) -> float:
    """How much of a patient's breasts a slice at level z shows: 0 outside BREAST_LEVELS, 1 at their middle."""
    low, high = BREAST_LEVELS
    return math.sqrt(math.sin(math.pi * (z - low) / (high - low))) if low < z < high else 0.0


def visible_breast_size(breast_size: np.ndarray, z_position: np.ndarray) -> np.ndarray:
    """The breast size a slice shows (what an image can tell): breast_size * breast_profile(z), elementwise."""
    profile = np.array([breast_profile(float(z)) for z in np.ravel(z_position)]).reshape(np.shape(z_position))
    return np.asarray(breast_size, dtype=np.float64) * profile


def _paint_breasts(cv: _Canvas, p: Patient, lv: _Level) -> None:
    s = p.breast_size
    profile = breast_profile(lv.z)
    if s <= 0 or profile <= 0:
        return
    a = (0.3 + 0.1 * s) * profile
    b = (0.05 + 0.25 * s) * profile
    for side in (-1.0, 1.0):
        cu = side * (0.4 + 0.08 * s)  # supine: breasts fall to the sides
        cvv = -(lv.wall_b_ant + lv.fat_u) + 0.35 * b
        cv.paint_ellipse(cu, cvv, a, b, HU_FAT, side * 6)
        cv.paint_ellipse(cu - side * 0.02, cvv, a * 0.55, b * 0.6, -30.0, side * 6)


def _abdomen_cover(cv: _Canvas, p: Patient, z: float) -> np.ndarray:
    """Where the slice lies below the diaphragm domes (abdomen) rather than in the chest."""
    a = p.anatomy
    out = None
    for side, top in ((-1.0, a.dome_z[0]), (1.0, a.dome_z[1])):
        du = cv.u - np.float32(side * 0.3)
        dv = cv.v + np.float32(0.05)
        # domes are steeper in front (the diaphragm inserts high anteriorly) than at the back
        cv_coef = np.where(dv < 0, np.float32(0.3), np.float32(1.5))
        height = np.float32(top) + np.float32(0.8) * du * du + cv_coef * dv * dv
        cover = np.clip((np.float32(z) - height) * np.float32(60.0) + np.float32(0.5), 0.0, 1.0)
        out = cover if out is None else np.maximum(out, cover)
    assert out is not None
    return out


def _paint_chest(cv: _Canvas, p: Patient, lv: _Level, rng_free_vessels: np.ndarray) -> None:
    a = p.anatomy
    z = lv.z
    cavity = cv.ellipse(0.0, lv.cavity_v, lv.cavity_a, lv.cavity_b, box=False)
    assert cavity is not None
    cavity_cover = cavity[1]
    abdomen = _abdomen_cover(cv, p, z) * cavity_cover
    lung = np.zeros_like(cavity_cover)
    for side, apex in ((-1.0, a.lung_apex_z[0]), (1.0, a.lung_apex_z[1])):
        grow = math.sqrt(min(1.0, max(0.0, (z - apex) / 0.3)))
        if grow <= 0:
            continue
        side_shape = cv.ellipse(side * 0.42 * lv.cavity_a / 0.82, 0.1, 0.62 * grow, 0.55 * grow, box=False)
        assert side_shape is not None
        lung = np.maximum(lung, side_shape[1])
    lung = np.minimum(lung, cavity_cover) * (1.0 - abdomen)
    # inside the ribs but neither lung nor abdomen: mediastinal fat and soft tissue
    cv.hu += cavity_cover * (HU_FAT + 30 - cv.hu)
    _paint_abdomen(cv, p, z, abdomen)
    # lung parenchyma is denser at the back (gravity), plus vessels
    lung_hu = np.float32(a.lung_density_hu) + np.float32(45.0) * np.clip(cv.v * 1.4 + 0.3, 0.0, 1.0)
    cv.hu += lung * (lung_hu - cv.hu)
    vessels = _vessel_layer(cv, p, z, rng_free_vessels)
    cv.hu += vessels * lung
    np.minimum(cv.hu, np.float32(HU_BLOOD), out=cv.hu, where=lung > 0.5)


def _vessel_layer(cv: _Canvas, p: Patient, z: float, points: np.ndarray) -> np.ndarray:
    """Pulmonary vessels crossing this slab, splatted bilinearly and blurred to their partial-volume look."""
    size = cv.size
    layer = np.zeros(size * size, np.float32)
    lo, hi = np.searchsorted(points[:, 2], [z - SLAB_Z / 2, z + SLAB_Z / 2])
    if hi > lo:
        sel = points[lo:hi]
        x, y = cv.to_px(sel[:, 0], sel[:, 1])
        x = np.asarray(x, np.float32) - 0.5 + 0.5  # pixel centres sit at integer coordinates
        y = np.asarray(y, np.float32)
        x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
        fx, fy = x - x0, y - y0
        w = sel[:, 3] * np.float32(cv.px * cv.px * (HU_BLOOD - p.anatomy.lung_density_hu))
        for dx, dy, wt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            xi, yi = x0 + dx, y0 + dy
            ok = (xi >= 0) & (xi < size) & (yi >= 0) & (yi < size)
            layer += np.bincount(yi[ok] * size + xi[ok], weights=(w * wt)[ok], minlength=size * size).astype(np.float32)
    img = gaussian_blur(layer.reshape(size, size), 0.6 * size / REFERENCE_SIZE)
    return np.minimum(img, np.float32(HU_BLOOD - p.anatomy.lung_density_hu))


def _paint_abdomen(cv: _Canvas, p: Patient, z: float, abdomen: np.ndarray) -> None:
    a = p.anatomy
    if float(abdomen.max()) <= 0:
        return
    # liver on the patient's right (image left), its left lobe reaching across the midline in front
    depth = _smooth((z - a.dome_z[0]) / 0.25)
    boundary = np.float32(-0.05 + 0.3 * a.liver_reach * depth) - np.float32(0.45 * a.liver_reach) * cv.v
    liver = np.clip((boundary - cv.u) * np.float32(cv.px) + np.float32(0.5), 0.0, 1.0) * abdomen
    rest = abdomen * (1.0 - liver)
    cv.hu += liver * (HU_LIVER - cv.hu) + rest * (HU_FAT + 60 - cv.hu)
    # stomach under the left dome, gas rising to the front (the top of the image: gravity, not anatomy)
    grow = _smooth((z - a.dome_z[1]) / 0.15)
    if grow > 0:
        sa, sb = 0.24 * a.stomach_size * grow, 0.2 * a.stomach_size * grow
        su, sv = 0.36, -0.12
        wall = cv.ellipse(su, sv, sa, sb, 15.0)
        if wall is not None:
            win, cover = wall
            cv.paint((win, cover * abdomen[win]), 40.0)
            inner = cv.ellipse(su, sv, sa - 0.025, sb - 0.025, 15.0)
            if inner is not None:
                win, cover = inner
                _, top_y = cv.to_px(su, sv - sb)
                _, bottom_y = cv.to_px(su, sv + sb)
                level_y = top_y + (bottom_y - top_y) * a.gas_fraction
                y = _pixel_grid(cv.size)[1][win]
                gas = np.clip(level_y - y + np.float32(0.5), 0.0, 1.0)
                content = np.float32(15.0) + gas * np.float32(HU_AIR - 15.0)
                cv.paint((win, cover * abdomen[win]), content)
    spleen = _smooth((z - a.dome_z[1] - 0.08) / 0.15)
    if spleen > 0:
        shape = cv.ellipse(0.55, 0.28, 0.14 * spleen, 0.2 * spleen, -30.0)
        if shape is not None:
            cv.paint((shape[0], shape[1] * abdomen[shape[0]]), HU_SPLEEN)


def _paint_mediastinum(cv: _Canvas, p: Patient, lv: _Level) -> None:
    a = p.anatomy
    z = lv.z
    # central soft tissue between the lungs, widening downwards
    cv.paint_ellipse(0.02, 0.0, 0.17 + 0.06 * _smooth(z / 0.5), 0.45 * a.ap_ratio, HU_FAT + 25)
    # heart: an ellipsoid sitting on the left dome, apex pointing left and forward, in its pericardial fat
    scale = _ellipsoid_section(z, a.heart_z, 0.19 * a.heart_size)
    if scale > 0:
        ha, hb = 0.4 * a.heart_size * scale, 0.29 * a.heart_size * scale
        hu0, hv0 = a.heart_u, -0.17 * a.ap_ratio
        cv.paint_ellipse(hu0, hv0, ha + 0.04, hb + 0.035, HU_FAT, a.heart_angle_deg)
        cv.paint_ellipse(hu0, hv0, ha, hb, HU_BLOOD, a.heart_angle_deg)
    _paint_great_vessels(cv, p, z)
    _paint_airways(cv, p, z)


def _paint_great_vessels(cv: _Canvas, p: Patient, z: float) -> None:
    a = p.anatomy
    r = a.aorta_r
    asc = (-0.03, -0.1 * a.ap_ratio)
    desc_u = 0.12 - 0.07 * _smooth((z - 0.6) / 0.4)
    desc = (desc_u, 0.17 * a.ap_ratio)
    if a.arch_z - 0.03 <= z <= a.arch_z + 0.025:
        cv.paint_bar(asc[0], asc[1] - 0.02, desc[0], desc[1], r, HU_BLOOD)
    if a.arch_z < z < a.heart_z - 0.08:
        cv.paint_ellipse(asc[0], asc[1], r * 1.1, r * 1.1, HU_BLOOD)
    if z >= a.arch_z:
        cv.paint_ellipse(desc[0], desc[1], r + 0.02, r + 0.02, HU_FAT + 20)
        cv.paint_ellipse(desc[0], desc[1], r, r, HU_BLOOD)
    if z < a.arch_z - 0.03:  # branches of the arch and the brachiocephalic veins
        cv.paint_ellipse(-0.07, -0.1, 0.04, 0.04, HU_BLOOD)
        cv.paint_ellipse(0.04, -0.08, 0.03, 0.03, HU_BLOOD)
        cv.paint_ellipse(0.1, -0.02, 0.035, 0.035, HU_BLOOD)
        cv.paint_ellipse(-0.16, -0.14, 0.05, 0.045, HU_BLOOD - 5)
        cv.paint_ellipse(0.16, -0.17, 0.045, 0.04, HU_BLOOD - 5)
    if a.arch_z - 0.08 < z < a.arch_z - 0.02:
        cv.paint_bar(0.16, -0.18, -0.12, -0.12, 0.03, HU_BLOOD - 5)
    if a.arch_z - 0.03 <= z < a.heart_z - 0.1:  # superior vena cava
        cv.paint_ellipse(-0.15, -0.09, 0.05, 0.05, HU_BLOOD - 5)
    pt = a.carina_z + 0.015
    if pt <= z <= pt + 0.1:  # pulmonary trunk and arteries
        cv.paint_ellipse(0.1, -0.2 * a.ap_ratio, 0.08, 0.075, HU_BLOOD)
        if z < pt + 0.04:
            cv.paint_bar(0.12, -0.16, 0.3, 0.04, 0.045, HU_BLOOD)
        elif z < pt + 0.08:
            cv.paint_bar(0.05, -0.12, -0.27, 0.0, 0.042, HU_BLOOD)
    if z >= a.heart_z + 0.08:  # inferior vena cava
        cv.paint_ellipse(-0.1, 0.08, 0.055, 0.05, HU_BLOOD - 5)
    # oesophagus, drifting left toward the stomach
    drift = _smooth((z - 0.6) / 0.35)
    ou, ov = 0.03 + 0.12 * drift, 0.19 - 0.06 * drift
    if z < a.dome_z[1] + 0.12:
        cv.paint_ellipse(ou, ov, 0.035, 0.03, HU_MUSCLE - 10)
        cv.paint_ellipse(ou, ov, 0.01, 0.008, -400.0)


def _paint_airways(cv: _Canvas, p: Patient, z: float) -> None:
    a = p.anatomy
    if z < a.carina_z:
        v = 0.04 + 0.04 * z / a.carina_z
        cv.paint_ellipse(0.0, v, 0.075, 0.068, HU_MUSCLE - 10)
        cv.paint_ellipse(0.0, v, 0.06, 0.052, HU_AIR)
        return
    for side, span, end in ((-1.0, 0.1, (-0.25, 0.1)), (1.0, 0.15, (0.25, 0.12))):
        t = (z - a.carina_z) / span
        if t > 1:
            continue
        bu = side * 0.02 + (end[0] - side * 0.02) * t
        bv = 0.08 + (end[1] - 0.08) * t
        r = 0.045 - 0.012 * t
        cv.paint_ellipse(bu, bv, r + 0.012, r + 0.012, HU_MUSCLE - 10)
        cv.paint_ellipse(bu, bv, r, r * 0.9, HU_AIR)


def _paint_skeleton(cv: _Canvas, p: Patient, lv: _Level) -> None:
    a = p.anatomy
    z = lv.z
    ap = a.ap_ratio
    # paraspinal muscles fill the space behind the lungs around the spine
    cv.paint_ellipse(0.0, 0.48 * ap, 0.26, 0.19 * ap, HU_MUSCLE)
    vr = a.vertebra_r
    body_v = 0.3 * ap
    disc = ((z * 13.0 + a.disc_phase) % 1.0) < 0.16  # about 13 vertebrae between apex and upper abdomen
    if disc:
        cv.paint_ellipse(0.0, body_v, 0.105 * vr, 0.09 * vr, 85.0)
    else:
        cv.paint_ellipse(0.0, body_v, 0.105 * vr, 0.09 * vr, 650.0)
        cv.paint_ellipse(0.0, body_v, 0.09 * vr, 0.075 * vr, 230.0)
    canal_v = body_v + 0.14 * vr
    cv.paint_ellipse(0.0, canal_v, 0.075 * vr, 0.07 * vr, 600.0)  # pedicles and laminae
    cv.paint_bar(0.0, canal_v + 0.05, 0.0, canal_v + 0.15, 0.018, 500.0)  # spinous process
    for side in (-1.0, 1.0):
        cv.paint_bar(side * 0.05, canal_v - 0.01, side * 0.14, canal_v + 0.03, 0.02, 450.0)
    cv.paint_ellipse(0.0, canal_v, 0.045 * vr, 0.042 * vr, HU_CSF)
    _paint_ribs(cv, p, lv)
    # sternum (manubrium above)
    if 0.12 < z < 0.78:
        sa, sb = (0.1, 0.045) if z < 0.3 else (0.07, 0.035)
        sv = -(lv.wall_b_ant - 0.045)
        cv.paint_ellipse(0.0, sv, sa, sb, 550.0)
        cv.paint_ellipse(0.0, sv, sa - 0.02, sb - 0.015, 250.0)
    if z < 0.12:  # clavicles
        for side in (-1.0, 1.0):
            cv.paint_ellipse(side * 0.32, -(lv.wall_b_ant - 0.08), 0.2, 0.035, 650.0, side * 12)
    fade = 1.0 - _smooth((z - 0.3) / 0.2)
    if fade > 0:  # scapulae behind the posterolateral ribs, with their muscles
        for side in (-1.0, 1.0):
            phi = 0.95
            su = side * (lv.cavity_a + 0.09) * math.sin(phi)
            sv = (lv.cavity_b + 0.09) * math.cos(phi)
            angle = side * math.degrees(math.atan2(lv.cavity_b * math.sin(phi), lv.cavity_a * math.cos(phi)))
            cv.paint_ellipse(su, sv, 0.24 * fade, 0.05, HU_MUSCLE, -angle)
            cv.paint_ellipse(su, sv, 0.2 * fade, 0.022, 600.0, -angle)


def _paint_ribs(cv: _Canvas, p: Patient, lv: _Level) -> None:
    """Ribs leave the spine and slope down toward the front, so one slice cuts each at one angle per side."""
    spacing, slope = 0.085, 0.12  # z between ribs; z descent per radian of the way round
    half_len = 0.05
    z = lv.z
    for k in range(-3, 16):
        z_rib = (k + p.anatomy.rib_phase) * spacing - 0.1
        phi = (z - z_rib) / slope  # angle from the back (0) round to the front (pi)
        if not 0.45 < phi < math.pi - 0.35:
            continue
        ra, rb = lv.cavity_a + 0.035, lv.cavity_b + 0.035
        ru, rv = ra * math.sin(phi), lv.cavity_v + rb * math.cos(phi)
        angle = math.degrees(math.atan2(-rb * math.sin(phi), ra * math.cos(phi)))
        hu = 700.0 if phi < 2.3 else 150.0  # costal cartilage in front
        for side in (-1.0, 1.0):
            cv.paint_ellipse(side * ru, rv, half_len, 0.024, hu, side * angle)


def _finish(cv: _Canvas, p: Patient, noise_rng: np.random.Generator) -> np.ndarray:
    """Slight blur (scanner resolution), then noise with a CT-like fine grain (correlated over ~1 px)."""
    scale = cv.size / REFERENCE_SIZE
    img = gaussian_blur(cv.hu, 0.5 * scale)
    white = noise_rng.standard_normal((cv.size, cv.size), dtype=np.float32)
    sigma = 0.7 * scale
    grain = gaussian_blur(white, sigma)
    k = _gaussian_kernel(float(sigma))
    grain *= np.float32(p.noise_hu / float(np.sum(k * k)))  # keep the noise std at noise_hu
    img += grain
    np.clip(img, -1024.0, 3071.0, out=img)
    return img


# ---------------------------------------------------------------------------------------------------------------
# Public API


def _check_size(size: int) -> int:
    if not isinstance(size, (int, np.integer)) or size < 16 or size > 1024:
        raise InvalidInputError(f"image size {size!r} must be an integer between 16 and 1024 px")
    return int(size)


def render_slice(patient: Patient, z_position: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """One axial slice of `patient` at `z_position` (0 lung apex .. 1 upper abdomen) in HU, float32 [size, size].
    `rng` supplies the noise only; the anatomy is fixed by the patient."""
    size = _check_size(size)
    if not 0.0 <= float(z_position) <= 1.0:
        raise InvalidInputError(f"z_position {z_position!r} must be within [0, 1]")
    z = float(z_position)
    px_scale = size / REFERENCE_SIZE
    lv = _level(p=patient, z=z)
    px_per_unit = PX_PER_UNIT_AT_WIDTH_1 * size * patient.body_width
    # the back rests on the cushion (sinking in a little); y_offset then lifts or lowers the patient
    back_u = lv.wall_b_post + lv.fat_u * 0.8
    cushion_top = size * (TABLE_TOP - 0.045) + 2.0 * px_scale
    cy = cushion_top - back_u * px_per_unit + patient.y_offset * px_scale
    cx = size / 2 + patient.x_offset * px_scale
    cv = _Canvas(size, cx, cy, px_per_unit, patient.rotation_deg)
    _paint_body_wall(cv, patient, lv)
    _paint_chest(cv, patient, lv, patient.anatomy.vessels)
    _paint_mediastinum(cv, patient, lv)
    _paint_skeleton(cv, patient, lv)
    return _finish(cv, patient, rng)


def render_from_factors(factors: Mapping[str, float], size: int = REFERENCE_SIZE, seed: int = 0) -> np.ndarray:
    """Render one slice with explicitly given factor values (offsets in px of `size`); the hidden anatomy and the
    noise pattern come from `seed`, so changing one factor changes only what that factor controls."""
    size = _check_size(size)
    unknown = sorted(set(factors) - set(FACTOR_NAMES))
    if unknown:
        raise InvalidInputError(f"unknown factor(s) {unknown}; allowed: {', '.join(FACTOR_NAMES)}")
    for name, value in factors.items():
        lo, hi = _ACCEPTED_RANGES[name]
        if not (isinstance(value, (int, float, np.floating, np.integer)) and lo <= float(value) <= hi):
            raise InvalidInputError(f"factor {name}={value!r} must be a number within [{lo}, {hi}]")
    patient = sample_patient(np.random.default_rng([int(seed), 0]))
    px = REFERENCE_SIZE / size
    overrides = {k: float(v) * (px if k in ("x_offset", "y_offset") else 1.0) for k, v in factors.items()}
    z = overrides.pop("z_position", 0.5)
    patient = replace(patient, **overrides)  # type: ignore[arg-type]  # only float fields are overridden
    return render_slice(patient, z, size, np.random.default_rng([int(seed), 1]))


def patient_rng(seed: int, patient_index: int) -> np.random.Generator:
    """The generator of one patient of a dataset: independent of the other patients and of the count."""
    return np.random.default_rng([int(seed), 7, int(patient_index)])


def iter_phantom_slices(
    patients: int, slices_per_patient: int, size: int, seed: int
) -> Iterable[tuple[np.ndarray, dict[str, float | int]]]:
    """Yield (HU slice, factor row) for a whole dataset, patient by patient, z sorted within a patient."""
    size = _check_size(size)
    for index in range(patients):
        rng = patient_rng(seed, index)
        patient = sample_patient(rng, patient_id=index)
        z_values = np.sort(rng.uniform(0.0, 1.0, slices_per_patient))
        for z in z_values:
            yield render_slice(patient, float(z), size, rng), patient.factors(float(z), size)


def generate_dataset(
    out: Path | str,
    patients: int,
    slices_per_patient: int,
    size: int = REFERENCE_SIZE,
    seed: int = 0,
    progress: bool = True,
    test_fraction: float = 0.1,
    overwrite: bool = False,
) -> Path:
    """Write a phantom dataset (see latentct.data.dataset) to `out`, atomically; returns the path."""
    from latentct.core.hu import hu_to_unit
    from latentct.data.dataset import DatasetWriter, split_patients

    if not isinstance(patients, (int, np.integer)) or patients < 1:
        raise InvalidInputError(f"patients {patients!r} must be an integer >= 1")
    if not isinstance(slices_per_patient, (int, np.integer)) or slices_per_patient < 1:
        raise InvalidInputError(f"slices_per_patient {slices_per_patient!r} must be an integer >= 1")
    size = _check_size(size)
    total = patients * slices_per_patient
    columns = ["patient_id", *FACTOR_NAMES]
    train, test = split_patients([str(i) for i in range(patients)], test_fraction, seed)
    meta = {
        "source": "phantom",
        "source_detail": {
            "generator": "latentct.data.phantom",
            "patients": patients,
            "slices_per_patient": slices_per_patient,
            "seed": seed,
            "factor_ranges": {k: list(v) for k, v in FACTOR_RANGES.items()},
            "offset_unit": f"px of the {size}-px image",
        },
        "patient_column": "patient_id",
        "split": {"train": train, "test": test},
    }
    from tqdm import tqdm

    with DatasetWriter(out, size, columns, overwrite=overwrite) as writer:
        stream = iter_phantom_slices(patients, slices_per_patient, size, seed)
        for hu, row in tqdm(stream, total=total, disable=not progress, unit="slice", desc="phantom"):
            writer.append(hu_to_unit(hu)[None].astype(np.float32), [row])
        writer.finish(meta)
    return Path(out)


def patient_fields() -> tuple[str, ...]:
    """Names of a Patient's factor fields (for tools that override them)."""
    return tuple(f.name for f in fields(Patient) if f.name not in ("anatomy", "patient_id"))
