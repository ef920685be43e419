"""A user's own model and dataset (examples/tiny_plugin.py, or modules written here): registered by name, by
PKG.MODULE:NAME or by entry point, checked against the contract with one-line errors, counted by kind in the
claims, and carried to the workers of --jobs and Ray."""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import compare
from compare import protocol
from compare.data import DATASETS, load_dataset
from compare.errors import UserError
from compare.models import MODELS, lookup_view, parse_model_specs, register_model, with_fields
from compare.claims.inputs import claim_a
from compare.claims.rules import CLAIM_1, CLAIM_2, CLAIM_3, NOT_MEASURED, Claim1Input, judge_claim1, judge_claim2
from compare.experiments import executors
from compare.settings import Budget
from compare.train.cost import match_widths
from helpers import FAST, ROOT, one_line_error, run_cli, tiny_options

sys.path.insert(0, str(ROOT))  # examples/ lives beside the packages, not inside them: importable as a user's folder is
from examples.tiny_plugin import TinyVAE, bars  # noqa: E402
from test_claims import GAN, MORE, artifacts, plus, power_law  # noqa: E402

pytestmark = pytest.mark.usefixtures("quick_figures")  # no test here reads a matplotlib figure of its runs (conftest)

PLUGIN = "examples.tiny_plugin:TinyVAE"
TINY = tiny_options(10, "--width", "0.25", "--quiet", *FAST)


@pytest.fixture(autouse=True)
def _registries():
    """Each test's registrations end with it: the listings and other modules in this process see the built-ins only."""
    models, datasets, noted = dict(MODELS), dict(DATASETS), dict(protocol._registered)
    yield
    for registry, before in ((MODELS, models), (DATASETS, datasets), (protocol._registered, noted)):
        registry.clear()
        registry.update(before)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """Writes a module of the given source as `usermods.<name>` (a package on sys.path) and returns its dotted name."""
    (tmp_path / "usermods").mkdir()
    (tmp_path / "usermods" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name: str, source: str) -> str:
        (tmp_path / "usermods" / f"{name}.py").write_text(textwrap.dedent(source))
        return f"usermods.{name}"
    yield write
    for name in [m for m in sys.modules if m == "usermods" or m.startswith("usermods.")]:
        del sys.modules[name]


def env_with_root() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "OMP_NUM_THREADS": "1"}


# ---- the contract, checked at registration ----

BROKEN = {  # what is wrong -> (the class body's change to TinyVAE, a word the error must name)
    "no sample": ("sample = None", "sample"),
    "no parts or state_dict": ("parts = state_dict = None", "parts, state_dict"),
    "no kind": ("kind = None", "kind"),
    "kind not a name": ("kind = 3", "kind"),
    "kind in capitals": ('kind = "VAE"', "'vae'"),
    "config without width": ("config_class = make_dataclass('C', [('image_shape', tuple)])", "width"),
    "config not a dataclass": ("config_class = dict", "config_class"),
    "init without seed": ("def __init__(self, config, device='cpu'): pass", "seed"),
}


@pytest.mark.parametrize("what", list(BROKEN))
def test_a_class_that_breaks_the_contract_is_refused_in_one_line_naming_what_is_missing(what, user_module):
    change, named = BROKEN[what]
    module = user_module("broken", f"""
        from dataclasses import make_dataclass
        from examples.tiny_plugin import TinyVAE

        class Broken(TinyVAE):
            {change}
        """)
    with pytest.raises(UserError, match=named):
        register_model("broken", __import__(module, fromlist=["Broken"]).Broken)
    out = one_line_error(run_cli("run", "--models", f"{module}:Broken", "gan", *TINY))
    assert named in out and "Broken" in out
    assert "broken" not in MODELS


@pytest.mark.parametrize("spec, named", [
    ("nosuch_pkg.models:MyVAE", "no module named 'nosuch_pkg'"),
    ("examples.tiny_plugin:TinyGAN", "has no 'TinyGAN'; it defines: TinyVAE, TinyVAEConfig, bars"),
    ("examples.tiny_plugin:bars", "is a function, not a class"),
    ("gam:minimax", "unknown model 'gam' (did you mean 'gan'?)"),
])
def test_a_model_that_cannot_be_had_is_one_line_saying_what_to_do(spec, named):
    assert named in one_line_error(run_cli("run", "--models", spec, *TINY))


def test_a_module_that_fails_to_import_is_one_line_with_its_error(user_module):
    module = user_module("fails", "raise RuntimeError('needs a GPU driver')\n")
    assert ("importing usermods.fails failed: RuntimeError: needs a GPU driver"
            in one_line_error(run_cli("run", "--models", f"{module}:X", *TINY)))


def test_builtins_register_through_the_same_path_and_keep_their_names():
    assert (MODELS["gan"].kind, MODELS["vae"].kind) == ("gan", "vae")
    assert MODELS["vae"].sample_modes == ("mean", "pixels", "gmm") and MODELS["vae"].sampler_part == "decoder"
    with pytest.raises(UserError, match="'gan' is a built-in model's"):
        register_model("gan", TinyVAE)
    assert protocol.registered() == ()  # the built-ins are not shipped to workers: every worker registers them itself


def test_register_model_from_python_makes_a_name_the_cli_takes():
    compare.register_model("tiny", TinyVAE)
    (spec,) = parse_model_specs(["tiny"])
    assert spec.entry.kind == "vae" and spec.views() == {"tiny": {}}
    assert protocol.registered() == (("compare.models:register_model", "tiny", PLUGIN),)


def test_cli_fields_reach_only_the_configs_that_declare_them():
    """--arch / --precision / --optimizer go to the built-ins; TinyVAEConfig declares none of them and gets none."""
    specs = with_fields(parse_model_specs([PLUGIN, "gan"]), arch="conv", precision="bf16", optimizer="sgd")
    assert (specs[0].overrides == ()
            and dict(specs[1].overrides) == {"arch": "conv", "precision": "bf16", "optimizer": "sgd"})
    assert specs[0].config((1, 8, 8), width=0.5) == TinyVAE.config_class(image_shape=(1, 8, 8), width=0.5)


def test_match_params_uses_the_plugins_hidden_field_and_names_a_missing_one(user_module):
    widths = match_widths(parse_model_specs(["vae", PLUGIN]), (1, 8, 8), "generator")
    assert widths["vae"] == 1.0 and widths[PLUGIN] > 1  # the tiny decoder grows to the VAE decoder's size
    module = user_module("nohidden", """
        from dataclasses import dataclass
        from examples.tiny_plugin import TinyVAE, TinyVAEConfig

        @dataclass(frozen=True)
        class Config:
            image_shape: tuple = (1, 28, 28)
            width: float = 1.0

        class NoHidden(TinyVAE):
            config_class = Config
            sampler_part = None

            def __init__(self, config, device="cpu", seed=0):
                super().__init__(TinyVAEConfig(config.image_shape, config.width), device, seed)
                self.config = config
        """)
    specs = parse_model_specs(["vae", f"{module}:NoHidden"])
    with pytest.raises(UserError, match="config to have `hidden`"):
        match_widths(specs, (1, 8, 8), "total")
    # as the first model, it sets the generator size to match
    with pytest.raises(UserError, match="names no sampler_part"):
        match_widths(specs[::-1], (1, 8, 8), "generator")


# ---- the claims count kinds, not names ----

def test_a_users_kind_vae_counts_as_a_vae_in_claims_1_and_2():
    register_model("tiny", TinyVAE)
    assert [lookup_view(x).kind for x in (PLUGIN, "tiny", "gan:minimax")] == ["vae", "vae", "gan"]
    assert lookup_view("tiny-mean") is None  # a model without modes has no views named by mode
    v = judge_claim1(Claim1Input(artifacts("gan", GAN), (artifacts(PLUGIN, plus(GAN, MORE, (2, 2.5, 3))),)))
    assert v.verdict == "supported" and v.numbers[0].subject == PLUGIN  # its one output decides, as the VAE's means do
    gan_sweep, vae_sweep = power_law(4)
    assert judge_claim2([gan_sweep, dataclasses.replace(vae_sweep, label="tiny")]).verdict == "supported"


def test_a_users_kind_gan_counts_as_a_gan(user_module):
    module = user_module("tinygan", """
        from examples.tiny_plugin import TinyVAE

        class TinyGAN(TinyVAE):
            kind = "gan"
        """)
    v = judge_claim1(Claim1Input(artifacts(f"{module}:TinyGAN", GAN),
                                 (artifacts("vae-mean", plus(GAN, MORE, (2, 2.5, 3))),)))
    assert v.verdict == "supported"


def test_a_model_of_another_kind_is_compared_but_judged_by_no_claim(user_module):
    module = user_module("flow", """
        from examples.tiny_plugin import TinyVAE

        class Flow(TinyVAE):
            kind = "flow"
        """)
    assert lookup_view(f"{module}:Flow").kind == "flow"
    metrics = {"models": {f"{module}:Flow": {"views": [f"{module}:Flow"]}, "gan": {"views": ["gan"]}}}
    assert claim_a(metrics, {}).verdict == NOT_MEASURED


# ---- datasets ----

def test_a_dataset_function_by_module_path_or_name_is_split_and_scaled(monkeypatch):
    data = load_dataset("examples.tiny_plugin:bars")
    assert data.image_shape == (1, 8, 8) and len(data.train) + len(data.heldout) == 1500 and len(data.heldout) == 150
    # uint8 0/255 -> [0, 1]
    assert data.train.dtype == torch.float32 and set(data.train.unique().tolist()) == {0.0, 1.0}
    assert data.train_labels is not None and set(data.train_labels.tolist()) == {0, 1}
    compare.register_dataset("bars", lambda: np.random.default_rng(0).random((10, 8, 8)))  # (N, H, W) floats, no labels
    assert load_dataset("bars").train_labels is None and load_dataset("bars").image_shape == (1, 8, 8)


@pytest.mark.parametrize("fn, named", [
    (lambda: np.full((10, 1, 8, 8), 2.0), "floats in [2, 2]"),
    (lambda: (np.zeros((10, 1, 8, 8)), np.zeros(9, dtype=int)), "one integer class per image"),
    (lambda: np.zeros((1, 1, 8, 8)), "at least 2"),
    (lambda n: np.zeros((n, 1, 8, 8)), "callable with no arguments"),
    (TinyVAE, "is a class, not a function"),
])
def test_a_bad_dataset_is_one_line(fn, named):
    with pytest.raises(UserError) as e:
        compare.register_dataset("bad", fn)
        load_dataset("bad")
    assert named in str(e.value) and "\n" not in str(e.value)


def test_a_dataset_that_cannot_be_had_is_one_line_on_the_cli():
    assert "has no 'nope'" in one_line_error(run_cli("run", "--models", "gan", "--dataset", "examples.tiny_plugin:nope",
                                                     "--budget", "2steps"))
    with pytest.raises(UserError, match="built-in dataset's"):
        compare.register_dataset("digits", bars)


def test_entry_points_announce_models_and_datasets(monkeypatch):
    monkeypatch.setattr(protocol, "announced",
                        lambda group: {protocol.MODEL_GROUP: {"tinyvae": PLUGIN},
                                       protocol.DATASET_GROUP: {"bars": "examples.tiny_plugin:bars"}}[group])
    assert parse_model_specs(["tinyvae"])[0].entry.model_cls is TinyVAE
    assert load_dataset("bars").image_shape == (1, 8, 8)
    MODELS.pop("tinyvae")  # listed as announced until something uses it
    assert "tinyvae  examples.tiny_plugin:TinyVAE (installed package)" in run_cli("models").output


# ---- workers: --jobs and Ray ----

@pytest.mark.slow  # a fresh interpreter
def test_workers_get_the_registrations_and_import_them_again(monkeypatch):
    register_model("tiny", TinyVAE)
    compare.register_dataset("bars", bars)
    seen = []
    monkeypatch.setattr(executors, "run_trial",
                        lambda trial: seen.append(trial.plugins) or {"id": trial.id, "status": "done"})
    list(executors.LocalExecutor(executors.ExecutorOptions(jobs=1)).map([executors.Trial("t", None)]))
    assert seen == [(("compare.models:register_model", "tiny", PLUGIN),
                     ("compare.data:register_dataset", "bars", "examples.tiny_plugin:bars"))]
    code = ("import compare.protocol as p, compare.models as m, compare.data as d; import sys; "
            f"p.restore({seen[0]!r}); print(m.MODELS['tiny'].kind, d.load_dataset('bars').image_shape)")
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env_with_root(),
                           timeout=120)
    assert fresh.stdout.split() == ["vae", "(1,", "8,", "8)"], fresh.stderr


def test_ray_ships_the_plugins_package_folder_and_single_file_modules(tmp_path, monkeypatch):
    (tmp_path / "loose_plugin.py").write_text("from examples.tiny_plugin import TinyVAE as Loose\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    register_model(PLUGIN, TinyVAE)
    register_model("loose", __import__("loose_plugin").Loose)
    env = executors.runtime_env([*protocol.registered(),
                                 ("compare.models:register_model", "loose", "loose_plugin:Loose")])
    try:
        assert str(ROOT / "examples") in env["py_modules"] and str(ROOT / "compare") in env["py_modules"]
        assert os.listdir(env["working_dir"]) == ["loose_plugin.py"]
    finally:
        import shutil
        shutil.rmtree(env["working_dir"])
        sys.modules.pop("loose_plugin", None)


class FakeRay:
    """Just enough of Ray's API for RayExecutor.map, running each task here at once: what it was started with
    is kept."""

    def __init__(self):
        self.started_with, self.running = None, False

    def is_initialized(self):
        return self.running

    def init(self, **kwargs):
        self.started_with, self.running = kwargs, True
        assert os.path.isdir(kwargs["runtime_env"].get("working_dir", ".")), (
            "the staged modules must exist while Ray starts")

    def remote(self, **_):  # a task's ref: an object holding the task's result, hashable as Ray's refs are
        return lambda fn: type("Task", (), {"remote": staticmethod(lambda *a: type("Ref", (), {"result": fn(*a)})())})

    def wait(self, refs, num_returns):
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref):
        return ref.result

    def shutdown(self):
        self.running = False


def test_ray_starts_with_the_plugins_folders_and_hands_the_registrations_to_each_task(monkeypatch):
    register_model("tiny", TinyVAE)
    fake = FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setattr(executors, "run_trial",
                        lambda trial: {"id": trial.id, "status": "done", "plugins": trial.plugins})
    records = list(executors.RayExecutor(executors.ExecutorOptions()).map([executors.Trial("t", None)]))
    assert records[0]["plugins"] == (("compare.models:register_model", "tiny", PLUGIN),)
    assert str(ROOT / "examples") in fake.started_with["runtime_env"]["py_modules"] and not fake.running


# ---- end to end ----

@pytest.mark.slow  # the evaluation of a real run: ~25 s on one core
def test_run_with_the_example_plugin_beside_the_gan_measures_claim_1(tmp_path):
    out = tmp_path / "r"
    result = run_cli("run", "--models", PLUGIN, "gan", *TINY, "--curve-points", "1", "--out", out)
    assert result.exit_code == 0, result.output
    metrics, config = (json.loads((out / f).read_text()) for f in ("metrics.json", "config.json"))
    assert list(metrics["models"]) == [PLUGIN, "gan"] and metrics["models"][PLUGIN]["steps"] == 10
    assert config["models"][PLUGIN] == {"image_shape": [1, 8, 8], "width": 0.25, "hidden": 64, "latent_dim": 8,
                                        "lr": 1e-3}
    assert ((out / "examples.tiny_plugin-TinyVAE" / "ckpt.pt").exists()
            and (out / "reconstructions_examples.tiny_plugin-TinyVAE.png").exists())
    verdict = claim_a(metrics, config)
    assert verdict.verdict != NOT_MEASURED and {n.subject for n in verdict.numbers} == {PLUGIN}


@pytest.mark.slow
def test_sweep_with_two_jobs_runs_the_plugin_in_worker_processes(tmp_path):
    out = tmp_path / "s"
    done = subprocess.run([sys.executable, "-m", "compare", "sweep", "--models", PLUGIN, "gan", "--dataset", "digits",
                           "--budget", "4steps", "--batch-size", "32", "--widths", "0.25,0.5", "--seeds", "1", "--jobs",
                           "2", *FAST, "--out", str(out)],
                          capture_output=True, text=True, env=env_with_root(), cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "sweep.json").read_text())
    assert ({(r["model"], r["status"]) for r in summary["trials"]} == {(PLUGIN, "done"), ("gan", "done")}
            and len(summary["trials"]) == 4)
    assert "local, 2 at a time" in done.stderr and summary["claim_b"]["verdict"] != NOT_MEASURED


@pytest.mark.slow
def test_run_on_the_example_dataset_function_trains_its_evaluator_and_scores(tmp_path):
    out = tmp_path / "r"
    done = run_cli("run", "--models", PLUGIN, "--dataset", "examples.tiny_plugin:bars", "--budget", "10steps",
                   "--batch-size", "32", "--quiet", *FAST, "--curve-points", "1", "--out", str(out))
    assert done.exit_code == 0, done.output
    metrics = json.loads((out / "metrics.json").read_text())
    # two classes of bar, told apart by the evaluator it trained
    assert metrics["quality"]["extractor"]["heldout_accuracy"] > 0.9


@pytest.mark.slow
def test_a_study_of_a_gan_against_a_users_vae_judges_claims_1_and_2_and_says_why_not_3(tmp_path):
    # gan:hinge has no minimax variant, as a user's GAN need not: claim 3 is then "not measured", with the reason
    out = tmp_path / "study"
    args = ["--dataset", "digits", "--budget", "10steps", "--batch-size", "32", "--seeds", "1", "--widths", "0.5,1",
            "--claim3-optimizers", "adam", "--jobs", "2", "--out", str(out)]
    # either order; in this interpreter (the sweep above checks a fresh one that finds the plugin on PYTHONPATH)
    done = run_cli("study", "--models", f"{PLUGIN},gan:hinge", *args)
    assert done.exit_code == 0, done.output
    summary = json.loads((out / "study.json").read_text())
    assert summary["settings"]["models"] == ["gan:hinge", PLUGIN]
    # 2 x 2 widths
    assert {r["model"] for r in summary["trials"]} == {"gan:hinge", PLUGIN} and summary["counts"]["done"] == 4
    claims = {c["claim"]: c for c in summary["claims"]}
    assert claims[CLAIM_1]["verdict"] != NOT_MEASURED and {n["subject"] for n in claims[CLAIM_1]["numbers"]} == {PLUGIN}
    assert claims[CLAIM_2]["verdict"] != NOT_MEASURED
    assert (claims[CLAIM_3]["verdict"] == NOT_MEASURED
            and "gan:hinge has no minimax variant" in claims[CLAIM_3]["notes"][0])
    assert "local, 2 at a time" in done.output
    # a finished study resumes from its study.json with the same models (here, in this interpreter, which imports the
    # plugin from the repository root as the subprocess did); a VAE twice is refused in one line
    again = run_cli("study", "--resume", str(out))
    assert again.exit_code == 0 and "4 already done, 0 to run" in again.output, again.output
    assert "one GAN and one VAE" in one_line_error(run_cli("study", "--models", f"vae,{PLUGIN}", "--out",
                                                           str(tmp_path / "x")))
    assert not (tmp_path / "x").exists()


def test_the_study_pairs_the_built_in_gan_with_its_minimax_variant_whatever_the_vae():
    from compare.experiments.study import StudySettings, parse_study_models

    assert parse_study_models([f"{PLUGIN},gan"]) == parse_study_models([PLUGIN, "gan"]) == ("gan", PLUGIN)
    assert StudySettings(Budget.parse("10steps"), models=("gan", PLUGIN)).minimax == "gan:minimax"
    assert StudySettings(Budget.parse("10steps"), models=("gan:hinge", "vae")).minimax is None
