"""The report: every section and model present, user text escaped, and a real browser renders it offline."""

import os
import shutil

import pytest
from click.testing import CliRunner

from browser import Chromium, find_chromium
from compare.cli import main



@pytest.fixture
def run_dir(tiny_run):
    """The session's shared run (conftest.tiny_run), whose directory name carries a <script> tag."""
    return tiny_run


def test_run_writes_report_with_every_section_and_model(run_dir):
    html = (run_dir / "report.html").read_text()
    md = (run_dir / "report.md").read_text()
    for section in ["Claims from the source comparison", "Setup", "Samples side by side", "Sample quality", "Pixel continuity", "Model size", "Quality against compute", "Training", "Latent interpolations", "Nearest training images", "Reconstructions"]:
        assert f"<h2>{section}</h2>" in html and f"## {section}" in md
    for model in ["gan", "vae"]:
        assert f"<td>{model}</td>" in html and f"| {model} |" in md


def test_user_text_is_escaped_and_page_has_no_script(run_dir):
    html = (run_dir / "report.html").read_text()
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;_script&gt;" in html
    assert "http://" not in html and "https://" not in html


def test_report_command_over_several_runs(run_dir, tmp_path):
    second = tmp_path / "second"
    shutil.copytree(run_dir, second)
    out = tmp_path / "both.html"
    result = CliRunner().invoke(main, ["report", str(run_dir), str(second), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert html.count("<td>second</td>") >= 2  # one row per run in the setup and training tables
    assert (tmp_path / "both.md").exists()


def test_report_of_a_directory_that_is_not_a_run_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "is not a run directory" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.browser
def test_report_renders_in_headless_chromium_without_network(run_dir, tmp_path):
    exe = find_chromium()
    if exe is None:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("REQUIRE_BROWSER is set but no chromium was found")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    browser = Chromium(exe)
    try:
        browser.open((run_dir / "report.html").resolve().as_uri())
        images = browser.evaluate("[...document.images].map(i => [i.complete, i.naturalWidth])")
        urls = browser.requested_urls()
        shot = browser.screenshot()
    finally:
        browser.close()
    assert len(images) >= 5 and all(complete and width > 0 for complete, width in images)
    assert urls and all(u.startswith(("file:", "data:")) for u in urls), [u[:60] for u in urls]
    assert shot.startswith(b"\x89PNG")
    (tmp_path / "screenshot.png").write_bytes(shot)


def test_report_of_a_seeds_directory_has_intervals_and_a_seed_verdict(tmp_path):
    out = tmp_path / "seeds"
    result = CliRunner().invoke(main, ["run", "--models", "gan", "vae", "--dataset", "digits", "--budget", "10steps",
                                       "--batch-size", "32", "--quiet", "--seeds", "2", "--curve-points", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    md = (out / "report.md").read_text()
    assert "## Seed statistics" in md and "| continuity.lone_pixels_per_image |" in md and "vae - gan" in md
    assert "| seeds (seeds) |" in md  # claim (a) judged over the seeds, not per run
    assert md.count("| seed-0, seed-1 |") >= 1  # same verdict in both runs: one row naming both
