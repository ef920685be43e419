import math

import pytest
import torch

from compare.protocol import GenerativeModel
from vae import VAE, VAEConfig, vae_loss

SHAPE = (1, 8, 8)


def make_vae(**fields) -> VAE:
    return VAE(VAEConfig(image_shape=SHAPE, hidden=32, latent_dim=4, **fields), seed=0)


def test_vae_satisfies_the_protocol():
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


# --- pixel noise tied to the sample index -------------------------------------------------------------

def test_pixel_samples_do_not_depend_on_how_many_are_drawn():
    # latent_dim 16: torch draws normals in blocks of 16, so z's first rows are the same for any n and
    # any difference would come from the pixel noise. 300 and 600 cross the 256-image noise chunks.
    vae = VAE(VAEConfig(image_shape=SHAPE, hidden=32, latent_dim=16), seed=0)
    draw = lambda n: vae.sample(n, torch.Generator().manual_seed(3), mode="pixels")
    most = draw(600)
    for n in (1, 10, 256, 257, 300):
        assert torch.equal(draw(n), most[:n]), n


def test_mean_samples_are_the_decoder_at_the_generators_first_draws():
    vae = make_vae()
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(5))
    expected = torch.sigmoid(vae.decoder(z)).detach()
    assert torch.equal(vae.sample(6, torch.Generator().manual_seed(5), mode="mean"), expected)


def test_pixel_samples_are_reproducible_and_the_models_own_stream_gives_fresh_noise():
    vae = make_vae()
    first, again = (vae.sample(50, torch.Generator().manual_seed(7), mode="pixels") for _ in range(2))
    assert torch.equal(first, again)
    # A decoder that ignores z (every pixel p = 1/2): successive draws can differ only by their pixel noise.
    with torch.no_grad():
        vae.decoder.net[-1].weight.zero_()
        vae.decoder.net[-1].bias.zero_()
    one, two = vae.sample(50, mode="pixels"), vae.sample(50, mode="pixels")
    assert not torch.equal(one, two)
    vae.sample_rng.manual_seed(11)
    three = vae.sample(50, mode="pixels")
    vae.sample_rng.manual_seed(11)
    assert torch.equal(vae.sample(50, mode="pixels"), three)


# --- importance-weighted likelihood -------------------------------------------------------------------

def _binary_images(n: int, seed: int = 0) -> torch.Tensor:
    return (torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(seed)) < 0.3).float()


def test_iwae_nll_is_the_exact_nll_when_the_decoder_ignores_z_and_q_is_the_prior():
    # Decoder logits = its last bias whatever z, and q(z|x) = N(0, I) = p(z): every importance weight
    # is p(x), so for any k the estimate is exactly -log p(x) = BCE(bias logits, x).
    vae = make_vae()
    with torch.no_grad():
        for last in (vae.encoder.net[-1], vae.decoder.net[-1]):
            last.weight.zero_()
        vae.encoder.net[-1].bias.zero_()
    x = _binary_images(5)
    bias_logits = vae.decoder.net[-1].bias.detach().expand(5, -1)
    exact = torch.nn.functional.binary_cross_entropy_with_logits(bias_logits, x.flatten(1), reduction="none").sum(1)
    for k in (1, 7, 50):
        assert torch.allclose(vae.iwae_nll(x, k=k, generator=torch.Generator().manual_seed(k)), exact, atol=1e-5)


def test_iwae_nll_matches_the_formula_written_with_torch_distributions():
    from torch.distributions import Bernoulli, Normal

    vae = make_vae()
    x, k = _binary_images(6), 5
    got = vae.iwae_nll(x, k=k, generator=torch.Generator().manual_seed(1), chunk=4)
    eps = torch.randn(6, k, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        mean, logvar = vae.encoder(x)
        std = (0.5 * logvar).exp()
        z = mean[:, None] + std[:, None] * eps  # (6, k, 4)
        log_px_z = Bernoulli(logits=vae.decoder(z.flatten(0, 1)).flatten(1)).log_prob(
            x.flatten(1).repeat_interleave(k, 0))
        log_w = (log_px_z.sum(1).view(6, k) + Normal(0, 1).log_prob(z).sum(2)
                 - Normal(mean[:, None], std[:, None]).log_prob(z).sum(2))
    assert torch.allclose(got, math.log(k) - torch.logsumexp(log_w, 1), atol=1e-4)
    assert torch.allclose(vae.iwae_nll(x, k=k, generator=torch.Generator().manual_seed(1), chunk=1), got, atol=1e-5)


def test_iwae_nll_at_k1_is_the_elbo_with_a_sampled_kl_on_the_same_z():
    # k = 1: -log p(x|z) + log q(z|x) - log p(z) at the z elbo() draws; elbo() uses the closed-form KL instead.
    from torch.distributions import Normal

    vae = make_vae()
    x = _binary_images(8)
    nll = vae.iwae_nll(x, k=1, generator=torch.Generator().manual_seed(2))
    elbo = vae.elbo(x, torch.Generator().manual_seed(2))
    with torch.no_grad():
        mean, logvar = vae.encoder(x)
        std = (0.5 * logvar).exp()
        z = mean + std * torch.randn(8, 4, generator=torch.Generator().manual_seed(2))
        sampled_kl = (Normal(mean, std).log_prob(z) - Normal(0, 1).log_prob(z)).sum(1)
        closed_kl = torch.distributions.kl_divergence(Normal(mean, std), Normal(0, 1)).sum(1)
    assert torch.allclose(nll, -elbo - closed_kl + sampled_kl, atol=1e-4)


def test_iwae_bound_tightens_with_k_on_average():
    vae = make_vae()
    x = _binary_images(256)
    for _ in range(20):
        vae.train_step(x[:64])
    nll = {k: vae.iwae_nll(x, k=k, generator=torch.Generator().manual_seed(4)).mean().item() for k in (1, 100)}
    elbo = -vae.elbo(x, torch.Generator().manual_seed(5)).mean().item()
    assert nll[100] < nll[1] and nll[100] < elbo


def test_iwae_nll_rejects_k_below_one():
    with pytest.raises(ValueError, match="k and chunk"):
        make_vae().iwae_nll(_binary_images(2), k=0)


def test_an_sgd_step_is_the_weights_less_lr_times_the_gradient():
    # Plain SGD (no momentum): w <- w - lr * grad of the negative ELBO, on the step's own noise.
    vae, twin = make_vae(optimizer="sgd"), make_vae(optimizer="sgd")
    assert vae.config.lr == 0.01 and type(vae.opt) is torch.optim.SGD and vae.opt.param_groups[0]["momentum"] == 0
    batch = torch.rand(16, *SHAPE, generator=torch.Generator().manual_seed(3))
    z, mean, logvar = twin._encode_sample(batch, twin.train_rng)  # the noise train_step draws first
    vae_loss(batch, twin.decoder(z), mean, logvar)["loss"].backward()
    params = [p for part in twin.parts().values() for p in part.parameters()]
    expected = [p.detach() - 0.01 * p.grad for p in params]
    vae.train_step(batch)
    got = [p.detach() for part in vae.parts().values() for p in part.parameters()]
    assert all(not torch.equal(g, p.detach()) for g, p in zip(got, params))
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=0, atol=1e-6)


def test_an_unknown_optimizer_names_the_valid_ones():
    with pytest.raises(ValueError, match="optimizer must be one of adam, sgd, got 'lbfgs'"):
        VAEConfig(optimizer="lbfgs")
    assert (VAEConfig().lr == 1e-3 and VAEConfig(optimizer="sgd").lr == 0.01
            and VAEConfig(optimizer="sgd", lr=0.2).lr == 0.2)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_state_saved_and_loaded_mid_training_continues_exactly(optimizer, tmp_path):
    batches = [torch.rand(16, *SHAPE, generator=torch.Generator().manual_seed(i)) for i in range(6)]
    straight = make_vae(optimizer=optimizer)
    for b in batches:
        straight.train_step(b)
    first = make_vae(optimizer=optimizer)
    for b in batches[:3]:
        first.train_step(b)
    torch.save(first.state_dict(), tmp_path / "state.pt")  # as a checkpoint holds it
    resumed = VAE(first.config, seed=123)  # another seed: everything must come from the state
    resumed.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    for b in batches[3:]:
        resumed.train_step(b)
    for name in ("encoder", "decoder"):
        assert all(torch.equal(a, b) for a, b in zip(straight.parts()[name].state_dict().values(),
                                                     resumed.parts()[name].state_dict().values()))
