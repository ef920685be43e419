"""Claim 2's mechanism: the VAE's prior fitted after training to the codes its encoder uses.

A VAE decodes well only the codes it was trained on; its aggregate posterior need not fill N(0, I), so
samples from N(0, I) land where the decoder never learned (Dai & Wipf 2019, "Diagnosing and enhancing VAE
models"). Fitting a density to the encoder's posterior means after training and drawing z from it (ex-post
density estimation, Ghosh et al. 2020) separates the two readings of "a VAE needs a bigger network": if
this prior closes most of the gap to the GAN at equal size, the gap is the prior's, not the capacity's.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from compare.errors import UserError
from compare.protocol import GenerativeModel

PRIOR_COMPONENTS = 10  # one per digit class on the default data; Ghosh et al. 2020's ex-post GMM uses 10 as well
# Full covariances: the codes of one class are correlated across latent dimensions (a curved, tilted cloud), which a
# diagonal mixture could only follow with many more components; 10 x 16 x 17 / 2 = 1,360 covariance numbers from ~4,500
# codes is well determined, and reg_covar (scikit-learn's 1e-6 on the diagonal) keeps a thin cluster invertible.
COVARIANCE = "full"


def fit_gaussian_mixture(codes: Tensor, seed: int, components: int = PRIOR_COMPONENTS) -> tuple[Tensor, Tensor, Tensor]:
    """(weights (K,), means (K, d), Cholesky factors (K, d, d)) of a K-component mixture fitted to codes (N, d) by EM
    from a k-means start seeded by `seed` (K = min(components, N): a tiny training set gets one component per code)."""
    from sklearn.mixture import GaussianMixture  # here: importing scikit-learn takes 1.1 s of every process's start

    x = codes.detach().double().cpu().numpy()
    try:
        gmm = GaussianMixture(min(components, len(x)), covariance_type=COVARIANCE, random_state=seed).fit(x)
    except ValueError as e:  # e.g. non-finite codes: one line, and the trained model's checkpoint stays for a resume
        raise UserError(f"cannot fit the vae-gmm prior to {len(x)} posterior means: "
                        f"{' '.join(str(e).split())[:160]}") from None
    # scikit-learn's own Cholesky factors are of the precisions; sampling wants the covariances'
    covariances = torch.from_numpy(np.ascontiguousarray(gmm.covariances_))
    return torch.from_numpy(gmm.weights_), torch.from_numpy(gmm.means_), torch.linalg.cholesky(covariances)


def needs_prior(model: GenerativeModel) -> bool:
    """A model with a prior to fit after training (the VAE's set_prior) that has none yet."""
    return hasattr(model, "set_prior") and getattr(model, "prior", None) is None


def fit_prior(model: GenerativeModel, images: Tensor, seed: int) -> None:
    """Fit the model's prior to its posterior means of `images` (the train split) and hand it to the model, whose
    state (and so its checkpoint) then holds it: a resumed or reloaded run draws from the same prior."""
    model.set_prior(*fit_gaussian_mixture(model.posterior_means(images), seed))
