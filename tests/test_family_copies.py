"""gan/ and vae/ never import each other, so the helpers both need are one file copied into each
(common.py): these tests keep the copies equal and each family standalone."""

from __future__ import annotations

import ast
from pathlib import Path

import gan
import vae

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("gan", "vae")


def test_common_modules_are_byte_identical():
    gan_copy, vae_copy = (ROOT / family / "common.py" for family in FAMILIES)
    assert gan_copy.read_bytes() == vae_copy.read_bytes(), "edit gan/common.py and vae/common.py together"


def test_both_families_export_the_shared_registries_from_their_copy():
    assert gan.PRECISIONS == vae.PRECISIONS
    assert type(gan.ARCHITECTURES["conv"]).__module__ == "gan.common"
    assert type(vae.ARCHITECTURES["conv"]).__module__ == "vae.common"


def test_each_family_imports_only_itself_and_torch():
    for family in FAMILIES:
        for path in (ROOT / family).glob("*.py"):
            tree = ast.parse(path.read_text())
            imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
            imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
            roots = {name.split(".")[0] for name in imported}
            others = roots & ({"compare", *FAMILIES} - {family})
            assert not others, f"{path.relative_to(ROOT)} imports {sorted(others)}"


def test_no_comment_points_into_the_other_family():
    for family in FAMILIES:
        other = next(f for f in FAMILIES if f != family)
        for path in (ROOT / family).glob("*.py"):
            text = path.read_text()
            assert f"{other}." not in text and f"{other}/" not in text, f"{path.relative_to(ROOT)} mentions {other}"
