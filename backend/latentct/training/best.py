"""The best generator a run has produced, by the tracked Frechet distance (`keep_best`).

A GAN's quality does not fall steadily: on the demo run the tracked distance moved by +-30 between records long
after it had stopped improving, so the last generator is a draw from that noise. With `keep_best`, every quality
record offers the generators it measured (the weight average and the trained net); one that beats every earlier
record is written to `<run>/best/` (weights as safetensors, its record as JSON, replaced atomically). At the end the
run saves whichever is lowest: the average, the trained net or the kept best. The choice is made on the tracker's
samples; the card's quality numbers come from other latents (`quality_samples`), so picking the minimum of noisy
records does not flatter the reported distance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from torch import nn

from latentct.artifacts._io import read_json, read_tensors, write_json, write_tensors
from latentct.core.errors import ArtifactError
from latentct.core.fsutil import atomic_directory

BEST_DIR = "best"
WEIGHTS = "generator.safetensors"
RECORD = "best.json"


@dataclass
class BestRecord:
    step: int
    images_seen: int
    frechet_probe: float
    which: str  # "average" or "trained": the generator the record measured
    checksum: str = ""


def read_best(out: Path) -> BestRecord | None:
    path = out / BEST_DIR / RECORD
    if not path.is_file():
        return None
    try:
        return BestRecord(**read_json(path))
    except TypeError as exc:
        raise ArtifactError(f"{path}: not a kept-best record ({exc})") from None


def offer(out: Path, candidates: dict[str, tuple[nn.Module, float]], step: int, images_seen: int) -> bool:
    """Keep the lowest-distance candidate if it beats the kept best; returns whether it did."""
    which, (module, frechet) = min(candidates.items(), key=lambda item: item[1][1])
    best = read_best(out)
    if best is not None and best.frechet_probe <= frechet:
        return False
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    with atomic_directory(out / BEST_DIR, overwrite=True) as tmp:
        checksum = write_tensors(tmp / WEIGHTS, state)
        write_json(tmp / RECORD, asdict(BestRecord(step, images_seen, float(frechet), which, checksum)))
    return True


def load_best(out: Path, module: nn.Module) -> BestRecord:
    """Load the kept weights into `module` (a generator of the run's architecture); returns their record."""
    best = read_best(out)
    if best is None:
        raise FileNotFoundError(out / BEST_DIR / RECORD)
    state = read_tensors(out / BEST_DIR / WEIGHTS, best.checksum or None)
    device = next(module.parameters()).device
    module.load_state_dict({k: v.to(device) for k, v in state.items()})
    return best


def forget_after(out: Path, step: int) -> None:
    """On resume from a checkpoint at `step`: drop a best kept after it (the resumed run retraces those steps)."""
    best = read_best(out)
    if best is not None and best.step > step:
        for name in (WEIGHTS, RECORD):
            (out / BEST_DIR / name).unlink(missing_ok=True)
