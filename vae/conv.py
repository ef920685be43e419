"""Convolutional encoder and decoder for the VAE: DCGAN's convolutions (Radford et al. 2016) around a dense layer,
laid out like the GAN's conv nets (InfoGAN's MNIST layout, Chen et al. 2016, appendix C.1).

Encoder: k stride-2 convs (side halves, channels double: ch, 2ch, 4ch, 8ch, capped at 8ch) with ReLU, a dense
layer of `dense` units, then one linear layer to the mean and log-variance of q(z|x).
Decoder: z -> `dense` units -> dense to the coarsest feature map, then k stride-2 transposed convs back to one
logit per pixel. The image side must be s * 2^k with 3 <= s <= 7 (8, 28, 32, 64 all are).

As in the GAN's conv nets, the dense layers hold most of the parameters (474k at width 1 on 28x28 with `channels` 6 and
`dense` 384, 87% of the MLP's 547k) while the convolutions stay narrow enough for a CPU; `width` scales both.
No batch norm: the VAE's sample(), reconstruct() and elbo() run the nets as they are trained, and
batch statistics would make one image's output depend on the rest of its batch.
The modules only read attributes of the config, so this file does not import vae.model; the layout
(conv_widths) is vae.common's.
"""

from __future__ import annotations

from torch import Tensor, nn

from vae.common import conv_widths


class ConvEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        channels = cfg.image_shape[0]
        base, widths = conv_widths(cfg)
        hidden = cfg.dense_size
        layers: list[nn.Module] = []
        for cin, cout in zip([channels, *widths], widths):  # (B, cin, n, n) -> (B, cout, n/2, n/2)
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.ReLU()]
        layers += [nn.Flatten(), nn.Linear(widths[-1] * base * base, hidden), nn.ReLU(),  # -> (B, h)
                   nn.Linear(hidden, 2 * cfg.latent_dim)]  # -> (B, 2 * latent)
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mean, logvar = self.net(x).chunk(2, dim=1)
        return mean, logvar


class ConvDecoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        channels = cfg.image_shape[0]
        base, widths = conv_widths(cfg)
        widths = widths[::-1]  # coarsest first
        hidden = cfg.dense_size
        layers: list[nn.Module] = [
            nn.Linear(cfg.latent_dim, hidden), nn.ReLU(),  # (B, latent) -> (B, h)
            nn.Linear(hidden, widths[0] * base * base), nn.ReLU(),  # -> (B, w0 * s * s)
            nn.Unflatten(1, (widths[0], base, base)),  # -> (B, w0, s, s)
        ]
        for cin, cout in zip(widths, widths[1:]):  # (B, cin, n, n) -> (B, cout, 2n, 2n)
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.ReLU()]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1)]  # -> (B, C, H, W) per-pixel logits
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)
