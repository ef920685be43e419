"""Held-out likelihood of the models that define one (the VAE): the negative ELBO and the IWAE bound.

Both are upper bounds on -log p(x) in nats per image, lower is better; the importance-weighted one
(Burda et al. 2016) with k samples is the tighter, and places a VAE against published likelihoods.
The data here are grey-level images under a Bernoulli decoder, not binarised MNIST, so the numbers
compare across runs of this toolkit, not with papers that binarise the digits.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from compare.protocol import GenerativeModel
from compare.stats import normal_mean_interval

# k: on mnist5k's default VAE the bound still tightens by 0.4 nat from k = 100 to 200 and by 0.2 from 200 to
# 400 (twice the time), both well inside its 95% interval over the held-out images (+-2.7 nats)
IWAE_SAMPLES = 200
LIKELIHOOD_SEED = 30_000  # a noise stream of its own: scoring never moves a model's training or sampling streams
BATCH = 100  # images per call: with k latents each, bounds the decoder's batch at BATCH * k


def mean_interval(values: Tensor) -> tuple[float, list[float]]:
    """(mean, 95% interval of the mean over the images): over hundreds of images the mean is normal (compare.stats)."""
    mean = float(values.mean())
    return mean, normal_mean_interval(mean, float(values.std()) if len(values) > 1 else math.nan, len(values))


@torch.no_grad()
def heldout_likelihood(models: dict[str, GenerativeModel], heldout: Tensor, k: int = IWAE_SAMPLES) -> dict[str, dict]:
    """{label: {"neg_elbo_nats", "iwae_nll_nats", "k", "n", "ci95": {key: [lo, hi]}}} for every model with
    `elbo` and `iwae_nll` (optional protocol methods); the others are left out."""
    out = {}
    for label, model in models.items():
        if not (callable(getattr(model, "elbo", None)) and callable(getattr(model, "iwae_nll", None))):
            continue
        rng = torch.Generator().manual_seed(LIKELIHOOD_SEED)
        batches = heldout.to(model.device).split(BATCH)
        neg_elbo = torch.cat([-model.elbo(x, rng) for x in batches]).double().cpu()
        nll = torch.cat([model.iwae_nll(x, k=k, generator=rng) for x in batches]).double().cpu()
        entry: dict = {"k": k, "n": len(heldout), "ci95": {}}
        for key, values in (("neg_elbo_nats", neg_elbo), ("iwae_nll_nats", nll)):
            entry[key], entry["ci95"][key] = mean_interval(values)
        out[label] = entry
    return out
