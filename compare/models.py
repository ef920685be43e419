"""Model registry: every family the runner can train, by name, with its config, class and sample views.

A model spec on the command line is `name` or `name:variant`; the variant sets the family's
`variant_field` (for the GAN, its generator loss: `gan:minimax`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from compare.errors import UserError
from compare.protocol import GenerativeModel
from gan import GAN, GANConfig, GENERATOR_LOSSES
from vae import SAMPLE_MODES, VAE, VAEConfig


@dataclass(frozen=True)
class ModelEntry:
    description: str
    config_cls: type
    model_cls: type
    sampler_part: str  # the part that generates images: what `--match-params generator` matches
    sample_modes: tuple[str, ...] = ()  # () means sample() takes no mode; else one view per mode
    variant_field: str | None = None
    variants: tuple[str, ...] = ()


MODELS: dict[str, ModelEntry] = {
    "gan": ModelEntry(
        "fully connected GAN from the source text: BCE discriminator, flipped-label (nonsaturating) generator loss",
        GANConfig, GAN, "generator", variant_field="generator_loss", variants=GENERATOR_LOSSES,
    ),
    "vae": ModelEntry(
        "fully connected VAE, Bernoulli pixels + KL; shown as per-pixel means and as independent pixel draws",
        VAEConfig, VAE, "decoder", sample_modes=SAMPLE_MODES,
    ),
}


@dataclass(frozen=True)
class ModelSpec:
    """One model of a run: `label` is what the user typed (unique in a run), `overrides` go into its config."""

    label: str
    family: str
    overrides: tuple[tuple[str, Any], ...] = ()

    @property
    def entry(self) -> ModelEntry:
        return MODELS[self.family]

    @property
    def dirname(self) -> str:
        return self.label.replace(":", "-")

    def config(self, image_shape: tuple[int, int, int], **fields: Any):
        """The family's config for this spec; `fields` (e.g. width) override the defaults and the variant."""
        return self.entry.config_cls(image_shape=tuple(image_shape), **dict(self.overrides), **fields)

    def build(self, image_shape: tuple[int, int, int], device: torch.device | str, seed: int, **fields: Any) -> GenerativeModel:
        return self.entry.model_cls(self.config(image_shape, **fields), device=device, seed=seed)

    def views(self) -> dict[str, dict[str, str]]:
        """Sample views of this model, label -> extra sample() kwargs: `vae` gives `vae-mean` and `vae-pixels`."""
        if not self.entry.sample_modes:
            return {self.label: {}}
        return {f"{self.label}-{mode}": {"mode": mode} for mode in self.entry.sample_modes}


def parse_model_specs(words: list[str]) -> list[ModelSpec]:
    """`["gan", "vae"]`, `["gan,vae"]` or `["gan", "gan:minimax"]` -> specs; bad names raise UserError."""
    labels = [w.strip() for word in words for w in word.split(",") if w.strip()]
    if not labels:
        raise UserError(f"no models given; choose from: {', '.join(MODELS)} (see `compare models`)")
    specs = []
    for label in labels:
        family, _, variant = label.partition(":")
        entry = MODELS.get(family)
        if entry is None:
            raise UserError(f"unknown model {family!r}; choose from: {', '.join(MODELS)} (see `compare models`)")
        overrides: tuple[tuple[str, Any], ...] = ()
        if variant:
            if variant not in entry.variants:
                valid = ", ".join(f"{family}:{v}" for v in entry.variants) or f"none for {family}"
                raise UserError(f"unknown variant {label!r}; valid variants: {valid}")
            overrides = ((entry.variant_field, variant),)
        specs.append(ModelSpec(label, family, overrides))
    dupes = sorted({s.label for s in specs if labels.count(s.label) > 1})
    if dupes:
        raise UserError(f"model {dupes[0]!r} is listed twice; give each model once")
    return specs

