from vae.model import VAE, VAEConfig, Encoder, Decoder, vae_loss, SAMPLE_MODES

__all__ = ["VAE", "VAEConfig", "Encoder", "Decoder", "vae_loss", "SAMPLE_MODES"]
