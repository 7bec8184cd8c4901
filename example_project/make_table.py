"""Turn the suite's JSON report into the README's tables.

    python -m example_project.make_table example_project/.invstab/report.json            # print
    python -m example_project.make_table example_project/.invstab/report.json --readme example_project/README.md

(from inside ``example_project/``: ``python make_table.py .invstab/report.json --readme README.md``).
With ``--readme`` the text between ``<!-- invstab-table:start -->`` and
``<!-- invstab-table:end -->`` is replaced; without it the tables are printed.

Tables: one row per network (and the CS baseline) with the worst-case artifact at eps = 1 %
(and the CS baseline's artifact under the same perturbation), the detail-recovery score (and
CS's on the same data), and the PSNR at the trained and the largest rate with the largest fall;
then PSNR against the sampling rate; then the training record of each network.
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
NETWORKS = ("ell50", "deepmri", "dagan")
ORDER = tuple(row for name in NETWORKS for row in (name, f"cs-{name}"))  # each network next to TV on its data
TITLES = {
    "ell50": "ell50 (U-Net after FBP, ellipses; Radon 12 angles)",
    "deepmri": "deepmri (CNN cascade + data consistency; Fourier 33 %)",
    "dagan": "dagan (U-Net on zero-filled; Fourier 20 %)",
    **{f"cs-{name}": f"cs-{name} (TV on the same data)" for name in NETWORKS},
}
CHECKS = ("worst_case", "detail_recovery", "more_samples")


def load(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """``{network id: {check: record}}`` from a pytest-invstab JSON report."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or not isinstance(data.get("checks"), list):
        raise SystemExit(f"{path} is not a pytest-invstab JSON report (run the suite with --invstab-report)")
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for rec in data["checks"]:
        m = re.search(r"\[([^\]]+)\]$", str(rec.get("nodeid", "")))
        if not m:
            continue
        out.setdefault(m.group(1), {})[rec["check"]] = rec
    return out


def _f(value: Any, fmt: str = ".3f") -> str:
    return "–" if value is None else format(float(value), fmt)


def _verdict(rec: dict[str, Any] | None) -> str:
    if rec is None:
        return "not run"
    return "stable" if rec.get("passed") else "**unstable**"


def _order(nets: dict[str, Any]) -> list[str]:
    return [n for n in ORDER if n in nets] + sorted(n for n in nets if n not in ORDER)


def summary_table(nets: dict[str, dict[str, dict[str, Any]]]) -> str:
    rows = [
        "| network | worst-case artifact at eps = 1 % (CS, same r) | verdict | detail recovery (CS) | verdict "
        "| PSNR dB at trained → largest rate (CS) | largest PSNR fall; gain dB (CS gain) | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in _order(nets):
        checks = nets[name]
        wc, dr, ms = (checks.get(c) for c in CHECKS)
        cells = [TITLES.get(name, name)]
        if wc:
            m, thr = wc["metrics"], wc["thresholds"].get("max_artifact")
            cells += [f"{_f(m['artifact'])} ({_f(m.get('baseline_artifact'))}); limit {_f(thr)}", _verdict(wc)]
        else:
            cells += ["–", "not run"]
        if dr:
            m, thr = dr["metrics"], dr["thresholds"]
            limit = f"min {_f(thr.get('recovery'), '.2f')}"
            if thr.get("baseline_margin") is not None:
                limit += f", CS − {_f(thr['baseline_margin'], '.2f')}"
            cells += [f"{_f(m['recovery'], '.2f')} ({_f(dr['baseline'].get('recovery'), '.2f')}); {limit}", _verdict(dr)]
        else:
            cells += ["–", "not run"]
        if ms:
            curves = ms.get("curves") or {}
            rates = curves.get("x") or []
            net = (curves.get("series") or {}).get("network") or []
            cs = (curves.get("series") or {}).get("CS baseline") or []
            trained = ms["settings"].get("trained_rate")
            i = min(range(len(rates)), key=lambda k: abs(rates[k] - trained)) if trained is not None and rates else 0
            if rates and net:
                cs_part = f" ({_f(cs[i], '.1f')} → {_f(cs[-1], '.1f')})" if cs else ""
                cells.append(f"{_f(net[i], '.1f')} → {_f(net[-1], '.1f')}{cs_part} at rate {rates[i]:.2f} → {rates[-1]:.2f}")
            else:
                cells.append("–")
            m = ms["metrics"]
            cs_gain = f" ({_f(m['baseline_gain_db'], '.1f')})" if m.get("baseline_gain_db") is not None else ""
            cells += [f"{_f(m['max_drop_db'], '.2f')}; {_f(m['gain_db'], '.1f')}{cs_gain}", _verdict(ms)]
        else:
            cells += ["–", "–", "not run"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def psnr_table(nets: dict[str, dict[str, dict[str, Any]]]) -> str:
    """PSNR (dB) of each network against its rates, as multiples of the trained rate."""
    rows = ["| network | PSNR dB (CS) at each sampling rate; the trained rate in bold |", "| --- | --- |"]
    for name in _order(nets):
        if name.startswith("cs-"):  # its numbers are the parentheses of its network's row
            continue
        ms = nets[name].get("more_samples")
        if not ms or not ms.get("curves"):
            continue
        curves = ms["curves"]
        rates, series = curves["x"], curves["series"]
        net, cs = series.get("network", []), series.get("CS baseline", [])
        trained = ms["settings"].get("trained_rate")
        parts = []
        for k, r in enumerate(rates):
            text = f"{r:.2f}: {net[k]:.1f}" + (f" ({cs[k]:.1f})" if cs else "")
            parts.append(f"**{text}**" if trained is not None and abs(r - trained) < 1e-6 else text)
        rows.append(f"| {name} | " + " · ".join(parts) + " |")
    return "\n".join(rows)


def training_table(weights_dir: Path = HERE / "weights") -> str:
    rows = ["| network | parameters | training steps | threads | training time (s) | validation PSNR dB (direct) |",
            "| --- | ---: | ---: | ---: | ---: | --- |"]
    for name in NETWORKS:
        path = weights_dir / f"{name}.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        rows.append(f"| {name} | {r['parameters']} | {r['steps']} | {r.get('threads', '–')} | {r['train_seconds']:.0f} | "
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
