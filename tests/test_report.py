"""Records, artifact files, safe names, terminal summary and the JSON report."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pytest_invstab.errors import InvstabError
from pytest_invstab.report import (
    ReportError,
    format_summary,
    load_report,
    make_record,
    record_key,
    safe_name,
    save_and_record,
    save_artifacts,
    write_json,
)
from pytest_invstab.report.artifacts import atomic_write
from pytest_invstab.report.json_report import FORMAT, build_meta
from pytest_invstab.report.panels import is_difference, render_panel
from pytest_invstab.report.records import format_number, jsonable, key_threshold, short_name
from pytest_invstab.result import CheckResult

from demo_results import DEMO_NODEIDS, demo_results

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results() -> list[CheckResult]:
    return demo_results(size=24)


def _png_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return im.size


# -- records -----------------------------------------------------------------------------------
def test_make_record_is_json_and_keyed(results):
    rec = make_record(DEMO_NODEIDS[0], results[0], index=2)
    assert rec["nodeid"] == DEMO_NODEIDS[0]
    assert rec["name"] == "test_mri_net_is_stable[unet-0.01]"
    assert rec["index"] == 2 and rec["check"] == "worst_case" and rec["verdict"] == "failed"
    assert rec["metrics"]["artifact"] == pytest.approx(results[0].metrics["artifact"])
    assert json.loads(json.dumps(rec, allow_nan=False)) == rec  # strictly JSON-able
    assert record_key(rec) == f"{DEMO_NODEIDS[0]}::worst_case#2"
    assert record_key(make_record(DEMO_NODEIDS[0], results[0])) != record_key(rec)


@pytest.mark.parametrize(
    "nodeid, name",
    [
        ("tests/test_a.py::test_x", "test_x"),
        ("tests/test_a.py::TestC::test_y[p1-0.5]", "test_y[p1-0.5]"),
        ("tests/test_a.py::test_z[a::b/c]", "test_z[a::b/c]"),  # '::' and '/' inside the parameters
        ("test_b.py", "test_b.py"),
    ],
)
def test_short_name(nodeid, name):
    assert short_name(nodeid) == name


def test_jsonable_handles_non_finite_and_tensors():
    out = jsonable({"a": float("nan"), "b": float("inf"), "c": torch.tensor([1.5, 2.0]), "d": (1, np.float32(2.5))})
    assert out == {"a": None, "b": "inf", "c": [1.5, 2.0], "d": [1, 2.5]}
    json.dumps(out, allow_nan=False)


def test_format_number():
    assert format_number(0.123456) == "0.1235"
    assert format_number(31.234, "dB") == "31.23 dB"
    assert format_number(1.5e-5) == "1.5e-05"
    assert format_number(None) == "nan"
    assert format_number(float("inf")) == "inf"


# -- safe names ------------------------------------------------------------------------------------
NASTY = [
    "tests/test_x.py::test_a[1-2]",
    "tests/test_x.py::test_a[1/2]",
    "tests/test_x.py::test_a[1_2]",
    "tests/test_x.py::TestK::test_a[x::y]",
    "tests/sub dir/test_ü.py::test_ß[naïve-日本語-🙂]",
    "tests/test_x.py::test_long[" + "p" * 300 + "]",
    "tests/test_x.py::test_long[" + "p" * 299 + "q]",
    'tests/test_x.py::test_q[a"b<c>d|e?f*g\\h]',
    "tests/test_x.py::test_dots[..]",
]


def test_safe_name_is_safe_short_and_unique(tmp_path):
    names = [safe_name(n, "worst_case", 0) for n in NASTY]
    names += [safe_name(NASTY[0], "worst_case", 1), safe_name(NASTY[0], "detail_recovery", 0)]
    assert len(set(names)) == len(names), "collisions"
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9._-]+", name), name
        assert len(name) <= 110 and not name.startswith((".", "-"))
        (tmp_path / name).mkdir()  # really creatable
    # readable: the file stem, test name and check are in it; deterministic
    assert names[0].startswith("test_x.test_a_1-2-worst_case-0-")
    assert safe_name(NASTY[0], "worst_case", 0) == names[0]
    assert "test_a_1_2" in names[1] and "test_a_1_2" in names[2]  # same slug, told apart by the hash
    assert names[4].startswith("test_u.test_naive")  # unicode folded to ASCII


# -- artifacts ----------------------------------------------------------------------------------------
def test_save_artifacts_writes_named_files_with_contents(tmp_path, results):
    worst = demo_results(size=24)[0]
    folder = tmp_path / "res" / safe_name(DEMO_NODEIDS[0], worst.check, 0)
    written = save_artifacts(worst, folder)
    assert set(written) == {"panel", "arrays", "result"}  # no curves for this check
    assert sorted(p.name for p in folder.iterdir()) == ["arrays.npz", "panel.png", "result.json"]
    assert worst.artifacts == written and all(Path(p).is_absolute() for p in written.values())
    # npz round-trips every array exactly
    with np.load(written["arrays"]) as npz:
        assert set(npz.files) == set(worst.arrays)
        for k, t in worst.arrays.items():
            np.testing.assert_array_equal(npz[k], t.numpy())
    # result.json is to_dict() with the artifact paths
    data = json.loads(Path(written["result"]).read_text())
    assert data["metrics"] == pytest.approx(worst.to_dict()["metrics"])
    assert data["artifacts"] == written and data["verdict"] == "failed"
    # panel: a PNG of 3 rows x 3 columns of cells
    png = Path(written["panel"]).read_bytes()
    assert png.startswith(PNG)
    w, h = _png_size(png)
    assert w > 300 and h > 300 and 0.7 < w / h < 1.6
    # no temporary files left behind
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_curves_png_and_complex_arrays(tmp_path, results):
    samples = demo_results(size=24)[2]
    samples.arrays["k"] = torch.randn(3, 2, dtype=torch.complex64)
    samples.arrays["h"] = torch.ones(2, dtype=torch.bfloat16)
    written = save_artifacts(samples, tmp_path)
    assert set(written) == {"curves", "arrays", "result"}
    assert Path(written["curves"]).read_bytes().startswith(PNG)
    with np.load(written["arrays"]) as npz:
        np.testing.assert_array_equal(npz["k"], samples.arrays["k"].numpy())
        assert npz["h"].dtype == np.float32 and npz["h"].tolist() == [1.0, 1.0]


def test_panel_windows_are_per_row_and_differences_coloured():
    x = torch.zeros(16, 16)
    x[4:12, 4:12] = 1.0
    # is_difference: by title or by strongly signed data; reconstructions are not
    assert is_difference("f(A(x+r)) − f(Ax)", x.numpy()) and is_difference("|x - f(Ax)|", x.numpy())
    assert is_difference("error map", x.numpy()) and not is_difference("f(A(x + r))", x.numpy())
    assert not is_difference("x + r", x.numpy() - 0.05)
    assert not is_difference("f(Ax)", -x.numpy())  # an all-negative reconstruction stays grayscale
    noise = torch.randn(16, 16, generator=torch.Generator().manual_seed(0))
    assert is_difference("r", noise.numpy()) and not is_difference("x", (x + 0.2 * noise).numpy())
    # A row [x, 0.5 x] on one window: the dimmer image must come out dimmer in the PNG.
    from PIL import Image

    png = render_panel([[("a", x), ("b", 0.5 * x)]], dpi=50)
    im = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)

    def centre_value(half: np.ndarray) -> float:
        # the image's black border locates the cell; the bright square sits in its middle
        ys, xs = np.nonzero(half < 10)
        return float(half[(ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2])

    left, right = im[:, : im.shape[1] // 2], im[:, im.shape[1] // 2:]
    assert centre_value(left) > 240 and 100 < centre_value(right) < 160  # 0.5 x is mid-gray, not stretched
    # a coloured difference: the PNG has saturated colours
    rgb = np.asarray(Image.open(io.BytesIO(render_panel([[("x", x), ("x - y", x - 0.3)]], dpi=50))).convert("RGB"),
                     dtype=int)
    assert (np.abs(rgb[..., 0] - rgb[..., 2]) > 80).any()


def test_bad_panel_is_a_clear_error():
    with pytest.raises(InvstabError, match="2-D"):
        render_panel([[("x", torch.zeros(2, 3, 4))]])
    with pytest.raises(InvstabError, match="empty"):
        render_panel([])


def test_unwritable_results_folder_is_a_report_error(tmp_path, results):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    worst = demo_results(size=16)[0]
    with pytest.raises(ReportError, match="--invstab-results") as info:
        save_artifacts(worst, blocker / "sub")
    assert isinstance(info.value, OSError) and isinstance(info.value, InvstabError)
    assert str(blocker / "sub") in str(info.value)
    assert worst.artifacts == {}  # nothing claimed that was not written
    # save_and_record never loses the record
    rec = save_and_record(DEMO_NODEIDS[0], worst, blocker, mode="all")
    assert rec["check"] == "worst_case" and "--invstab-results" in rec["artifact_error"]


def test_read_only_folder(tmp_path, monkeypatch):
    """A folder that refuses new files. Root ignores permission bits (and CI runs as root), so
    there the refusal is the one the OS gives a normal user, raised where the file is created."""
    ro = tmp_path / "ro"
    ro.mkdir()
    as_root = sys.platform == "win32" or os.geteuid() == 0
    if as_root:
        import pytest_invstab.report.artifacts as artifacts_module

        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied", str(ro))

        monkeypatch.setattr(artifacts_module.tempfile, "mkstemp", refuse)
    else:
        ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(ReportError, match=r"could not write .*x\.json \(Permission denied\); .*--invstab-results"):
            atomic_write(ro / "x.json", "{}")
    finally:
        ro.chmod(stat.S_IRWXU)
    assert list(ro.iterdir()) == []


def test_write_over_a_folder_fails_for_root_too_and_leaves_no_temporary_file(tmp_path):
    """os.replace onto a directory fails whoever runs the tests: the error names the option, no .tmp is left."""
    target = tmp_path / "x.json"
    target.mkdir()
    with pytest.raises(ReportError, match="--invstab-results"):
        atomic_write(target, "{}")
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_save_and_record_modes(tmp_path):
    passed, failed = demo_results(size=16)[2], demo_results(size=16)[1]
    rec = save_and_record("t.py::test_p", passed, tmp_path, mode="failed")
    assert rec["artifacts"] == {} and not list(tmp_path.iterdir())
    rec = save_and_record("t.py::test_f", failed, tmp_path, index=1, mode="failed")
    folder = tmp_path / safe_name("t.py::test_f", "detail_recovery", 1)
    assert rec["artifacts"]["panel"] == str(folder / "panel.png") and (folder / "panel.png").is_file()
    assert rec["index"] == 1
    rec = save_and_record("t.py::test_n", demo_results(size=16)[1], tmp_path, mode="none")
    assert rec["artifacts"] == {}
    with pytest.raises(ValueError, match="mode"):
        save_and_record("t.py::test_n", passed, tmp_path, mode="some")


def test_atomic_write_replaces_whole_file(tmp_path):
    p = tmp_path / "a" / "b.txt"
    atomic_write(p, "first version, long text")
    atomic_write(p, b"second")
    assert p.read_bytes() == b"second"
    assert [q.name for q in p.parent.iterdir()] == ["b.txt"]
    assert stat.S_IMODE(p.stat().st_mode) == 0o644


# -- summary ----------------------------------------------------------------------------------------
def test_summary_table(results):
    records = [make_record(n, r) for n, r in zip(DEMO_NODEIDS, results)]
    lines = format_summary(records, results_dir="/tmp/res")
    assert lines[0] == "pytest-invstab: 3 checks, 1 passed, 2 failed"
    header, rule, *rows, last = lines[1:]
    assert header.split() == ["test", "check", "key", "metric", "threshold", "CS", "baseline", "verdict"]
    # aligned: every column starts at the same offset in every row
    col = header.index("check")
    assert all(r[col - 2:col] == "  " and r[col] != " " for r in rows)
    a = results[0].metrics["artifact"]
    assert f"artifact = {format_number(a)}" in rows[0] and "max_artifact <= 0.1" in rows[0]
    assert format_number(results[0].baseline["artifact"]) in rows[0] and rows[0].rstrip().endswith("FAILED")
    assert "recovery = 0.3" in rows[1] and "min_recovery >= 0.8" in rows[1] and " 0.9 " in rows[1]
    assert "max_drop_db = 0.3 dB" in rows[2] and "tolerance_db <= 1 dB" in rows[2] and rows[2].endswith("PASSED")
    assert last.startswith("results: /tmp/res")
    assert format_summary([]) == []


def test_summary_clips_long_ids_and_shows_missing_values():
    r = CheckResult(check="custom", passed=True, message="", metrics={"m": float("nan")}, key_metric="m")
    rec = make_record("tests/test_x.py::test_" + "y" * 200, r, index=3)
    line = format_summary([rec])[3]
    assert line.startswith("...") and "#3" in line and "m = nan" in line
    assert key_threshold(rec) is None


# -- JSON report -------------------------------------------------------------------------------------
def test_json_round_trip_and_meta(tmp_path, results):
    records = [make_record(n, r) for n, r in zip(DEMO_NODEIDS, results)]
    meta = build_meta(1_700_000_000.0, 1_700_000_012.5, {"invstab_budget": "quick", "path": Path("x")})
    assert meta["started"] == "2023-11-14T22:13:20+00:00" and meta["duration_s"] == 12.5
    assert set(meta["versions"]) >= {"pytest_invstab", "torch", "numpy", "python", "pytest"}
    path = write_json(tmp_path / "out" / "report.json", records, meta)
    data = load_report(path)
    assert data["format"] == FORMAT and data["version"] == 1
    assert data["totals"] == {"checks": 3, "passed": 1, "failed": 2}
    assert data["checks"] == json.loads(json.dumps(records))
    assert data["meta"]["options"] == {"invstab_budget": "quick", "path": repr(Path("x"))}
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]


def test_load_report_errors(tmp_path):
    with pytest.raises(ReportError, match="no pytest-invstab report at .*--invstab-report"):
        load_report(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ReportError, match=r"not a JSON file \(line 1, column 2\)"):
        load_report(bad)
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ReportError, match="not a JSON file"):
        load_report(bad)
    foreign = tmp_path / "bench.json"
    foreign.write_text(json.dumps({"machine_info": {}, "benchmarks": []}))
    with pytest.raises(ReportError, match="not a pytest-invstab report.*pytest-benchmark"):
        load_report(foreign)
    foreign.write_text("[1, 2]")
    with pytest.raises(ReportError, match="not a pytest-invstab report"):
        load_report(foreign)
    future = tmp_path / "future.json"
    future.write_text(json.dumps({"format": FORMAT, "version": 2, "checks": []}))
    with pytest.raises(ReportError, match="version 2 report from a newer pytest-invstab"):
        load_report(future)
    future.write_text(json.dumps({"format": FORMAT, "version": "1", "checks": []}))
    with pytest.raises(ReportError, match="no valid report version"):
        load_report(future)
    future.write_text(json.dumps({"format": FORMAT, "version": 1, "checks": [{"nodeid": "x"}]}))
    with pytest.raises(ReportError, match="damaged"):
        load_report(future)
    with pytest.raises(ReportError, match="cannot read"):
        load_report(tmp_path)  # a folder


@pytest.mark.parametrize(
    "key, thresholds, better, expected",
    [
        ("artifact", {"max_artifact": 0.1}, {}, ("max_artifact", "<=", 0.1)),
        ("recovery", {"recovery": 0.8, "baseline_margin": 0.1}, {"recovery": "higher"}, ("min_recovery", ">=", 0.8)),
        ("max_drop_db", {"max_drop_db": 1.0, "gain_db": 2.0}, {}, ("tolerance_db", "<=", 1.0)),
        ("max_drop_db", {"tolerance_db": 0.5}, {}, ("tolerance_db", "<=", 0.5)),
        ("score", {"score": 3.0}, {"score": "higher"}, ("score", ">=", 3.0)),
        ("score", {"max_score": 3.0, "other": 1.0}, {}, ("max_score", "<=", 3.0)),
        ("score", {"a": 1.0, "b": 2.0}, {}, None),
    ],
)
def test_key_threshold_conventions(key, thresholds, better, expected):
    r = CheckResult(check="c", passed=True, message="", metrics={key: 1.0}, key_metric=key,
                    thresholds=thresholds, better=better)
    assert key_threshold(make_record("t.py::t", r)) == expected


def _bare(check: str, **fields) -> CheckResult:
    return CheckResult(check=check, passed=True, message="", metrics={"m": 1.0}, key_metric="m", **fields)


def test_layouts_build_the_panel_from_the_result_and_an_explicit_panel_wins():
    from pytest_invstab.report.layouts import panel_rows

    x = torch.rand(8, 8)
    r = 0.01 * (torch.rand(8, 8) - 0.5)
    images = {"x": x, "shown": r, "f_clean": x, "f_perturbed": x + r}
    res = _bare("worst_case", images=images, figure={"name": "r", "baseline": "CS"})
    rows = panel_rows(res)
    assert [t for t, _ in rows[0]][:2] == ["x", "x + r"] and rows[0][2][0].startswith("r (×")
    assert [t for t, _ in rows[1]] == ["f(Ax)", "f(A(x + r))", "|f(A(x + r)) − f(Ax)|"]
    assert len(rows) == 2  # no baseline, no checkpoints
    assert panel_rows(_bare("worst_case")) == []  # nothing to draw
    explicit = [[("a", x)]]
    assert panel_rows(_bare("worst_case", images=images, figure={"name": "r"}, panel=explicit)) is explicit
    assert "images" not in _bare("worst_case", images=images).to_dict()
