"""A fully connected VAE with a Bernoulli likelihood, in one file (Kingma & Welling 2014).

Encoder: image -> hidden -> hidden -> (mean, log-variance) of q(z|x).
Decoder: z -> hidden -> hidden -> one logit per pixel of p(x|z).

The decoder makes every pixel an independent Bernoulli given z. `sample(mode="pixels")` draws
from exactly that distribution, the pixel-independent generation the source blames for
"discontinuous bad pixels"; `mode="mean"` returns the per-pixel probabilities, what most VAE
papers show. Comparing both against a GAN is how the toolkit tests the claim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SAMPLE_MODES = ("mean", "pixels")


@dataclass(frozen=True)
class VAEConfig:
    image_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W)
    latent_dim: int = 16
    hidden: int = 256  # hidden units at width 1
    width: float = 1.0  # multiplier on `hidden`: sweeps and parameter matching change this alone
    beta: float = 1.0  # weight of the KL term; 1 is the ELBO (beta-VAE: Higgins et al. 2017)
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)

    def __post_init__(self) -> None:
        if self.width <= 0 or self.hidden <= 0 or self.latent_dim <= 0:
            raise ValueError("width, hidden and latent_dim must be positive")
        if self.beta < 0:
            raise ValueError("beta must be non-negative")

    @property
    def hidden_size(self) -> int:
        return max(1, round(self.hidden * self.width))

    @property
    def pixels(self) -> int:
        return math.prod(self.image_shape)


class Encoder(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        h = cfg.hidden_size
        self.net = nn.Sequential(
            nn.Flatten(),  # (B, C, H, W) -> (B, C*H*W)
            nn.Linear(cfg.pixels, h), nn.ReLU(),
            nn.Linear(h, h), nn.ReLU(),
            nn.Linear(h, 2 * cfg.latent_dim),  # (B, h) -> (B, 2 * latent): mean and log-variance
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mean, logvar = self.net(x).chunk(2, dim=1)
        return mean, logvar


class Decoder(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        h = cfg.hidden_size
        self.image_shape = cfg.image_shape
        self.net = nn.Sequential(
            nn.Linear(cfg.latent_dim, h), nn.ReLU(),  # (B, latent) -> (B, h)
            nn.Linear(h, h), nn.ReLU(),
            nn.Linear(h, cfg.pixels),  # (B, h) -> (B, C*H*W) per-pixel logits
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.image_shape)  # (B, C, H, W) logits


def vae_loss(x: Tensor, logits: Tensor, mean: Tensor, logvar: Tensor, beta: float = 1.0) -> dict[str, Tensor]:
    """Negative ELBO per image: Bernoulli reconstruction (summed over pixels) + beta * KL(q(z|x) || N(0, I)).

    KL of a diagonal Gaussian to the standard normal in closed form (Kingma & Welling 2014, app. B):
    -1/2 * sum(1 + logvar - mean^2 - exp(logvar)).
    """
    n = x.shape[0]
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
    kl = -0.5 * torch.sum(1 + logvar - mean.pow(2) - logvar.exp()) / n
    return {"loss": recon + beta * kl, "recon": recon, "kl": kl}


class VAE:
    """Encoder + decoder with one optimiser; one `train_step` is one gradient step on the negative ELBO."""

    def __init__(self, config: VAEConfig, device: str | torch.device = "cpu", seed: int = 0):
        self.config = config
        self.device = torch.device(device)
        # Weights are initialised from `seed` without touching the global RNG.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.encoder = Encoder(config)
            self.decoder = Decoder(config)
        self.encoder.to(self.device)
        self.decoder.to(self.device)
        params = [*self.encoder.parameters(), *self.decoder.parameters()]
        self.opt = torch.optim.Adam(params, lr=config.lr, betas=config.betas)
        # Separate streams for training noise and default sampling noise (see gan.GAN).
        self.train_rng = torch.Generator(self.device).manual_seed(seed + 1)
        self.sample_rng = torch.Generator("cpu").manual_seed(seed + 2)

    def parts(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder, "decoder": self.decoder}

    def _encode_sample(self, x: Tensor, rng: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        mean, logvar = self.encoder(x)
        eps = torch.randn(mean.shape, generator=rng, device=rng.device).to(mean.device)
        return mean + (0.5 * logvar).exp() * eps, mean, logvar  # reparameterisation trick

    def train_step(self, batch: Tensor) -> dict[str, Tensor]:
        """One Adam step on the negative ELBO of `batch` (B, C, H, W) in [0, 1]; losses as 0-d tensors."""
        z, mean, logvar = self._encode_sample(batch, self.train_rng)
        losses = vae_loss(batch, self.decoder(z), mean, logvar, self.config.beta)
        self.opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        self.opt.step()
        return {k: v.detach() for k, v in losses.items()}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, mode: str = "mean") -> Tensor:
        """(n, C, H, W) in [0, 1] from z ~ N(0, I): per-pixel probabilities (`mean`) or independent
        Bernoulli draws of every pixel (`pixels`)."""
        if mode not in SAMPLE_MODES:
            raise ValueError(f"mode must be one of {', '.join(SAMPLE_MODES)}, got {mode!r}")
        rng = generator or self.sample_rng
        probs = self.generate(torch.randn(n, self.config.latent_dim, generator=rng, device=rng.device))
        if mode == "mean":
            return probs
        return torch.bernoulli(probs.to(rng.device), generator=rng).to(self.device)

    @torch.no_grad()
    def generate(self, z: Tensor) -> Tensor:
        """The decoder's per-pixel probabilities (B, C, H, W) for given latents z (B, latent_dim)."""
        self.decoder.eval()
        probs = torch.sigmoid(self.decoder(z.to(self.device)))
        self.decoder.train()
        return probs

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Decoder probabilities at the posterior mean: (B, C, H, W) in [0, 1]."""
        mean, _ = self.encoder(x)
        return torch.sigmoid(self.decoder(mean))

    @torch.no_grad()
    def elbo(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Single-sample ELBO estimate per image (nats), shape (B,)."""
        z, mean, logvar = self._encode_sample(x, generator or self.sample_rng)
        recon = F.binary_cross_entropy_with_logits(self.decoder(z), x, reduction="none").flatten(1).sum(1)
        kl = -0.5 * (1 + logvar - mean.pow(2) - logvar.exp()).sum(1)
        return -(recon + kl)

    def state_dict(self) -> dict:
        return {
            "encoder": self.encoder.state_dict(),
            "decoder": self.decoder.state_dict(),
            "opt": self.opt.state_dict(),
            "train_rng": self.train_rng.get_state(),
            "sample_rng": self.sample_rng.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.encoder.load_state_dict(state["encoder"])
        self.decoder.load_state_dict(state["decoder"])
        self.opt.load_state_dict(state["opt"])
        self.train_rng.set_state(state["train_rng"])
        self.sample_rng.set_state(state["sample_rng"])
