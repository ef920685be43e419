"""The report: every section and model present, user text escaped, and a real browser renders it offline;
its tables built from the metric registry on constructed score dicts, each value with its interval."""

import json
import shutil

import pytest

from helpers import open_chromium, run_cli
from compare.report import write_report
from compare.report.render import anchor
from compare.report.tables import (likelihood_table, overlap_sentence, overlap_sentences, pixel_intervals, pixel_table,
                                   quality_intervals, quality_table)



@pytest.fixture
def run_dir(tiny_run):
    """The session's shared run (conftest.tiny_run), whose directory name carries a <script> tag."""
    return tiny_run


def test_run_writes_report_with_every_section_and_model(run_dir):
    html = (run_dir / "report.html").read_text()
    md = (run_dir / "report.md").read_text()
    for section in ["Verdicts", "Setup", "Samples side by side", "Sample quality", "Pixel continuity", "Model size",
                    "Quality against compute", "Training", "Latent interpolations", "Nearest training images",
                    "Reconstructions"]:
        assert f'<h2 id="{anchor(section)}">{section}</h2>' in html and f"## {section}" in md
        assert f'<a href="#{anchor(section)}">{section}</a>' in html  # in the contents list
    for model in ["gan", "vae"]:
        assert f"<td>{model}</td>" in html and f"| {model} |" in md
    # the verdict, then its number
    assert "**Claim 1**: VAE samples show more bad pixels: **not decided**. VAE means: " in md
    assert "Which 95% intervals overlap: FID: " in md and "lone pixels: " in md  # metrics in words
    # the raw key: the HTML's tooltip
    assert "lone_pixels_per_image" not in md and 'title="lone_pixels_per_image"' in html
    assert '<td class="num">' in html and "td.num{text-align:right" in html  # numbers right-aligned, words left


def test_user_text_is_escaped_and_page_has_no_script(run_dir):
    html = (run_dir / "report.html").read_text()
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;_script&gt;" in html
    assert "http://" not in html and "https://" not in html


def test_report_command_over_several_runs(run_dir, tmp_path):
    second = tmp_path / "second"
    shutil.copytree(run_dir, second)
    out = tmp_path / "both.html"
    result = run_cli("report", str(run_dir), str(second), "--out", str(out))
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert html.count("<td>second</td>") >= 2  # one row per run in the setup and training tables
    assert (tmp_path / "both.md").exists()


def test_report_of_a_directory_that_is_not_a_run_is_one_line(tmp_path):
    result = run_cli("report", str(tmp_path))
    assert result.exit_code == 2 and "is not a run directory" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.browser
def test_report_renders_in_headless_chromium_without_network(run_dir, tmp_path):
    browser = open_chromium()
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


# ---- tables on constructed numbers -------------------------------------------------------------------

def scores(fid, fid_ci, kid=2.0):
    """A view's quality entry as compare.metrics.scoring.score_features writes it (FID with an interval,
    KID without)."""
    protocol = {"n_real": 500, "n_fake": 500}
    return {"fid": {"values": {"fid": fid}, "protocol": protocol,
                    "intervals": {"fid": {"ci95": fid_ci, "se": 1.0, "resamples": 50}}},
            "kid": {"values": {"kid_x1e3": kid}, "protocol": protocol, "intervals": {"kid_x1e3": None}}}


COLUMNS = {"real floor": scores(13.2, [11.6, 14.8]), "gan": scores(40.0, [35.0, 45.0]),
           "vae-mean": scores(48.25, [44.0, 52.0]), "vae-pixels": scores(91.0, [86.0, 97.0])}


def test_quality_table_shows_each_value_with_its_interval_unit_and_direction():
    table = quality_table(COLUMNS)
    # no row has a unit: no unit column
    assert table.headers == ["metric", "better", "real floor", "gan", "vae-mean", "vae-pixels"]
    rows = {row[0]: row[1:] for row in table.rows}
    # The row names what its interval covers: FID at this N (fid_inf, FID as N -> infinity, has its own row); each value
    # and its ends rounded to the tenths, where the half-width (0.8 to 5) has its second significant digit.
    assert rows["FID at N = 500"] == ["↓", "13.2 [11.6, 14.8]", "40.0 [35.0, 45.0]", "48.2 [44.0, 52.0]",
                                      "91.0 [86.0, 97.0]"]
    # no interval stored: the value alone, 3 significant digits
    assert rows["KID × 1,000"] == ["↓", "2.00", "2.00", "2.00", "2.00"]
    assert table.tips == ["fid", "kid_x1e3"]  # the raw keys, the HTML's tooltips


def test_overlap_sentence_names_the_overlapping_pairs():
    assert overlap_sentences(quality_intervals(COLUMNS)) == [
        "FID: gan and vae-mean overlap; every other pair is separated.",
        "KID × 1,000: fewer than two intervals to compare."]
    # touching ends overlap
    assert overlap_sentence("fid", {"gan": (1, 2), "vae": (2, 3)}) == "FID: gan and vae overlap."
    assert overlap_sentence("fid", {"gan": (1, 2), "vae": (2.5, 3)}) == "FID: gan and vae are separated."
    assert overlap_sentence("fid", {"a": (1, 2), "b": (3, 4), "c": (5, 6)}) == "FID: every pair is separated."
    assert (overlap_sentence("fid", {"a": (1, 5), "b": (3, 4), "c": (2, 6), "d": None})
            == "FID: every pair overlaps (no interval: d).")


CONTINUITY = {
    "real": {"lone_pixels_per_image": 0.03, "lone_pixels_per_image_ci95": [0.01, 0.05], "specks_per_image": 0.0,
             "specks_per_image_ci95": [0.0, 0.0], "tv_per_pixel": 0.2, "spectrum_distance": None},
    "views": {"gan": {"lone_pixels_per_image": 5.5, "lone_pixels_per_image_ci95": [5.1, 5.9], "specks_per_image": 1.25,
                      "specks_per_image_ci95": [1.0, 1.5], "tv_per_pixel": 0.3, "spectrum_distance": 0.125},
              "vae-pixels": {"lone_pixels_per_image": 2.7, "lone_pixels_per_image_ci95": [2.4, 3.0],
                             "specks_per_image": 1.5, "specks_per_image_ci95": [1.25, 1.75], "tv_per_pixel": 0.5,
                             "spectrum_distance": 0.5}},
    "ratios": {"gan": {"lone_pixels_per_image": 5.5 / 0.03, "specks_per_image": None, "tv_per_pixel": 1.5,
                       "spectrum_distance": None},
               "vae-pixels": {"lone_pixels_per_image": 90.0, "specks_per_image": None, "tv_per_pixel": 2.5,
                              "spectrum_distance": None}},
}


def test_pixel_tables_take_their_rows_from_the_registry_groups():
    bad = pixel_table(CONTINUITY, "bad pixels", "real")
    assert bad.headers == ["pixel metric", "unit", "better", "real", "gan", "vae-pixels"]
    # the registry's bad-pixel keys the report holds, in registry order, in words; ratios as "183x"
    assert bad.rows == [
        ["lone pixels", "per image", "↓", "0.030 [0.010, 0.050]", "5.50 [5.10, 5.90] (183x)",
         "2.70 [2.40, 3.00] (90.0x)"],
        ["specks", "per image", "↓", "0 [0, 0]", "1.25 [1.00, 1.50] (ratio n/a)", "1.50 [1.25, 1.75] (ratio n/a)"]]
    assert bad.tips == ["lone_pixels_per_image", "specks_per_image"]
    blur = pixel_table(CONTINUITY, "blur", "real")
    # blur has no better direction: no empty column
    assert blur.headers == ["pixel metric", "unit", "real", "gan", "vae-pixels"]
    assert [row[:3] for row in blur.rows] == [["total variation", "per pixel", "0.200"],
                                              ["spectrum distance to real", "decades", "n/a"]]
    assert overlap_sentences(pixel_intervals(CONTINUITY, "real")) == [
        "lone pixels: every pair is separated.",
        "specks: gan and vae-pixels overlap; every other pair is separated."]


LIKELIHOOD = {"vae": {"neg_elbo_nats": 95.2, "iwae_nll_nats": 90.1, "k": 100, "n": 1000,
                      "ci95": {"neg_elbo_nats": [94.4, 96.0], "iwae_nll_nats": [89.3, 90.9]}}}


def test_likelihood_table():
    table = likelihood_table(LIKELIHOOD)
    assert table.rows == [["vae", "95.20 [94.40, 96.00]", "90.10 [89.30, 90.90]", "100", "1,000"]]
    assert "IWAE NLL (nats/image, ↓)" in table.headers


def constructed_run(path, **metrics):
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"models": {}, "dataset": {"name": "digits"}, "seed": 0}))
    models = {"gan": {"views": ["gan"], "steps": 10}, "vae": {"views": ["vae-mean", "vae-pixels"], "steps": 10}}
    (path / "metrics.json").write_text(json.dumps({"models": models, **metrics}))
    return path


def test_report_shows_the_likelihood_only_when_measured(tmp_path):
    quality = {"extractor": {"name": "evaluator:digits", "weights_sha256": "0" * 64, "heldout_accuracy": 0.98},
               "floor": COLUMNS["real floor"], "views": {k: v for k, v in COLUMNS.items() if k != "real floor"}}
    with_it = constructed_run(tmp_path / "with", quality=quality, likelihood=LIKELIHOOD)
    md = write_report([with_it])[1].read_text()
    assert ("## Held-out likelihood" in md
            and "| vae | 95.20 [94.40, 96.00] | 90.10 [89.30, 90.90] | 100 | 1,000 |" in md)
    assert ("| FID at N = 500 | ↓ | 13.2 [11.6, 14.8] | 40.0 [35.0, 45.0] | 48.2 [44.0, 52.0] | 91.0 [86.0, 97.0] |"
            in md)
    assert "FID: gan and vae-mean overlap; every other pair is separated." in md
    without = constructed_run(tmp_path / "without", quality=quality)
    assert "likelihood" not in write_report([without])[1].read_text().lower()


def test_a_malformed_likelihood_is_refused_in_one_line(tmp_path):
    run = constructed_run(tmp_path / "bad", likelihood={"vae": [90.1]})
    result = run_cli("report", str(run))
    assert result.exit_code == 2 and "likelihood.vae" in result.output and len(result.output.strip().splitlines()) == 1


def test_markdown_and_terminal_tables_right_align_their_columns_of_numbers():
    from compare.report.render import Table, markdown_table, text_table

    table = Table(["images", "FID", "note"], [["real", "13.2 [9.0, 18.4]", "a"], ["gan", "116.4 [108.7, 124.1]", ""]])
    assert markdown_table(table)[1] == "| --- | ---: | --- |"
    assert text_table(table).splitlines()[1:3] == ["|--------|---------------------:|------|",
                                                   "| real   |     13.2 [9.0, 18.4] | a    |"]


def test_figures_set_the_headless_backend_once_and_leave_a_backend_chosen_later():
    """The report's pyplot is headless from its first figure on; a backend the user picks after that (a notebook's)
    is theirs: the next figure neither switches it back nor closes their figures."""
    import matplotlib
    import matplotlib.pyplot

    from compare.report.figures.common import plt

    plt.close(plt.figure())
    assert matplotlib.get_backend().lower() == "agg"
    try:
        matplotlib.use("pdf")
        theirs = matplotlib.pyplot.figure()
        plt.close(plt.figure())
        assert matplotlib.get_backend() == "pdf" and theirs.number in matplotlib.pyplot.get_fignums()
    finally:
        matplotlib.pyplot.close("all")
        matplotlib.use("Agg")
