"""Held-out likelihood: the VAE's negative ELBO and IWAE bound, reproducible, the GAN left out."""

import math

import torch

from compare.data import load_dataset
from compare.metrics.likelihood import heldout_likelihood, mean_interval
from compare.models import parse_model_specs


def test_mean_interval_is_the_normal_interval_of_the_mean():
    mean, (low, high) = mean_interval(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
    half = 1.959963984540054 * math.sqrt(5 / 3) / 2  # sample std sqrt(5/3), n = 4
    assert mean == 2.5 and math.isclose(low, 2.5 - half) and math.isclose(high, 2.5 + half)


def test_vae_gets_both_bounds_reproducibly_and_the_gan_none():
    heldout = load_dataset("digits").heldout[:40]
    specs = {s.label: s for s in parse_model_specs(["gan", "vae"])}
    models = {label: s.build((1, 8, 8), "cpu", seed=0, width=0.25) for label, s in specs.items()}
    first = heldout_likelihood(models, heldout, k=20)
    assert set(first) == {"vae"}
    entry = first["vae"]
    assert entry["k"] == 20 and entry["n"] == 40
    for key in ("neg_elbo_nats", "iwae_nll_nats"):
        low, high = entry["ci95"][key]
        assert low < entry[key] < high and entry[key] > 0
    # k = 20 importance samples tighten the single-sample bound on average (Burda et al. 2016)
    assert entry["iwae_nll_nats"] < entry["neg_elbo_nats"]
    assert heldout_likelihood(models, heldout, k=20) == first  # its own noise stream: the same numbers again
    assert models["vae"].sample(4).shape == (4, 1, 8, 8)  # scoring left the model usable
