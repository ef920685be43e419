"""Training throughput: the runner's loop vs a plain-PyTorch loop of the same nets, same process.

Target: the runner (registry + protocol + compare.experiments.pipeline.train) reaches at least 0.95x the
plain loop's images/s for each family. Run: python benchmarks/train_throughput.py [--steps N]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from compare.data import batches, load_dataset
from compare.models import parse_model_specs
from compare.train.loop import train

TARGET = 0.95


def plain_gan(images, steps, batch_size, seed, spec):
    cfg = spec.config(images.shape[1:])
    torch.manual_seed(seed)
    from gan import Discriminator, Generator

    g, d = Generator(cfg), Discriminator(cfg)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=cfg.betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=cfg.betas)
    for _, real in zip(range(steps), batches(images, batch_size, torch.Generator().manual_seed(seed))):
        real = real * 2 - 1
        fake = g(torch.randn(batch_size, cfg.latent_dim))
        real_logits, fake_logits = d(real), d(fake.detach())
        d_loss = (F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, cfg.real_label))
                  + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        d.requires_grad_(False)
        out = d(fake)
        g_loss = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        d.requires_grad_(True)


def plain_vae(images, steps, batch_size, seed, spec):
    cfg = spec.config(images.shape[1:])
    torch.manual_seed(seed)
    from vae import Decoder, Encoder

    enc, dec = Encoder(cfg), Decoder(cfg)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=cfg.lr, betas=cfg.betas)
    for _, x in zip(range(steps), batches(images, batch_size, torch.Generator().manual_seed(seed))):
        mean, logvar = enc(x)
        z = mean + (0.5 * logvar).exp() * torch.randn_like(mean)
        recon = F.binary_cross_entropy_with_logits(dec(z), x, reduction="sum") / len(x)
        kl = -0.5 * torch.sum(1 + logvar - mean.pow(2) - logvar.exp()) / len(x)
        opt.zero_grad(set_to_none=True)
        (recon + kl).backward()
        opt.step()


def runner_loop(images, steps, batch_size, seed, spec):
    train(spec.build(images.shape[1:], "cpu", seed), images, steps, batch_size, seed)


def best_seconds(loops, args, repeats: int) -> list[float]:
    """Best wall time of each loop; the loops take turns so drift in machine load hits them alike."""
    best = [float("inf")] * len(loops)
    for _ in range(repeats):
        for i, loop in enumerate(loops):
            start = time.perf_counter()
            loop(*args)
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    images = load_dataset("mnist5k").train
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, mnist5k, batch {args.batch_size}, "
          f"{args.steps} steps, best of {args.repeats}")
    ok = True
    for family, plain in [("gan", plain_gan), ("vae", plain_vae)]:
        spec = parse_model_specs([family])[0]
        common = (images, args.steps, args.batch_size, 0, spec)
        plain_s, runner_s = best_seconds([plain, runner_loop], common, args.repeats)
        plain_ips, runner_ips = (args.steps * args.batch_size / s for s in (plain_s, runner_s))
        ratio = runner_ips / plain_ips
        ok &= ratio >= TARGET
        print(f"{family}: runner {runner_ips:9.0f} img/s   plain {plain_ips:9.0f} img/s   ratio {ratio:.3f}   "
              f"(target >= {TARGET})  {'OK' if ratio >= TARGET else 'MISSED'}")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
