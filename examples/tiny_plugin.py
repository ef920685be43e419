"""A model and a dataset of your own, outside the toolkit's packages: what `compare` needs from each.

    compare run --models examples.tiny_plugin:TinyVAE gan --dataset digits
    compare run --models gan vae --dataset examples.tiny_plugin:bars

(run from the folder that holds examples/, or with it on PYTHONPATH). The contract is in docs/reference.md,
"Bring your own model or dataset"; this file is its smallest complete instance, with the optional
`generate` + `latent_dim` (interpolations) and `reconstruct` (reconstructions), and without sample modes,
`elbo` or `iwae_nll` (the report says those are not available).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class TinyVAEConfig:
    image_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W): the toolkit passes the dataset's
    width: float = 1.0  # multiplier on `hidden`: what `compare sweep --widths` changes
    hidden: int = 64  # hidden units at width 1: what --match-params searches over
    latent_dim: int = 8
    lr: float = 1e-3


class TinyVAE:
    """One-hidden-layer MLP VAE with Bernoulli pixels: the example plugin (examples/tiny_plugin.py)."""

    kind = "vae"  # the claims count it as a VAE
    config_class = TinyVAEConfig
    sampler_part = "decoder"  # the part of parts() that makes images (--match-params generator, --size-by generator)

    def __init__(self, config: TinyVAEConfig, device: str | torch.device = "cpu", seed: int = 0):
        self.config = config
        self.device = torch.device(device)
        pixels, hidden = math.prod(config.image_shape), max(1, round(config.hidden * config.width))
        # the seed fixes the initial weights without touching torch's global stream
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.encoder = nn.Sequential(nn.Linear(pixels, hidden), nn.ReLU(),
                                         nn.Linear(hidden, 2 * config.latent_dim)).to(self.device)
            self.decoder = nn.Sequential(nn.Linear(config.latent_dim, hidden), nn.ReLU(),
                                         nn.Linear(hidden, pixels)).to(self.device)
        self.opt = torch.optim.Adam([*self.encoder.parameters(), *self.decoder.parameters()], lr=config.lr)
        # Separate noise streams for training and sampling, so that sampling mid-run does not change the training.
        self.train_rng = torch.Generator().manual_seed(seed + 1)
        self.sample_rng = torch.Generator().manual_seed(seed + 2)

    def parts(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder, "decoder": self.decoder}

    def _encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.encoder(x.flatten(1)).chunk(2, dim=1)  # (B, pixels) -> mean, logvar, each (B, latent_dim)

    def train_step(self, batch: Tensor) -> dict[str, Tensor]:
        """One Adam step on the negative ELBO of `batch` (B, C, H, W) in [0, 1]; the losses as 0-d tensors."""
        mean, logvar = self._encode(batch)
        eps = torch.randn(mean.shape, generator=self.train_rng).to(self.device)
        logits = self.decoder(mean + (0.5 * logvar).exp() * eps)  # (B, pixels)
        recon = F.binary_cross_entropy_with_logits(logits, batch.flatten(1), reduction="sum") / len(batch)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum() / len(batch)
        loss = recon + kl
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.detach(), "recon": recon.detach(), "kl": kl.detach()}

    @torch.no_grad()
    def generate(self, z: Tensor) -> Tensor:
        """(n, latent_dim) -> (n, C, H, W) per-pixel probabilities in [0, 1]."""
        return torch.sigmoid(self.decoder(z.to(self.device))).view(len(z), *self.config.image_shape)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """(n, C, H, W) in [0, 1]: the decoder's per-pixel probabilities at z ~ N(0, I)."""
        return self.generate(torch.randn(n, self.config.latent_dim, generator=generator or self.sample_rng))

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        return self.generate(self._encode(x.to(self.device))[0])

    def state_dict(self) -> dict:
        """Nets, optimiser and both noise streams: a resumed run continues exactly."""
        return {"encoder": self.encoder.state_dict(), "decoder": self.decoder.state_dict(),
                "opt": self.opt.state_dict(), "train_rng": self.train_rng.get_state(),
                "sample_rng": self.sample_rng.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.encoder.load_state_dict(state["encoder"])
        self.decoder.load_state_dict(state["decoder"])
        self.opt.load_state_dict(state["opt"])
        self.train_rng.set_state(state["train_rng"])
        self.sample_rng.set_state(state["sample_rng"])


def bars(n: int = 1500, side: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """1,500 8x8 images of one horizontal (class 0) or vertical (class 1) bar: a dataset as a function."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 1, side, side), dtype=np.uint8)  # uint8 0..255 or floats in [0, 1]: both are taken
    labels = rng.integers(0, 2, n)
    where = rng.integers(0, side, n)
    for i, (label, k) in enumerate(zip(labels, where)):
        if label == 0:
            images[i, 0, k, :] = 255
        else:
            images[i, 0, :, k] = 255
    return images, labels
