"""The HTML report in a real browser: headless Chromium renders it without console errors.

Skipped (with the reason) where Debian's ``chromium`` is not installed; ``.ci/run`` installs it.
The page is built from the made-up results of ``demo_results.py`` (two networks, so the
findings matrix shows) to keep the test fast; the first screen is saved as
``.invstab/screenshots/report-first-screen.png`` under the rootdir (git-ignored) for a reviewer.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from pytest_invstab.report import build_meta, save_and_record, write_html

from demo_results import DEMO_NODEIDS, demo_results

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="headless Chromium not installed "
                                                        "(apt-get install chromium; .ci/run does it)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1400,1000"]


def _chromium(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([BROWSER, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout, env={**os.environ, "HOME": profile})


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser")
    records = [save_and_record(n, r, out / "results", mode="all") for n, r in zip(DEMO_NODEIDS, demo_results(48))]
    records[0]["outcome"] = "xfailed"  # an expected finding
    return write_html(out / "report.html", records, build_meta(0.0, 5.0, {}))


def test_renders_without_console_errors(report: Path):
    run = _chromium("--enable-logging=stderr", "--v=0", "--dump-dom", report.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    errors = [line for line in run.stderr.splitlines()
              if "CONSOLE" in line and re.search(r"error|uncaught", line, re.IGNORECASE)]
    assert not errors, errors
    dom = run.stdout
    # The browser built the page: banner, matrix, every check section, its inlined panel.
    assert 'class="banner fail"' in dom and "1 of 3 checks failed" in dom and "1 expected (xfail)" in dom
    assert '<table class="matrix">' in dom
    assert all(f'id="check-{i}"' in dom for i in range(3))
    assert dom.count("data:image/png;base64,") == 3


def test_first_screen_screenshot(report: Path, request: pytest.FixtureRequest):
    folder = Path(request.config.rootpath) / ".invstab" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / "report-first-screen.png"
    shot.unlink(missing_ok=True)
    run = _chromium(f"--screenshot={shot}", report.as_uri())
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    from PIL import Image

    with Image.open(shot) as img:
        assert img.size == (1400, 1000)
        # Not a blank page: the red banner and the text are there.
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 50
