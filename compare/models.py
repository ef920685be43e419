"""Model registry: every family the runner can train, by name, with its config, class and sample views.

A model spec on the command line is `name`, `name:variant` or `PKG.MODULE:CLASS`. The variant sets the family's
`variant_field` (for the GAN, its generator loss: `gan:minimax`, `gan:wgan-gp`; for the VAE, how its pixels are drawn:
`vae:autoregressive`); a dotted module before the colon
names a user's class instead, imported and registered on first use, as are the names installed packages announce
(compare.protocol). Every model, the built-in gan and vae included, enters through `register_model`, which checks
the contract (compare.protocol.check_model_class). Fields common to every model of a run (`--arch conv`,
`--precision bf16`, `--optimizer sgd`) are set with `with_fields`, on the configs that declare them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

import torch

from compare import protocol
from compare.errors import UserError, did_you_mean
from compare.protocol import GenerativeModel, check_model_class
import gan
import vae
from gan import GAN, GENERATOR_LOSSES
from vae import VAE


@dataclass(frozen=True)
class ModelEntry:
    description: str
    config_cls: type
    model_cls: type
    sampler_part: str | None  # the part that generates images: what `--match-params generator` matches; None: not named
    sample_modes: tuple[str, ...] = ()  # () means sample() takes no mode; else one view per mode
    # Modes drawn from a prior fitted after training (compare.train.prior): no curve points before the end, and
    # claim 2's mechanism, not claim 1's pixel-independence reading
    prior_modes: tuple[str, ...] = ()
    variant_field: str | None = None
    # variant -> its views' modes where they are not sample_modes (the class's `variant_sample_modes`)
    variant_modes: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    variants: tuple[str, ...] = ()
    architectures: tuple[str, ...] = ("mlp",)  # values of the config's `arch` field
    precisions: tuple[str, ...] = ("fp32",)  # values of the config's `precision` field
    optimizers: tuple[str, ...] = ()  # values of the config's `optimizer` field; () when it has none
    kind: str = ""  # "gan" / "vae": the family the claims count it in ("" or another kind: judged by no claim)


MODELS: dict[str, ModelEntry] = {}
BUILT_IN = {"gan": GAN, "vae": VAE}  # registered below, through the same path as a user's model


def register_model(name: str, cls: type, description: str | None = None, *, variant_field: str | None = None,
                   variants: tuple[str, ...] = (), architectures: tuple[str, ...] = (),
                   precisions: tuple[str, ...] = (), optimizers: tuple[str, ...] = ()) -> ModelEntry:
    """Make `cls` trainable as `--models NAME` after checking its contract (a one-line UserError names what is
    missing). Its class attributes say the rest: `kind`, `config_class`, and optionally `sample_modes` (one
    view per mode), `variant_sample_modes` ({variant: its own modes}) and `sampler_part` (the part of parts() that makes
    images). `architectures` / `precisions` / `optimizers` list the values --arch / --precision / --optimizer may take
    ((): whatever the config accepts)."""
    check_model_class(cls, name)
    if ":" in name and not protocol.is_import_path(name):  # `name:variant` syntax: the part before a colon is looked up
        raise UserError(f"model name {name!r} has a colon; choose a name without one")
    # a user's name registered again replaces itself (a notebook's rerun cell)
    if name in BUILT_IN and cls is not BUILT_IN[name]:
        raise UserError(f"model name {name!r} is a built-in model's; register {cls.__qualname__} under another")
    MODELS[name] = ModelEntry(description or protocol.describe(cls), cls.config_class, cls,
                              getattr(cls, "sampler_part", None), tuple(getattr(cls, "sample_modes", ())),
                              tuple(getattr(cls, "prior_modes", ())), variant_field,
                              dict(getattr(cls, "variant_sample_modes", {})), tuple(variants), tuple(architectures),
                              tuple(precisions), tuple(optimizers), cls.kind)
    if name not in BUILT_IN:  # a worker of a sweep registers the built-ins itself
        protocol.note(f"{__name__}:register_model", name, cls)
    return MODELS[name]


register_model("gan", GAN,
               "fully connected GAN from the source text: BCE discriminator, flipped-label (nonsaturating) generator "
               "loss; --arch conv for conv nets",
               variant_field="generator_loss", variants=GENERATOR_LOSSES, architectures=tuple(gan.ARCHITECTURES),
               precisions=tuple(gan.PRECISIONS), optimizers=tuple(gan.OPTIMIZERS))
register_model("vae", VAE,
               "fully connected VAE, Bernoulli pixels + KL; shown as per-pixel means, as independent pixel draws, and "
               "as per-pixel means from a 10-component Gaussian mixture fitted to its codes (vae-gmm); --arch conv for "
               "conv nets; vae:autoregressive draws the pixels jointly (a PixelCNN head on the decoder's logits)",
               variant_field="decoder", variants=tuple(vae.DECODERS), architectures=tuple(vae.ARCHITECTURES),
               precisions=tuple(vae.PRECISIONS), optimizers=tuple(vae.OPTIMIZERS))
# Every --arch / --precision / --optimizer value some built-in family takes (a family that lacks one says so
# when asked for it).
ARCHITECTURES = tuple(dict.fromkeys(a for e in MODELS.values() for a in e.architectures))
PRECISIONS = tuple(dict.fromkeys(p for e in MODELS.values() for p in e.precisions))
OPTIMIZERS = tuple(dict.fromkeys(o for e in MODELS.values() for o in e.optimizers))


def lookup(name: str) -> ModelEntry | None:
    """The entry of a registered name, of `PKG.MODULE:CLASS` (imported and registered now), or of a name an
    installed package announces; None for a name nothing knows. A bad plugin is a UserError."""
    return protocol.find(name, MODELS, register_model, protocol.MODEL_GROUP, "model")


def known_names() -> list[str]:
    """Every name `--models` takes as it is: the registered ones and those installed packages announce."""
    return list(dict.fromkeys([*MODELS, *protocol.announced(protocol.MODEL_GROUP)]))


def lookup_view(label: str) -> ModelEntry | None:
    """The entry of the model a model or view label belongs to: gan:hinge, vae-pixels and vae:big-mean -> their
    family's, mypkg.models:MyVAE -> its class's; None for a label no registered model makes."""
    for name in filter(None, (label, label.rpartition("-")[0])):  # the model's own label, or a view's (label-mode)
        try:
            entry = lookup(name if protocol.is_import_path(name) else name.partition(":")[0])
        except UserError:  # not a model's label, or a run of a plugin this process cannot import: no entry here
            entry = None
        if entry is not None and (name == label or label.rpartition("-")[2] in entry.sample_modes):
            return entry
    return None


def kind_of(label: str) -> str | None:
    """The kind ("gan", "vae", ...) the model of a model or view label declares; None for an unknown label or
    an empty kind."""
    entry = lookup_view(label)
    return entry.kind if entry and entry.kind else None


@dataclass(frozen=True)
class ModelSpec:
    """One model of a run: `label` is what the user typed (unique in a run), `overrides` go into its config."""

    label: str
    family: str
    overrides: tuple[tuple[str, Any], ...] = ()

    @property
    def entry(self) -> ModelEntry:
        return lookup(self.family)  # registered, or a plugin imported now (a fresh process resuming or loading its run)

    @property
    def dirname(self) -> str:
        return self.label.replace(":", "-")

    @property
    def sampler_part(self) -> str:
        """The part of parts() that makes images (GAN generator, VAE decoder); a UserError for a model
        that names none."""
        if self.entry.sampler_part is None:
            raise UserError(f"model {self.label} names no sampler_part (the part of its parts() that makes "
                            "images), which --match-params generator and --size-by generator need; add that class "
                            "attribute, or use total")
        return self.entry.sampler_part

    @property
    def optimizer(self) -> str | None:
        """The optimiser it trains with: its override, else its config's default; None when the config has
        no such field."""
        defaults = {f.name: f.default for f in dataclasses.fields(self.entry.config_cls)}
        return dict(self.overrides).get("optimizer", defaults.get("optimizer"))

    def config(self, image_shape: tuple[int, int, int], **fields: Any):
        """The family's config for this image shape; `fields` (e.g. width) override the defaults and the
        variant. A field value it rejects (e.g. conv nets for 30x30 images) is a UserError."""
        try:
            return self.entry.config_cls(image_shape=tuple(image_shape), **dict(self.overrides), **fields)
        except ValueError as e:
            raise UserError(f"model {self.label} on {'x'.join(map(str, image_shape))} images: {e}") from None

    def build(self, image_shape: tuple[int, int, int], device: torch.device | str, seed: int,
              **fields: Any) -> GenerativeModel:
        return self.entry.model_cls(self.config(image_shape, **fields), device=device, seed=seed)

    def views(self) -> dict[str, dict[str, str]]:
        """Sample views of this model, label -> extra sample() kwargs: `vae` gives `vae-mean`, `vae-pixels` and
        `vae-gmm`, `vae:autoregressive` only `vae:autoregressive-pixels` (its variant's modes)."""
        entry = self.entry
        modes = entry.variant_modes.get(dict(self.overrides).get(entry.variant_field), entry.sample_modes)
        if not modes:
            return {self.label: {}}
        return {f"{self.label}-{mode}": {"mode": mode} for mode in modes}


def parse_model_specs(words: list[str]) -> list[ModelSpec]:
    """`["gan", "vae"]`, `["gan,vae"]` or `["gan", "gan:minimax"]` -> specs; bad names raise UserError."""
    labels = [w.strip() for word in words for w in word.split(",") if w.strip()]
    if not labels:
        raise UserError(f"no models given; choose from: {', '.join(known_names())} (see `compare models`)")
    specs = []
    for label in labels:
        family, _, variant = (label, "", "") if protocol.is_import_path(label) else label.partition(":")
        entry = lookup(family)
        if entry is None:
            raise UserError(f"unknown model {family!r}{did_you_mean(family, known_names())}; choose "
                            f"from: {', '.join(known_names())} (see `compare models`), or name your "
                            "own class as PKG.MODULE:CLASS")
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
    """Set config fields on every spec whose config declares them, e.g. `with_fields(specs, arch="conv",
    optimizer="sgd")` (a family without an `optimizer` field keeps its own); a value some family does not register is a
    UserError naming the ones it does."""
    out = []
    for spec in specs:
        registered = {"arch": spec.entry.architectures, "precision": spec.entry.precisions,
                      "optimizer": spec.entry.optimizers}
        declared = {f.name for f in dataclasses.fields(spec.entry.config_cls)}
        for field, value in fields.items():
            # () registers no list: any value
            if field in declared and registered.get(field) and value not in registered[field]:
                raise UserError(f"model {spec.label} has no {field} {value!r}; it takes: "
                                f"{', '.join(registered[field])}")
        out.append(dataclasses.replace(
            spec, overrides=spec.overrides + tuple((k, v) for k, v in fields.items() if k in declared)))
    return out
