"""Registers `ica`: independent components of GANSpace's principal subspace (see latentct.discovery.methods.ica)."""

from __future__ import annotations

from latentct.discovery.methods import Method, MethodContext, MethodOutput, register
from latentct.discovery.methods.ica import ica_directions


def run(context: MethodContext) -> MethodOutput:
    request, model = context.request, context.model
    count = request.resolved_count(model.latent_dim)
    # activation_after_block reads the generator's blocks: the eager network, as GANSpace does
    result = ica_directions(model.generator, model.latent_dim, count, request.ica_config(), context.device,
                            context.progress)
    return MethodOutput(result)


# K defaults to half the latent size, chosen on the demo VAE's scorecard against 12, 20 and 32
# (docs/discovery.md#ica-how-k-was-chosen): the top 32 components of a 32-d latent hold the near-Gaussian rest too
register(Method("ica", "FastICA of GANSpace's top-K principal components, regressed onto z", run, lambda latent: 10_000,
                default_count=lambda latent: max(2, latent // 2)))
