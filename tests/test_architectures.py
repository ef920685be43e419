"""Conv architectures, the extra GAN losses, mixed precision, and the unchanged default mlp path."""

from __future__ import annotations

import copy
import io
import math

import pytest
import torch

from compare.errors import UserError
from compare.models import ARCHITECTURES, PRECISIONS, parse_model_specs, with_fields
from gan import GAN, GANConfig, LOSSES, generator_loss, gradient_penalty
from gan.model import hinge_discriminator_loss, wasserstein_critic_loss
from vae import VAE, VAEConfig

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _images(shape: tuple[int, int, int], n: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed))


def _weights(model) -> dict[str, torch.Tensor]:
    return {f"{part}.{k}": v.detach().clone() for part, m in model.parts().items() for k, v in m.state_dict().items()}


# --- conv nets ------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64), (1, 8, 8)])
@pytest.mark.parametrize("family", [(GAN, GANConfig), (VAE, VAEConfig)])
def test_conv_nets_follow_the_image_shape(shape, family):
    model_cls, config_cls = family
    model = model_cls(config_cls(image_shape=shape, arch="conv"))
    images = model.sample(3, generator=torch.Generator().manual_seed(0))
    assert images.shape == (3, *shape)
    assert 0 <= images.min() and images.max() <= 1


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("loss", ["nonsaturating", "hinge", "wgan-gp"])
def test_conv_gan_trains_on_grey_and_colour(shape, loss):
    model = GAN(GANConfig(image_shape=shape, arch="conv", generator_loss=loss, channels=8))
    before = _weights(model)
    for _ in range(3):
        losses = model.train_step(_images(shape))
    assert all(torch.isfinite(v) for v in losses.values())
    after = _weights(model)
    moved = {k for k in before if before[k].is_floating_point() and not torch.equal(before[k], after[k])}
    assert any(k.startswith("generator.") for k in moved) and any(k.startswith("discriminator.") for k in moved)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_conv_vae_trains_on_grey_and_colour_and_eval_changes_nothing(shape):
    model = VAE(VAEConfig(image_shape=shape, arch="conv", channels=8))
    x = _images(shape)
    first = float(model.train_step(x)["loss"])
    for _ in range(5):
        last = float(model.train_step(x)["loss"])
    assert last < first  # the same batch, six Adam steps: the negative ELBO must fall
    before = _weights(model)
    model.reconstruct(x), model.elbo(x), model.sample(4), model.sample(4, mode="pixels"), model.iwae_nll(x, k=3)
    assert all(torch.equal(v, _weights(model)[k]) for k, v in before.items())
    assert all(net.training for net in model.parts().values())  # eval passes hand the nets back in train mode


def test_conv_width_scales_channels_and_the_dense_layer_like_the_mlp_width():
    narrow = GAN(GANConfig(arch="conv", width=0.5))
    wide = GAN(GANConfig(arch="conv", width=1.0))
    convs = lambda m: [c.out_channels for c in m.generator.net if isinstance(c, torch.nn.ConvTranspose2d)]
    assert convs(wide) == [6, 1] and convs(narrow) == [3, 1]  # 28 = 7 * 2^2: 12 -> 6 -> 1 channels at width 1
    assert wide.generator.net[0].out_features == 2 * narrow.generator.net[0].out_features == 384  # the dense units
    n = lambda m: sum(p.numel() for net in m.parts().values() for p in net.parameters())
    assert n(narrow) < n(wide) / 3  # dense and conv-to-conv weights grow with the square of the width


@pytest.mark.parametrize("family, mlp_family, part", [(GAN, GANConfig, "generator"), (VAE, VAEConfig, None)])
def test_conv_nets_at_width_1_have_about_the_mlps_parameter_count_on_28_pixels(family, mlp_family, part):
    # the GAN's generator (its discriminator is half as wide by default), the whole VAE
    n = lambda arch: sum(p.numel() for name, net in family(mlp_family(arch=arch)).parts().items()
                         if part in (None, name) for p in net.parameters())
    assert 0.85 < n("conv") / n("mlp") < 1.0  # 254k vs 284k (GAN generator), 474k vs 547k (VAE)


def test_the_conv_discriminator_is_half_the_generators_width_unless_told():
    assert GANConfig(arch="conv").d_width == 0.5 and GANConfig().d_width == 1.0  # gan.model.DEFAULT_D_WIDTH
    assert GANConfig(arch="conv", d_width=1.0).d_width == 1.0
    half, same = GAN(GANConfig(arch="conv")), GAN(GANConfig(arch="conv", d_width=1.0))
    assert half.discriminator.net[0].out_channels == 3 and same.discriminator.net[0].out_channels == 6


def test_dcgan_convolutions_at_64_pixels():
    gen = GAN(GANConfig(image_shape=(3, 64, 64), arch="conv", channels=64)).generator
    convs = [m for m in gen.net if isinstance(m, torch.nn.ConvTranspose2d)]
    # Radford et al. 2016, fig. 1 with channels=64: 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32x64 -> 64x64x3,
    # the 4x4x512 map projected from the dense layer
    assert [c.out_channels for c in convs] == [256, 128, 64, 3]
    assert gen.net[3].out_features == 512 * 4 * 4
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in gen.net)


def test_wgan_gp_critic_has_no_batch_norm():
    critic = GAN(GANConfig(arch="conv", generator_loss="wgan-gp")).discriminator
    assert not any(isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) for m in critic.modules())
    assert any(isinstance(m, torch.nn.GroupNorm) for m in critic.modules())
    assert any(isinstance(m, torch.nn.LayerNorm) for m in critic.modules())


@pytest.mark.parametrize("shape", [(1, 30, 30), (1, 28, 32), (1, 4, 4)])
def test_conv_rejects_sizes_it_cannot_make(shape):
    with pytest.raises(ValueError, match="conv architecture"):
        GANConfig(image_shape=shape, arch="conv")
    with pytest.raises(ValueError, match="conv architecture"):
        VAEConfig(image_shape=shape, arch="conv")
    spec = with_fields(parse_model_specs(["gan"]), arch="conv")[0]
    with pytest.raises(UserError, match=r"model gan on 1x\d+x\d+ images: the conv architecture"):
        spec.config(shape)
    # mlp takes any shape
    assert with_fields(parse_model_specs(["gan"]), arch="mlp")[0].config(shape).image_shape == shape


def test_with_fields_validates_against_each_familys_registry():
    specs = with_fields(parse_model_specs(["gan", "vae"]), arch="conv", precision="bf16")
    assert [s.config((1, 8, 8)).arch for s in specs] == ["conv", "conv"]
    assert [s.config((1, 8, 8)).precision for s in specs] == ["bf16", "bf16"]
    with pytest.raises(UserError, match="has no arch 'resnet'; it takes: mlp, conv"):
        with_fields(parse_model_specs(["gan"]), arch="resnet")
    assert ARCHITECTURES == ("mlp", "conv") and PRECISIONS == ("fp32", "bf16", "fp16")


# --- losses ----------------------------------------------------------------------------------------

def test_hinge_and_wasserstein_losses_known_answers():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-3.0, 0.0])
    # hinge: mean(relu(1 - real)) + mean(relu(1 + fake)) = (0 + 0.5)/2 + (0 + 1)/2
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx(0.75)
    assert wasserstein_critic_loss(real, fake).item() == pytest.approx(-1.5 - 1.25)
    assert generator_loss(fake, "hinge").item() == pytest.approx(1.5)
    assert generator_loss(fake, "wgan-gp").item() == pytest.approx(1.5)
    assert set(LOSSES) == {"nonsaturating", "minimax", "hinge", "wgan-gp"}
    assert [n for n, l in LOSSES.items() if l.gradient_penalty] == ["wgan-gp"]


@pytest.mark.parametrize("loss, critic_steps", [("nonsaturating", 1), ("hinge", 1), ("wgan-gp", 5)])
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_critic_updates_per_generator_update(loss, critic_steps, precision):
    # WGAN-GP: n_critic = 5 (Gulrajani et al. 2017, Algorithm 1). Under fp16 the grad scaler must
    # accept several D steps per train_step (it allows one step per optimiser per update).
    model = GAN(GANConfig(image_shape=(1, 8, 8), generator_loss=loss, precision=precision), seed=0)
    for _ in range(2):
        model.train_step(_images((1, 8, 8)))
    adam_steps = lambda opt: {int(s["step"]) for s in opt.state.values()}
    assert adam_steps(model.opt_g) == {2}
    # fp16's first steps may be skipped while the loss scale settles; Adam counts only the taken ones
    assert (adam_steps(model.opt_d) == {2 * critic_steps} if precision == "fp32"
            else max(adam_steps(model.opt_d)) <= 2 * critic_steps)


def test_gradient_penalty_of_a_linear_critic_is_its_weight_norm_minus_one_squared():
    critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 1, bias=False))
    with torch.no_grad():
        critic[1].weight.copy_(torch.tensor([[3.0, 0.0, 4.0, 0.0]]))  # gradient everywhere = w, |w| = 5
    real, fake = torch.rand(6, 1, 2, 2), torch.rand(6, 1, 2, 2)
    penalty = gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0))
    assert penalty.item() == pytest.approx((5 - 1) ** 2)
    penalty.backward()  # create_graph: the penalty itself trains the critic
    assert critic[1].weight.grad is not None and critic[1].weight.grad.abs().sum() > 0


def test_variants_reach_the_cli_names():
    labels = [s.label for s in parse_model_specs(["gan:hinge", "gan:wgan-gp"])]
    assert labels == ["gan:hinge", "gan:wgan-gp"]
    assert parse_model_specs(["gan:wgan-gp"])[0].config((1, 28, 28)).gradient_penalty


# --- precision ------------------------------------------------------------------------------------

@pytest.mark.parametrize("precision", ["bf16", "fp16"])
@pytest.mark.parametrize("family", [(GAN, GANConfig), (VAE, VAEConfig)])
def test_mixed_precision_steps_stay_finite_and_resume(precision, family):
    model_cls, config_cls = family
    cfg = config_cls(image_shape=(1, 8, 8), arch="conv", channels=8, precision=precision)
    model = model_cls(cfg, seed=1)
    for _ in range(3):
        losses = model.train_step(_images((1, 8, 8)))
    assert all(torch.isfinite(v) and v.dtype == torch.float32 for v in losses.values())
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)  # through bytes, as a checkpoint goes: no tensors shared with `model`
    state = torch.load(io.BytesIO(buf.getvalue()), weights_only=True)
    assert bool(state["scaler"]) == (precision == "fp16")  # the fp16 loss scale is part of an exact resume
    twin = model_cls(cfg, seed=99)
    twin.load_state_dict(state)
    x = _images((1, 8, 8), seed=7)
    a, b = model.train_step(x), twin.train_step(x)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("family", [(GAN, GANConfig), (VAE, VAEConfig)])
def test_a_model_loaded_from_a_live_models_state_trains_on_its_own(family):
    model_cls, config_cls = family
    model = model_cls(config_cls(image_shape=(1, 8, 8)), seed=1)
    model.train_step(_images((1, 8, 8)))
    twin = model_cls(config_cls(image_shape=(1, 8, 8)), seed=2)
    twin.load_state_dict(model.state_dict())  # in memory: no file between them
    frozen = copy.deepcopy(twin.state_dict())
    model.train_step(_images((1, 8, 8), seed=3))  # must leave the twin's weights and Adam moments alone
    after = twin.state_dict()
    for key in frozen:
        if key.startswith("opt"):
            for i, moments in frozen[key]["state"].items():
                assert all(torch.equal(v, after[key]["state"][i][name]) for name, v in moments.items())
        elif isinstance(frozen[key], dict):
            assert all(torch.equal(v, after[key][name]) for name, v in frozen[key].items())


def test_bad_precision_and_arch_names_are_value_errors():
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, fp16"):
        GANConfig(precision="fp8")
    with pytest.raises(ValueError, match="arch must be one of mlp, conv"):
        VAEConfig(arch="transformer")


# --- the default path is the walking skeleton's ----------------------------------------------------

def test_default_configs_and_sizes_unchanged():
    assert (GANConfig().arch, GANConfig().precision, GANConfig().generator_loss) == ("mlp", "fp32", "nonsaturating")
    assert (VAEConfig().arch, VAEConfig().precision) == ("mlp", "fp32")
    count = lambda m: sum(p.numel() for part in m.parts().values() for p in part.parameters())
    assert count(GAN(GANConfig())) == 283_920 + 267_009
    assert count(VAE(VAEConfig())) == 274_976 + 271_632


def test_default_steps_reproduce_the_skeletons_numbers():
    # Measured with the walking skeleton (commit 98ee2af) on the same inputs: the default path
    # must compute the same thing, operation for operation.
    torch.set_num_threads(1)
    x = torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    expected = {GAN: ({"d_loss": 1.308104, "g_loss": 0.682286}, 1569.86572),
                VAE: ({"loss": 542.831665, "recon": 542.781067, "kl": 0.05059}, 1567.59644)}
    for model_cls, config_cls in ((GAN, GANConfig), (VAE, VAEConfig)):
        model = model_cls(config_cls(), seed=3)
        for _ in range(3):
            losses = model.train_step(x)
        want_losses, want_sum = expected[model_cls]
        assert {k: float(v) for k, v in losses.items()} == pytest.approx(want_losses, rel=1e-4, abs=1e-4)
        assert (float(model.sample(4, generator=torch.Generator().manual_seed(0)).sum())
                == pytest.approx(want_sum, rel=1e-5))


# --- CUDA (skipped where absent) ------------------------------------------------------------------

def _steps_without_host_sync(model, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Three train steps with CUDA's sync debug mode at "error": any host-device sync inside the step raises."""
    for _ in range(3):  # warm-up: cuDNN autotuning and the optimisers' lazy state may sync once
        model.train_step(x)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            losses = model.train_step(x)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert all(math.isfinite(float(v)) for v in losses.values())
    return losses


@cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("loss", ["nonsaturating", "wgan-gp"])
def test_cuda_conv_gan_channels_last_and_no_host_sync(precision, loss):
    model = GAN(GANConfig(image_shape=(3, 32, 32), arch="conv", precision=precision, generator_loss=loss),
                device="cuda")
    conv_weights = [p for p in model.generator.parameters() if p.dim() == 4]
    assert conv_weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in conv_weights)
    _steps_without_host_sync(model, torch.rand(16, 3, 32, 32, device="cuda"))


@cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_cuda_vae_no_host_sync(precision, arch):
    model = VAE(VAEConfig(image_shape=(1, 28, 28), arch=arch, precision=precision), device="cuda")
    _steps_without_host_sync(model, torch.rand(16, 1, 28, 28, device="cuda"))
    assert model.sample(4).device.type == "cuda"
