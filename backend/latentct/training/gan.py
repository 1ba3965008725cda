"""One DCGAN training step as the paper specifies it: a D step on real and fake, then a G step, BCE with logits."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from latentct.nets import DCGANDiscriminator, DCGANGenerator
from latentct.training.augment import add_instance_noise, instance_noise_sigma
from latentct.training.config import GANConfig
from latentct.training.runtime import Runtime


class GANTrainer:
    """Holds G, D (possibly DDP-wrapped) and their Adam optimisers; `step` trains on one batch of real images."""

    kind = "gan"
    curve_keys: tuple[str, ...] = ("loss_d", "loss_g", "d_real", "d_fake", "noise_sigma")

    def __init__(self, config: GANConfig, arch: dict[str, int], runtime: Runtime) -> None:
        self.config, self.runtime = config, runtime
        generator = DCGANGenerator(arch["latent_dim"], arch["ngf"], arch["image_size"])
        discriminator = DCGANDiscriminator(arch["ndf"], arch["image_size"])
        self.nets: dict[str, nn.Module] = {
            "generator": runtime.place(generator),
            "discriminator": runtime.place(discriminator),
        }
        betas = (config.beta1, config.beta2)
        self.optimizers: dict[str, torch.optim.Optimizer] = {
            "generator": torch.optim.Adam(generator.parameters(), lr=config.lr_g, betas=betas),
            "discriminator": torch.optim.Adam(discriminator.parameters(), lr=config.lr_d, betas=betas),
        }
        self.G, self.D = self._wrap(generator), self._wrap(discriminator)

    def _wrap(self, net: nn.Module) -> nn.Module:
        if not self.runtime.distributed:
            return net
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.runtime.device.index] if self.runtime.device.type == "cuda" else None
        return DistributedDataParallel(net, device_ids=ids)

    @property
    def generator(self) -> nn.Module:
        return self.nets["generator"]

    def train_mode(self) -> None:
        self.G.train()
        self.D.train()

    def step(self, real: torch.Tensor, rng: torch.Generator, progress_epochs: float) -> dict[str, torch.Tensor]:
        """real [B, 1, H, W] (augmented) -> detached scalar tensors of this step's losses and D outputs."""
        cfg, rt = self.config, self.runtime
        batch = real.shape[0]
        sigma = instance_noise_sigma(progress_epochs, cfg.epochs, cfg.instance_noise_sigma, cfg.instance_noise_until)
        z = torch.randn(batch, cfg.latent_dim, generator=rng, device=rng.device).to(rt.device)
        # one-sided label smoothing: real targets drawn in [min, max], fake 0, generator target 1
        u = torch.rand(batch, generator=rng, device=rng.device).to(rt.device)
        real_targets = cfg.real_label_min + u * (cfg.real_label_max - cfg.real_label_min)
        with rt.autocast():
            fake = self.G(z)

        self.optimizers["discriminator"].zero_grad(set_to_none=True)
        with rt.autocast():
            logit_real = self.D(add_instance_noise(real, sigma, rng)).float()
        loss_real = F.binary_cross_entropy_with_logits(logit_real, real_targets)
        loss_real.backward()
        with rt.autocast():
            logit_fake = self.D(add_instance_noise(fake.detach(), sigma, rng)).float()
        loss_fake = F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake))
        loss_fake.backward()
        self.optimizers["discriminator"].step()

        self.optimizers["generator"].zero_grad(set_to_none=True)
        with rt.autocast():
            logit_gen = self.D(add_instance_noise(fake, sigma, rng)).float()
        loss_g = F.binary_cross_entropy_with_logits(logit_gen, torch.ones_like(logit_gen))
        loss_g.backward()
        self.optimizers["generator"].step()
        return {
            "loss_d": (loss_real + loss_fake).detach(),
            "loss_g": loss_g.detach(),
            "d_real": torch.sigmoid(logit_real.detach()).mean(),
            "d_fake": torch.sigmoid(logit_fake.detach()).mean(),
            "noise_sigma": torch.tensor(sigma),
        }

    def card_extras(self) -> dict[str, Any]:
        return {"description": "DCGAN (Radford et al.) as in Schön et al. 2022, trained by `latentct train gan`"}
