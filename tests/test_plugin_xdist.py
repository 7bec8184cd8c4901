"""pytest-xdist: records reach the controller, so summary and JSON are the same with -n 0 and -n 2."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("xdist")

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestAssertRewriteWarning")

SUITE = """
import pytest

@pytest.mark.stability(baseline=None, steps=3, restarts=1)
def test_stable():
    pass

@pytest.mark.stability(reconstructor="planted", baseline=None)
def test_unstable():
    pass

@pytest.mark.detail_recovery(baseline=None, min_recovery=0.3)
def test_detail():
    pass

@pytest.mark.more_samples(baseline=None, rates=(0.2, 0.33, 0.5))
def test_more():
    pass

@pytest.mark.parametrize("case", ["a/b", "a_b"])
def test_fixture(invstab, planted, case):
    invstab.worst_case(baseline=None, steps=2, restarts=1)
    invstab.worst_case(reconstructor=planted, baseline=None, fail=False)
"""


def _load(pytester: pytest.Pytester, name: str) -> dict[str, dict]:
    data = json.loads((pytester.path / name).read_text(encoding="utf-8"))
    return {f"{r['nodeid']}#{r['index']}": r for r in data["checks"]}


def test_same_results_plain_n0_and_n2(invstab_project: pytest.Pytester):
    invstab_project.makepyfile(test_suite=SUITE)
    # a marker typo: without xdist a usage error stops the session; an xdist worker cannot do
    # that (xdist would report an INTERNALERROR), so there the test errors with the same message
    invstab_project.makepyfile(test_typo="import pytest\n\n@pytest.mark.stability(epsilon=1)\ndef test_x():\n    pass\n")
    runs = {
        "plain": invstab_project.runpytest("test_suite.py", "--invstab-report=plain.json", "--invstab-save=all"),
        "n0": invstab_project.runpytest("test_suite.py", "-n", "0", "--invstab-report=n0.json"),
        "n2": invstab_project.runpytest("-n", "2", "--invstab-report=n2.json", "--invstab-html=n2.html"),
    }
    runs["plain"].assert_outcomes(passed=5, failed=1)
    runs["n0"].assert_outcomes(passed=5, failed=1)
    runs["n2"].assert_outcomes(passed=5, failed=1, errors=1)
    assert "INTERNALERROR" not in runs["n2"].stdout.str()
    runs["n2"].stdout.fnmatch_lines(["*test_x: @pytest.mark.stability got unknown argument 'epsilon'; allowed: *eps*"])
    reports = {name: _load(invstab_project, f"{name}.json") for name in runs}
    assert len(reports["plain"]) == 8  # 4 marked tests + 2 x 2 fixture calls
    for name in ("n0", "n2"):
        assert reports[name].keys() == reports["plain"].keys(), name
        for key, ref in reports["plain"].items():
            rec = reports[name][key]
            assert rec["verdict"] == ref["verdict"] and rec["seed"] == ref["seed"], key
            assert rec["metrics"].keys() == ref["metrics"].keys(), key
            for metric, value in ref["metrics"].items():
                if value is None:
                    assert rec["metrics"][metric] is None
                else:
                    assert rec["metrics"][metric] == pytest.approx(value, rel=1e-4, abs=1e-6), (key, metric)
    # the controller's summary lists every worker's checks
    runs["n2"].stdout.fnmatch_lines(["*pytest-invstab: 8 checks, 5 passed, 3 failed*"])
    html = (invstab_project.path / "n2.html").read_text(encoding="utf-8")
    assert all(r["name"].split("[")[0] in html for r in reports["n2"].values())
    # artifact folders never collide: every saved check has its own folder with its own result
    folders = [r["artifacts"]["result"] for r in reports["plain"].values()]
    assert len(set(folders)) == len(folders) == 8
