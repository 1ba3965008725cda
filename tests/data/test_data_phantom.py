"""The procedural thorax: determinism, tissue HU, independent factors, and what each factor does to the image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from latentct.core.errors import InvalidInputError
from latentct.data import phantom
from latentct.data.phantom import FACTOR_NAMES, render_from_factors

SIZE = 128
BASE = {
    "z_position": 0.5,
    "rotation_deg": 0.0,
    "breast_size": 0.0,
    "fat_thickness": 0.4,
    "body_width": 1.0,
    "y_offset": 0.0,
    "x_offset": 0.0,
    "noise_hu": 0.0,
}


def render(**changes: float) -> np.ndarray:
    return render_from_factors({**BASE, **changes}, size=SIZE, seed=3)


def body_mask(hu: np.ndarray) -> np.ndarray:
    """Patient pixels: denser than air and above the cushion (the table is fixed and excluded)."""
    return (hu > -400) & (phantom._table_template(SIZE) == phantom.HU_AIR)


def centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


def principal_angle_deg(mask: np.ndarray) -> float:
    ys, xs = np.nonzero(mask)
    x, y = xs - xs.mean(), ys - ys.mean()
    cov = np.cov(np.stack([x, y]))
    w, v = np.linalg.eigh(cov)
    major = v[:, np.argmax(w)]
    return float(np.degrees(np.arctan2(major[1], major[0])) % 180.0)


def test_same_seed_same_bytes_different_seed_differs(tmp_path: Path) -> None:
    kwargs = {"patients": 2, "slices_per_patient": 3, "size": 32, "progress": False}
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    phantom.generate_dataset(a, seed=7, **kwargs)
    phantom.generate_dataset(b, seed=7, **kwargs)
    phantom.generate_dataset(c, seed=8, **kwargs)
    for name in ("slices.npy", "factors.csv", "dataset.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "slices.npy").read_bytes() != (c / "slices.npy").read_bytes()
    assert np.array_equal(render(), render())


def test_tissue_hu_ranges() -> None:
    hu = render(fat_thickness=1.0)
    assert abs(float(hu[:6, :6].mean()) + 1000.0) < 2.0  # air outside, no noise
    inside = body_mask(hu) | (hu < -400)
    lung = hu[(hu > -950) & (hu < -700)]
    assert lung.size > 800 and -880 < float(np.median(lung)) < -810
    assert float(hu.max()) > 300.0  # bone
    fat = ((hu > -130) & (hu < -70)).sum()
    soft = ((hu > 25) & (hu < 65)).sum()
    assert fat > 150 and soft > 600, (fat, soft)
    assert inside.any()


def test_noise_level_follows_noise_hu() -> None:
    for noise in (10.0, 30.0):
        corner = render(noise_hu=noise)[:20, :20]
        assert abs(float(corner.std()) - noise) < 0.25 * noise
        assert abs(float(corner.mean()) + 1000.0) < noise


def test_factors_are_sampled_independently() -> None:
    patients = [phantom.sample_patient(np.random.default_rng([1, i])) for i in range(300)]
    names = [n for n in FACTOR_NAMES if n != "z_position"]
    table = np.array([[getattr(p, n) for n in names] for p in patients])
    corr = np.corrcoef(table, rowvar=False)
    off = np.abs(corr[~np.eye(len(names), dtype=bool)])
    assert off.max() < 0.2, dict(zip(names, np.round(corr, 2).tolist(), strict=True))
    zero_breast = np.mean(table[:, names.index("breast_size")] == 0.0)
    assert 0.35 < zero_breast < 0.65


def test_x_and_y_offset_move_the_patient_not_the_table() -> None:
    base = render()
    moved = render(x_offset=8.0)
    shift = centroid(body_mask(moved)) - centroid(body_mask(base))
    assert abs(shift[0] - 8.0) < 1.0 and abs(shift[1]) < 1.0
    table_rows = slice(int(SIZE * 0.9), SIZE)
    np.testing.assert_array_equal(base[table_rows, 40:88], moved[table_rows, 40:88])
    up = render(y_offset=-4.0)
    top = lambda hu: np.nonzero(body_mask(hu).any(axis=1))[0][0]  # noqa: E731
    assert top(base) - top(up) in (3, 4, 5)


def lung_mask(hu: np.ndarray) -> np.ndarray:
    """Air-dense pixels enclosed by the body (outside air touches the image border)."""
    from scipy import ndimage

    labels, _ = ndimage.label(hu < -500)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return (labels > 0) & ~np.isin(labels, border)


def test_rotation_rotates_the_body() -> None:
    a0 = principal_angle_deg(lung_mask(render()))
    a10 = principal_angle_deg(lung_mask(render(rotation_deg=10.0)))
    turn = (a10 - a0 + 90) % 180 - 90
    assert 8.0 < turn < 12.0, turn


def test_body_width_fat_and_breasts_change_what_they_should() -> None:
    area = body_mask(render()).sum()
    wide = body_mask(render(body_width=1.1)).sum()
    assert 1.12 < wide / area < 1.3  # area grows about as width squared
    fat = lambda hu: ((hu > -130) & (hu < -70)).sum()  # noqa: E731
    assert fat(render(fat_thickness=1.0)) > 2 * fat(render(fat_thickness=0.0))
    top = lambda hu: np.nonzero(body_mask(hu).any(axis=1))[0][0]  # noqa: E731
    assert top(render(breast_size=0.0)) - top(render(breast_size=1.0)) >= 5


def test_z_position_runs_from_apex_to_abdomen() -> None:
    def lung_and_soft(z: float) -> tuple[int, int]:
        hu = render(z_position=z)
        lung = int((lung_mask(hu) & (hu > -950)).sum())  # parenchyma, not the stomach's gas
        return lung, int(((hu > 20) & (hu < 100)).sum())

    apex, mid, abdomen = lung_and_soft(0.03), lung_and_soft(0.5), lung_and_soft(0.97)
    assert mid[0] > 2 * apex[0] and mid[0] > 3 * abdomen[0]  # lungs largest mid-thorax
    assert abdomen[1] > 1.3 * mid[1]  # liver and stomach below the domes


def test_render_from_factors_rejects_bad_values() -> None:
    with pytest.raises(InvalidInputError, match="unknown factor"):
        render_from_factors({"bogus": 1.0})
    with pytest.raises(InvalidInputError, match="z_position"):
        render_from_factors({"z_position": 1.5})
    with pytest.raises(InvalidInputError, match="image size"):
        render_from_factors({}, size=4)


def test_dataset_factor_rows_match_rendering() -> None:
    rows = list(phantom.iter_phantom_slices(2, 2, 32, seed=4))
    assert [r["patient_id"] for _, r in rows] == [0, 0, 1, 1]
    for hu, row in rows:
        assert hu.shape == (32, 32) and hu.dtype == np.float32
        assert set(row) == {"patient_id", *FACTOR_NAMES}
        assert 0.0 <= row["z_position"] <= 1.0
