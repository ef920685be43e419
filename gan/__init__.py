from gan.model import GAN, GANConfig, Generator, Discriminator, discriminator_loss, generator_loss, GENERATOR_LOSSES

__all__ = ["GAN", "GANConfig", "Generator", "Discriminator", "discriminator_loss", "generator_loss", "GENERATOR_LOSSES"]
