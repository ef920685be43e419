"""The source text's three claims, each judged from the numbers of a run (or a sweep).

A verdict is one of "supported", "not supported", "mixed" or "not measured", with the evidence
and, when not measured, the command that would measure it. A single seed cannot separate a
difference from seed noise, so single-seed verdicts say so; ratios inside CLEAR_FACTOR of 1 are
treated as no difference at all.
"""

from __future__ import annotations

from typing import Any

CLEAR_FACTOR = 1.5  # a ratio beyond 1.5x either way counts as a difference; closer is "no clear difference"
PIXEL_KEYS = ("lone_pixels_per_image", "specks_per_image")
SINGLE_SEED = "one seed: the spread between seeds is not measured (`compare run --seeds 3` measures it)"
EARLY_STEPS = 50  # "at the start": the generator's gradient over the first steps

CLAIM_A = "VAE samples show discontinuous bad pixels (each pixel is generated separately given z)"
CLAIM_B = "a VAE needs a larger network than a GAN for the same sample quality"
CLAIM_C = "the flipped-label generator loss learns faster at the start than log(1 - D(G(z)))"


def _direction(ratios: list[float | None]) -> str:
    if any(r is None for r in ratios):
        return "unknown"
    if all(r > CLEAR_FACTOR for r in ratios):
        return "more"
    if all(r < 1 / CLEAR_FACTOR for r in ratios):
        return "fewer"
    return "similar"


def claim_a(metrics: dict, config: dict) -> dict[str, Any]:
    """VAE views against the GAN's on lone pixels and specks (raw pixels), each also against real."""
    continuity = metrics.get("continuity")
    families = {label: m.get("family") for label, m in metrics.get("models", {}).items()}
    gans = [label for label, f in families.items() if f == "gan" and config["models"].get(label, {}).get("generator_loss", "nonsaturating") == "nonsaturating"]
    vaes = [label for label, f in families.items() if f == "vae"]
    if not continuity or not gans or not vaes:
        return {"claim": CLAIM_A, "verdict": "not measured", "evidence": [],
                "how": "compare run --models gan vae (the continuity metrics are part of every run)"}
    views, real = continuity["views"], continuity["real"]
    gan_view = metrics["models"][gans[0]]["views"][0]
    evidence, directions = [], {}
    for vae in vaes:
        for view in metrics["models"][vae]["views"]:
            ratios = [views[view][k] / views[gan_view][k] if views[gan_view][k] else None for k in PIXEL_KEYS]
            directions[view] = _direction(ratios)
            evidence.append(f"{view}: " + ", ".join(
                f"{k} {views[view][k]:.4g} vs {gan_view} {views[gan_view][k]:.4g} (real {real[k]:.4g})" for k in PIXEL_KEYS))
    mean_views = [v for v in directions if v.endswith("-mean")]
    more = [v for v, d in directions.items() if d == "more"]
    if mean_views and all(v in more for v in mean_views):
        verdict = "supported"
    elif more:
        verdict = "mixed"  # the independent pixel draws show them, the decoder means (what VAEs usually show) do not
    else:
        verdict = "not supported"
    notes = {"supported": "the VAE's usual output (its per-pixel means) has clearly more lone pixels and specks than the GAN's",
             "mixed": f"only {', '.join(more)} (every pixel drawn independently) clearly has more lone pixels and specks "
                      "than the GAN; the VAE's per-pixel means do not",
             "not supported": f"no VAE view has clearly (>{CLEAR_FACTOR}x on both) more lone pixels and specks than the GAN"}
    return {"claim": CLAIM_A, "verdict": verdict, "evidence": evidence + [notes[verdict], SINGLE_SEED]}


def claim_a_over_seeds(summary: dict) -> dict[str, Any] | None:
    """Claim (a) from `compare run --seeds N`: the VAE's usual output (its first view, the per-pixel
    means) against the GAN on lone pixels and specks, as paired differences over seeds with
    their 95% intervals: supported only when both are significantly higher for the VAE."""
    pairs = [(name, diffs) for name, diffs in summary.get("differences", {}).items() if {"vae", "gan"} <= set(name.split(" - "))]
    if not pairs:
        return None
    name, diffs = pairs[0]
    sign = 1 if name.startswith("vae") else -1  # "vae - gan" or "gan - vae": make it VAE minus GAN
    evidence, outcomes = [], []
    for key in PIXEL_KEYS:
        d = diffs.get(f"continuity.{key}")
        if not d or d.get("ci95") is None:
            return None
        low, high = sorted((sign * d["ci95"][0], sign * d["ci95"][1]))
        outcomes.append("higher" if d["significant"] and low > 0 else "lower" if d["significant"] else "n.s.")
        evidence.append(f"VAE minus GAN {key}: {sign * d['mean']:+.4g}, 95% interval [{low:.4g}, {high:.4g}] ({outcomes[-1]})")
    verdict = "supported" if all(o == "higher" for o in outcomes) else "not supported" if all(o == "lower" for o in outcomes) else "mixed"
    return {"claim": CLAIM_A, "verdict": verdict,
            "evidence": evidence + [f"{len(summary['seeds'])} seeds; {summary['interval']}; the VAE's per-pixel means"]}


def claim_b(sweeps: list[dict]) -> dict[str, Any]:
    """From a capacity sweep: the smallest size reaching the same quality, per family, with intervals."""
    if not sweeps:
        return {"claim": CLAIM_B, "verdict": "not measured", "evidence": [],
                "how": "compare sweep --models gan vae --widths 0.25,0.5,1,2,4 --seeds 3, then compare report RUN_DIR SWEEP_DIR"}
    judged = sweeps[-1]["claim_b"]
    verdict = {"yes": "supported", "no": "not supported"}.get(judged["verdict"], "mixed")
    return {"claim": CLAIM_B, "verdict": verdict, "evidence": [judged["reason"], judged["rule"]]}


def claim_c(metrics: dict, config: dict) -> dict[str, Any]:
    """Nonsaturating vs minimax GAN trained under the same budget: early gradient and quality over training."""
    by_loss = {config["models"][label].get("generator_loss"): label for label, m in metrics.get("models", {}).items()
               if m.get("family") == "gan" and label in config.get("models", {})}
    if "nonsaturating" not in by_loss or "minimax" not in by_loss:
        return {"claim": CLAIM_C, "verdict": "not measured", "evidence": [],
                "how": "compare run --models gan gan:minimax (both generator losses under the same budget)"}
    models = metrics["models"]
    labels = {loss: by_loss[loss] for loss in ("nonsaturating", "minimax")}

    def early_grad(label: str) -> float | None:
        norms = [g["generator"] for g in models[label].get("grad_norms", []) if g["step"] <= EARLY_STEPS and g.get("generator") is not None]
        return sum(norms) / len(norms) if norms else None

    def first_fid(label: str) -> float | None:
        curve = models[label].get("curve") or []
        return curve[0]["views"][models[label]["views"][0]]["fid"] if curve else None

    grads = {loss: early_grad(label) for loss, label in labels.items()}
    fids = {loss: first_fid(label) for loss, label in labels.items()}
    evidence = [f"mean generator gradient norm over steps 1-{EARLY_STEPS}: " +
                ", ".join(f"{labels[loss]} {grads[loss]:.4g}" for loss in grads if grads[loss] is not None),
                "FID at the first evaluation point: " + ", ".join(f"{labels[loss]} {fids[loss]:.4g}" for loss in fids if fids[loss] is not None)]
    faster = [grads["nonsaturating"] is not None and grads["minimax"] is not None and grads["nonsaturating"] > CLEAR_FACTOR * grads["minimax"],
              fids["nonsaturating"] is not None and fids["minimax"] is not None and fids["nonsaturating"] * CLEAR_FACTOR < fids["minimax"]]
    slower = [grads["nonsaturating"] is not None and grads["minimax"] is not None and grads["minimax"] > CLEAR_FACTOR * grads["nonsaturating"],
              fids["nonsaturating"] is not None and fids["minimax"] is not None and fids["minimax"] * CLEAR_FACTOR < fids["nonsaturating"]]
    verdict = "supported" if all(faster) else "not supported" if all(slower) else "mixed"
    return {"claim": CLAIM_C, "verdict": verdict, "evidence": evidence + [SINGLE_SEED]}
