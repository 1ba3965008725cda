"""Request and response schemas of the REST contract (docs/api.md), with the extensions we add."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from latentct.rendering.encoding import MAX_SCALE
from latentct.rendering.latents import MAX_LATENT_ABS, MAX_SEED, MAX_SHIFT
from latentct.rendering.windows import WINDOW_HELP

SHIFTS_HELP = (
    f'{{"k": v}}: add v * d_k, k a direction index of the set, v finite with abs(v) <= {MAX_SHIFT:g}; needs `set`'
)


class DirectionSetSummary(BaseModel):
    id: str
    method: str
    count: int


class ModelInfo(BaseModel):
    id: str
    kind: Literal["gan", "vae"]
    latent_dim: int
    image_size: int
    hu_range: tuple[float, float]
    description: str
    direction_sets: list[DirectionSetSummary]
    # extensions
    checksum: str = Field(description="sha256 of the generator weights")
    precision: str = Field(description="dtype the generator runs in on this server")
    precision_error_hu: float | None = Field(
        description="measured max deviation of reduced precision from float32 (HU); used only within one grey level"
    )
    device: str = Field(description="device the generator runs on")
    intended_use: str
    has_scorecard: bool = Field(False, description="GET .../scorecard answers (the model folder has a scorecard)")


class Consensus(BaseModel):
    term: str | None = Field(description="the most frequent current label term; null when the top terms tie")
    share: float
    n_labels: int


class DirectionInfo(BaseModel):
    index: int
    metrics: dict[str, Any]
    consensus: Consensus | None


class DirectionSetInfo(BaseModel):
    id: str
    method: str
    count: int
    params: dict[str, Any]
    directions: list[DirectionInfo]
    # extensions
    checksum: str = Field(description="sha256 of the direction matrix file")
    consensus_available: bool = Field(description="false when the label store could not be read; consensus is then null")


class DirectionVectors(BaseModel):
    """Extension of the contract: the unit direction rows, e.g. for comparing two sets of one model."""

    id: str
    count: int
    latent_dim: int
    checksum: str = Field(description="sha256 of the direction matrix file")
    directions: list[list[float]] = Field(description="K rows of latent_dim float32 values, unit length, in set order")


class LocalDirections(BaseModel):
    """Extension of the contract: the pullback-metric directions at one latent (GET .../local-directions)."""

    model: str
    seed: int
    set: str | None = Field(description="the set the shifts refer to, if any")
    latent: list[float] = Field(description="z of the seed plus the shifts: render along a direction with POST /render")
    count: int
    directions: list[list[float]] = Field(description="unit rows, the largest image change first")
    eigenvalues: list[float] = Field(description="squared image change (pixels in [-1, 1], summed) per unit shift")
    seconds: float


class _Strict(BaseModel):
    """Request bodies taken as JSON types, not coerced: pydantic's lax mode turns "1" into the seed 1, 1.0 into 1, and
    true into the latent value 1.0, so a client's mistake would render something rather than be named. Strict mode
    still takes a JSON integer where a float is expected (the latent [0, 1, ...])."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class RenderRequest(_Strict):
    """Exactly one of `latent` and `seed`."""

    latent: list[float] | None = Field(
        None, max_length=4096, description=f"latent_dim finite values with abs(value) <= {MAX_LATENT_ABS:g}"
    )
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="z = torch.randn(latent_dim, generator=manual_seed(seed))")
    set: str | None = Field(None, max_length=64, description="direction set id (required with shifts)")
    shifts: dict[str, float] = Field(default_factory=dict, max_length=4096, description=SHIFTS_HELP)
    window: str = Field("full", max_length=64, description=WINDOW_HELP)
    scale: int = Field(1, ge=1, le=MAX_SCALE, description="nearest-neighbour integer upscaling")


class LiveMessage(_Strict):
    """One request on the live socket."""

    seed: int = Field(0, ge=0, le=MAX_SEED)
    set: str | None = Field(None, max_length=64)
    shifts: dict[str, float] = Field(default_factory=dict, max_length=4096)
    window: str = Field("full", max_length=64)
    scale: int = Field(1, ge=1, le=MAX_SCALE)


class EncodeResponse(BaseModel):
    latent: list[float]
    method: Literal["encoder", "optimization"]
    reconstruction_mae_hu: float
    # extensions
    steps: int = Field(description="optimisation steps (0 for the encoder)")
    seconds: float = Field(description="time spent encoding on this server")
    input_format: str = Field(description="dicom, png or npy")


class Health(BaseModel):
    status: str
    ready: bool
    models: list[str]
    broken: dict[str, str] = Field(description="model folders that failed to load, with the reason")
    engine: dict[str, Any]
