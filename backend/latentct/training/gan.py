"""One DCGAN training step as the paper specifies it: a D step on real and fake, then a G step, BCE with logits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from latentct.nets import DCGANDiscriminator, DCGANGenerator
from latentct.training.augment import add_instance_noise, instance_noise_sigma
from latentct.training.config import GANConfig
from latentct.training.ema import WeightAverage, recalibrate_batchnorm
from latentct.training.runtime import Runtime

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


class GANTrainer:
    """Holds G, D (possibly DDP-wrapped), their Adam optimisers and, with ema_decay > 0, the averaged G;
    `step` trains on one batch of (augmented) real images.

    `nets` is what a checkpoint holds; `model_nets` what the model folder gets: the averaged generator when there is one.
    """

    kind = "gan"
    curve_keys: tuple[str, ...] = ("loss_d", "loss_g", "d_real", "d_fake", "noise_sigma")

    def __init__(self, config: GANConfig, arch: dict[str, Any], runtime: Runtime, augment: Augment | None = None) -> None:
        self.config, self.runtime = config, runtime
        self.augment_fakes = augment if config.augment_fakes else None
        generator = DCGANGenerator(arch["latent_dim"], arch["ngf"], arch["image_size"])
        discriminator = DCGANDiscriminator(arch["ndf"], arch["image_size"], arch.get("d_norm", "batch"))
        self.nets: dict[str, nn.Module] = {
            "generator": runtime.place(generator),
            "discriminator": runtime.place(discriminator),
        }
        self.average = WeightAverage(self.nets["generator"], config.ema_decay) if config.ema_decay > 0 else None
        if self.average is not None:
            self.nets["generator_ema"] = self.average.average
        self.steps_done = 0
        self.ship_trained = False
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
        """The generator that is sampled, measured and saved: the weight average when there is one (and it has not
        measured worse than the trained one at the end of the run, see `choose_generator`)."""
        if self.average is not None and not self.ship_trained:
            return self.average.average
        return self.nets["generator"]

    def prepare_average(self) -> None:
        """Standing BatchNorm statistics for the weight average before it is sampled or measured."""
        if self.average is not None:
            recalibrate_batchnorm(self.average.average, self.config.latent_dim)

    def choose_generator(self, frechet: Callable[[nn.Module], float]) -> dict[str, Any]:
        """At the end of a run with a weight average (after `prepare_average`): keep whichever generator has the lower
        Frechet distance."""
        if self.average is None:
            return {}
        scores = {"average": frechet(self.average.average), "trained": frechet(self.nets["generator"])}
        self.nets["generator"].train()
        self.ship_trained = scores["trained"] < scores["average"]
        return {"saved_generator": "trained" if self.ship_trained else "average",
                "generator_choice": {"frechet_probe": {k: round(v, 3) for k, v in scores.items()},
                                     "rule": "the generator with the lower Frechet distance is saved"}}

    @property
    def trained_generator(self) -> nn.Module:
        return self.nets["generator"]

    @property
    def model_nets(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.nets["discriminator"]}

    def train_mode(self) -> None:
        self.G.train()
        self.D.train()

    def _d_input(self, images: torch.Tensor, sigma: float, rng: torch.Generator, generated: bool) -> torch.Tensor:
        if generated and self.augment_fakes is not None:
            images = self.augment_fakes(images, rng)
        return add_instance_noise(images, sigma, rng)

    def _d_losses(self, logit_real: torch.Tensor, logit_fake: torch.Tensor, real_targets: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.config.loss == "hinge":
            return F.relu(1.0 - logit_real).mean(), F.relu(1.0 + logit_fake).mean()
        return (F.binary_cross_entropy_with_logits(logit_real, real_targets),
                F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake)))

    def _g_loss(self, logit_gen: torch.Tensor) -> torch.Tensor:
        if self.config.loss == "hinge":
            return -logit_gen.mean()
        return F.binary_cross_entropy_with_logits(logit_gen, torch.ones_like(logit_gen))

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
            logit_real = self.D(self._d_input(real, sigma, rng, generated=False)).float()
            logit_fake = self.D(self._d_input(fake.detach(), sigma, rng, generated=True)).float()
        loss_real, loss_fake = self._d_losses(logit_real, logit_fake, real_targets)
        (loss_real + loss_fake).backward()
        self.optimizers["discriminator"].step()

        self.optimizers["generator"].zero_grad(set_to_none=True)
        with rt.autocast():
            logit_gen = self.D(self._d_input(fake, sigma, rng, generated=True)).float()
        loss_g = self._g_loss(logit_gen)
        loss_g.backward()
        self.optimizers["generator"].step()
        self.steps_done += 1
        if self.average is not None:
            self.average.update(self.nets["generator"], self.steps_done)
        return {
            "loss_d": (loss_real + loss_fake).detach(),
            "loss_g": loss_g.detach(),
            "d_real": torch.sigmoid(logit_real.detach()).mean(),
            "d_fake": torch.sigmoid(logit_fake.detach()).mean(),
            "noise_sigma": torch.tensor(sigma),
        }

    def card_extras(self) -> dict[str, Any]:
        return {"description": "DCGAN (Radford et al.) as in Schön et al. 2022, trained by `latentct train gan`"}
