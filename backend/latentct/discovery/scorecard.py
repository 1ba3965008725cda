"""The scorecard: per paper factor, is there one direction in a set that moves it far, cleanly, the same way for
every seed, and better than chance? Measured on one model for several sets in one run, beside random directions.

For direction k and factor f, over shifts t in [-extent, +extent] (prior sd units) and seeds s:
- slope[k, s, f]: least-squares change of the probe's estimate of f per unit shift, for seed s;
- effect[k, f] = |mean_s slope| * 2 * extent / natural_sd_f: the change over the traversal in standard deviations of
  f in the data (the probe's training distribution), not in the model's own, possibly collapsed, spread;
- share[k, f] = effect[k, f]^2 / sum_g effect[k, g]^2: the part of the direction's change that is f;
- sign_agreement[k, f]: the fraction of seeds whose slope has the sign of the mean slope;
- strength[k, f] = effect[k, f] when share >= MIN_SHARE and sign_agreement >= MIN_SIGN_AGREEMENT, else 0.
A set's strength for f is its best direction's. Its chance level is the probability that K directions drawn without
replacement from a pool of random directions (whole random orthonormal bases, `random_directions` in all) hold one
at least as strong: 1 - C(P - m, K) / C(P, K), with m the pool directions that are. f is *found* when the best
direction's effect >= MIN_EFFECT_SD, it qualifies (share, sign) and the chance level is <= MAX_CHANCE.

Set-level numbers from the effect matrix R = effect[K, F] (DCI, Eastwood & Williams 2018): disentanglement =
sum_k rho_k (1 - H_F(R_k. / sum R_k.)), rho_k the direction's share of all change; completeness = mean_f
(1 - H_K(R_.f / sum R_.f)). Each beside the mean of random sets of the same K, and normalised so that random = 0 and
the supervised reference (when it is among the sets) = 1: (x - random_K) / (x_supervised - random_K_supervised).
The same for the paper score: the mean over paper factors of min(strength, 3) / 3.
"""

from __future__ import annotations

import contextlib
import io
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from latentct import INTENDED_USE
from latentct.artifacts import load_direction_set
from latentct.artifacts.cards import Scorecard
from latentct.artifacts.directions import SCORECARD_FILES, save_scorecard
from latentct.artifacts.probe import load_probe
from latentct.core.checks import check_range
from latentct.core.device import resolve_device
from latentct.core.errors import InvalidInputError
from latentct.core.hardware import cpu_has_native_bf16
from latentct.core.latents import latents_from_seeds
from latentct.discovery.closed_form import random_orthonormal
from latentct.discovery.common import generate, load_for_discovery
from latentct.discovery.evaluate import BASELINE_SEED, PAPER_FACTORS

MIN_EFFECT_SD = 1.0
MIN_SHARE = 0.5
MIN_SIGN_AGREEMENT = 0.9
MAX_CHANCE = 0.05
STRENGTH_CAP_SD = 3.0
RANDOM_SET_DRAWS = 1000


@dataclass
class ScorecardConfig:
    seeds: int = 16
    first_seed: int = 0
    extent: float = 3.0
    steps: int = 7
    random_directions: int = 1024
    batch_size: int = 128
    # rendering precision: "auto" = bfloat16 autocast on CPUs with native bf16 (pool and sets alike), else float32
    precision: str = "auto"

    def check(self) -> ScorecardConfig:
        check_range("seeds", self.seeds, 2, 1024)
        check_range("steps", self.steps, 3, 64)
        check_range("extent", self.extent, 0, 30, low_open=True)
        check_range("random directions", self.random_directions, 16, 100_000)
        if self.batch_size < 1:
            raise InvalidInputError(f"batch size must be >= 1, got {self.batch_size}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise InvalidInputError(f"precision must be 'auto', 'fp32' or 'bf16', got {self.precision!r}")
        return self

    def resolved_precision(self, device: torch.device) -> str:
        """What `precision` means on `device`: "bf16" or "fp32" (recorded on the card beside the option)."""
        native = device.type == "cuda" or cpu_has_native_bf16()
        return "bf16" if self.precision == "bf16" or (self.precision == "auto" and native) else "fp32"

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager[Any]:
        if self.resolved_precision(device) == "bf16":
            return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def shifts(self) -> torch.Tensor:
        return torch.linspace(-self.extent, self.extent, self.steps)


# ------------------------------------------------------------------------------------------------- 1. measure


def factor_slopes(generator: nn.Module, probe: Any, directions: torch.Tensor, latents: torch.Tensor, shifts: torch.Tensor,
                  device: torch.device, batch_size: int = 128, desc: str = "directions", progress: bool = True
                  ) -> np.ndarray:
    """Least-squares slope of every probe factor against the shift: [K, S, F] in factor units per unit shift."""
    t = shifts.double()
    centred_t = (t - t.mean()).numpy()
    out = []
    for direction in tqdm(directions, desc=desc, leave=False, disable=not progress):
        frames = (latents[:, None, :] + shifts[None, :, None] * direction[None, None, :]).reshape(-1, latents.shape[1])
        images = generate(generator, frames, device, batch_size)  # float32 on the CPU
        with torch.autocast(device_type=device.type, enabled=False):  # the probe always reads float32
            estimates = probe.predict(images).double().numpy()
        estimates = estimates.reshape(latents.shape[0], len(shifts), -1)  # [S, T, F]
        out.append(np.einsum("stf,t->sf", estimates - estimates.mean(axis=1, keepdims=True), centred_t)
                   / float((centred_t**2).sum()))
    return np.stack(out)


@dataclass
class Responses:
    effect: np.ndarray  # [K, F] natural sd over the traversal
    share: np.ndarray  # [K, F]
    sign_agreement: np.ndarray  # [K, F]
    strength: np.ndarray  # [K, F]; 0 where the direction does not qualify for the factor


def responses(slopes: np.ndarray, natural_sd: np.ndarray, extent: float) -> Responses:
    mean = slopes.mean(axis=1)  # [K, F]
    effect = np.abs(mean) * 2 * extent / np.maximum(natural_sd, 1e-12)
    share = effect**2 / np.maximum((effect**2).sum(axis=1, keepdims=True), 1e-24)
    agree = (np.sign(slopes) == np.sign(mean)[:, None, :]).mean(axis=1)
    strength = np.where((share >= MIN_SHARE) & (agree >= MIN_SIGN_AGREEMENT), effect, 0.0)
    return Responses(effect, share, agree, strength)


# ------------------------------------------------------------------------------------------------- 2. compare


def chance_of_at_least(pool_strength: np.ndarray, value: float, count: int) -> float:
    """P(K of the P pool directions, drawn without replacement, include one with strength >= value > 0)."""
    if value <= 0:
        return 1.0
    pool = len(pool_strength)
    if count > pool:
        raise InvalidInputError(f"a set of {count} directions needs a random pool larger than {pool}")
    m = int((pool_strength >= value).sum())
    if m == 0:
        return 0.0
    if pool - m < count:
        return 1.0
    log_none = (math.lgamma(pool - m + 1) - math.lgamma(pool - m - count + 1)
                - math.lgamma(pool + 1) + math.lgamma(pool - count + 1))
    return float(1.0 - math.exp(log_none))


def _entropy_normalised(p: np.ndarray, axis: int, base: int) -> np.ndarray:
    """Entropy of the distributions along `axis` of p [K, F], in units of log(base)."""
    logs = np.log(np.where(p > 0, p, 1.0))
    return -(p * logs).sum(axis=axis) / math.log(base)


def dci(effect: np.ndarray) -> tuple[float, float]:
    """(disentanglement, completeness) of an effect matrix [K, F] (see the module doc)."""
    k, f = effect.shape
    total = effect.sum()
    if total <= 0:
        return 0.0, 0.0
    rows = effect / np.maximum(effect.sum(axis=1, keepdims=True), 1e-24)
    rho = effect.sum(axis=1) / total
    disentanglement = float((rho * (1.0 - _entropy_normalised(rows, 1, f))).sum()) if f > 1 else 1.0
    cols = effect / np.maximum(effect.sum(axis=0, keepdims=True), 1e-24)
    completeness = float((1.0 - _entropy_normalised(cols, 0, k)).mean()) if k > 1 else 1.0
    return disentanglement, completeness


def paper_score(strength: np.ndarray, paper_columns: list[int]) -> float:
    best = strength[:, paper_columns].max(axis=0) if strength.size else np.zeros(len(paper_columns))
    return float(np.mean(np.minimum(best, STRENGTH_CAP_SD) / STRENGTH_CAP_SD))


def random_set_scores(pool: Responses, count: int, paper_columns: list[int], seed: int = BASELINE_SEED
                      ) -> dict[str, dict[str, float]]:
    """Mean and sd of the set-level numbers over RANDOM_SET_DRAWS random sets of `count` pool directions."""
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {"disentanglement": [], "completeness": [], "paper_score": [], "found": []}
    for _ in range(RANDOM_SET_DRAWS):
        rows = rng.choice(len(pool.effect), size=count, replace=False)
        d, c = dci(pool.effect[rows])
        values["disentanglement"].append(d)
        values["completeness"].append(c)
        values["paper_score"].append(paper_score(pool.strength[rows], paper_columns))
        best = pool.strength[rows][:, paper_columns].max(axis=0)
        values["found"].append(float((best >= MIN_EFFECT_SD).sum()))
    return {name: {"mean": round(float(np.mean(v)), 4), "sd": round(float(np.std(v, ddof=1)), 4)}
            for name, v in values.items()}


def score_factor(resp: Responses, pool: Responses, f: int) -> dict[str, Any]:
    """The set's best direction for factor column f and whether it finds f."""
    count = len(resp.effect)
    if resp.strength[:, f].max() > 0:
        k = int(resp.strength[:, f].argmax())
    else:  # nothing qualifies: show the direction that comes closest (largest effect weighted by its share)
        k = int((resp.effect[:, f] * resp.share[:, f]).argmax())
    strength = float(resp.strength[k, f])
    chance = chance_of_at_least(pool.strength[:, f], strength, count)
    qualifies = resp.share[k, f] >= MIN_SHARE and resp.sign_agreement[k, f] >= MIN_SIGN_AGREEMENT
    found = bool(qualifies and resp.effect[k, f] >= MIN_EFFECT_SD and chance <= MAX_CHANCE)
    return {"direction": k, "effect_sd": round(float(resp.effect[k, f]), 3), "share": round(float(resp.share[k, f]), 3),
            "sign_agreement": round(float(resp.sign_agreement[k, f]), 3), "chance": round(chance, 4), "found": found}


def score_set(resp: Responses, pool: Responses, factor_names: list[str], paper: list[str]) -> dict[str, Any]:
    paper_columns = [factor_names.index(n) for n in paper]
    per_factor = {name: score_factor(resp, pool, f) for f, name in enumerate(factor_names)}
    d, c = dci(resp.effect)
    return {
        "count": len(resp.effect),
        "per_factor": per_factor,
        "paper_found": [n for n in paper if per_factor[n]["found"]],
        "found": [n for n in factor_names if per_factor[n]["found"]],
        "disentanglement": round(d, 4),
        "completeness": round(c, 4),
        "paper_score": round(paper_score(resp.strength, paper_columns), 4),
        "random": random_set_scores(pool, len(resp.effect), paper_columns),
    }


def normalise(sets: dict[str, dict[str, Any]], reference: str | None) -> None:
    """Add `normalised` (random = 0, the reference set = 1) to every set, in place; None without a reference."""
    for entry in sets.values():
        entry["normalised"] = {}
        for name in ("disentanglement", "completeness", "paper_score"):
            value = None
            if reference is not None:
                ref = sets[reference]
                denominator = ref[name] - ref["random"][name]["mean"]
                if abs(denominator) > 1e-9:
                    value = round((entry[name] - entry["random"][name]["mean"]) / denominator, 3)
            entry["normalised"][name] = value


# ------------------------------------------------------------------------------------------------- 3. report


def _short(name: str) -> str:
    return {"rotation_deg": "rotation", "breast_size": "breast size", "fat_thickness": "thickness",
            "y_offset": "vertical position", "z_position": "slice level"}.get(name, name)


def markdown_table(card: dict[str, Any]) -> str:
    paper = card["paper_factors"]
    head = ["set", "K", *(_short(n) for n in paper), "found", "DCI D (random)", "DCI C (random)", "normalised D"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for set_id, entry in card["sets"].items():
        cells = [set_id + (" (reference)" if set_id == card.get("reference") else ""), str(entry["count"])]
        for name in paper:
            row = entry["per_factor"][name]
            mark = "**found**" if row["found"] else "no"
            cells.append(f"d{row['direction']}: {row['effect_sd']:.1f} sd, {row['share']:.0%}, "
                         f"sign {row['sign_agreement']:.0%}, p {row['chance']:.3f}: {mark}")
        rnd = entry["random"]
        norm = entry["normalised"]["disentanglement"]
        cells += [f"{len(entry['paper_found'])} of {len(paper)}",
                  f"{entry['disentanglement']:.3f} ({rnd['disentanglement']['mean']:.3f})",
                  f"{entry['completeness']:.3f} ({rnd['completeness']['mean']:.3f})",
                  "-" if norm is None else f"{norm:+.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    rule = (f"found = effect >= {MIN_EFFECT_SD:g} natural sd over shifts of +-{card['config']['extent']:g}, share >= "
            f"{MIN_SHARE:.0%}, sign agreement >= {MIN_SIGN_AGREEMENT:.0%} of {card['config']['seeds']} seeds, chance "
            f"<= {MAX_CHANCE:g} against {card['pool']['directions']} random directions")
    return "\n".join(lines) + "\n\n" + rule + "\n"


def scorecard_png(card: dict[str, Any]) -> bytes:
    """Sets x paper factors: the best direction's effect (colour, capped at 3 sd), found ones marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paper, sets = card["paper_factors"], list(card["sets"])
    effect = np.array([[card["sets"][s]["per_factor"][n]["effect_sd"] for n in paper] for s in sets])
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(paper), 1.0 + 0.42 * len(sets)), layout="constrained")
    image = ax.imshow(np.minimum(effect, STRENGTH_CAP_SD), cmap="viridis", vmin=0, vmax=STRENGTH_CAP_SD, aspect="auto")
    for i, s in enumerate(sets):
        for j, n in enumerate(paper):
            row = card["sets"][s]["per_factor"][n]
            text = f"d{row['direction']}\n{row['share']:.0%}" + (" ✓" if row["found"] else "")
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if effect[i, j] < 2 else "black",
                    fontweight="bold" if row["found"] else "normal")
    ax.set_xticks(range(len(paper)), [_short(n) for n in paper], fontsize=8)
    ax.set_yticks(range(len(sets)), [f"{s} ({len(card['sets'][s]['paper_found'])}/{len(paper)})" for s in sets], fontsize=8)
    fig.colorbar(image, ax=ax, label="best direction's effect (natural sd)")
    ax.set_title(f"{card['model_id']}: paper factors found (✓), share of the direction's change", fontsize=9)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------- the run


def random_pool(latent_dim: int, size: int) -> torch.Tensor:
    """`size` random unit directions made of whole random orthonormal bases (seeded)."""
    bases = math.ceil(size / latent_dim)
    return torch.cat([random_orthonormal(latent_dim, latent_dim, seed=BASELINE_SEED + 100 + b) for b in range(bases)])[:size]


def build_scorecard(model_dir: Path | str, set_ids: list[str], config: ScorecardConfig | None = None,
                    probe_dir: Path | str | None = None, device: str = "auto", progress: bool = True,
                    probe: Any = None) -> Scorecard:
    """Score `set_ids` of one model against one random pool (same seeds); writes the model's scorecard files."""
    config = (config or ScorecardConfig()).check()
    if not set_ids:
        raise InvalidInputError("the scorecard needs at least one direction set (--set ID)")
    torch_device = resolve_device(device)
    model = load_for_discovery(model_dir, torch_device)
    sets = {set_id: load_direction_set(model.path, set_id, model.card) for set_id in set_ids}
    probe = probe if probe is not None else load_probe(probe_dir, torch_device)
    factor_names = list(probe.factor_names)
    # the factors scored: the paper's five where the probe reads them (phantom), else every factor the probe reads
    paper = [n for n in PAPER_FACTORS if n in factor_names] or factor_names
    natural_sd = np.asarray(probe.factor_std.cpu().numpy() if hasattr(probe, "factor_std") else probe.meta["factor_std"],
                            dtype=np.float64)
    started = time.perf_counter()
    latents = latents_from_seeds(model.latent_dim, list(range(config.first_seed, config.first_seed + config.seeds)))
    shifts = config.shifts()
    too_big = [s.id for s in sets.values() if s.count > config.random_directions]
    if too_big:
        raise InvalidInputError(f"set(s) {too_big} have more directions than the random pool ({config.random_directions})")

    def measure(directions: torch.Tensor, desc: str) -> Responses:
        with config.autocast(torch_device):
            slopes = factor_slopes(model.fused_generator, probe, directions, latents, shifts, torch_device, config.batch_size,
                                   desc, progress)
        return responses(slopes, natural_sd, config.extent)

    pool = measure(random_pool(model.latent_dim, config.random_directions), f"random pool ({config.random_directions})")
    scored = {set_id: score_set(measure(s.directions, set_id), pool, factor_names, paper) for set_id, s in sets.items()}
    reference = next((sid for sid, s in sets.items() if s.method == "supervised"), None)
    normalise(scored, reference)
    for set_id, s in sets.items():
        scored[set_id]["method"] = s.method
        scored[set_id]["checksum"] = s.checksum
    raw = {
        "model_id": model.id, "generator_checksum": model.generator_checksum, "config": asdict(config),
        "precision_used": config.resolved_precision(torch_device), "factor_names": factor_names, "paper_factors": paper,
        "natural_sd": dict(zip(factor_names, natural_sd.round(5).tolist(), strict=True)),
        "probe_checksum": getattr(probe, "meta", {}).get("checksum"),
        "rule": {"min_effect_sd": MIN_EFFECT_SD, "min_share": MIN_SHARE, "min_sign_agreement": MIN_SIGN_AGREEMENT,
                 "max_chance": MAX_CHANCE},
        "pool": {"directions": config.random_directions, "seed": BASELINE_SEED + 100,
                 "found_rate": {n: round(float((pool.strength[:, factor_names.index(n)] >= MIN_EFFECT_SD).mean()), 4)
                                for n in paper}},
        "reference": reference, "sets": scored, "seconds": round(time.perf_counter() - started, 1),
    }
    card = Scorecard.from_json({**raw, "intended_use": INTENDED_USE}, model.path / SCORECARD_FILES[0])
    save_scorecard(model.path, card, markdown_table(raw), scorecard_png(raw))
    return card
