"""The shape of compare/: a pipeline of stage folders, no import cycles, no module too long to read.

DESIGN.md: imports flow compare -> gan, vae -> torch; gan and vae never import compare or each other.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400
MAX_TOP_LEVEL_MODULES = 12


def module_imports(package: str) -> dict[str, set[str]]:
    """{module: every module of any top-level package it imports, anywhere in its body (deferred imports too)}."""
    graph = {}
    for path in (ROOT / package).rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        is_package = path.name == "__init__.py"
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = name.split(".")[: len(name.split(".")) - node.level + is_package]
                    base = ".".join(parts + ([base] if base else []))
                found |= {base} | {f"{base}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = found
    return graph


def test_compare_has_no_import_cycle():
    graph = module_imports("compare")
    edges = {m: {n for n in found if n in graph and n != m} for m, found in graph.items()}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            for n in edges[todo.pop()]:
                if n == goal:
                    return True
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return False

    # A package importing its own submodules (to register them) is not a cycle.
    cycles = sorted({tuple(sorted((a, b))) for a in edges for b in edges[a]
                     if reaches(b, a) and not (a.startswith(b + ".") or b.startswith(a + "."))})
    assert not cycles, cycles


def test_modules_stay_readable():
    long = {str(p.relative_to(ROOT)): n for pkg in ("compare", "gan", "vae")
            for p in (ROOT / pkg).rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long
    top = sorted(p.name for p in (ROOT / "compare").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_model_packages_import_only_torch():
    for package, other in (("gan", "vae"), ("vae", "gan")):
        for module, found in module_imports(package).items():
            roots = {n.split(".")[0] for n in found if n}
            assert not roots & {"compare", other}, (module, roots & {"compare", other})


@pytest.mark.slow  # 92 forked imports
def test_every_module_imports_alone_in_a_fresh_interpreter():
    """A cold `import compare.x` of each module, as a notebook's first line would do it. One interpreter loads
    the third-party libraries once, then forks a child per module whose compare/gan/vae imports start cold:
    an import cycle that only bites when a module is imported first (settings -> train.budget -> train ->
    settings) fails here, where test_compare_has_no_import_cycle's static graph cannot see it."""
    import subprocess
    import sys

    graphs = {m: found for package in ("compare", "gan", "vae") for m, found in module_imports(package).items()}
    modules = sorted(m for m in graphs if not m.endswith("__main__"))
    # every third-party name our modules import (sklearn.mixture alone costs each child 0.2 s); names that are not
    # modules (`from torch import nn` gives "torch.nn", but also "torch.Tensor") and optional extras are skipped
    third_party = sorted({n for found in graphs.values() for n in found if n.split(".")[0] not in ("compare", "gan",
                                                                                                   "vae", "")})
    script = (
        "import os, sys, importlib\n"
        "modules, third_party = sys.argv[1].split(), sys.argv[2].split()\n"
        "for name in third_party:  # loaded once, warm, before any fork\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception:\n"
        "        pass\n"
        "failed = []\n"
        "for m in modules:\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        try:\n"
        "            importlib.import_module(m)\n"
        "        except BaseException as e:\n"
        "            print(f'{m}: {type(e).__name__}: {e}', file=sys.stderr)\n"
        "            os._exit(1)\n"
        "        os._exit(0)\n"
        "    if os.waitpid(pid, 0)[1]:\n"
        "        failed.append(m)\n"
        "print(' '.join(failed))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, " ".join(modules), " ".join(third_party)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", f"fail to import alone: {done.stdout.strip()}\n{done.stderr[-2000:]}"


def test_settings_import_no_training_and_the_claims_no_presentation():
    """What a run is asked to do is read before anything trains, and the verdicts are analysis: settings import no
    training code, and compare.claims imports neither the report (which shows the verdicts; it does not make them)
    nor the experiments that feed it."""
    graph = module_imports("compare")
    assert not {n for n in graph["compare.settings"] if n.startswith("compare.train")}
    for module in (m for m in graph if m.startswith("compare.claims")):
        assert not {n for n in graph[module] if n.startswith(("compare.report", "compare.experiments"))}, module
