"""Registers `supervised`: the probe-supervised reference directions (see latentct.discovery.methods.supervised)."""

from __future__ import annotations

from latentct.artifacts.probe import load_probe
from latentct.discovery.methods import Method, MethodContext, MethodOutput, register
from latentct.discovery.methods.supervised import SupervisedConfig, supervised_directions


def run(context: MethodContext) -> MethodOutput:
    request, model = context.request, context.model
    probe = load_probe(request.probe_dir, context.device)
    config = SupervisedConfig(samples=request.supervised_samples, seed=request.seed)
    result = supervised_directions(model.fused_generator, probe, model.latent_dim, config, context.device, context.progress)
    result.params["probe_checksum"] = probe.meta.get("checksum")
    return MethodOutput(result, {"reference": True})


register(Method("supervised", "reference: probe factors regressed on z, each orthogonal to the others (InterFaceGAN)",
                run, lambda latent: 10_000, needs_probe=True))
