"""Registers `jacobian`: the pullback-metric directions (see latentct.discovery.methods.jacobian)."""

from __future__ import annotations

from latentct.discovery.methods import Method, MethodContext, MethodOutput, register
from latentct.discovery.methods.jacobian import JacobianConfig, jacobian_directions


def run(context: MethodContext) -> MethodOutput:
    request, model = context.request, context.model
    config = JacobianConfig(samples=request.jacobian_samples, seed=request.seed)
    count = request.resolved_count(model.latent_dim)
    result = jacobian_directions(model.fused_generator, model.latent_dim, count, config, context.device, context.progress)
    return MethodOutput(result)


register(Method("jacobian", "eigenvectors of E_z[J^T J] (Wang & Ponce 2021; DeepSpectral)", run, lambda latent: latent))
