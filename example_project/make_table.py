"""Turn the suite's JSON report into the README's tables.

    python -m example_project.make_table example_project/.invstab/report.json            # print
    python -m example_project.make_table example_project/.invstab/report.json --readme example_project/README.md

(from inside ``example_project/``: ``python make_table.py .invstab/report.json --readme README.md``).
With ``--readme`` the text between ``<!-- invstab-table:start -->`` and
``<!-- invstab-table:end -->`` is replaced; without it the tables are printed.

Tables: one row per network, each number next to TV's on the same data: the worst-case artifact
at eps = 1 % against TV's own worst case (phantoms, and a real scan), the symbol-recovery score,
the perturbation size that erases a symbol, and the PSNR at the trained and the largest rate with
the largest fall; then PSNR against the sampling rate; then the training record of each network.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
START, END = "<!-- invstab-table:start -->", "<!-- invstab-table:end -->"
NETWORKS = ("ell50", "deepmri", "dagan", "vn")
TITLES = {
    "ell50": "ell50 (U-Net after FBP, ellipses; Radon 50 angles)",
    "deepmri": "deepmri (CNN cascade + data consistency; Fourier 33 %)",
    "dagan": "dagan (U-Net on zero-filled; Fourier 20 %)",
    "vn": "vn (unrolled variational network; 8 coils, 15 %)",
}
#: The tests of ``tests/test_stability.py`` by what they measure.
CURVE, SCAN, DETAILS, ERASURE, SAMPLES = ("test_tiny_worst_case_perturbation", "test_tiny_worst_case_on_a_real_scan",
                                          "test_small_structural_change", "test_symbols_survive_tiny_perturbations",
                                          "test_more_samples")


def load(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """``{network id: {test function: record}}`` from a pytest-invstab JSON report."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or not isinstance(data.get("checks"), list):
        raise SystemExit(f"{path} is not a pytest-invstab JSON report (run the suite with --invstab-report)")
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for rec in data["checks"]:
        m = re.search(r"::(\w+)\[([^\]]+)\]$", str(rec.get("nodeid", "")))
        if m:
            out.setdefault(m.group(2), {})[m.group(1)] = rec
    return out


def _f(value: Any, fmt: str = ".3f") -> str:
    return "–" if value is None else format(float(value), fmt)


def _verdict(rec: dict[str, Any] | None) -> str:
    if rec is None:
        return "not run"
    return "stable" if rec.get("passed") else "**unstable**"


def _order(nets: dict[str, Any]) -> list[str]:
    return [n for n in NETWORKS if n in nets] + sorted(n for n in nets if n not in NETWORKS)


def _worst(rec: dict[str, Any] | None, eps: float = 0.01) -> str:
    """The worst artifact at ``eps`` against TV's own worst case there (their ratio), and the verdict."""
    if rec is None:
        return "– | not run"
    m = rec["metrics"]
    key = f"@{eps:g}" if f"artifact@{eps:g}" in m else ""
    net, tv = m.get(f"artifact{key}"), m.get(f"baseline_worst_artifact{key}")
    ratio = f" = {net / tv:.1f}x" if net is not None and tv else ""
    return f"{_f(net)} / {_f(tv)}{ratio} | {_verdict(rec)}"


def _details(rec: dict[str, Any] | None) -> str:
    if rec is None:
        return "– | not run"
    return f"{_f(rec['metrics']['recovery'], '.2f')} ({_f(rec['baseline'].get('recovery'), '.2f')}) | {_verdict(rec)}"


def _erasure(rec: dict[str, Any] | None) -> str:
    if rec is None:
        return "– | not run"
    m = rec["metrics"]
    return f"{_f(m.get('erase_eps'), '.4f')} ({_f(m.get('baseline_erase_eps'), '.4f')}) | {_verdict(rec)}"


def _samples(ms: dict[str, Any] | None) -> str:
    if ms is None:
        return "– | – | not run"
    curves = ms.get("curves") or {}
    rates, series = curves.get("x") or [], curves.get("series") or {}
    net = series.get("network") or []
    cs = next((v for k, v in series.items() if k != "network"), [])
    trained = ms["settings"].get("trained_rate")
    i = min(range(len(rates)), key=lambda k: abs(rates[k] - trained)) if trained is not None and rates else 0
    cs_part = f" ({_f(cs[i], '.1f')} → {_f(cs[-1], '.1f')})" if cs else ""
    first = f"{_f(net[i], '.1f')} → {_f(net[-1], '.1f')}{cs_part} at rate {rates[i]:.2f} → {rates[-1]:.2f}" if net else "–"
    m = ms["metrics"]
    cs_gain = f" ({_f(m['baseline_gain_db'], '.1f')})" if m.get("baseline_gain_db") is not None else ""
    return f"{first} | {_f(m['max_drop_db'], '.2f')}; {_f(m['gain_db'], '.1f')}{cs_gain} | {_verdict(ms)}"


def summary_table(nets: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One row per network, every number next to TV's on the same data (TV's *own* worst case for
    the perturbation tests, TV's score for the details, TV's PSNR for more samples)."""
    rows = [
        "| network | worst artifact at eps = 1 %, network / TV's own worst (ratio) | verdict (curve 0.5-2 %) "
        "| real scan: same at 1 % | verdict | symbol recovery (TV) | verdict | symbols erased at ‖r‖/‖x + d‖ (TV) "
        "| verdict | PSNR dB trained → largest rate (TV) | largest PSNR fall; gain dB (TV gain) | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in _order(nets):
        t = nets[name]
        cells = [TITLES.get(name, name), _worst(t.get(CURVE)), _worst(t.get(SCAN)), _details(t.get(DETAILS)),
                 _erasure(t.get(ERASURE)), _samples(t.get(SAMPLES))]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def psnr_table(nets: dict[str, dict[str, dict[str, Any]]]) -> str:
    """PSNR (dB) of each network against its rates, as multiples of the trained rate."""
    rows = ["| network | PSNR dB (CS) at each sampling rate; the trained rate in bold |", "| --- | --- |"]
    for name in _order(nets):
        ms = nets[name].get(SAMPLES)
        if not ms or not ms.get("curves"):
            continue
        curves = ms["curves"]
        rates, series = curves["x"], curves["series"]
        net = series.get("network", [])
        cs = next((v for k, v in series.items() if k != "network"), [])
        trained = ms["settings"].get("trained_rate")
        parts = []
        for k, r in enumerate(rates):
            text = f"{r:.2f}: {net[k]:.1f}" + (f" ({cs[k]:.1f})" if cs else "")
            parts.append(f"**{text}**" if trained is not None and abs(r - trained) < 1e-6 else text)
        rows.append(f"| {name} | " + " · ".join(parts) + " |")
    return "\n".join(rows)


def training_table(weights_dir: Path = HERE / "weights") -> str:
    rows = ["| network | parameters | training steps | device | training time (s) | validation PSNR dB (direct) |",
            "| --- | ---: | ---: | --- | ---: | --- |"]
    for name in NETWORKS:
        path = weights_dir / f"{name}.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        rows.append(f"| {name} | {r['parameters']} | {r['steps']} | {r.get('device', 'cpu')} | {r['train_seconds']:.0f} | "
                    f"{r['val_psnr_db']:.2f} ({r['val_psnr_direct_db']:.2f}) |")
    return "\n".join(rows)


def render(report: Path) -> str:
    nets = load(report)
    data = json.loads(Path(report).read_text())
    meta = data.get("meta") or {}
    duration = meta.get("duration_s")
    lines = [
        summary_table(nets),
        "",
        psnr_table(nets),
        "",
        training_table(),
        "",
        f"_Generated by `python -m example_project.make_table` from `{Path(report).name}`"
        + (f" (suite wall time {duration:.0f} s)" if isinstance(duration, (int, float)) else "") + "._",
    ]
    return "\n".join(lines)


def replace_between_markers(text: str, table: str) -> str:
    if START not in text or END not in text:
        raise SystemExit(f"README has no {START} ... {END} block to replace")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m example_project.make_table", description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, nargs="?", default=HERE / ".invstab" / "report.json",
                        help="the suite's JSON report (default: example_project/.invstab/report.json)")
    parser.add_argument("--readme", type=Path, default=None, help="replace the table block in this README")
    args = parser.parse_args(argv)
    if not args.report.exists():
        raise SystemExit(f"no report at {args.report}; run the suite first: cd example_project && python -m pytest")
    table = render(args.report)
    if args.readme is None:
        print(table)
    else:
        args.readme.write_text(replace_between_markers(args.readme.read_text(), table))
        print(f"updated {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
