from gan.common import PRECISIONS
from gan.model import (ARCHITECTURES, DEFAULT_LR, GAN, GENERATOR_LOSSES, LOSSES, OPTIMIZERS, Discriminator, GANConfig,
                       Generator, discriminator_loss, generator_loss, gradient_penalty, SATURATION_READINGS, saturation)

__all__ = ["ARCHITECTURES", "GAN", "GANConfig", "Generator", "Discriminator", "discriminator_loss", "generator_loss",
           "gradient_penalty", "saturation", "SATURATION_READINGS", "GENERATOR_LOSSES", "LOSSES", "PRECISIONS",
           "OPTIMIZERS", "DEFAULT_LR"]
