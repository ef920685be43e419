from vae.common import PRECISIONS
from vae.model import (ARCHITECTURES, DECODERS, DEFAULT_LR, OPTIMIZERS, PRIOR_MODES, SAMPLE_MODES, VAE, Decoder,
                       Encoder, VAEConfig, vae_loss)

__all__ = ["ARCHITECTURES", "DECODERS", "VAE", "VAEConfig", "Encoder", "Decoder", "vae_loss", "SAMPLE_MODES",
           "PRIOR_MODES", "PRECISIONS", "OPTIMIZERS", "DEFAULT_LR"]
