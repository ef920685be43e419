"""Model registry: every family the runner can train, by name, with its config, class and sample views.

A model spec on the command line is `name` or `name:variant`; the variant sets the family's
`variant_field` (for the GAN, its generator loss: `gan:minimax`, `gan:wgan-gp`; for the VAE, how its pixels are
drawn: `vae:autoregressive`). Fields common to
every model of a run (`--arch conv`, `--precision bf16`, `--optimizer sgd`) are set with `with_fields`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from compare.errors import UserError, did_you_mean
from compare.protocol import GenerativeModel
import gan
import vae
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
    architectures: tuple[str, ...] = ("mlp",)  # values of the config's `arch` field
    precisions: tuple[str, ...] = ("fp32",)  # values of the config's `precision` field
    optimizers: tuple[str, ...] = ()  # values of the config's `optimizer` field; () when it has none


MODELS: dict[str, ModelEntry] = {
    "gan": ModelEntry(
        "fully connected GAN from the source text: BCE discriminator, flipped-label (nonsaturating) generator loss; "
        "--arch conv for DCGAN nets",
        GANConfig, GAN, "generator", variant_field="generator_loss", variants=GENERATOR_LOSSES,
        architectures=tuple(gan.ARCHITECTURES), precisions=tuple(gan.PRECISIONS), optimizers=tuple(gan.OPTIMIZERS),
    ),
    "vae": ModelEntry(
        "fully connected VAE, Bernoulli pixels + KL; shown as per-pixel means and as independent pixel draws; "
        "--arch conv for conv nets; vae:autoregressive draws the pixels jointly (a PixelCNN head on the decoder's logits)",
        VAEConfig, VAE, "decoder", sample_modes=SAMPLE_MODES, variant_field="decoder", variants=tuple(vae.DECODERS),
        architectures=tuple(vae.ARCHITECTURES), precisions=tuple(vae.PRECISIONS), optimizers=tuple(vae.OPTIMIZERS),
    ),
}
# Every --arch / --precision / --optimizer value some family takes (a family that lacks one says so when asked for it).
ARCHITECTURES = tuple(dict.fromkeys(a for e in MODELS.values() for a in e.architectures))
PRECISIONS = tuple(dict.fromkeys(p for e in MODELS.values() for p in e.precisions))
OPTIMIZERS = tuple(dict.fromkeys(o for e in MODELS.values() for o in e.optimizers))


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

    @property
    def optimizer(self) -> str | None:
        """The optimiser it trains with: its override, else its config's default; None when the config has no such field."""
        defaults = {f.name: f.default for f in dataclasses.fields(self.entry.config_cls)}
        return dict(self.overrides).get("optimizer", defaults.get("optimizer"))

    def config(self, image_shape: tuple[int, int, int], **fields: Any):
        """The family's config for this image shape; `fields` (e.g. width) override the defaults and the
        variant. A field value it rejects (e.g. conv nets for 30x30 images) is a UserError."""
        try:
            return self.entry.config_cls(image_shape=tuple(image_shape), **dict(self.overrides), **fields)
        except ValueError as e:
            raise UserError(f"model {self.label} on {'x'.join(map(str, image_shape))} images: {e}") from None

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
            raise UserError(f"unknown model {family!r}{did_you_mean(family, MODELS)}; choose from: {', '.join(MODELS)} "
                            "(see `compare models`)")
        overrides: tuple[tuple[str, Any], ...] = ()
        if variant:
            if variant not in entry.variants:
                valid = ", ".join(f"{family}:{v}" for v in entry.variants) or f"none for {family}"
                hint = did_you_mean(label, [f"{family}:{v}" for v in entry.variants])
                raise UserError(f"unknown variant {label!r}{hint}; valid variants: {valid}")
            overrides = ((entry.variant_field, variant),)
        specs.append(ModelSpec(label, family, overrides))
    dupes = sorted({s.label for s in specs if labels.count(s.label) > 1})
    if dupes:
        raise UserError(f"model {dupes[0]!r} is listed twice; give each model once")
    return specs


def with_fields(specs: list[ModelSpec], **fields: Any) -> list[ModelSpec]:
    """Set config fields on every spec whose config declares them, e.g. `with_fields(specs, arch="conv", optimizer="sgd")`
    (a family without an `optimizer` field keeps its own); a value some family does not register is a UserError
    naming the ones it does."""
    out = []
    for spec in specs:
        registered = {"arch": spec.entry.architectures, "precision": spec.entry.precisions, "optimizer": spec.entry.optimizers}
        declared = {f.name for f in dataclasses.fields(spec.entry.config_cls)}
        for field, value in fields.items():
            if field in declared and registered.get(field) and value not in registered[field]:  # () registers no list: any value
                raise UserError(f"model {spec.label} has no {field} {value!r}; it takes: {', '.join(registered[field])}")
        out.append(dataclasses.replace(spec, overrides=spec.overrides + tuple((k, v) for k, v in fields.items() if k in declared)))
    return out
