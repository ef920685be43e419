import math

import pytest
import torch

from compare.protocol import GenerativeModel
from vae import VAE, VAEConfig, vae_loss

SHAPE = (1, 8, 8)


def make_vae() -> VAE:
    return VAE(VAEConfig(image_shape=SHAPE, hidden=32, latent_dim=4), seed=0)


def test_satisfies_the_protocol():
    assert isinstance(make_vae(), GenerativeModel)


def test_mean_samples_are_probabilities_and_pixel_samples_are_binary():
    vae = make_vae()
    mean = vae.sample(10, torch.Generator().manual_seed(0), mode="mean")
    pixels = vae.sample(10, torch.Generator().manual_seed(0), mode="pixels")
    assert mean.shape == pixels.shape == (10, *SHAPE)
    assert 0 < mean.min() and mean.max() < 1
    assert set(pixels.unique().tolist()) <= {0.0, 1.0}


def test_pixel_draws_average_to_the_mean_images():
    # Every pixel is an independent Bernoulli of the decoder's probability, so over many samples
    # the average pixel image matches the average probability image (std of the gap ~0.008 here).
    vae = make_vae()
    mean = vae.sample(4000, torch.Generator().manual_seed(1), mode="mean").mean(0)
    pixels = vae.sample(4000, torch.Generator().manual_seed(2), mode="pixels").mean(0)
    assert (mean - pixels).abs().max() < 0.05


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="mode"):
        make_vae().sample(2, mode="median")


def test_train_step_changes_weights_and_sampling_does_not():
    vae = make_vae()
    before = [p.detach().clone() for part in vae.parts().values() for p in part.parameters()]
    vae.sample(8, torch.Generator().manual_seed(0), mode="pixels")
    vae.reconstruct(torch.rand(4, *SHAPE))
    after_sampling = [p.detach().clone() for part in vae.parts().values() for p in part.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before, after_sampling))
    losses = vae.train_step(torch.rand(16, *SHAPE))
    assert set(losses) == {"loss", "recon", "kl"}
    after = [p.detach() for part in vae.parts().values() for p in part.parameters()]
    assert all(not torch.equal(a, b) for a, b in zip(before, after))


def test_loss_equals_bce_plus_kl_by_hand():
    # one image of two pixels, one latent dimension
    x = torch.tensor([[1.0, 0.0]])
    logits = torch.tensor([[0.0, math.log(3.0)]])  # p = 0.5, 0.75
    mean, logvar = torch.tensor([[1.0]]), torch.tensor([[math.log(0.25)]])
    recon = -(math.log(0.5) + math.log(1 - 0.75))
    kl = 0.5 * (0.25 + 1.0 - 1 - math.log(0.25))  # 1/2 (sigma^2 + mu^2 - 1 - log sigma^2)
    got = vae_loss(x, logits, mean, logvar, beta=2.0)
    assert got["recon"].item() == pytest.approx(recon)
    assert got["kl"].item() == pytest.approx(kl)
    assert got["loss"].item() == pytest.approx(recon + 2.0 * kl)


def test_reconstruction_and_elbo_shapes():
    vae = make_vae()
    x = torch.rand(5, *SHAPE)
    assert vae.reconstruct(x).shape == x.shape
    elbo = vae.elbo(x, torch.Generator().manual_seed(0))
    assert elbo.shape == (5,) and torch.all(elbo < 0)
