"""DCGAN-style convolutional generator and discriminator (Radford et al. 2016).

Generator: z -> (ch * 2^(k-1), s, s) by a transposed conv from 1x1, then k stride-2 transposed convs
that double the side and halve the channels, batch norm + ReLU between them, Tanh at the end.
Discriminator: the mirror image with stride-2 convs and LeakyReLU(0.2), no norm on the first layer,
and a final s x s conv down to one score. Here the image side is s * 2^k with 3 <= s <= 7, so
28 = 7 * 2^2, 32 = 4 * 2^3 and 64 = 4 * 2^4 (and the 8x8 digits, 4 * 2^1) all work.

The modules only read attributes of the config (image_shape, latent_dim, channel_size,
gradient_penalty), so this file does not import gan.model; the layout (conv_plan) is gan.common's.
"""

from __future__ import annotations

from torch import Tensor, nn

from gan.common import conv_widths


def _dcgan_init(module: nn.Module) -> None:
    # Radford et al. 2016, sec. 4: all weights from N(0, 0.02); batch-norm scales around 1.
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class ConvGenerator(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        channels, _, _ = cfg.image_shape
        base, widths = conv_widths(cfg)
        widths = widths[::-1]  # coarsest first: 8ch, 4ch, 2ch, ch
        layers: list[nn.Module] = [
            # (B, latent, 1, 1) -> (B, widths[0], s, s): a dense projection written as a conv
            nn.ConvTranspose2d(cfg.latent_dim, widths[0], base, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]), nn.ReLU(),
        ]
        for cin, cout in zip(widths, widths[1:]):  # (B, cin, n, n) -> (B, cout, 2n, 2n)
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]  # -> (B, C, H, W) in [-1, 1]
        self.net = nn.Sequential(*layers)
        self.apply(_dcgan_init)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z[:, :, None, None])  # (B, latent) -> (B, C, H, W)


class ConvDiscriminator(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        channels, _, _ = cfg.image_shape
        base, widths = conv_widths(cfg)  # finest first: ch, 2ch, 4ch, 8ch
        # Batch norm mixes the images of a batch, which breaks the per-image gradient penalty of
        # WGAN-GP; Gulrajani et al. 2017 (sec. 4) use layer norm in the critic instead.
        norm = (lambda c: nn.GroupNorm(1, c)) if cfg.gradient_penalty else nn.BatchNorm2d
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2)]  # no norm on the input layer
        for cin, cout in zip(widths, widths[1:]):  # (B, cin, n, n) -> (B, cout, n/2, n/2)
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), norm(cout), nn.LeakyReLU(0.2)]
        layers += [nn.Conv2d(widths[-1], 1, base, 1, 0)]  # (B, widths[-1], s, s) -> (B, 1, 1, 1)
        self.net = nn.Sequential(*layers)
        self.apply(_dcgan_init)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten()  # (B,) logits / critic scores
