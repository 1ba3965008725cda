"""Registers the methods LatentCT started with: Voynov & Babenko (the paper's), SeFa, GANSpace and two baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latentct.discovery.closed_form import ClosedFormResult, baseline, ganspace, sefa
from latentct.discovery.methods import Method, MethodContext, MethodOutput, register
from latentct.discovery.voynov import VoynovCheckpoint, VoynovConfig, config_params, train_voynov

_EXPORT_NOTES = {
    "linear": "trained as a free linear map; rows are saved normalised. One served unit of shift equals "
    "1 / trained_norm trained units (see directions[i].metrics.trained_norm).",
    "unit": "trained with unit rows (normalised in every forward pass): served units equal trained units",
    "ortho": "trained orthonormal (matrix exponential of a skew-symmetric matrix): served units equal trained",
}


def rank_by_accuracy(result: ClosedFormResult) -> ClosedFormResult:
    """Directions ordered best first by the reconstructor's accuracy on each (ties keep the trained order);
    every direction's metrics keep its trained index. Voynov's method cannot rank its own directions otherwise."""
    order = sorted(range(len(result.direction_metrics)), key=lambda k: -float(result.direction_metrics[k].get("rca", 0.0)))
    metrics = [{**result.direction_metrics[k], "trained_index": k, "rank": rank + 1} for rank, k in enumerate(order)]
    return ClosedFormResult(result.directions[order].contiguous(), metrics, result.metrics,
                            {**result.params, "ranked_by": "reconstructor accuracy per direction, best first"})


def run_voynov(context: MethodContext) -> MethodOutput:
    request, model = context.request, context.model
    config = VoynovConfig(
        count=request.resolved_count(model.latent_dim), direction_model=request.direction_model,
        reconstructor=request.reconstructor, steps=request.steps, batch_size=request.batch_size, lr=request.lr,
        direction_lr=request.direction_lr, seed=request.seed, amp_bf16=request.amp_bf16,
        rca_samples=request.rca_samples, max_minutes=request.max_minutes,
    )
    checkpoint = None
    if request.checkpoint_dir is not None:
        checkpoint = VoynovCheckpoint(Path(request.checkpoint_dir), request.resume,
                                      identity={"generator_checksum": model.generator_checksum})
    trained = train_voynov(model.fused_generator, model.latent_dim, model.image_size, config, context.device,
                           progress=context.progress, checkpoint=checkpoint)
    params: dict[str, Any] = {**config_params(config), "device": context.device.type, "preset": request.preset,
                              "paper_steps": 3000, "paper_batch_size": 128}
    result = ClosedFormResult(trained.directions, trained.direction_metrics, trained.metrics, params)
    if config.count > model.latent_dim or request.preset == "paper":
        result = rank_by_accuracy(result)
    extra = {"history": trained.history[-50:], "export_note": _EXPORT_NOTES[config.direction_model]}
    return MethodOutput(result, extra)


def run_sefa(context: MethodContext) -> MethodOutput:
    model = context.model
    return MethodOutput(sefa(model.generator, model.latent_dim, context.request.resolved_count(model.latent_dim)))


def run_ganspace(context: MethodContext) -> MethodOutput:
    request, model = context.request, context.model
    result = ganspace(model.generator, model.latent_dim, request.resolved_count(model.latent_dim),
                      block=request.ganspace_block, n_samples=request.resolved_samples(), seed=request.seed,
                      device=context.device, progress=context.progress)
    return MethodOutput(result)


def _baseline(name: str) -> Method:
    def run(context: MethodContext) -> MethodOutput:
        latent = context.model.latent_dim
        return MethodOutput(baseline(name, latent, context.request.resolved_count(latent), seed=context.request.seed))

    helps = {"random": "baseline: random orthonormal directions", "axes": "baseline: the latent coordinate axes"}
    return Method(name, helps[name], run, lambda latent: latent)


register(Method("voynov", "Voynov & Babenko 2020, the paper's method: learned directions + reconstructor", run_voynov,
                lambda latent: 10_000))
register(Method("sefa", "SeFa (Shen & Zhou 2021): eigenvectors of the first layer's weights", run_sefa, lambda latent: latent))
register(Method("ganspace", "GANSpace (Härkönen et al. 2020): PCA of activations regressed onto z", run_ganspace,
                lambda latent: 10_000))
register(_baseline("random"))
register(_baseline("axes"))
