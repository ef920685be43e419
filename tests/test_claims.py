"""Verdicts on the source's claims from hand-made metrics: each rule gives the answer it states."""

from compare.report.claims import claim_a, claim_b, claim_c

CONFIG = {"models": {"gan": {"generator_loss": "nonsaturating"}, "gan:minimax": {"generator_loss": "minimax"}, "vae": {}}}


def continuity_metrics(gan: float, mean: float, pixels: float) -> dict:
    def numbers(x):
        return {"lone_pixels_per_image": x, "specks_per_image": 10 * x}

    return {"models": {"gan": {"family": "gan", "views": ["gan"]}, "vae": {"family": "vae", "views": ["vae-mean", "vae-pixels"]}},
            "continuity": {"real": numbers(0.005), "views": {"gan": numbers(gan), "vae-mean": numbers(mean), "vae-pixels": numbers(pixels)}}}


def test_claim_a_verdicts():
    assert claim_a(continuity_metrics(gan=0.01, mean=0.05, pixels=0.1), CONFIG)["verdict"] == "supported"
    mixed = claim_a(continuity_metrics(gan=0.01, mean=0.001, pixels=0.1), CONFIG)
    assert mixed["verdict"] == "mixed" and any("only vae-pixels" in e for e in mixed["evidence"])
    assert claim_a(continuity_metrics(gan=0.05, mean=0.001, pixels=0.04), CONFIG)["verdict"] == "not supported"
    # within 1.5x is no clear difference, whatever the direction
    assert claim_a(continuity_metrics(gan=0.01, mean=0.014, pixels=0.012), CONFIG)["verdict"] == "not supported"
    assert "one seed" in " ".join(claim_a(continuity_metrics(0.01, 0.05, 0.1), CONFIG)["evidence"])


def test_claims_not_measured_say_how():
    a = claim_a({"models": {"gan": {"family": "gan", "views": ["gan"]}}}, CONFIG)
    assert a["verdict"] == "not measured" and "compare run" in a["how"]
    assert claim_b([])["verdict"] == "not measured" and "compare sweep" in claim_b([])["how"]
    c = claim_c(continuity_metrics(0.01, 0.05, 0.1), CONFIG)
    assert c["verdict"] == "not measured" and "gan:minimax" in c["how"]


def test_claim_b_follows_the_sweep():
    sweep = {"claim_b": {"verdict": "yes", "reason": "VAE sizes above GAN sizes", "rule": "r"}}
    assert claim_b([sweep])["verdict"] == "supported"
    assert claim_b([{"claim_b": {**sweep["claim_b"], "verdict": "undecided"}}])["verdict"] == "mixed"


def gan_pair(nonsat_grad: float, minimax_grad: float, nonsat_fid: float, minimax_fid: float) -> dict:
    def model(grad, fid, view):
        return {"family": "gan", "views": [view], "grad_norms": [{"step": s, "generator": grad} for s in range(1, 101)],
                "curve": [{"views": {view: {"fid": fid}}}]}

    return {"models": {"gan": model(nonsat_grad, nonsat_fid, "gan"), "gan:minimax": model(minimax_grad, minimax_fid, "gan:minimax")}}


def test_claim_c_verdicts():
    assert claim_c(gan_pair(1.0, 0.1, 50, 150), CONFIG)["verdict"] == "supported"
    assert claim_c(gan_pair(0.1, 1.0, 150, 50), CONFIG)["verdict"] == "not supported"
    assert claim_c(gan_pair(1.0, 0.1, 100, 110), CONFIG)["verdict"] == "mixed"  # steeper gradient, same early quality


def seeds_summary(name: str, lone: tuple[float, float, float], specks: tuple[float, float, float]) -> dict:
    def diff(mean, low, high):
        return {"mean": mean, "ci95": [low, high], "significant": not (low <= 0 <= high)}

    return {"seeds": [0, 1, 2], "interval": "paired t", "differences": {name: {
        "continuity.lone_pixels_per_image": diff(*lone), "continuity.specks_per_image": diff(*specks)}}}


def test_claim_a_over_seeds_uses_the_paired_intervals():
    from compare.report.claims import claim_a_over_seeds

    assert claim_a_over_seeds(seeds_summary("vae - gan", (0.02, 0.01, 0.03), (2, 1, 3)))["verdict"] == "supported"
    # "gan - vae" is turned round: GAN higher means the VAE is lower
    assert claim_a_over_seeds(seeds_summary("gan - vae", (0.02, 0.01, 0.03), (2, 1, 3)))["verdict"] == "not supported"
    within_noise = claim_a_over_seeds(seeds_summary("vae - gan", (0.02, -0.01, 0.05), (2, 1, 3)))
    assert within_noise["verdict"] == "mixed" and "(n.s.)" in within_noise["evidence"][0]
    assert claim_a_over_seeds({"differences": {"gan:minimax - gan": {}}}) is None
