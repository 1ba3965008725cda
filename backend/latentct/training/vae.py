"""One ResNet-VAE training step as the paper specifies it: loss log(MSE) + beta * KL, Adam 1e-4."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from latentct.nets import VAEDecoder, VAEEncoder
from latentct.nets.vae import vae_loss
from latentct.training.config import VAEConfig
from latentct.training.runtime import Runtime


class _Reparameterised(nn.Module):
    """encoder + decoder with the noise passed in, so the run's seeded generator (not torch's global one) draws it
    and DistributedDataParallel sees a single forward."""

    def __init__(self, encoder: VAEEncoder, decoder: VAEDecoder) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, image: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean, log_var = self.encoder(image)
        z = mean + noise * torch.exp(0.5 * log_var)
        return self.decoder(z), mean, log_var


class VAETrainer:
    """Holds the encoder and decoder (the model's generator) and one Adam optimiser over both."""

    kind = "vae"
    curve_keys: tuple[str, ...] = ("loss", "log_mse", "kl")

    def __init__(self, config: VAEConfig, arch: dict[str, int], runtime: Runtime) -> None:
        self.config, self.runtime = config, runtime
        encoder = VAEEncoder(arch["latent_dim"], arch["base_channels"], arch["image_size"])
        decoder = VAEDecoder(arch["latent_dim"], arch["base_channels"], arch["image_size"])
        pair = runtime.place(_Reparameterised(encoder, decoder))
        assert isinstance(pair, _Reparameterised)
        self.nets: dict[str, nn.Module] = {"generator": pair.decoder, "encoder": pair.encoder}
        adam = torch.optim.Adam(pair.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))
        self.optimizers: dict[str, torch.optim.Optimizer] = {"vae": adam}
        self.model: nn.Module = pair
        if runtime.distributed:
            from torch.nn.parallel import DistributedDataParallel

            ids = [runtime.device.index] if runtime.device.type == "cuda" else None
            self.model = DistributedDataParallel(pair, device_ids=ids)

    @property
    def generator(self) -> nn.Module:
        return self.nets["generator"]

    def train_mode(self) -> None:
        self.model.train()

    def step(self, real: torch.Tensor, rng: torch.Generator, progress_epochs: float) -> dict[str, torch.Tensor]:
        cfg, rt = self.config, self.runtime
        noise = torch.randn(real.shape[0], cfg.latent_dim, generator=rng, device=rng.device).to(rt.device)
        with rt.autocast():
            reconstruction, mean, log_var = self.model(real, noise)
        # the loss in float32: log(MSE) of a good reconstruction needs the precision
        loss, log_mse, kl = vae_loss(reconstruction.float(), real.float(), mean.float(), log_var.float(), cfg.kl_beta)
        self.optimizers["vae"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["vae"].step()
        return {"loss": loss.detach(), "log_mse": log_mse.detach(), "kl": kl.detach()}

    def card_extras(self) -> dict[str, Any]:
        return {"description": "ResNet VAE as in Schön et al. 2022 (decoder = generator), trained by `latentct train vae`"}
