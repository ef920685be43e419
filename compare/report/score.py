"""`compare score A B`'s three outputs: one number (--metric, as pytorch-fid prints FID), one short table (the default),
flat keys (--json: "fid", "fid_ci95_low", "fid_ci95_high", ..., A's own pixel numbers as "A_<key>").

    flat_scores(result, pixels)    every number of a score as one flat dict, with its protocol
    score_table(result, pixels)    the quality numbers of B against A and the headline bad-pixel rates of both
    check_metric(name)             --metric's name against the registry, before anything is computed
"""

from __future__ import annotations

from compare.errors import UserError, did_you_mean
from compare.metrics import METRICS, key_info, keys_of, label_of
from compare.metrics.bad_pixels import CI_SUFFIX
from compare.metrics.numbers import ARROWS, fmt, interval
from compare.report.render import Table
from compare.report.tables import quality_interval

REFERENCE = "A"  # the reference set's name in the continuity report and the prefix of its numbers in the flat keys
JUDGED = "B"


def check_metric(name: str) -> str:
    """A registered metric key (fid, kid_x1e3, lone_pixels_per_image, ...) or an error that lists them."""
    keys = [k for metric in METRICS.values() for k in metric.keys]
    if name not in keys:
        raise UserError(f"unknown metric {name!r}{did_you_mean(name, keys)}; --metric takes one of: {', '.join(keys)}")
    return name


def _with_interval(out: dict, key: str, value, ci) -> None:
    out[key] = value
    if (bounds := interval(ci)) is not None:
        out[f"{key}_ci95_low"], out[f"{key}_ci95_high"] = bounds


def flat_scores(result: dict, pixels: dict) -> dict:
    """{key: number} of every quality value (B against A), B's pixel numbers (A's as "A_<key>", their ratio as
    "<key>_ratio_to_A", each rate at another threshold t as "<key>_at_<t>"), each with "_ci95_low/high", then
    the protocol."""
    out: dict = {}
    for entry in result["metrics"].values():
        for k, value in entry["values"].items():
            _with_interval(out, k, value, quality_interval(entry, k))
    for prefix, numbers in ((f"{REFERENCE}_", pixels["real"]), ("", pixels["views"][JUDGED])):
        for k, value in numbers.items():
            if not k.endswith(CI_SUFFIX):
                _with_interval(out, prefix + k, value, numbers.get(k + CI_SUFFIX))
    out |= {f"{k}_ratio_to_{REFERENCE}": ratio for k, ratio in pixels["ratios"][JUDGED].items()}
    sensitivity = pixels.get("sensitivity") or {}
    for prefix, by_threshold in ((f"{REFERENCE}_", sensitivity.get("real", {})),
                                 ("", sensitivity.get("views", {}).get(JUDGED, {}))):
        out |= {f"{prefix}{k}_at_{threshold}": v for threshold, rates in by_threshold.items() for k, v in rates.items()}
    protocol, info = result["metrics"]["fid"]["protocol"], result["extractor"]
    return {**out, "features": info["name"], "features_source": info.get("source"),
            "weights_sha256": info["weights_sha256"], "heldout_accuracy": info.get("heldout_accuracy"),
            "feature_sd": info.get("feature_sd"), "n_real": protocol["n_real"], "n_fake": protocol["n_fake"],
            "bootstrap_resamples": protocol["bootstrap"]["resamples"],
            "bootstrap_resampled": protocol["bootstrap"]["resampled"],
            "binary_threshold": pixels["protocol"]["binary_threshold"]}


def score_table(result: dict, pixels: dict) -> Table:
    """One row per quality number (B judged against A: A has none of its own) and per headline bad-pixel
    rate (both sets)."""
    rows, keys = [], []
    for entry in result["metrics"].values():
        for k, value in entry["values"].items():
            if not key_info(k).constant:
                keys.append(k)
                rows.append([label_of(k, entry["protocol"].get("n_fake")), ARROWS.get(key_info(k).better, ""),
                             fmt(value, quality_interval(entry, k)), "–"])
    for k, key in keys_of("bad pixels").items():
        if key.headline:
            keys.append(k)
            rows.append([label_of(k), ARROWS.get(key.better, ""),
                         *(fmt(numbers.get(k), numbers.get(k + CI_SUFFIX))
                           for numbers in (pixels["views"][JUDGED], pixels["real"]))])
    return Table(["metric", "better", f"{JUDGED} (judged against {REFERENCE})", f"{REFERENCE} (reference)"], rows, keys)
