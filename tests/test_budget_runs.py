"""Every budget unit stops every model at the same consumption, and records it in every unit."""

from types import SimpleNamespace

import pytest

import compare.train.loop as train_loop

from compare.settings import Budget
from compare.models import MODELS, parse_model_specs
from compare.experiments.pipeline import run
from compare.train.loop import GRAD_NORM_STEPS
from compare.settings import RunSettings
from helpers import FAST_FIELDS, ONE_PIXEL_PNG

pytestmark = pytest.mark.slow  # every test here trains and evaluates a real run


def tiny_run(tmp_path, budget: str, models=("gan", "vae"), artifacts=False, **fields):
    """metrics.json's models of a small run; no pictures or report unless asked (steps are counted from the JSON).
    No curve points unless asked, and the fewest resamples (helpers.FAST_FIELDS): these tests read the budget's
    counters, not the evaluation, which was most of their time."""
    fields = {"curve_points": 1, **FAST_FIELDS, **fields}
    settings = RunSettings(models=tuple(parse_model_specs(list(models))), budget=Budget.parse(budget), dataset="digits",
                           batch_size=32, width=0.25, out=tmp_path / "run", **fields)
    return run(settings, show_progress=False, artifacts=artifacts).metrics_json()["models"]


@pytest.mark.parametrize("budget, unit, amount",
                         [("40steps", "steps", 40), ("1300images", "images", 1300), ("0.8epochs", "epochs", 0.8)])
def test_count_budgets_give_every_model_the_same_consumption(tmp_path, budget, unit, amount):
    models = tiny_run(tmp_path, budget)
    for m in models.values():
        used = m["consumed"]
        per_step = used[unit] / used["steps"]
        assert amount <= used[unit] < amount + per_step  # rounded up, by less than one step
        assert set(used) == {"steps", "images", "epochs", "s", "flops"}
    assert models["gan"]["consumed"][unit] == models["vae"]["consumed"][unit]


def test_flops_budget_matches_flops_not_steps(tmp_path):
    models = tiny_run(tmp_path, "2e8flops")
    gan, vae = models["gan"]["consumed"], models["vae"]["consumed"]
    assert gan["steps"] != vae["steps"]  # a GAN step trains two nets: fewer steps for the same FLOPs
    for used, m in [(gan, models["gan"]), (vae, models["vae"])]:
        per_step = m["size"]["train_flops_per_step"]
        assert used["flops"] == used["steps"] * per_step and 2e8 <= used["flops"] < 2e8 + per_step


def test_seconds_budget_stops_at_the_first_step_that_reaches_it(tmp_path, monkeypatch):
    # A clock that advances 10 ms each time the runner reads it: the loop reads it once after every
    # step (plus at loss readings), so a step is 10-20 ms and the stop is checkable to the step.
    ticks = iter(range(10**9))
    monkeypatch.setattr(train_loop, "time", SimpleNamespace(perf_counter=lambda: next(ticks) * 0.01))
    models = tiny_run(tmp_path, "1.5s", curve_points=1)  # no curve evaluations: they read the clock too
    for m in models.values():
        assert 1.5 <= m["consumed"]["s"] < 1.5 + 0.02 and m["status"] == "finished"
        assert 70 < m["steps"] < 150


def test_seconds_budget_runs_on_the_real_clock(tmp_path):
    models = tiny_run(tmp_path, "1s")
    for m in models.values():
        assert 1.0 <= m["consumed"]["s"] < 2.0  # generous: a loaded CI machine may stall any one step
        assert m["steps"] > 10


def test_match_params_records_the_widths_and_lands_within_5_percent(tmp_path):
    models = tiny_run(tmp_path, "2steps", match_params="generator")
    gan, vae = models["gan"]["parameters"]["generator"], models["vae"]["parameters"]["decoder"]
    assert abs(gan - vae) <= 0.05 * gan and models["vae"]["width"] != models["gan"]["width"] == 0.25


def test_size_table_and_early_gradient_norms(tmp_path):
    models = tiny_run(tmp_path, "200steps", models=("gan", "gan:minimax"))
    for m in models.values():
        size = m["size"]
        assert size["train_flops_per_step"] > size["flops_per_image"] > 0
        assert size["sampling_images_per_second"] > 0 and size["training_images_per_second"] > 0
        assert [g["step"] for g in m["grad_norms"]] == list(range(1, GRAD_NORM_STEPS + 1))
        assert all(g["generator"] > 0 and g["discriminator"] > 0 for g in m["grad_norms"])

    def late_mean(label):  # steps 101-200, once D has learnt to reject the fakes
        return sum(g["generator"] for g in models[label]["grad_norms"][100:]) / 100

    # Same seed, same data: at first D(G(z)) ~ 1/2 and both losses give the same gradient; once D
    # rejects the fakes the minimax gradient (proportional to D) shrinks and the flipped-label one does not.
    assert late_mean("gan") > 1.5 * late_mean("gan:minimax")


@pytest.mark.parametrize("budget", ["40steps", "1s"])
def test_curves_have_k_points_and_end_on_the_final_metrics(tmp_path, monkeypatch, quick_figures, budget):
    quick_figures.add("curves.png")  # rendered: the curves are under test, the run's other figures are not
    if budget == "1s":  # the fake clock of the seconds test: on a loaded machine a real second held too few steps
        ticks = iter(range(10**9))
        monkeypatch.setattr(train_loop, "time", SimpleNamespace(perf_counter=lambda: next(ticks) * 0.01))
    models = tiny_run(tmp_path, budget, curve_points=4, artifacts=True)
    metrics = __import__("json").loads((tmp_path / "run" / "metrics.json").read_text())
    for label, m in models.items():
        curve = m["curve"]
        assert len(curve) == 4
        assert [p["steps"] for p in curve] == sorted(p["steps"] for p in curve) and curve[-1]["steps"] == m["steps"]
        assert curve[-1]["flops"] == m["consumed"]["flops"] and curve[-1]["s"] == m["consumed"]["s"]
        for view, numbers in curve[-1]["views"].items():
            assert numbers["fid"] == metrics["quality"]["views"][view]["fid"]["values"]["fid"]
            assert numbers["lone_pixels_per_image"] == metrics["continuity"]["views"][view]["lone_pixels_per_image"]
        if budget == "40steps":
            assert [p["steps"] for p in curve] == [10, 20, 30, 40]
    assert (tmp_path / "run" / "curves.png").stat().st_size > len(ONE_PIXEL_PNG)


def test_every_registered_variant_runs_through_the_runner(tmp_path):
    # The runner prices each step with FlopCounterMode before training: that once crashed on WGAN-GP's
    # gradient penalty (autograd.grad on a leaf under the counter's module hooks).
    labels = [f"gan:{loss}" for loss in MODELS["gan"].variants] + ["vae"]
    models = tiny_run(tmp_path, "20steps", models=labels, curve_points=1)
    assert [m["status"] for m in models.values()] == ["finished"] * len(labels)
    assert {m["steps"] for m in models.values()} == {20}
    flops = {label: m["size"]["train_flops_per_step"] for label, m in models.items()}
    # wgan-gp: five critic updates per step, each with the penalty's double backward, on the same nets
    # (6.1x hinge's step here; 1.5x with one critic update)
    assert flops["gan:wgan-gp"] > 4 * flops["gan:hinge"]
    assert flops["gan:nonsaturating"] == flops["gan:minimax"] == flops["gan:hinge"]
