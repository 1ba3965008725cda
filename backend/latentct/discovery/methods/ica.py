"""Independent components of GANSpace's principal subspace: PCA finds the K-dimensional subspace of a layer's (or
the image's) activations that varies most over the prior, but inside it any rotation explains the same variance,
so factors of similar size come out mixed. FastICA (Hyvärinen & Oja 2000) picks the rotation whose coordinates are
least Gaussian, which separates factors that are independent and non-Gaussian in the data (the phantom draws pose,
size and position uniformly: sub-Gaussian). Each independent component is then regressed onto z, as GANSpace
regresses its principal components, giving one latent direction per component.

The contrast is the kurtosis (FastICA's cube nonlinearity), which suits sub-Gaussian sources; `logcosh` is the
robust choice for heavy-tailed ones. FastICA ends in a local optimum that depends on its start, so it runs from
`restarts` seeded starts and keeps the one with the largest total |excess kurtosis|: an unsupervised choice.
Even so, which factors a single run separates depends on its sample (on the demo VAE, 2 to 4 of the paper's five
over seeds), so by default the whole estimate is repeated on `resamples` independent prior samples and the
components that come back are kept (Icasso, Himberg et al. 2004): the runs' directions are clustered by |cos|, each
cluster averaged, and the clusters ordered most stable first. With `resamples` = 1 the single run's directions are
ordered by the feature variance their component explains.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import torch
from torch import nn

from latentct.core.checks import check_range
from latentct.core.errors import InvalidInputError
from latentct.discovery.closed_form import (
    ClosedFormResult,
    activation_after_block,
    largest_component_positive,
    latent_moves,
    layer_name,
    principal_components,
    sample_features,
)

CONTRASTS = ("kurtosis", "logcosh")


@dataclass
class IcaConfig:
    block: int = 2  # as GANSpace: after this generator block; 0 = the image pooled to 32 px
    samples: int = 8192
    restarts: int = 8
    resamples: int = 5
    contrast: str = "kurtosis"
    max_iterations: int = 1000
    tolerance: float = 1e-6
    seed: int = 0

    def check(self) -> IcaConfig:
        check_range("ica samples", self.samples, 16, 1_000_000)
        check_range("ica restarts", self.restarts, 1, 1000)
        check_range("ica resamples", self.resamples, 1, 100)
        check_range("ica iterations", self.max_iterations, 1, 100_000)
        if self.contrast not in CONTRASTS:
            raise InvalidInputError(f"ICA contrast {self.contrast!r} is unknown; allowed: {', '.join(CONTRASTS)}")
        return self


def whiten(coordinates: torch.Tensor) -> torch.Tensor:
    """Principal coordinates [N, K] scaled to unit variance (they are uncorrelated already)."""
    centred = coordinates - coordinates.mean(dim=0, keepdim=True)
    return centred / centred.std(dim=0, keepdim=True).clamp(min=1e-12)


def _symmetric_decorrelation(w: torch.Tensor) -> torch.Tensor:
    """(W W^T)^(-1/2) W: the orthogonal matrix nearest W, so that all components are estimated at once."""
    values, vectors = torch.linalg.eigh(w @ w.T)
    return vectors @ torch.diag(values.clamp(min=1e-12).rsqrt()) @ vectors.T @ w


def _nonlinearity(contrast: str, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """FastICA's g(y) and the mean of g'(y) per component."""
    if contrast == "kurtosis":
        return y**3, (3 * y**2).mean(dim=0)
    g = torch.tanh(y)
    return g, (1 - g**2).mean(dim=0)


def fastica(x: torch.Tensor, contrast: str, start: torch.Tensor, max_iterations: int, tolerance: float
            ) -> tuple[torch.Tensor, int, bool]:
    """Symmetric FastICA on whitened x [N, K] from the orthogonal start [K, K]: (W, iterations, converged), with
    sources x @ W^T. Converged when no row of W turns by more than `tolerance` (1 - |cos|) in one iteration."""
    w = _symmetric_decorrelation(start)
    for iteration in range(1, max_iterations + 1):
        g, g_prime = _nonlinearity(contrast, x @ w.T)
        updated = _symmetric_decorrelation(g.T @ x / len(x) - g_prime[:, None] * w)
        turn = float((1 - (updated * w).sum(dim=1).abs()).abs().max())
        w = updated
        if turn < tolerance:
            return w, iteration, True
    return w, max_iterations, False


def excess_kurtosis(sources: torch.Tensor) -> torch.Tensor:
    """Per column of unit-variance sources [N, K]: E[y^4] - 3 (0 for a Gaussian, -1.2 for a uniform)."""
    return (sources**4).mean(dim=0) - 3


def best_unmixing(x: torch.Tensor, config: IcaConfig) -> tuple[torch.Tensor, dict[str, float | int]]:
    """FastICA from `config.restarts` seeded starts; the unmixing W with the largest sum of |excess kurtosis|."""
    rng = torch.Generator().manual_seed(config.seed)
    best: tuple[float, torch.Tensor, int, bool] | None = None
    converged_runs = 0
    for _ in range(config.restarts):
        start, _r = torch.linalg.qr(torch.randn(x.shape[1], x.shape[1], generator=rng, dtype=torch.float64))
        w, iterations, converged = fastica(x, config.contrast, start, config.max_iterations, config.tolerance)
        converged_runs += converged
        score = float(excess_kurtosis(x @ w.T).abs().sum())
        if best is None or score > best[0]:
            best = (score, w, iterations, converged)
    assert best is not None
    score, w, iterations, converged = best
    return w, {"total_abs_excess_kurtosis": round(score, 5), "iterations": iterations, "converged": converged,
               "restarts_converged": converged_runs}


def ica_from_features(activations: torch.Tensor, z: torch.Tensor, count: int, config: IcaConfig
                      ) -> tuple[torch.Tensor, list[dict[str, float]], dict[str, float | int]]:
    """(directions [K, latent], per-direction metrics, run metrics) from features [N, F] of the latents z [N, D]."""
    coordinates, variances, total = principal_components(activations, count)
    x = whiten(coordinates)
    w, run = best_unmixing(x, config)
    sources = x @ w.T  # [N, K], unit variance
    # x = sources @ W (W orthogonal); principal coordinate j has variance variances[j], so component k explains
    # sum_j variances[j] * W[k, j]^2 of the feature variance
    explained = (w**2 * variances[None, :]).sum(dim=1) / total
    order = torch.argsort(explained, descending=True)
    kurtosis = excess_kurtosis(sources)
    directions = latent_moves(sources[:, order], z)
    per_direction = [{"explained_variance": round(float(explained[k]), 5), "excess_kurtosis": round(float(kurtosis[k]), 4)}
                     for k in order.tolist()]
    return directions, per_direction, {**run, "explained_variance_total": round(float(explained.sum()), 5)}


def ica_directions(generator: nn.Module, latent_dim: int, count: int, config: IcaConfig,
                   device: torch.device | str = "cpu", progress: bool = False) -> ClosedFormResult:
    config.check()
    if not 2 <= count <= min(config.samples - 1, 10_000):
        raise InvalidInputError(
            f"-k {count} does not fit method 'ica': it gives 2..{min(config.samples - 1, 10_000)} directions "
            "(independent components of the top-K principal components)"
        )
    started = time.perf_counter()
    generator.eval()
    features = activation_after_block(generator, config.block)
    runs, run_metrics = [], []
    for resample in range(config.resamples):
        seed = config.seed * 1000 + resample  # resample r of seed s: its own prior sample and FastICA starts
        activations, z = sample_features(features, latent_dim, config.samples, seed, device=device, progress=progress,
                                         desc=f"ica activations {resample + 1}/{config.resamples}")
        directions, per_direction, run = ica_from_features(activations, z, count, dataclasses.replace(config, seed=seed))
        runs.append(directions)
        run_metrics.append(run)
    metrics: dict[str, object] = {"runs": run_metrics}
    if config.resamples > 1:
        directions, per_direction = stable_components(runs, count)
        metrics["stable_clusters"] = sum(d["resamples"] == config.resamples for d in per_direction)
    params = {"block": config.block, "n_samples": config.samples, "restarts": config.restarts,
              "resamples": config.resamples, "contrast": config.contrast, "seed": config.seed, "components": count,
              "layer": layer_name(config.block)}
    return ClosedFormResult(directions, per_direction, {**metrics, "seconds": round(time.perf_counter() - started, 3)},
                            params)


def stable_components(runs: list[torch.Tensor], count: int) -> tuple[torch.Tensor, list[dict[str, float]]]:
    """Icasso (Himberg et al. 2004): the directions that come back when ICA is run on resampled data.

    `runs` holds each resample's unit directions [K, latent]. They are clustered by |cos| (average linkage, `count`
    clusters); a cluster's direction is the mean of its members, signed like its most central member, normalised;
    its stability index is the mean |cos| inside the cluster minus the mean |cos| to the other clusters' members.
    Clusters are returned most stable first, with how many resamples they were found in.
    """
    from scipy.cluster.hierarchy import cut_tree, linkage
    from scipy.spatial.distance import squareform

    members = torch.cat(runs).to(torch.float64)  # [R * K, latent]
    run_of = torch.cat([torch.full((len(r),), i) for i, r in enumerate(runs)])
    similarity = (members @ members.T).abs().clamp(max=1.0)
    distance = (1.0 - similarity).numpy()
    distance = (distance + distance.T) / 2
    distance[range(len(distance)), range(len(distance))] = 0.0
    # cut_tree follows the merge order, so it yields exactly `count` clusters even where merge heights tie
    # (fcluster's maxclust cuts at a height and can return fewer: a set shorter than asked for)
    tree = linkage(squareform(distance, checks=False), "average")
    labels = torch.from_numpy(cut_tree(tree, n_clusters=min(count, len(members)))[:, 0].copy())
    found: list[tuple[float, torch.Tensor, dict[str, float]]] = []
    for label in labels.unique().tolist():
        inside = labels == label
        block = similarity[inside][:, inside]
        central = int(block.sum(dim=1).argmax())
        signs = torch.where(members[inside] @ members[inside][central] >= 0, 1.0, -1.0).to(members.dtype)
        direction = torch.nn.functional.normalize((members[inside] * signs[:, None]).sum(dim=0), dim=0)
        size = int(inside.sum())
        within = float((block.sum() - size) / max(size * (size - 1), 1)) if size > 1 else 0.0
        between = float(similarity[inside][:, ~inside].mean()) if bool((~inside).any()) else 0.0
        stability = within - between
        found.append((stability, direction, {"stability": round(stability, 4), "resamples": len(run_of[inside].unique())}))
    found.sort(key=lambda item: -item[0])
    directions = largest_component_positive(torch.stack([item[1] for item in found]))
    return directions.float().contiguous(), [item[2] for item in found]
