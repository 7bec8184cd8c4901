"""The HTML report: self-contained, escaped, well-formed, and showing every check's numbers."""

from __future__ import annotations

import base64
import re
from html import escape as html_escape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pytest_invstab.report import ReportError, make_record, save_and_record, write_html
from pytest_invstab.report.html_report import render_html
from pytest_invstab.report.json_report import build_meta

from demo_results import DEMO_NODEIDS, demo_results

DATA_URI = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")
VOID = {"meta", "img", "br", "hr", "input", "link", "col", "area", "base", "source", "wbr"}


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[str, list[dict]]:
    out = tmp_path_factory.mktemp("html")
    records = [save_and_record(n, r, out / "results", mode="all") for n, r in zip(DEMO_NODEIDS, demo_results(24))]
    path = write_html(out / "report.html", records, build_meta(0.0, 5.0, {"invstab_budget": "quick"}))
    return path.read_text(encoding="utf-8"), records


class _Checker(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.srcs: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "src" in a:
            self.srcs.append(a["src"])
        if "href" in a:
            self.hrefs.append(a["href"])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def test_self_contained(page):
    text, records = page
    checker = _Checker()
    checker.feed(text)
    assert not checker.errors and checker.stack == []  # well-formed
    # every image is an inlined PNG, identical to the saved file; nothing else is loaded
    assert len(checker.srcs) == 3 and all(s.startswith("data:image/png;base64,") for s in checker.srcs)
    saved = [Path(r["artifacts"][k]).read_bytes() for r in records for k in ("panel", "curves")
             if k in r["artifacts"]]
    assert sorted(base64.b64decode(s.split(",", 1)[1]) for s in checker.srcs) == sorted(saved)
    assert all(h.startswith("#check-") for h in checker.hrefs)  # only in-page links
    stripped = DATA_URI.sub("", text)
    for forbidden in ("http://", "https://", "<script", "<link", "@import", "url(", "src=\"/", "file:"):
        assert forbidden not in stripped, forbidden
    assert "<style>" in text


# What the page must show for the demo results, written out by hand (4 significant digits, dB for
# PSNR and *_db metrics), not by the report's own formatter: a formatting bug must fail here.
SHOWN = {
    "worst_case": {"artifact": "0.2172", "eps": "0.01", "artifact_r1": "0.08687", "psnr_clean": "31.2 dB"},
    "detail_recovery": {"recovery": "0.3", "recovery_symbols": "0.3", "psnr": "27.5 dB"},
    "more_samples": {"max_drop_db": "0.3 dB", "gain_db": "-0.3 dB", "psnr_at_trained": "30.2 dB"},
}
SHOWN_BASELINE = {"worst_case": ["0.006", "29.4"], "detail_recovery": ["0.9", "28.1"], "more_samples": ["0", "3.9"]}


def test_every_check_number_is_shown(page):
    text, records = page
    assert sorted(r["check"] for r in records) == sorted(SHOWN)
    for r in records:
        section = text[text.index(f'id="check-{records.index(r)}"'):]
        section = section[: section.index("</section>")]
        assert set(r["metrics"]) == set(SHOWN[r["check"]])
        for name, shown in SHOWN[r["check"]].items():
            assert f"<code>{name}</code>" in section
            assert f">{shown}<" in section, (name, shown)
        for shown in SHOWN_BASELINE[r["check"]]:
            assert f">{shown}" in section, shown
        assert f"<dt>seed</dt><dd>{r['seed']}</dd>" in section
        assert html_escape(r["message"]) in section
    # thresholds with their units and direction
    assert "≤ 0.1" in text and "≥ 0.8" in text and "≤ 1 dB" in text
    assert "max_artifact ≤ 0.1" in text and "min_recovery ≥ 0.8" in text and "tolerance_db ≤ 1 dB" in text


def test_header_totals_verdicts_and_explanations(page):
    text, _ = page
    assert "2 of 3 checks failed · 1 passed" in text
    assert text.count('class="verdict failed"') == 4 and text.count('class="verdict passed"') == 2  # table + sections
    assert "pytest_invstab 0.1.0" in text and "torch" in text and "1970-01-01T00:00:05+00:00" in text
    for phrase in ("||f(A(x+r)) − f(Ax)|| / ||x||", "dimensionless", "||r|| / ||x||", "1 = the detail is reconstructed",
                   "in dB", "Antun et al."):
        assert phrase in text, phrase
    assert "FourierOperator, image 24×24, rate 0.33" in text


def test_everything_is_escaped(page):
    text, _ = page
    assert "<script>alert(1)</script>" not in text
    assert "UNet(depth=3) &lt;script&gt;alert(1)&lt;/script&gt;" in text
    result = demo_results(16)[2]
    result.message = 'quote " and <b>bold</b> & ampersand'
    result.settings = {"<k>": "<v>"}
    html = render_html([make_record("t.py::test_x[<i>]", result)])
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt; &amp; ampersand" in html
    assert "test_x[&lt;i&gt;]" in html and "&lt;k&gt;" in html and "<i>" not in html


def test_missing_images_and_empty_report(tmp_path):
    rec = make_record("t.py::test_x", demo_results(16)[1])  # not saved
    html = render_html([rec])
    assert "No images were saved for this check" in html and "--invstab-save=all" in html
    rec["artifacts"] = {"panel": str(tmp_path / "gone.png")}
    (tmp_path / "fake.png").write_text("not a png")
    rec2 = dict(rec, artifacts={"panel": str(tmp_path / "fake.png")})
    assert "data:image" not in render_html([rec, rec2])
    empty = render_html([], {})
    assert "No stability checks ran." in empty and "<table" not in empty


def test_unwritable_html_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ReportError, match="--invstab-html"):
        write_html(blocker / "report.html", [], {})
