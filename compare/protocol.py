"""The one interface the runner, evaluator and report see every model family through."""

from __future__ import annotations

from typing import Any, Mapping, Protocol, runtime_checkable

import torch
from torch import Tensor, nn


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
