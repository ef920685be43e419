"""Convolutional generator and discriminator: DCGAN's convolutions (Radford et al. 2016) around a dense layer,
laid out like InfoGAN's MNIST nets (Chen et al. 2016, appendix C.1).

Generator: z -> dense `dense` units -> dense to the coarsest map (8ch... 2ch, s, s), then k stride-2 transposed
convs that double the side and halve the channels, batch norm + ReLU between them, Tanh at the end.
Discriminator: the mirror image: k stride-2 convs with LeakyReLU(0.2) (no norm on the first), a dense layer of
`dense` units, one score. Here the image side is s * 2^k with 3 <= s <= 7, so 28 = 7 * 2^2, 32 = 4 * 2^3 and
64 = 4 * 2^4 (and the 8x8 digits, 4 * 2^1) all work.

Why so few channels: a convolution reuses each weight at every position, so a conv net with as many parameters
as the MLPs (about 550k per model) and DCGAN's 64 channels costs about twenty times their time a step on a CPU
(258 against 11 ms), a GPU workload. With `channels` 6 and `dense` 384 at width 1, the dense layers hold most
of the parameters (the generator's 254k at 28x28, 89% of the MLP generator's 284k) while the convolutions stay
narrow (6 and 12 channels), so the default study fits on two CPU cores. The discriminator is built at d_width times
the width, half by default for these nets (gan.model.DEFAULT_D_WIDTH says why): 57k parameters at width 1; R1 keeps it
smooth on the real images (gan.model.DEFAULT_R1_WEIGHT). `width` scales the channels and the dense units
together, so the parameter count grows with its square as the MLPs' does.

The modules only read attributes of the config (image_shape, latent_dim, dense_size, channel_size,
gradient_penalty), so this file does not import gan.model; the layout (conv_widths) is gan.common's.
"""

from __future__ import annotations

from torch import Tensor, nn

from gan.common import conv_widths


def _dcgan_init(module: nn.Module) -> None:
    # Radford et al. 2016, sec. 4: all weights from N(0, 0.02); batch-norm scales around 1.
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class ConvGenerator(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        channels, _, _ = cfg.image_shape
        base, widths = conv_widths(cfg)
        widths = widths[::-1]  # coarsest first: 8ch, 4ch, 2ch, ch
        hidden, coarse = cfg.dense_size, widths[0] * base * base
        layers: list[nn.Module] = [
            nn.Linear(cfg.latent_dim, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(),  # (B, latent) -> (B, h)
            nn.Linear(hidden, coarse, bias=False), nn.BatchNorm1d(coarse), nn.ReLU(),  # -> (B, widths[0] * s * s)
            nn.Unflatten(1, (widths[0], base, base)),  # -> (B, widths[0], s, s)
        ]
        for cin, cout in zip(widths, widths[1:]):  # (B, cin, n, n) -> (B, cout, 2n, 2n)
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]  # -> (B, C, H, W) in [-1, 1]
        self.net = nn.Sequential(*layers)
        self.apply(_dcgan_init)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)  # (B, latent) -> (B, C, H, W)


class ConvDiscriminator(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        channels, _, _ = cfg.image_shape
        base, widths = conv_widths(cfg)  # finest first: ch, 2ch, 4ch, 8ch
        hidden = cfg.dense_size
        # Batch norm mixes the images of a batch, which breaks the per-image gradient penalty of
        # WGAN-GP; Gulrajani et al. 2017 (sec. 4) use layer norm in the critic instead.
        norm2d = (lambda c: nn.GroupNorm(1, c)) if cfg.gradient_penalty else nn.BatchNorm2d
        norm1d = nn.LayerNorm if cfg.gradient_penalty else nn.BatchNorm1d
        # no norm on the input layer
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2)]
        for cin, cout in zip(widths, widths[1:]):  # (B, cin, n, n) -> (B, cout, n/2, n/2)
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), norm2d(cout), nn.LeakyReLU(0.2)]
        layers += [nn.Flatten(), nn.Linear(widths[-1] * base * base, hidden, bias=False), norm1d(hidden),
                   nn.LeakyReLU(0.2), nn.Linear(hidden, 1)]  # (B, widths[-1], s, s) -> (B, h) -> (B, 1)
        self.net = nn.Sequential(*layers)
        self.apply(_dcgan_init)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten()  # (B,) logits / critic scores
