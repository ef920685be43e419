"""The few helpers both model families need, kept as a deliberate copy in each family's package.

Every model family's package holds this same file, byte for byte (tests/test_family_copies.py keeps
it so): each family stays a standalone package that imports torch alone, so what they share is
copied, not imported. Change one copy, then copy it over the others.

Here: the autocast precisions and their optimiser step, the optimisers a config may name, the
frozen-config base with the size fields every network reads, the architecture registry entry, the seeded construction of
the networks, and the conv nets' layout (side s * 2^k, channels doubling up to a cap).
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Callable, ContextManager, Iterable, Mapping, NamedTuple

import torch
from torch import Tensor, nn

# Autocast dtype of the forward passes; None runs them in float32 with no autocast at all.
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}

# name -> (parameters, config, fused) -> optimiser. SGD is plain (no momentum): the textbook setting the source's
# claim about the generator losses is stated in (Goodfellow et al. 2014, Algorithm 1); betas only matter for Adam.
OPTIMIZERS: dict[str, Callable[[Iterable[nn.Parameter], Any, bool | None], torch.optim.Optimizer]] = {
    "adam": lambda params, cfg, fused: torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, fused=fused),
    "sgd": lambda params, cfg, fused: torch.optim.SGD(params, lr=cfg.lr, fused=fused),
}

MAX_CHANNEL_MULTIPLIER = 8  # DCGAN's widest layer is 8x the narrowest (512 vs 64 at 64x64)


class Architecture(NamedTuple):
    parts: dict[str, Callable[[Any], nn.Module]]  # part name -> network built from the config, in this order
    check: Callable[[tuple[int, int, int]], object] = lambda shape: None  # ValueError if the nets can't make this shape
    channels_last: bool = False  # NHWC activations on CUDA (what tensor-core convolutions want)


class ModelConfig:
    """Base of a family's frozen config dataclass, which declares the fields image_shape, latent_dim,
    hidden, width, channels, dense, arch, precision, optimizer, lr and betas: their checks and the sizes the
    networks read."""

    def validate(self, architectures: Mapping[str, Architecture], default_lr: Mapping[str, float],
                 **registries: Mapping[str, object]) -> None:
        """ValueError unless every named field (and arch, precision, optimizer) is a key of its registry, the
        sizes and lr are positive and the architecture can make image_shape. An lr of None becomes the
        optimizer's default_lr, so the config holds (and a run records) the rate it trains with."""
        for field, registry in {**registries, "arch": architectures, "precision": PRECISIONS,
                                "optimizer": OPTIMIZERS}.items():
            if getattr(self, field) not in registry:
                raise ValueError(f"{field} must be one of {', '.join(registry)}, got {getattr(self, field)!r}")
        if self.lr is None:
            object.__setattr__(self, "lr", default_lr[self.optimizer])  # frozen: set once, while the config is made
        if min(self.width, self.hidden, self.latent_dim, self.channels, self.dense) <= 0 or not self.lr > 0:
            raise ValueError("width, hidden, channels, dense, latent_dim and lr must be positive")
        architectures[self.arch].check(self.image_shape)

    @property
    def hidden_size(self) -> int:
        return max(1, round(self.hidden * self.width))

    @property
    def channel_size(self) -> int:
        return max(1, round(self.channels * self.width))

    @property
    def dense_size(self) -> int:
        return max(1, round(self.dense * self.width))

    @property
    def pixels(self) -> int:
        return math.prod(self.image_shape)


def build_parts(arch: Architecture, config: ModelConfig, device: torch.device,
                seed: int) -> tuple[dict[str, nn.Module], bool]:
    """The architecture's networks on `device`, and whether they run channels-last."""
    # Weights are initialised from `seed` without touching the global RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        parts = {name: make(config) for name, make in arch.parts.items()}
    channels_last = arch.channels_last and device.type == "cuda"
    memory_format = torch.channels_last if channels_last else torch.preserve_format
    for net in parts.values():
        net.to(device, memory_format=memory_format)
    return parts, channels_last


def mixed_precision(precision: str,
                    device: torch.device) -> tuple[Callable[[], ContextManager], torch.amp.GradScaler, bool | None]:
    """(autocast context factory, grad scaler, the optimiser's `fused`) for a precision name.

    fp16 needs a grad scaler so that small gradients do not flush to zero (Micikevicius et al. 2018);
    bf16 has float32's range and does not. On CUDA, the optimiser is fused: the fused kernel reads the
    scaler's inf check on the device, where an unfused step would wait for the host to read it.
    """
    dtype = PRECISIONS[precision]
    autocast = contextlib.nullcontext if dtype is None else (lambda: torch.autocast(device.type, dtype=dtype))
    scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)
    return autocast, scaler, (True if device.type == "cuda" else None)


def optimise(opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler, loss: Tensor) -> None:
    """One step of `opt` on `loss`, through the grad scaler (a no-op unless fp16), all on the device."""
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(opt)  # true gradients in .grad (what a gradient-norm reading sees)
    scaler.step(opt)
    scaler.update()  # after every optimiser step: a scaler steps each optimiser once per update; no host sync


def normal(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> Tensor:
    # Drawn on the generator's own device, then moved: a CPU generator gives the same noise
    # whichever device the model is on.
    return torch.randn(shape, generator=generator, device=generator.device).to(device)


def conv_plan(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    """(base side s, number of stride-2 stages k) with side = s * 2^k; ValueError for sides conv nets can't make."""
    _, h, w = image_shape
    if h != w:
        raise ValueError(f"the conv architecture needs square images, got {h}x{w}")
    side, stages = h, 0
    while side > 7 and side % 2 == 0:
        side, stages = side // 2, stages + 1
    if stages == 0 or not 3 <= side <= 7:
        raise ValueError(f"the conv architecture needs an image side of 3..7 pixels times a power of two "
                         f"(e.g. 8, 28, 32, 64), got {h}")
    return side, stages


def conv_widths(config: ModelConfig) -> tuple[int, list[int]]:
    """(base side s, channels after each stride-2 stage, finest first: ch, 2ch, 4ch, 8ch, 8ch, ...)."""
    base, stages = conv_plan(config.image_shape)
    return base, [config.channel_size * min(2 ** i, MAX_CHANNEL_MULTIPLIER) for i in range(stages)]
