"""Common slips at the command line get a one-line answer that says what was meant (issue 23, item 5)."""

import pytest

import compare.experiments.pipeline
from compare.errors import did_you_mean
from helpers import one_line_error, run_cli


@pytest.mark.parametrize("args, hint", [
    (["--models", "GAN"], "did you mean 'gan'?"),
    (["--models", "vea"], "did you mean 'vae'?"),
    (["--models", "gan:minmax"], "did you mean 'gan:minimax'?"),
    (["--dataset", "mnist5"], "did you mean 'mnist5k'?"),
    (["--dataset", "Digits"], "did you mean 'digits'?"),
    (["--budget", "4000"], "did you mean 4000steps?"),
    (["--budget", "4000", "steps"], "write the budget without a space, e.g. --budget 4000steps"),
    (["--budget", "40stesp"], "did you mean 'steps'?"),
    (["gan", "vae"], "model names go after --models: --models gan vae"),
    # click's own suggestion for flags (--resamples is as near)
    (["--modles", "gan"], "Did you mean one of: '--models'"),
])
def test_a_slip_is_one_line_naming_what_was_meant(args, hint):
    assert hint in one_line_error(run_cli("run", *args, "--out", "unused"))


def test_a_budget_unit_among_the_model_words_says_the_budget_lost_its_unit():
    out = one_line_error(run_cli("run", "--models", "gan", "steps", "--out", "unused"))
    assert "'steps' is a budget unit, not a model" in out


def test_nothing_close_gets_no_guess():
    assert did_you_mean("transformer", ["gan", "vae"]) == ""
    assert "did you mean" not in one_line_error(run_cli("run", "--models", "transformer", "--out", "unused"))


@pytest.mark.parametrize("args, expected", [
    (["--models", "gan", "--models", "vae"], ["gan", "vae"]),  # a repeated flag adds, it does not replace
    (["--models", "gan", "vae"], ["gan", "vae"]),
    (["--models", "gan,vae"], ["gan", "vae"]),
    ([], ["gan", "vae"]),
])
def test_every_spelling_of_models_trains_the_models_named(monkeypatch, args, expected):
    seen = []

    def fake_run(settings, **_):
        seen.append([spec.label for spec in settings.models])
        raise SystemExit(0)

    monkeypatch.setattr(compare.experiments.pipeline, "run", fake_run)
    result = run_cli("run", *args, "--out", "unused", "--quiet")
    assert result.exit_code == 0 and seen == [expected], result.output


def test_bare_compare_prints_its_help_and_exits_0():
    result = run_cli()
    assert result.exit_code == 0 and "Usage:" in result.output and "Error" not in result.output
    assert "run" in result.output and "study" in result.output
