"""The source text's fully connected GAN, in one file (its convolutional networks are in gan.conv).

Generator: noise z -> hidden -> hidden -> image (Tanh, so pixels live in [-1, 1]).
Discriminator: image -> hidden -> hidden -> one logit; its sigmoid is the score D(x) in (0, 1).

The discriminator returns the logit rather than the sigmoid score: BCE-with-logits is the same
function as Sigmoid followed by BCELoss (what the source writes) but does not lose precision
when D saturates, which is exactly the regime the two generator losses differ in.

`arch` picks the networks (ARCHITECTURES: these MLPs or gan.conv's conv nets), `generator_loss`
the objective pair (LOSSES: the source's BCE pair, hinge, or WGAN-GP), `optimizer` the optimiser of
both nets (OPTIMIZERS: Adam or plain SGD), `precision` the autocast dtype of the forward passes (PRECISIONS).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from dataclasses import dataclass
from typing import Callable, ContextManager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan.common import OPTIMIZERS, Architecture, ModelConfig, build_parts, conv_plan, mixed_precision, normal, optimise
from gan.conv import ConvDiscriminator, ConvGenerator


# Adam 5e-4 rather than the source's 2e-4: on the 5k-image default budget (4000 steps) 2e-4 leaves speckled
# half-formed digits; 5e-4 with batch 128 (the runner's default) gives clean, varied ones (measured, see README).
# Plain SGD 0.05: the flipped-label generator learns within 1,000 steps on mnist5k (measured, see README).
DEFAULT_LR = {"adam": 5e-4, "sgd": 0.05}
# The discriminator's width relative to the generator's, per architecture, where the config leaves d_width None. The
# conv D at the generator's width rejects every fake within a few hundred Adam steps in about half the runs (D(G(z))
# -> 0.01 and the flipped-label generator does not recover: FID 500-870), so the conv D is half as wide.
# `python benchmarks/conv_gan_stability.py 1,0.5 0.25,1 0,1,2,3 0` (2,000 steps, no R1): 5 of 8 runs collapsed at
# d_width 1, none of 8 at 0.5. Not enough at width 2 (2 of 6 collapsed; DEFAULT_R1_WEIGHT). No batch norm in D's dense
# layer, spectral norm in D, Adam at DCGAN's 2e-4, D without batch norm but with dropout, or LeakyReLU in G each
# collapsed as often or learned slower.
DEFAULT_D_WIDTH = {"mlp": 1.0, "conv": 0.5}
# gamma of the R1 penalty on real images (Mescheder et al. 2018) per architecture, where the config leaves r1_weight
# None. At width 2 the half-width conv D still wins early and G diverges into noise: `python
# benchmarks/conv_gan_stability.py` (width 2, seeds 0-5, 2,000 steps): 2 of 6 collapsed without R1 (FID 953, 806), none
# with gamma 1 applied lazily (FID 16-25; every step: none either, FID 17-84, at +35% a step). The MLPs train
# without it.
DEFAULT_R1_WEIGHT = {"mlp": 0.0, "conv": 1.0}


@dataclass(frozen=True)
class GANConfig(ModelConfig):
    image_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W)
    latent_dim: int = 64
    hidden: int = 256  # hidden units at width 1
    width: float = 1.0  # multiplier on `hidden`: sweeps and parameter matching change this alone
    # the discriminator's width relative to the generator's (None: DEFAULT_D_WIDTH of the arch)
    d_width: float | None = None
    generator_loss: str = "nonsaturating"
    optimizer: str = "adam"  # a key of OPTIMIZERS
    lr: float | None = None  # None: DEFAULT_LR of the optimizer
    # beta1 = 0.5 (Radford et al. 2016, DCGAN): with the default 0.9 the momentum carries the
    # generator past the discriminator's moving target and the 5k-image run collapses.
    betas: tuple[float, float] = (0.5, 0.999)
    # One-sided label smoothing (Salimans et al. 2016): real targets 0.9 keep D from becoming
    # over-confident on a small training set, which otherwise starves G of gradient.
    real_label: float = 0.9
    arch: str = "mlp"  # a key of ARCHITECTURES
    channels: int = 6  # conv channels of the finest layer at width 1 (gan/conv.py says why 6, not DCGAN's 64)
    dense: int = 384  # units of the conv nets' dense layer at width 1 (the MLPs use `hidden`)
    precision: str = "fp32"  # a key of PRECISIONS
    gp_weight: float = 10.0  # lambda of the WGAN-GP gradient penalty (Gulrajani et al. 2017)
    r1_weight: float | None = None  # gamma of the R1 penalty on real images (None: DEFAULT_R1_WEIGHT of the arch)

    def __post_init__(self) -> None:
        self.validate(ARCHITECTURES, DEFAULT_LR, generator_loss=LOSSES)
        if self.d_width is None:
            object.__setattr__(self, "d_width", DEFAULT_D_WIDTH[self.arch])  # frozen: set once, as validate sets lr
        if self.r1_weight is None:
            object.__setattr__(self, "r1_weight", DEFAULT_R1_WEIGHT[self.arch])
        if not self.d_width > 0:
            raise ValueError("d_width must be positive")
        if self.r1_weight < 0:
            raise ValueError("r1_weight must be zero (off) or positive")

    def discriminator_config(self) -> "GANConfig":
        """This config with the discriminator's width (width x d_width): what the discriminator networks read."""
        return dataclasses.replace(self, width=self.width * self.d_width, d_width=1.0)

    @property
    def gradient_penalty(self) -> bool:
        return LOSSES[self.generator_loss].gradient_penalty


class Generator(nn.Module):
    def __init__(self, cfg: GANConfig):
        super().__init__()
        h = cfg.hidden_size
        self.image_shape = cfg.image_shape
        self.net = nn.Sequential(
            nn.Linear(cfg.latent_dim, h), nn.LeakyReLU(0.2),  # (B, latent) -> (B, h)
            nn.Linear(h, h), nn.LeakyReLU(0.2),  # (B, h) -> (B, h)
            nn.Linear(h, cfg.pixels), nn.Tanh(),  # (B, h) -> (B, C*H*W) in [-1, 1]
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.image_shape)  # (B, C, H, W) in [-1, 1]


class Discriminator(nn.Module):
    def __init__(self, cfg: GANConfig):
        super().__init__()
        h = cfg.hidden_size
        self.net = nn.Sequential(
            nn.Flatten(),  # (B, C, H, W) -> (B, C*H*W)
            nn.Linear(cfg.pixels, h), nn.LeakyReLU(0.2),
            nn.Linear(h, h), nn.LeakyReLU(0.2),
            nn.Linear(h, 1),  # (B, h) -> (B, 1) logit; sigmoid(logit) is the score D(x)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)  # (B,) logits


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor, real_label: float = 1.0) -> Tensor:
    """BCE with real images labelled `real_label` (1, or 0.9 when smoothed) and fakes labelled 0."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_label))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def hinge_discriminator_loss(real_scores: Tensor, fake_scores: Tensor, real_label: float = 1.0) -> Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] (Lim & Ye 2017; Miyato et al. 2018). `real_label` is unused."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor, real_label: float = 1.0) -> Tensor:
    """E[D(G(z))] - E[D(x)]: the critic's side of the Wasserstein-1 estimate (Arjovsky et al. 2017). `real_label` is
    unused."""
    return fake_scores.mean() - real_scores.mean()


def _nonsaturating(fake_logits: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def _minimax(fake_logits: Tensor) -> Tensor:
    return -F.softplus(fake_logits).mean()  # log(1 - sigmoid(l)) = -softplus(l)


def _critic_generator(fake_scores: Tensor) -> Tensor:
    return -fake_scores.mean()  # raise the critic's score of the fakes (hinge and WGAN generators alike)


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor, rng: torch.Generator,
                     autocast: Callable[[], ContextManager] = contextlib.nullcontext) -> Tensor:
    """E[(||grad_x D(x)||_2 - 1)^2] at x drawn uniformly on lines between paired real and fake images
    (Gulrajani et al. 2017, eq. 3): keeps the critic near 1-Lipschitz, as the Wasserstein estimate needs.

    Under fp16 the inner gradient is taken unscaled: its target norm is 1, well inside fp16's range.
    """
    eps = torch.rand(real.shape[0], 1, 1, 1, generator=rng, device=rng.device).to(real.device)
    # Differentiated through a view of the leaf, not the leaf itself: inside autograd.grad, the module
    # hooks of torch's FlopCounterMode (which prices a train step for the budgets) reject a leaf input.
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True).view_as(real)  # (B, C, H, W)
    with autocast():
        scores = critic(mixed)
    (grad,) = torch.autograd.grad(scores.float().sum(), mixed, create_graph=True)  # per-image gradients
    return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()


# R1 is added every R1_INTERVAL-th discriminator step, weighted R1_INTERVAL times (Karras et al. 2020, sec. 3.1, "lazy
# regularization"): the same pull on average at 1/16 of the cost of its double backward pass (+35% a conv GAN step at
# width 2 when added every step).
R1_INTERVAL = 16


def r1_penalty(real_scores: Tensor, real: Tensor) -> Tensor:
    """E[||grad_x D(x)||^2] over real images x (Mescheder et al. 2018, eq. 9, without its gamma / 2): `real_scores`
    must come from `real` with requires_grad. Pushes D's gradient on the data to zero, so that D cannot become
    steep at the real images and G is not driven off the data manifold when D wins early.
    """
    (grad,) = torch.autograd.grad(real_scores.float().sum(), real, create_graph=True)  # per-image gradients
    return grad.flatten(1).pow(2).sum(1).mean()


@dataclass(frozen=True)
class GANLoss:
    discriminator: Callable[[Tensor, Tensor, float], Tensor]  # (real logits, fake logits, real_label) -> loss
    generator: Callable[[Tensor], Tensor]  # fake logits -> loss
    gradient_penalty: bool = False  # add gp_weight * gradient_penalty to the discriminator loss
    critic_steps: int = 1  # D updates per G update, each on the step's real batch and fresh noise
    probability: bool = True  # D's output is the logit of a probability D(x); False for an unbounded critic score


# One entry per objective pair; adding a loss is one line here (and `gan:NAME` appears in the CLI).
LOSSES: dict[str, GANLoss] = {
    "nonsaturating": GANLoss(discriminator_loss, _nonsaturating),
    "minimax": GANLoss(discriminator_loss, _minimax),
    "hinge": GANLoss(hinge_discriminator_loss, _critic_generator, probability=False),
    # D outputs an unbounded critic score, never passed through a sigmoid. The estimate of the
    # Wasserstein distance is only as good as the critic, so it gets n_critic = 5 updates per
    # generator update (Gulrajani et al. 2017, Algorithm 1); the paper draws a new real batch for
    # each, here the step's one batch is reused so a step still sees batch-size real images.
    "wgan-gp": GANLoss(wasserstein_critic_loss, _critic_generator, gradient_penalty=True, critic_steps=5,
                       probability=False),
}
GENERATOR_LOSSES = tuple(LOSSES)


def generator_loss(fake_logits: Tensor, kind: str) -> Tensor:
    """The generator's objective on D's logits for generated images (Goodfellow et al. 2014).

    minimax:       minimise  E[log(1 - D(G(z)))]            = -softplus(logit)
    nonsaturating: minimise -E[log D(G(z))], i.e. BCE with the fakes labelled 1 (the "flipped
                   label"); same fixed point, but d/dlogit = -(1 - D) stays near -1 while D
                   rejects the fakes, where the minimax gradient -D vanishes.
    hinge, wgan-gp: minimise -E[D(G(z))] on the unbounded critic score.
    """
    if kind not in LOSSES:
        raise ValueError(f"unknown generator loss {kind!r}; expected one of {', '.join(GENERATOR_LOSSES)}")
    return LOSSES[kind].generator(fake_logits)


SATURATION_THRESHOLD = 0.1  # D(G(z)) below this counts as "rejected": the flat end of log(1 - D)
SATURATION_READINGS = ("d_fake", "share_rejected", "minimax_dlogit", "nonsaturating_dlogit")


def saturation(fake_logits: Tensor) -> dict[str, Tensor]:
    """Claim 3's mechanism on one batch of D's logits for fakes (B,): SATURATION_READINGS as 0-d tensors.

    With s = D(G(z)) = sigmoid(logit), per sample (Goodfellow et al. 2014, sec. 3):
      minimax       loss log(1 - s):  d/dlogit = -s         (vanishes as D rejects the fakes, s -> 0)
      nonsaturating loss -log s:      d/dlogit = -(1 - s)   (stays near -1 there)
    Returned: mean s, the share of samples with s < SATURATION_THRESHOLD ("rejected"), and the mean |d/dlogit| of
    each loss, both read on the same logits whichever loss trains. No host sync: reductions on the device.
    """
    s = torch.sigmoid(fake_logits.detach().float())  # (B,)
    # One stacked mean (a few small ops: ~15 us on a CPU): |-s| = s and |-(1 - s)| = 1 - s, since s lies in (0, 1)
    readings = torch.stack([s, (s < SATURATION_THRESHOLD).float(), s, 1 - s]).mean(1)  # (4,)
    return dict(zip(SATURATION_READINGS, readings.unbind()))


# One entry per network pair; adding an architecture is one line here.
ARCHITECTURES: dict[str, Architecture] = {
    "mlp": Architecture({"generator": Generator,
                         "discriminator": lambda cfg: Discriminator(cfg.discriminator_config())}),
    "conv": Architecture({"generator": ConvGenerator,
                          "discriminator": lambda cfg: ConvDiscriminator(cfg.discriminator_config())},
                         conv_plan, channels_last=True),
}


class GAN:
    """Generator + discriminator with their optimisers; one `train_step` is the loss's `critic_steps` D updates
    (one for the source's BCE pair) then one G update."""

    # What a model registry reads (compare's protocol): the family the claims count it in, its config, and
    # the part that makes images (what a parameter match of generators matches).
    kind = "gan"
    config_class = GANConfig
    sampler_part = "generator"

    def __init__(self, config: GANConfig, device: str | torch.device = "cpu", seed: int = 0):
        self.config = config
        self.device = torch.device(device)
        self.loss = LOSSES[config.generator_loss]
        parts, self.channels_last = build_parts(ARCHITECTURES[config.arch], config, self.device, seed)
        self.generator, self.discriminator = parts["generator"], parts["discriminator"]
        self.autocast, self.scaler, fused = mixed_precision(config.precision, self.device)
        self.opt_g = OPTIMIZERS[config.optimizer](self.generator.parameters(), config, fused)
        self.opt_d = OPTIMIZERS[config.optimizer](self.discriminator.parameters(), config, fused)
        # Training noise and default sampling noise come from separate streams, so that looking
        # at samples mid-run does not change what the run trains on.
        self.train_rng = torch.Generator(self.device).manual_seed(seed + 1)
        self.sample_rng = torch.Generator("cpu").manual_seed(seed + 2)
        self.d_steps = 0  # discriminator updates so far: when the lazy R1 penalty is due

    def parts(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def train_step(self, batch: Tensor) -> dict[str, Tensor]:
        """D update(s) then one G update on `batch` (B, C, H, W) in [0, 1]; losses (D's last) as 0-d tensors."""
        real = batch * 2 - 1  # [0, 1] -> the generator's Tanh range [-1, 1]
        if self.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        for _ in range(self.loss.critic_steps):  # (1) D, once for the source's BCE pair
            d_loss, fake = self._discriminator_step(real)

        # (2) G with D frozen, on the last D step's fakes: no gradients are computed for D's weights at all.
        self.discriminator.requires_grad_(False)
        with self.autocast():
            fake_logits = self.discriminator(fake)
        g_loss = self.loss.generator(fake_logits.float())
        self._fake_logits = fake_logits.detach()  # kept for saturation(): the G step's own forward pass, no extra one
        optimise(self.opt_g, self.scaler, g_loss)
        self.discriminator.requires_grad_(True)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    def _discriminator_step(self, real: Tensor) -> tuple[Tensor, Tensor]:
        """One D update: real -> real_label, fresh fakes -> 0 (or the hinge / critic objective).
        Returns D's loss and the fakes, still attached to G's graph for the G update."""
        # Forward passes under autocast (if any); the losses themselves in float32.
        r1 = self.config.r1_weight > 0 and not self.loss.gradient_penalty and self.d_steps % R1_INTERVAL == 0
        self.d_steps += 1
        if r1:  # a view of a leaf, as in gradient_penalty
            real = real.detach().requires_grad_(True).view_as(real)
        with self.autocast():
            fake = self.generator(normal((real.shape[0], self.config.latent_dim), self.train_rng, self.device))
        # R1's pass over the reals in float32: its gradients, small by design, and their double backward would flush to
        # zero or overflow in fp16 (a conv GAN at fp16 turned NaN at step 2,300 on digits); the same numbers otherwise
        with contextlib.nullcontext() if r1 else self.autocast():
            real_logits = self.discriminator(real)
        with self.autocast():
            fake_logits = self.discriminator(fake.detach())  # detached: D's step does not reach G
        d_loss = self.loss.discriminator(real_logits.float(), fake_logits.float(), self.config.real_label)
        if r1:
            d_loss = d_loss + self.config.r1_weight * R1_INTERVAL / 2 * r1_penalty(real_logits, real)
        if self.loss.gradient_penalty:
            penalty = gradient_penalty(self.discriminator, real, fake.detach(), self.train_rng, self.autocast)
            d_loss = d_loss + self.config.gp_weight * penalty
        optimise(self.opt_d, self.scaler, d_loss)
        return d_loss, fake

    def saturation(self) -> dict[str, Tensor] | None:
        """gan.model.saturation of the last train_step's generator batch, after that step's D update; None when
        D is an unbounded critic (hinge, WGAN-GP: no probability to saturate) or no step has run."""
        logits = getattr(self, "_fake_logits", None)
        return saturation(logits) if self.loss.probability and logits is not None else None

    @torch.no_grad()
    def generate(self, z: Tensor) -> Tensor:
        """Images in [0, 1] for given latents z (B, latent_dim): what sampling and interpolation share."""
        self.generator.eval()
        images = (self.generator(z.to(self.device)) + 1) / 2
        self.generator.train()
        return images.clamp_(0, 1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """(n, C, H, W) images in [0, 1]; the same `generator` state gives the same images."""
        return self.generate(normal((n, self.config.latent_dim), generator or self.sample_rng, self.device))

    def state_dict(self) -> dict:
        return {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "train_rng": self.train_rng.get_state(),
            "sample_rng": self.sample_rng.get_state(),
            "scaler": self.scaler.state_dict(),  # {} unless fp16
            "d_steps": self.d_steps,
        }

    def load_state_dict(self, state: dict) -> None:
        self.generator.load_state_dict(state["generator"])  # copies into this model's own parameters
        self.discriminator.load_state_dict(state["discriminator"])
        # Optimizer.load_state_dict keeps the given moment tensors when device and dtype already match:
        # copied, so that a model loaded from another live model's state does not train both.
        self.opt_g.load_state_dict(copy.deepcopy(state["opt_g"]))
        self.opt_d.load_state_dict(copy.deepcopy(state["opt_d"]))
        self.train_rng.set_state(state["train_rng"])
        self.sample_rng.set_state(state["sample_rng"])
        self.scaler.load_state_dict(state["scaler"])
        self.d_steps = state["d_steps"]
