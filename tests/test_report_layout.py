"""The report's layout (issue 23 item 4): the verdict card first, rules folded, real images first, every view kept,
no empty section, and in headless Chromium nothing wider than the page at 800 and 1280 px, for a run's, a `--seeds`
directory's, a sweep's and a study's report. One tiny sweep, seeds run and study per module, shared by every test."""

import base64
import re
import struct
from html.parser import HTMLParser

import pytest
import torch

from compare.report.figures import artifacts
from helpers import FAST, open_chromium, run_cli, tiny_options
from compare.claims.types import LOG_RATIO, Number
from compare.claims.rules import RULE_1, RULE_2, RULE_3

PROSE = {"Recipes"}  # a section that is words by design (the default recipes), not one whose pictures are missing


def invoke(*args):
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def seeds_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("seeds") / "seeds"
    invoke("run", "--models", "gan", "vae", *tiny_options(10), "--quiet", "--seeds", "2", "--curve-points",
           "1", *FAST, "--out", out)
    return out


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "sweep"
    invoke("sweep", "--models", "gan", "vae", "--widths", "0.5,1", "--seeds", "2", *tiny_options(20), *FAST,
           "--out", out)
    return out


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "study"
    invoke("study", *tiny_options(20), "--seeds", "2", "--widths", "0.5,1", "--claim3-optimizers", "adam",
           "--out", out)
    return out


@pytest.fixture(params=["run", "seeds", "sweep", "study"])
def page(request, tiny_run, seeds_dir, sweep_dir, study_dir):
    """Each kind of report, as (its path, its HTML)."""
    path = {"run": tiny_run, "seeds": seeds_dir, "sweep": sweep_dir, "study": study_dir}[request.param] / "report.html"
    return path, path.read_text()


class Outline(HTMLParser):
    """The page's text outside every <details> (what a reader sees before opening anything), its sections (h2/h3: the
    tags each holds) and its images (class, alt)."""

    def __init__(self, html: str):
        super().__init__()
        self.depth, self.shown, self.sections, self.images = 0, [], [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "details":
            self.depth += 1
        if tag in ("h2", "h3"):
            self.sections.append([tag, "", []])
        elif self.sections:
            self.sections[-1][2].append(tag + ("." + attrs["class"] if attrs.get("class") else ""))
        if tag == "img":
            self.images.append((attrs.get("class", ""), attrs.get("alt", "")))

    def handle_endtag(self, tag):
        self.depth -= tag == "details"

    def handle_data(self, data):
        if self.depth == 0:
            self.shown.append(data)
        if self.sections and not self.sections[-1][1] and self.sections[-1][0] in self.get_starttag_text():
            self.sections[-1][1] = data


def test_the_verdict_card_comes_before_every_other_section(page):
    _, html = page
    sections = Outline(html).sections
    assert sections[0][1] == "Verdicts" and sections[0][0] == "h2"
    assert html.index('<div class="claim">') < html.index("<nav") < html.index("<h2", html.index("<nav"))
    assert re.search(r'<span class="verdict v-[a-z-]+">(supported|not supported|mixed|no practical difference|'
                     r'not decided|not measured)</span>', html)


def test_each_claims_rule_is_folded_under_its_verdict(page):
    _, html = page
    shown = " ".join(Outline(html).shown)
    rules = [r for r in (RULE_1, RULE_2, RULE_3) if r.replace(">", "&gt;") in html]
    assert rules  # each report states the rules it judged by ...
    assert not [r for r in rules if r in shown]  # ... only inside a <details>
    assert "Rule: " not in shown  # so is a mechanism's (the VAE's fitted prior, in the sweep and the study)


def test_no_section_is_empty(page):
    _, html = page
    sections = Outline(html).sections
    for (tag, title, inside), after in zip(sections, [*sections[1:], ["", "", []]]):
        content = ({"table", "img", "details", "div.claim", "nav.contents"}
                   & {*inside, *(t.partition(".")[0] for t in inside)})
        opened = tag == "h2" and after[0] == "h3"  # its content is its subsections, each checked in turn
        assert content or opened or (title in PROSE and "p" in inside), (tag, title, inside)


def test_charts_are_never_pixelated_only_raw_sample_grids_are(page):
    _, html = page
    style = re.search(r"<style>(.*)</style>", html).group(1)
    pixelated = [rule for rule in re.findall(r"([^{}]+)\{([^}]*)\}", style) if "pixelated" in rule[1]]
    assert [selector for selector, _ in pixelated] == ["img.grid"]
    grids = [alt for cls, alt in Outline(html).images if "grid" in cls.split()]
    # the one figure save_grid writes: one PNG pixel per image pixel
    assert all("reconstructions" in alt for alt in grids)


def png_width(uri: str) -> int:
    return struct.unpack(">I", base64.b64decode(uri[:64])[16:20])[0]  # IHDR's width, right after the PNG signature


def test_every_figure_fits_a_1200_px_column(page):
    _, html = page
    widths = [png_width(uri) for uri in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]
    assert max(widths, default=0) <= 1200  # a --seeds directory's runs draw no figures: none to check there


def test_real_images_come_first_in_the_artifact_figures(tiny_run, monkeypatch, tmp_path):
    html = (tiny_run / "report.html").read_text()
    alts = [alt for _, alt in Outline(html).images]
    for kind in ("artifacts", "worst16"):
        mine = [alt for alt in alts if f"({kind}_" in alt]
        assert mine[0].endswith(f"({kind}_real)") and len(mine) == 5  # real's own figure, then every view's
    panels = []
    monkeypatch.setattr(artifacts, "save_side_by_side", lambda grids, path, **kw: panels.append(list(grids)))
    images = torch.rand(20, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    artifacts.save_artifact_maps("gan", images, tmp_path, real=images)
    # in each figure of a view, real is the first panel
    assert [p[0] for p in panels] == ["real (held-out)", "real: worst 16"]


def test_seeds_keep_every_view(seeds_dir):
    import json

    summary = json.loads((seeds_dir / "seeds.json").read_text())
    assert (list(summary["views"]) == ["gan", "vae-mean", "vae-pixels", "vae-gmm"]
            and "vae-pixels - gan" in summary["view_differences"])
    pixels = summary["views"]["vae-pixels"]["continuity.lone_pixels_per_image"]
    assert pixels["n"] == 2 and len(pixels["values"]) == 2
    md = (seeds_dir / "report.md").read_text()
    seed_statistics = md[md.index("## Seed statistics"):md.index("## Each run")]
    assert ("| metric | gan | vae-mean | vae-pixels | vae-gmm | vae-mean - gan | vae-pixels - gan | vae-gmm - gan |"
            in seed_statistics)


def test_seeds_and_sweep_reports_lead_with_their_answer(seeds_dir, sweep_dir):
    for out, answer in ((seeds_dir, "Seed statistics"), (sweep_dir, "Capacity sweep")):
        html = (out / "report.html").read_text()
        sections = [title for tag, title, _ in Outline(html).sections if tag == "h2"]
        assert sections == ["Verdicts", answer, "Each run"]  # the runs' own tables folded under the last
        assert "<summary>The 2 seed runs&#x27; tables" in html or "<summary>The 8 trials&#x27; tables" in html
        title = re.search(r"<title>(.*)</title>", html).group(1)
        assert "-w0.5-" not in title and "seed-0" not in title  # no trial or seed run listed in the title
    md = (sweep_dir / "report.md").read_text()
    assert "claim (b)" not in md and "**Claim 2**" in md
    # claim 1 from the sweep's gan and vae trials, paired by seed
    assert "Judged from: sweep (trials at width 1)." in md


def test_claim_2_reads_as_a_ratio_not_a_log():
    ratio = Number("log of vae / gan parameters at FID 30.0", 0.6419, (0.4055, 0.8755), 5, key=LOG_RATIO)
    assert ratio.text() == "vae / gan parameters at FID 30.0: 1.90x [1.50x, 2.40x] (5 seeds)"


@pytest.mark.browser
def test_no_report_is_wider_than_the_page_at_800_and_1280_px(tiny_run, seeds_dir, sweep_dir, study_dir):
    browser = open_chromium()
    widths = {}
    try:
        for out in (tiny_run, seeds_dir, sweep_dir, study_dir):
            for width in (800, 1280):
                browser.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=900,
                             deviceScaleFactor=1, mobile=False)
                browser.events.clear()  # else the last page's load event ends the wait at once
                browser.open((out / "report.html").resolve().as_uri())
                widths[out.name[:8], width] = browser.evaluate("[document.documentElement.scrollWidth, "
                                                               "window.innerWidth]")
    finally:
        browser.close()
    assert all(scroll <= inner for scroll, inner in widths.values()), widths
