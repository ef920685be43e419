"""vae:autoregressive: the PixelCNN head is causal, its pixel-by-pixel draw is the model it trains, and planted
independent against dependent draws give the lone-pixel difference its sign."""

import pytest
import torch

from helpers import run_cli
from compare.errors import UserError
from compare.metrics.continuity import bad_pixel_counts
from compare.models import parse_model_specs
from vae import VAE, VAEConfig

SHAPE = (1, 8, 8)


def make_vae(decoder: str = "autoregressive", shape=SHAPE, **fields) -> VAE:
    return VAE(VAEConfig(image_shape=shape, hidden=32, latent_dim=4, decoder=decoder, **fields), seed=0)


def randomise(head: torch.nn.Module, seed: int = 0) -> None:
    """Random weights everywhere, the zero-initialised output layer included, so every tap of every mask matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)


@pytest.mark.parametrize("channels", [1, 3])
def test_changing_pixel_j_never_changes_the_logit_of_any_pixel_up_to_j(channels):
    # Raster order over positions; with C channels a pixel's channels share its position (the mask is spatial).
    head = make_vae(shape=(channels, 8, 8)).head
    randomise(head)
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(2, channels, 8, 8, generator=g) > 0.5).float()
    d = torch.randn(2, channels, 8, 8, generator=g)
    base = head(x, d).detach()
    later_moved = 0
    for j in range(64):
        flipped = x.clone()
        flipped[:, :, j // 8, j % 8] = 1 - flipped[:, :, j // 8, j % 8]
        moved = (head(flipped, d).detach() - base).abs().amax((0, 1)).flatten()  # (64,) by position
        assert torch.all(moved[: j + 1] == 0), f"pixel {j} reached a pixel at or before it"
        later_moved += bool(moved[j + 1:].gt(0).any())
    assert later_moved == 63  # and every pixel but the last does reach a later one: the head is not a no-op


def test_the_windowed_draw_is_the_teacher_forced_model():
    # Each pixel of a draw is its uniform thresholded at the probability the full-image pass (training, likelihood)
    # gives it given the drawn pixels: the window one pixel needs computes exactly what the whole image does.
    head = make_vae(shape=(1, 12, 12)).head
    randomise(head, 3)
    g = torch.Generator().manual_seed(4)
    d, u = torch.randn(5, 1, 12, 12, generator=g), torch.rand(5, 1, 12, 12, generator=g)
    with torch.no_grad():
        x = head.draw(d, u)
        assert torch.equal(x, (u < torch.sigmoid(head(x, d))).float())
    assert 0 < x.mean() < 1


def test_an_untrained_head_is_the_independent_decoder():
    # The output layer starts at zero and the head is built after the encoder and decoder: the same seed gives the
    # plain VAE's networks, means and (with the same uniforms) the very same pixel draws.
    plain, joint = make_vae("independent"), make_vae()
    for view in ("mean", "pixels"):
        a = plain.sample(20, torch.Generator().manual_seed(5), mode=view)
        b = joint.sample(20, torch.Generator().manual_seed(5), mode=view)
        assert torch.equal(a, b), view
    x = torch.rand(6, *SHAPE)
    assert torch.allclose(plain.elbo(x, torch.Generator().manual_seed(6)),
                          joint.elbo(x, torch.Generator().manual_seed(6)))


def test_train_step_trains_the_head_and_the_state_round_trips():
    vae = make_vae()
    before = [p.detach().clone() for p in vae.head.parameters()]
    for _ in range(3):
        vae.train_step(torch.rand(16, *SHAPE))
    assert all(not torch.equal(a, b.detach()) for a, b in zip(before, vae.head.parameters()))
    copy = make_vae()
    copy.load_state_dict(vae.state_dict())
    x = torch.rand(4, *SHAPE)
    assert torch.equal(copy.iwae_nll(x, k=3, generator=torch.Generator().manual_seed(0)),
                       vae.iwae_nll(x, k=3, generator=torch.Generator().manual_seed(0)))
    assert (set(vae.parts()) == {"encoder", "decoder", "head"}
            and set(make_vae("independent").parts()) == {"encoder", "decoder"})


def test_the_elbo_scores_the_pixels_through_the_head():
    # By hand: z from the same stream, the head's teacher-forced logits, Bernoulli log-likelihood minus the
    # closed-form KL.
    vae = make_vae()
    randomise(vae.head)
    x = (torch.rand(5, *SHAPE, generator=torch.Generator().manual_seed(2)) > 0.5).float()
    with torch.no_grad():
        mean, logvar = vae.encoder(x)
        z = mean + (0.5 * logvar).exp() * torch.randn(mean.shape, generator=torch.Generator().manual_seed(9))
        logits = vae.head(x, vae.decoder(z))
        log_px = (x * torch.nn.functional.logsigmoid(logits)
                  + (1 - x) * torch.nn.functional.logsigmoid(-logits)).flatten(1).sum(1)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(1)
    assert torch.allclose(vae.elbo(x, torch.Generator().manual_seed(9)), log_px - kl, atol=1e-4)


def blob_model(decoder: str) -> VAE:
    """A decoder that ignores z: logit 0 (p = 0.5) in rows 2-9, columns 2-13 of a 12x16 image, -60 (p ~ 0) elsewhere;
    the autoregressive head, wired by hand, adds 30 x the left neighbour: once a pixel of a row is ink the rest of the
    row's blob is too (logit 30), and a pixel right of the blob falls back to -30."""
    vae = make_vae(decoder, shape=(1, 12, 16))
    blob = torch.full((12, 16), -60.0)
    blob[2:10, 2:14] = 0.0
    last = vae.decoder.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(blob.flatten())
        if vae.head is not None:
            for p in vae.head.parameters():
                p.zero_()
            first, second = (layer.conv for layer in vae.head.layers)
            first.weight[0, 0, -1, first.weight.shape[-1] // 2 - 1] = 1.0  # feature 0 = the left neighbour (mask A)
            second.weight[0, 0, -1, second.weight.shape[-1] // 2] = 1.0  # passed on at the centre tap (mask B)
            vae.head.out.weight[0, 0] = 30.0  # logit = d + 30 x feature 0
    return vae


def test_planted_independent_draws_speckle_and_dependent_draws_do_not():
    counts = {}
    for decoder in ("independent", "autoregressive"):
        draws = blob_model(decoder).sample(400, torch.Generator().manual_seed(0), mode="pixels")
        assert draws[:, :, :2].sum() == 0 and draws[:, :, 10:].sum() == 0  # no ink outside the blob's rows either way
        counts[decoder] = {k: float(v.double().mean()) for k, v in bad_pixel_counts(draws).items()}
    # Independent coins in an 8x12 blob: 1 in 2^8 interior pixels is lone (more at the blob's edges, where outside
    # neighbours are background): ~1 per image; a row that copies its left neighbour is a run of ink to the blob's
    # right edge, so a lone pixel needs a run of one at that edge with no ink beside it in the rows above and below.
    assert counts["independent"]["lone_pixels_per_image"] > 0.7
    assert counts["autoregressive"]["lone_pixels_per_image"] < 0.1
    assert counts["independent"]["specks_per_image"] > counts["autoregressive"]["specks_per_image"]


def test_the_variant_is_registered_and_a_bad_one_is_one_line():
    listed = run_cli("models")
    assert listed.exit_code == 0 and "vae:autoregressive" in listed.output
    refused = run_cli("run", "--models", "vae:pixelcnn")
    assert (refused.exit_code == 2 and "unknown variant 'vae:pixelcnn'" in refused.output
            and "Traceback" not in refused.output)
    spec = parse_model_specs(["vae:autoregressive"])[0]
    # its only view is its joint draws: "mean" and "gmm" would show the head's input, not images of the model
    assert spec.views() == {"vae:autoregressive-pixels": {"mode": "pixels"}}
    assert list(parse_model_specs(["vae"])[0].views()) == ["vae-mean", "vae-pixels", "vae-gmm"]
    assert spec.config((1, 28, 28)).decoder == "autoregressive"
    with pytest.raises(UserError, match="vae:autoregressive"):
        parse_model_specs(["vae:autoregresive"])
    with pytest.raises(ValueError, match="decoder must be one of independent, autoregressive"):
        VAEConfig(decoder="joint")


def test_claim_1_of_a_run_reads_the_independent_vae_not_the_autoregressive_one():
    from compare.claims.inputs import claim1_from_runs

    numbers = {"lone_pixels_per_image": 1.0, "specks_per_image": 1.0}
    views = {"gan": ["gan"], "vae": ["vae-mean", "vae-pixels"], "vae:autoregressive": ["vae:autoregressive-pixels"]}
    metrics = {"models": {label: {"steps": 10, "views": v} for label, v in views.items()},
               "continuity": {"real": numbers, "views": {view: numbers for v in views.values() for view in v}}}
    config = {"seed": 0, "models": {"gan": {"generator_loss": "nonsaturating"}, "vae": {"decoder": "independent"},
                                    "vae:autoregressive": {"decoder": "autoregressive"}}}
    assert [s.label for s in claim1_from_runs([(metrics, config)]).vae_views] == ["vae-mean", "vae-pixels"]
    del metrics["models"]["vae"], config["models"]["vae"]  # only the autoregressive VAE: it is the VAE there is
    assert [s.label for s in claim1_from_runs([(metrics, config)]).vae_views] == ["vae:autoregressive-pixels"]
