"""The one interface the runner, evaluator and report see every model family through, and the check that a
class satisfies it before it is registered (compare.models.register_model)."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Mapping, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from compare.errors import UserError


@runtime_checkable
class GenerativeModel(Protocol):
    """Satisfied structurally by gan.GAN and vae.VAE; neither package imports this.

    `train_step` returns 0-d tensors rather than floats so that a GPU step never waits for the
    host: the runner converts them only when it logs.
    """

    config: Any
    device: torch.device

    def train_step(self, batch: Tensor) -> Mapping[str, Tensor]: ...

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor: ...

    def parts(self) -> dict[str, nn.Module]: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


KINDS = ("gan", "vae")  # the families the claims judge; a model of another kind is compared but judged by no claim
REQUIRED_METHODS = ("train_step", "sample", "parts", "state_dict", "load_state_dict")
REQUIRED_CONFIG_FIELDS = ("image_shape", "width")


def check_model_class(cls: Any, name: str) -> None:
    """UserError (one line, naming what is missing) unless `cls` can be registered as a model: a class with
    `kind`, a dataclass `config_class` with image_shape and width, `__init__(config, device, seed)` and the
    GenerativeModel methods. The optional capabilities (sample modes, generate + latent_dim, reconstruct,
    elbo / iwae_nll, a `hidden` field for --match-params) are looked for where they are used."""
    where = f"model {name!r}"
    if not inspect.isclass(cls):
        raise UserError(f"{where} is a {type(cls).__name__}, not a class; name the model's class (MODULE:CLASS)")
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, str) or not kind.isidentifier():
        raise UserError(f"{where} ({cls.__qualname__}) needs a class attribute kind = \"gan\" or \"vae\" (how the claims count it)"
                        + ("" if kind is None else f", not {kind!r}"))
    if kind.lower() in KINDS and kind not in KINDS:  # a near miss would silently leave the model out of every claim
        raise UserError(f"{where} ({cls.__qualname__}) has kind {kind!r}; write it in lower case: {kind.lower()!r}")
    config = getattr(cls, "config_class", None)
    if not dataclasses.is_dataclass(config) or not isinstance(config, type):
        raise UserError(f"{where} ({cls.__qualname__}) needs config_class: a dataclass with fields image_shape and width")
    fields = {f.name for f in dataclasses.fields(config)}
    if missing := [f for f in REQUIRED_CONFIG_FIELDS if f not in fields]:
        raise UserError(f"{where}: its config_class {config.__qualname__} has no field {' or '.join(missing)}; "
                        "add image_shape (C, H, W) and width (a multiplier on its hidden sizes)")
    if missing := [m for m in REQUIRED_METHODS if not callable(getattr(cls, m, None))]:
        raise UserError(f"{where} ({cls.__qualname__}) lacks the method{'s' * (len(missing) > 1)} {', '.join(missing)}; "
                        "see 'Bring your own model' in docs/reference.md")
    try:
        inspect.signature(cls).bind(object(), device="cpu", seed=0)
    except TypeError:
        raise UserError(f"{where} ({cls.__qualname__}) must be constructible as {cls.__qualname__}(config, device=..., seed=...)") from None
    except ValueError:  # a signature inspect cannot read (a C extension class): its first call will say
        pass
