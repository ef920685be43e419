import pytest
import torch

from compare.protocol import GenerativeModel
from gan import GAN, GANConfig, discriminator_loss, generator_loss
from gan.model import DEFAULT_R1_WEIGHT, R1_INTERVAL, r1_penalty

SHAPE = (1, 8, 8)


def make_gan(**fields) -> GAN:
    return GAN(GANConfig(image_shape=SHAPE, hidden=32, latent_dim=8, **fields), seed=0)


def weights(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_gan_satisfies_the_protocol():
    assert isinstance(make_gan(), GenerativeModel)


def test_samples_have_image_shape_and_range():
    images = make_gan().sample(10, torch.Generator().manual_seed(0))
    assert images.shape == (10, *SHAPE)
    assert images.min() >= 0 and images.max() <= 1


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_train_step_changes_both_nets_and_sampling_changes_nothing(optimizer):
    gan = make_gan(optimizer=optimizer)
    before_g, before_d = weights(gan.generator), weights(gan.discriminator)
    gan.sample(16, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(before_g, weights(gan.generator)))
    losses = gan.train_step(torch.rand(16, *SHAPE))
    assert set(losses) == {"d_loss", "g_loss"}
    assert all(not torch.equal(a, b) for a, b in zip(before_g, weights(gan.generator)))
    assert all(not torch.equal(a, b) for a, b in zip(before_d, weights(gan.discriminator)))


def test_sampling_is_reproducible_from_the_generator():
    gan = make_gan()
    a = gan.sample(4, torch.Generator().manual_seed(7))
    b = gan.sample(4, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


@pytest.mark.parametrize("d_score", [0.01, 0.3, 0.9])
def test_generator_loss_gradients_match_their_formulas(d_score):
    # With D's score on a fake fixed at d, per sample:
    #   minimax       loss = log(1 - d)  -> d loss / d logit = -d
    #   nonsaturating loss = -log d      -> d loss / d logit = -(1 - d)
    # so while D rejects fakes (d small) only the nonsaturating loss has a usable gradient.
    logit = torch.logit(torch.tensor([d_score, d_score], dtype=torch.float64)).requires_grad_()
    (g_minimax,) = torch.autograd.grad(generator_loss(logit, "minimax"), logit)
    (g_nonsat,) = torch.autograd.grad(generator_loss(logit, "nonsaturating"), logit)
    torch.testing.assert_close(g_minimax, torch.full((2,), -d_score / 2, dtype=torch.float64))
    torch.testing.assert_close(g_nonsat, torch.full((2,), -(1 - d_score) / 2, dtype=torch.float64))
    # and the loss values themselves
    assert generator_loss(logit, "minimax").item() == pytest.approx(torch.log1p(torch.tensor(-d_score)).item())
    assert generator_loss(logit, "nonsaturating").item() == pytest.approx(-torch.log(torch.tensor(d_score)).item())


def test_discriminator_loss_is_bce_on_real_one_and_fake_zero():
    real, fake = torch.tensor([0.8, 0.6]), torch.tensor([0.1, 0.3])  # D scores
    expected = -(torch.log(real).mean() + torch.log(1 - fake).mean())
    got = discriminator_loss(torch.logit(real), torch.logit(fake), real_label=1.0)
    torch.testing.assert_close(got, expected)


def test_unknown_generator_loss_is_rejected():
    with pytest.raises(ValueError, match="generator_loss"):
        GANConfig(generator_loss="wasserstein-ish")


def test_d_width_scales_the_discriminator_alone():
    base, wide = GAN(GANConfig(width=0.5)), GAN(GANConfig(width=0.5, d_width=2.0))
    assert wide.discriminator.net[1].out_features == 2 * base.discriminator.net[1].out_features == 256
    assert all(torch.equal(a, b)
               for a, b in zip(base.generator.state_dict().values(), wide.generator.state_dict().values()))
    with pytest.raises(ValueError, match="d_width must be positive"):
        GANConfig(d_width=0.0)


def test_r1_penalty_of_a_linear_critic_is_its_squared_weight_norm():
    critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 1))
    with torch.no_grad():
        critic[1].weight.copy_(torch.tensor([[3.0, 0.0, 4.0, 0.0]]))  # gradient at every image = w, |w|^2 = 25
    real = torch.rand(6, 1, 2, 2).requires_grad_(True)
    assert r1_penalty(critic(real), real).item() == pytest.approx(25.0)


def test_lazy_r1_adds_interval_times_gamma_half_its_gradient_to_every_intervalth_discriminator_step():
    # Plain SGD: the first D step with R1 differs from the one without by exactly
    # -lr * R1_INTERVAL * gamma / 2 * d(penalty)/d(theta) at the same start, fakes and batch; the next R1_INTERVAL - 1
    # steps carry no penalty. The conv nets default to R1, the MLPs to none.
    assert ((GANConfig().r1_weight, GANConfig(arch="conv").r1_weight)
            == (DEFAULT_R1_WEIGHT["mlp"], DEFAULT_R1_WEIGHT["conv"]) == (0.0, 1.0))
    batch = torch.rand(16, *SHAPE, generator=torch.Generator().manual_seed(3))
    cfg = dict(image_shape=SHAPE, arch="conv", channels=4, dense=16, latent_dim=8, optimizer="sgd", lr=0.1)
    plain, penalised = GAN(GANConfig(**cfg, r1_weight=0.0)), GAN(GANConfig(**cfg, r1_weight=3.0))
    probe = GAN(GANConfig(**cfg, r1_weight=0.0)).discriminator
    real = (batch * 2 - 1).requires_grad_(True)
    params = list(probe.parameters())
    grads = torch.autograd.grad(r1_penalty(probe(real), real), params, allow_unused=True)  # unused: the last bias
    grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
    plain.train_step(batch), penalised.train_step(batch)
    for a, b, g in zip(weights(plain.discriminator), weights(penalised.discriminator), grads):
        torch.testing.assert_close(b - a, -0.1 * R1_INTERVAL * 3.0 / 2 * g, atol=1e-6, rtol=1e-4)
    assert any(g.abs().sum() > 0 for g in grads)
    plain.load_state_dict(penalised.state_dict())  # the same state, then steps 2..R1_INTERVAL: no penalty is due
    for _ in range(R1_INTERVAL - 1):
        plain.train_step(batch), penalised.train_step(batch)
    assert all(torch.equal(a, b) for a, b in zip(weights(plain.discriminator), weights(penalised.discriminator)))
    assert penalised.d_steps == R1_INTERVAL
    with pytest.raises(ValueError, match="r1_weight"):
        GANConfig(r1_weight=-1.0)


def test_the_optimizer_field_picks_the_optimiser_and_its_default_learning_rate():
    adam, sgd, slow = make_gan(), make_gan(optimizer="sgd"), make_gan(optimizer="sgd", lr=0.01)
    assert (adam.config.lr, sgd.config.lr, slow.config.lr) == (5e-4, 0.05, 0.01)
    assert all(type(o) is torch.optim.Adam and o.param_groups[0]["betas"] == (0.5, 0.999)
               for o in (adam.opt_g, adam.opt_d))
    for opt in (sgd.opt_g, sgd.opt_d, slow.opt_g):  # plain SGD: no momentum, no weight decay
        assert (type(opt) is torch.optim.SGD and opt.param_groups[0]["momentum"] == 0
                and opt.param_groups[0]["weight_decay"] == 0)
    assert slow.opt_d.param_groups[0]["lr"] == 0.01
    with pytest.raises(ValueError, match="optimizer must be one of adam, sgd, got 'rmsprop'"):
        GANConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="lr must be positive"):
        GANConfig(optimizer="sgd", lr=0.0)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_state_saved_and_loaded_mid_training_continues_exactly(optimizer, tmp_path):
    batches = [torch.rand(16, *SHAPE, generator=torch.Generator().manual_seed(i)) for i in range(6)]
    straight = make_gan(optimizer=optimizer)
    for b in batches:
        straight.train_step(b)
    first = make_gan(optimizer=optimizer)
    for b in batches[:3]:
        first.train_step(b)
    torch.save(first.state_dict(), tmp_path / "state.pt")  # as a checkpoint holds it
    resumed = GAN(first.config, seed=123)  # another seed: everything must come from the state
    resumed.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    for b in batches[3:]:
        resumed.train_step(b)
    for name in ("generator", "discriminator"):
        assert all(torch.equal(a, b) for a, b in zip(straight.parts()[name].state_dict().values(),
                                                     resumed.parts()[name].state_dict().values()))
    assert torch.equal(straight.sample(4), resumed.sample(4))
