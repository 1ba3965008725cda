"""Request and response schemas of the REST contract (docs/api.md), with the extensions we add."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from latentct.core.latents import MAX_SEED
from latentct.labels.context import MAX_CONTEXT_EXTENT, MAX_CONTEXT_SEEDS, MAX_CONTEXT_STEPS, MIN_CONTEXT_STEPS
from latentct.labels.store import check_text
from latentct.labels.tables import (
    MAX_ANNOTATOR_NAME_CHARS,
    MAX_ID_CHARS,
    MAX_POLARITY_CHARS,
    MAX_TERM_CHARS,
    MAX_TEXT_CHARS,
)
from latentct.rendering.encoding import MAX_SCALE
from latentct.rendering.latents import MAX_LATENT_ABS, MAX_SHIFT
from latentct.rendering.volumes import DEFAULT_SLICES as VOLUME_DEFAULT_SLICES
from latentct.rendering.volumes import MAX_SLICES as VOLUME_MAX_SLICES
from latentct.rendering.volumes import MIN_SLICES as VOLUME_MIN_SLICES
from latentct.rendering.windows import WINDOW_HELP, parse_window

SHIFTS_HELP = (
    f'{{"k": v}}: add v * d_k, k a direction index of the set, v finite with abs(v) <= {MAX_SHIFT:g}; needs `set`'
)


class DirectionSetSummary(BaseModel):
    id: str
    method: str
    count: int
    # extensions
    trained: float | None = Field(
        None,
        description="for a trained set (Voynov's): the share of its training schedule it ran, steps done / steps asked "
        "(below 1 when a time budget stopped it); null for closed-form sets",
    )


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
    pixel_spacing_mm: float | None = Field(
        None, description="mm per pixel: the phantom's for phantom-trained models, else what the card records; null: unknown"
    )


class TiedCategory(BaseModel):
    term: str
    sign: Literal[1, -1] | None = Field(description="null: labels without a sign, their own (term, ?) category")


class ConsensusCore(BaseModel):
    """Consensus over current labels, one per annotator, counted in (term, sign) categories."""

    term: str | None = Field(description="term of the most frequent (term, sign) category; null on a tie or without labels")
    sign: Literal[1, -1] | None = Field(None, description="sign of that category; null on a tie or when unknown")
    share: float | None = Field(description="fraction of labels in the top category; null without labels")
    n_labels: int
    tie: list[TiedCategory] = Field(default_factory=list, description="the tied top categories; [] when one leads")
    consensus_terms: list[str] = Field(
        default_factory=list, description="distinct terms of the leading categories (one without a tie)"
    )


class Consensus(ConsensusCore):
    """Shown to admins, and to an annotator for a direction they labelled; null otherwise (blinding)."""

    share: float
    others: ConsensusCore | None = Field(
        None, description="the same over the other annotators' labels only (the caller's own left out)"
    )


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


class VolumeDirection(BaseModel):
    """Extension (issue 20): the direction a volume of a set walks when none is given, or why there is none."""

    set: str
    direction: int | None = Field(description="the direction index; null where the set has no slice-level direction")
    direction_source: str | None = Field(description="consensus or scorecard; null with direction")
    detail: str | None = Field(description="why there is none (what the volume itself would answer with 422)")


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


class EncodeImages(BaseModel):
    """The prepared slice and G(latent), what `reconstruction_mae_hu` compares: row-major, rounded to whole HU."""

    size: int = Field(description="image_size: both arrays hold size x size values, row by row (row 0 at the top)")
    original_hu: list[int] = Field(description="the upload padded, resized and clipped like the training data")
    reconstruction_hu: list[int] = Field(description="the model's image of the returned latent")


class EncodeResponse(BaseModel):
    latent: list[float]
    method: Literal["encoder", "optimization"]
    reconstruction_mae_hu: float
    # extensions
    model: str | None = Field(None, description="the model that encoded the slice (send it back as a volume's encoded_by)")
    generator_checksum: str | None = Field(None, description="sha256 of that model's generator weights")
    steps: int = Field(description="optimisation steps (0 for the encoder)")
    seconds: float = Field(description="time spent encoding on this server")
    input_format: str = Field(description="dicom, png or npy")
    images: EncodeImages | None = Field(
        None, description="with `?images=true`: the slice as prepared and its reconstruction, in HU (else null)"
    )


class EncodedBy(_Strict):
    """Which model encoded a latent, as `POST .../encode` answers it: a volume checks it is its own model."""

    model: str = Field(min_length=1, max_length=128, description="the encoding model's id")
    generator_checksum: str = Field(min_length=1, max_length=128, description="sha256 of its generator weights")


class VolumeBody(_Strict):
    """Extension (issue 20): a volume around a given latent (an encoded slice) instead of a seed; the GET's fields."""

    set: str = Field(min_length=1, max_length=64, description="direction set id")
    direction: int | None = Field(None, ge=0, le=999_999, description="default: consensus slice_level, else scorecard")
    slices: int = Field(VOLUME_DEFAULT_SLICES, ge=VOLUME_MIN_SLICES, le=VOLUME_MAX_SLICES)
    path: Literal["straight", "locked"] = "straight"
    format: Literal["nii.gz", "dicom-zip", "json"] = "nii.gz"
    measurements: bool = True
    reference: Literal["phantom"] | None = None
    patient: int | None = Field(None, ge=0, le=999_999)
    latent: list[float] = Field(
        max_length=4096, description=f"the base latent: latent_dim finite values with abs(value) <= {MAX_LATENT_ABS:g}"
    )
    encoded_by: EncodedBy | None = Field(None, description="the encode answer's model and generator_checksum")


class Health(BaseModel):
    status: str
    ready: bool
    models: list[str]
    broken: dict[str, str] = Field(description="model folders that failed to load, with the reason")
    engine: dict[str, Any]


# labels ------------------------------------------------------------------------------------------------------------

MAX_INT32 = 2**31 - 1  # the label ids and indices a client may name; larger ones are refused before the database


def _single_line(value: str) -> str:
    return check_text(value, "value", MAX_TEXT_CHARS, allow_newlines=False)


def _multi_line(value: str) -> str:
    return check_text(value, "text", MAX_TEXT_CHARS, allow_newlines=True)


# text the store would refuse (NUL, control characters, lone surrogates) is a 422 naming the field, not a 500
SingleLine = Annotated[str, AfterValidator(_single_line)]
MultiLine = Annotated[str, AfterValidator(_multi_line)]


class TermOut(BaseModel):
    id: str
    name: str
    description: str
    requires_text: bool = Field(description="labels with this term must carry free text (e.g. `other`)")
    positive: str | None = Field(
        description="the term's positive sense (`larger`, `clockwise as displayed`); null: the term has no sense "
        "and its labels take no `sign`"
    )


class AnnotatorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SingleLine = Field(
        min_length=1,
        max_length=MAX_ANNOTATOR_NAME_CHARS,
        description=f"1..{MAX_ANNOTATOR_NAME_CHARS} characters",
    )
    role: Literal["annotator", "admin"] = "annotator"


class AnnotatorOut(BaseModel):
    id: int
    name: str
    role: Literal["annotator", "admin"]
    created_at: datetime
    revoked: bool = False


class AnnotatorCreated(BaseModel):
    id: int
    name: str
    role: Literal["annotator", "admin"]
    token: str = Field(description="bearer token; shown this once, stored only as a sha256 hash")


def _label_window(value: str) -> str:
    parse_window(value)  # InvalidInputError (a ValueError) names the value: 422
    return value.strip()


def _label_sign(value: int) -> int:
    if value not in (1, -1):
        raise ValueError("sign must be 1 or -1 (or null: unknown)")
    return value


class LabelContextIn(BaseModel):
    """What the annotator saw: the display window, the seeds, the traversal extent and steps."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    window: Annotated[str, AfterValidator(_label_window)] = Field(max_length=64, description=WINDOW_HELP)
    seeds: list[Annotated[int, Field(ge=0, le=MAX_SEED)]] = Field(
        min_length=1, max_length=MAX_CONTEXT_SEEDS, description=f"1..{MAX_CONTEXT_SEEDS} seeds shown"
    )
    extent: float = Field(gt=0, le=MAX_CONTEXT_EXTENT, description=f"0 < extent <= {MAX_CONTEXT_EXTENT:g}: the range ±extent")
    steps: int = Field(
        ge=MIN_CONTEXT_STEPS, le=MAX_CONTEXT_STEPS, description=f"frames, {MIN_CONTEXT_STEPS}..{MAX_CONTEXT_STEPS}"
    )


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: SingleLine = Field(min_length=1, max_length=MAX_ID_CHARS, description="model id")
    set: SingleLine = Field(min_length=1, max_length=MAX_ID_CHARS, description="direction set id")
    direction: int = Field(
        strict=True, ge=0, le=MAX_INT32, description="direction index, 0..count-1 of the set"
    )
    term: str = Field(
        min_length=1, max_length=MAX_TERM_CHARS, description="a vocabulary term id (GET /api/vocabulary)"
    )
    text: MultiLine = Field(
        "",
        max_length=MAX_TEXT_CHARS,
        description=f"free text, at most {MAX_TEXT_CHARS} characters; required for `other`",
    )
    confidence: int = Field(strict=True, ge=1, le=5, description="1 (unsure) .. 5 (certain)")
    polarity: SingleLine = Field(
        "",
        max_length=MAX_POLARITY_CHARS,
        description=(
            f"what a positive shift does, free short text of at most {MAX_POLARITY_CHARS} characters, "
            "e.g. `larger`, `rotates clockwise`, `moves caudal`"
        ),
    )
    blinded: bool | None = Field(
        None,
        strict=True,
        description="the client's claim that the annotator saw no others' labels; the server stores true only when "
        "that holds (first label of this annotator on the direction, not an admin), false when the client says false",
    )
    sign: Annotated[int, Field(strict=True, json_schema_extra={"enum": [1, -1]}), AfterValidator(_label_sign)] | None = Field(
        None,
        description="+1: a positive shift moves the term in its positive sense (GET /api/vocabulary `positive`), -1: "
        "the other way; null or absent: unknown. Only for terms with a positive sense (422 otherwise)",
    )
    context: LabelContextIn | None = Field(None, description="what the annotator saw when labelling")


class LabelOut(BaseModel):
    id: int
    annotator_id: int
    annotator_name: str
    created_at: datetime = Field(description="UTC")
    model: str
    model_checksum: str
    set: str
    set_checksum: str
    direction: int
    term: str
    text: str
    confidence: int
    polarity: str
    blinded: bool = Field(description="set by the server: the annotator could not have seen others' labels")
    current: bool = Field(description="this is the annotator's latest label for the direction")
    sign: Literal[1, -1] | None = Field(None, description="against the term's positive sense; null unknown")
    context: dict[str, Any] | None = Field(None, description='{"window", "seeds", "extent", "steps"}, null if not sent')


class AgreementLabelOut(BaseModel):
    """One annotator's current label of a direction (admins only)."""

    label_id: int
    annotator_id: int
    annotator_name: str
    term: str
    sign: Literal[1, -1] | None
    confidence: int
    text: str
    polarity: str
    context: dict[str, Any] | None
    blinded: bool
    created_at: datetime


class DirectionAgreementOut(BaseModel):
    index: int
    n_labels: int
    consensus_term: str | None = Field(
        description="term of the most chosen (term, sign) category; null without labels, on a tie, or hidden"
    )
    share: float | None = Field(description="fraction of current labels in the top category; null when hidden")
    # extensions (issue 19)
    consensus_sign: Literal[1, -1] | None = Field(None, description="sign of the top category")
    tie: list[TiedCategory] = Field(default_factory=list, description="tied top categories; [] when one leads or hidden")
    consensus_terms: list[str] = Field(default_factory=list, description="distinct terms of the leading categories")
    consensus_hidden: bool = Field(
        False, description="true: an annotator who has not labelled this direction; consensus fields are null"
    )
    labelled_by_you: bool = Field(False, description="the caller has a current label on this direction")
    n_others: int = Field(0, description="current labels of annotators other than the caller")
    others: ConsensusCore | None = Field(None, description="consensus of the others' labels; null when hidden")
    labels: list[AgreementLabelOut] | None = Field(None, description="per-annotator detail, admins only")


class AgreementOut(BaseModel):
    model: str
    set: str
    set_checksum: str
    directions: list[DirectionAgreementOut]
    fleiss_kappa: float | None = Field(
        description="over (term, sign) categories; null when undefined (no direction with two labels)"
    )
    krippendorff_alpha: float | None = Field(description="nominal, over (term, sign) categories; null when undefined")


# reader studies (labels/studies.py): what an annotator reads never names a set, a checksum or a direction index


class StudyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: SingleLine = Field(min_length=1, max_length=MAX_ID_CHARS, description="model id")
    sets: list[Annotated[SingleLine, Field(min_length=1, max_length=MAX_ID_CHARS)]] = Field(
        min_length=2, max_length=16, description="direction set ids of the model, 2..16"
    )
    name: SingleLine = Field("", max_length=200, description="shown to annotators; must not name a set")
    directions_per_set: int | None = Field(
        None, strict=True, ge=1, le=4096, description="the first K directions of each set (default: all)"
    )


class StudySetOut(BaseModel):
    set: str
    set_checksum: str
    directions: int


class StudyCreated(BaseModel):
    """Admin-only: the study with its sets."""

    id: int
    name: str
    model: str
    created_at: datetime = Field(description="UTC")
    created_by: int
    sets: list[StudySetOut]
    items: int


class StudyOut(BaseModel):
    """A study as an annotator sees it."""

    id: int
    name: str
    model: str
    items: int
    labelled: int = Field(description="items this annotator has labelled")
    next_item: str | None = Field(description="opaque id of this annotator's next unlabelled item; null when done")


class StudyItemOut(BaseModel):
    item: str = Field(description="opaque item id")
    position: int = Field(description="1-based place in this annotator's order")
    labelled: bool


class StudyLabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    term: str = Field(min_length=1, max_length=MAX_TERM_CHARS, description="a vocabulary term id")
    text: MultiLine = Field("", max_length=MAX_TEXT_CHARS, description="free text; required for `other`")
    confidence: int = Field(strict=True, ge=1, le=5, description="1 (unsure) .. 5 (certain)")
    polarity: SingleLine = Field("", max_length=MAX_POLARITY_CHARS, description="what a positive shift does")
    sign: Literal[1, -1] | None = Field(None, description="against the term's positive sense; null unknown")
    context: LabelContextIn | None = Field(None, description="what the annotator saw when labelling")


class StudyLabelOut(BaseModel):
    id: int
    study: int
    item: str
    term: str
    text: str
    confidence: int
    polarity: str
    sign: Literal[1, -1] | None
    blinded: bool
    created_at: datetime = Field(description="UTC")
    next_item: str | None


class StudyMethodOut(BaseModel):
    set: str
    method: str
    directions: int
    annotators: int
    labels: int
    specific_confident: int
    specific_confident_share: float | None
    fleiss_kappa: float | None
    krippendorff_alpha: float | None
    measured_directions: int
    measured_labels: int
    scorecard_matches: int
    scorecard_match_share: float | None


class StudyResultsOut(BaseModel):
    study: int
    name: str
    model: str
    methods: list[StudyMethodOut]
    intended_use: str
