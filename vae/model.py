"""A fully connected VAE with a Bernoulli likelihood, in one file (Kingma & Welling 2014; conv networks in vae.conv).

Encoder: image -> hidden -> hidden -> (mean, log-variance) of q(z|x).
Decoder: z -> hidden -> hidden -> one logit per pixel of p(x|z).

The decoder makes every pixel an independent Bernoulli given z. `sample(mode="pixels")` draws
from exactly that distribution, the pixel-independent generation the source blames for
"discontinuous bad pixels"; `mode="mean"` returns the per-pixel probabilities, what most VAE
papers show. Comparing both against a GAN is how the toolkit tests the claim. `mode="gmm"` returns
per-pixel probabilities decoded from z drawn from a Gaussian mixture fitted after training to the
encoder's posterior means (`set_prior`; the fit itself is the caller's): the codes the decoder was
trained on, rather than N(0, I), which they need not fill (Dai & Wipf 2019): claim 2's mechanism.

`arch` picks the networks (ARCHITECTURES: these MLPs or vae.conv's conv nets), `optimizer` the
optimiser (OPTIMIZERS: Adam or plain SGD), `precision` the autocast dtype of the forward passes (PRECISIONS).
`decoder` (DECODERS) "autoregressive" adds vae.autoregressive's PixelCNN head on the decoder's logits, so that
`mode="pixels"` draws the pixels jointly, one after another; `mode="mean"` and `reconstruct` then show the
decoder's own per-pixel probabilities, the head's input (not the joint model's marginals), so that variant's only
view is its joint draws (VARIANT_SAMPLE_MODES).
"""

from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vae.common import OPTIMIZERS, Architecture, ModelConfig, build_parts, conv_plan, mixed_precision, normal, optimise
from vae.autoregressive import PixelHead
from vae.conv import ConvDecoder, ConvEncoder

SAMPLE_MODES = ("mean", "pixels", "gmm")
PRIOR_MODES = ("gmm",)  # modes that draw z from a prior fitted after training (set_prior): none before it
# The views a decoder variant shows where they are not SAMPLE_MODES: the autoregressive head's "mean" and "gmm" would
# show the head's input through a sigmoid, not images of the model (FID 830-1,185 in the default study),
# so only its draws.
VARIANT_SAMPLE_MODES = {"autoregressive": ("pixels",)}
ENCODE_CHUNK = 1024  # images per encoder pass in posterior_means: bounded memory on large training sets
PIXEL_CHUNK = 256  # images per seed of the pixel noise in sample(mode="pixels")
# How the pixels are drawn given z: independently (the decoder's logits alone), or jointly in raster order
# through vae.autoregressive's head; the value is the head's network, built beside the architecture's.
DECODERS: dict[str, Architecture | None] = {"independent": None, "autoregressive": Architecture({"head": PixelHead})}


# Plain SGD 0.01 (measured on mnist5k, width 1, batch 128): the negative ELBO falls from ~540 to ~160 nats within
# 1,000 steps (Adam 1e-3: ~123); 0.02 trains a little faster but 0.05 diverges, so 0.01 keeps a margin.
DEFAULT_LR = {"adam": 1e-3, "sgd": 0.01}


@dataclass(frozen=True)
class VAEConfig(ModelConfig):
    image_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W)
    latent_dim: int = 16
    hidden: int = 256  # hidden units at width 1
    width: float = 1.0  # multiplier on `hidden`: sweeps and parameter matching change this alone
    beta: float = 1.0  # weight of the KL term; 1 is the ELBO (beta-VAE: Higgins et al. 2017)
    optimizer: str = "adam"  # a key of OPTIMIZERS
    lr: float | None = None  # None: DEFAULT_LR of the optimizer
    betas: tuple[float, float] = (0.9, 0.999)
    arch: str = "mlp"  # a key of ARCHITECTURES
    channels: int = 6  # conv channels of the finest layer at width 1 (vae/conv.py says why 6, not DCGAN's 64)
    dense: int = 384  # units of the conv nets' dense layer at width 1 (the MLPs use `hidden`)
    precision: str = "fp32"  # a key of PRECISIONS
    decoder: str = "independent"  # a key of DECODERS: how pixels are drawn given z

    def __post_init__(self) -> None:
        self.validate(ARCHITECTURES, DEFAULT_LR, decoder=DECODERS)
        if self.beta < 0:
            raise ValueError("beta must be non-negative")


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


# One entry per network pair; adding an architecture is one line here.
ARCHITECTURES: dict[str, Architecture] = {
    "mlp": Architecture({"encoder": Encoder, "decoder": Decoder}),
    "conv": Architecture({"encoder": ConvEncoder, "decoder": ConvDecoder}, conv_plan, channels_last=True),
}


def kl_terms(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(q(z|x) || N(0, I)) of a diagonal Gaussian, per latent dimension (same shape as `mean`; an
    image's KL is the sum over its dimensions), in closed form (Kingma & Welling 2014, app. B):
    -1/2 * (1 + logvar - mean^2 - exp(logvar))."""
    return -0.5 * (1 + logvar - mean.pow(2) - logvar.exp())


def vae_loss(x: Tensor, logits: Tensor, mean: Tensor, logvar: Tensor, beta: float = 1.0) -> dict[str, Tensor]:
    """Negative ELBO per image, averaged over the batch: Bernoulli reconstruction (summed over pixels)
    + beta * KL(q(z|x) || N(0, I))."""
    n = x.shape[0]
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
    kl = kl_terms(mean, logvar).sum() / n
    return {"loss": recon + beta * kl, "recon": recon, "kl": kl}


class VAE:
    """Encoder + decoder with one optimiser; one `train_step` is one gradient step on the negative ELBO."""

    # What a model registry reads (compare's protocol): the family the claims count it in, its config, the
    # views of sample(mode=...), and the part that makes images (what a parameter match of generators matches).
    kind = "vae"
    config_class = VAEConfig
    sample_modes = SAMPLE_MODES
    prior_modes = PRIOR_MODES
    variant_sample_modes = VARIANT_SAMPLE_MODES  # for the config's `decoder` (compare's registry reads both)
    sampler_part = "decoder"

    def __init__(self, config: VAEConfig, device: str | torch.device = "cpu", seed: int = 0):
        self.config = config
        self.device = torch.device(device)
        parts, self.channels_last = build_parts(ARCHITECTURES[config.arch], config, self.device, seed)
        self.encoder, self.decoder = parts["encoder"], parts["decoder"]
        head = DECODERS[config.decoder]  # built after the others, so the encoder and decoder start as the plain VAE's
        self.head = build_parts(head, config, self.device, seed)[0]["head"] if head else None
        self.autocast, self.scaler, fused = mixed_precision(config.precision, self.device)
        params = [p for net in self.parts().values() for p in net.parameters()]
        self.opt = OPTIMIZERS[config.optimizer](params, config, fused)
        # Training noise and default sampling noise come from separate streams, so that looking
        # at samples mid-run does not change what the run trains on.
        self.train_rng = torch.Generator(self.device).manual_seed(seed + 1)
        self.sample_rng = torch.Generator("cpu").manual_seed(seed + 2)
        # The fitted prior of mode "gmm": {"weights": (K,), "means": (K, latent), "scale_tril": (K, latent,
        # latent)}, CPU float32
        self.prior: dict[str, Tensor] | None = None

    def parts(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder, "decoder": self.decoder, **({"head": self.head} if self.head else {})}

    def _logits(self, z: Tensor, x: Tensor) -> Tensor:
        """logits of p(x | z) for the image x (B, C, H, W): the decoder's, or the head's given the
        earlier pixels of x."""
        logits = self.decoder(z).view(-1, *self.config.image_shape)  # (B, C, H, W): the MLP gives (B, C*H*W) viewed
        return self.head(x, logits) if self.head else logits

    def can_sample(self, mode: str) -> bool:
        """Whether sample(mode=...) can draw now: a PRIOR_MODES mode only once set_prior has given it a prior."""
        return mode in SAMPLE_MODES and (mode not in PRIOR_MODES or self.prior is not None)

    def set_prior(self, weights: Tensor, means: Tensor, scale_tril: Tensor) -> None:
        """The Gaussian mixture mode "gmm" draws z from: component weights (K,), means (K, latent) and the lower
        Cholesky factors of the covariances (K, latent, latent)."""
        k, d = means.shape[0], self.config.latent_dim
        if weights.shape != (k,) or means.shape != (k, d) or scale_tril.shape != (k, d, d):
            raise ValueError(f"a prior for latent_dim {d} needs weights (K,), means (K, {d}), scale_tril (K, {d}, "
                             f"{d}); got {tuple(weights.shape)}, {tuple(means.shape)}, {tuple(scale_tril.shape)}")
        self.prior = {"weights": weights.float().cpu(), "means": means.float().cpu(),
                      "scale_tril": scale_tril.float().cpu()}

    @torch.no_grad()
    def posterior_means(self, x: Tensor) -> Tensor:
        """The encoder's posterior means (B, latent) of images x (B, C, H, W) in [0, 1]: what a prior is fitted to."""
        with self._evaluating():
            return torch.cat([self.encoder(chunk.to(self.device))[0].float() for chunk in x.split(ENCODE_CHUNK)])

    def _prior_latents(self, n: int, rng: torch.Generator) -> Tensor:
        """n latents (n, latent) from the fitted mixture, on the CPU (where the prior and sampling generators live):
        a component per draw, then its mean + L @ eps."""
        prior, cpu = self.prior, torch.device("cpu")
        component = torch.multinomial(prior["weights"], n, replacement=True, generator=rng)  # (n,)
        eps = normal((n, self.config.latent_dim, 1), rng, cpu)  # (n, latent, 1)
        return prior["means"][component] + (prior["scale_tril"][component] @ eps).squeeze(-1)  # (n, latent)

    def _encode_sample(self, x: Tensor, rng: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        mean, logvar = self.encoder(x)
        eps = normal(mean.shape, rng, mean.device)
        return mean + (0.5 * logvar).exp() * eps, mean, logvar  # reparameterisation trick

    def train_step(self, batch: Tensor) -> dict[str, Tensor]:
        """One optimiser step on the negative ELBO of `batch` (B, C, H, W) in [0, 1]; losses as 0-d tensors."""
        x = batch.contiguous(memory_format=torch.channels_last) if self.channels_last else batch
        with self.autocast():  # forward passes under autocast (if any), the loss in float32
            z, mean, logvar = self._encode_sample(x, self.train_rng)
            logits = self._logits(z, x)
        losses = vae_loss(batch, logits.float(), mean.float(), logvar.float(), self.config.beta)
        optimise(self.opt, self.scaler, losses["loss"])
        return {k: v.detach() for k, v in losses.items()}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, mode: str = "mean") -> Tensor:
        """(n, C, H, W) in [0, 1] from z ~ N(0, I): per-pixel probabilities (`mean`) or Bernoulli draws of every
        pixel (`pixels`: independent, or with the autoregressive decoder one after another, H*W passes of its
        head); or per-pixel probabilities from z drawn from the fitted prior (`gmm`). The same `generator` state
        gives the same images; image i's pixel noise depends on that state and i alone, not on n."""
        if mode not in SAMPLE_MODES:
            raise ValueError(f"mode must be one of {', '.join(SAMPLE_MODES)}, got {mode!r}")
        if not self.can_sample(mode):
            raise ValueError(f"mode {mode!r} needs a fitted prior: call set_prior after training")
        rng = generator or self.sample_rng
        if mode in PRIOR_MODES:
            return self.generate(self._prior_latents(n, rng))
        before_z = rng.get_state()
        z = normal((n, self.config.latent_dim), rng, self.device)
        probs = self.generate(z)
        if mode == "mean":
            return probs
        # The pixel noise must not depend on n, but the stream after z does (it moved by n * latent_dim
        # draws): so its seed comes from the state before z, which also differs call to call on the
        # model's own stream. Image i's uniforms are then fixed by i alone: chunk i // PIXEL_CHUNK,
        # always drawn whole, from its own seed.
        seed_rng = torch.Generator(rng.device).set_state(before_z)
        noise_seed = int(torch.randint(2 ** 62, (1,), generator=seed_rng, device=rng.device))
        uniforms = [torch.rand(PIXEL_CHUNK, *probs.shape[1:], generator=torch.Generator().manual_seed(noise_seed + k))
                    for k in range(n // PIXEL_CHUNK + 1)]  # one chunk more than needed when n is a multiple: harmless
        u = torch.cat(uniforms)[:n].to(self.device)  # (n, C, H, W) in [0, 1)
        if self.head:  # the same uniforms, thresholded at each pixel's probability given the pixels drawn before it
            with self._evaluating():
                return self.head.draw(self.decoder(z), u)
        return (u < probs).to(probs.dtype)  # P(u < p) = p: one Bernoulli(p) draw per pixel

    @contextlib.contextmanager
    def _evaluating(self):
        """The nets in eval mode for the block, then back in the mode each was in."""
        training = {name: net.training for name, net in self.parts().items()}
        for net in self.parts().values():
            net.eval()
        try:
            yield
        finally:
            for name, net in self.parts().items():
                net.train(training[name])

    @torch.no_grad()
    def generate(self, z: Tensor) -> Tensor:
        """The decoder's per-pixel probabilities (B, C, H, W) for given latents z (B, latent_dim)."""
        with self._evaluating():
            return torch.sigmoid(self.decoder(z.to(self.device)))

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Decoder probabilities at the posterior mean: (B, C, H, W) in [0, 1]."""
        with self._evaluating():
            mean, _ = self.encoder(x)
            return torch.sigmoid(self.decoder(mean))

    @torch.no_grad()
    def elbo(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Single-sample ELBO estimate per image (nats), shape (B,)."""
        with self._evaluating():
            z, mean, logvar = self._encode_sample(x, generator or self.sample_rng)
            recon = F.binary_cross_entropy_with_logits(self._logits(z, x), x, reduction="none").flatten(1).sum(1)
        kl = kl_terms(mean, logvar).sum(1)
        return -(recon + kl)

    @torch.no_grad()
    def iwae_nll(self, x: Tensor, k: int = 100, generator: torch.Generator | None = None, chunk: int = 16) -> Tensor:
        """Importance-weighted estimate of -log p(x) per image (nats), shape (B,), from k draws z_i ~ q(z|x).

        IWAE bound (Burda et al. 2016, sec. 3): log p(x) >= E[log 1/k sum_i p(x|z_i) p(z_i) / q(z_i|x)];
        the bound tightens as k grows and reaches log p(x) as k -> infinity, so -bound is an upper
        bound on the NLL. The noise of all B * k draws is taken first (so the result does not depend
        on `chunk`, and k = 1 draws the same z as elbo()); the decoder then sees `chunk` images at a
        time, chunk * k latents per pass.
        """
        if k < 1 or chunk < 1:
            raise ValueError(f"k and chunk must be at least 1, got k={k}, chunk={chunk}")
        # (B, k, latent)
        eps = normal((x.shape[0], k, self.config.latent_dim), generator or self.sample_rng, self.device)
        nll = []
        with self._evaluating():
            for xs, es in zip(x.split(chunk), eps.split(chunk)):
                mean, logvar = self.encoder(xs)  # (b, latent) each
                z = mean[:, None] + (0.5 * logvar).exp()[:, None] * es  # (b, k, latent), reparameterised
                target = xs.repeat_interleave(k, dim=0)  # (b * k, C, H, W): image j for each of its k latents
                logits = self._logits(z.flatten(0, 1), target).flatten(1)  # (b * k, C*H*W)
                target = target.flatten(1)
                log_px_z = -F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(1).view(-1, k)
                # log p(z) - log q(z|x) for N(0, I) and N(mean, exp(logvar)) at z = mean + std * es:
                # -1/2 sum(z^2) + 1/2 sum(es^2 + logvar); the log(2 pi) terms cancel.
                log_pz_qz = -0.5 * (z.pow(2) - es.pow(2) - logvar[:, None]).sum(2)  # (b, k)
                nll.append(math.log(k) - torch.logsumexp(log_px_z + log_pz_qz, dim=1))  # (b,)
        return torch.cat(nll)

    def state_dict(self) -> dict:
        return {
            "encoder": self.encoder.state_dict(),
            "decoder": self.decoder.state_dict(),
            "opt": self.opt.state_dict(),
            "train_rng": self.train_rng.get_state(),
            "sample_rng": self.sample_rng.get_state(),
            "scaler": self.scaler.state_dict(),  # {} unless fp16
            **({"prior": dict(self.prior)} if self.prior is not None else {}),  # none until fitted after training
            **({"head": self.head.state_dict()} if self.head else {}),
        }

    def load_state_dict(self, state: dict) -> None:
        self.encoder.load_state_dict(state["encoder"])
        self.decoder.load_state_dict(state["decoder"])
        if self.head:
            self.head.load_state_dict(state["head"])
        # Optimizer.load_state_dict keeps the given moment tensors when device and dtype already match:
        # copied, so that a model loaded from another live model's state does not train both.
        self.opt.load_state_dict(copy.deepcopy(state["opt"]))
        self.train_rng.set_state(state["train_rng"])
        self.sample_rng.set_state(state["sample_rng"])
        self.scaler.load_state_dict(state["scaler"])
        self.prior = None
        if "prior" in state:
            self.set_prior(state["prior"]["weights"], state["prior"]["means"], state["prior"]["scale_tril"])
