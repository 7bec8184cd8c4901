"""One self-contained HTML page for a session: banner, findings matrix, then every check (failed first).

Self-contained means: CSS inline, images inlined as ``data:image/png;base64`` URIs, no
scripts, no external requests, so the file can be attached to a release ticket or mailed to
a reviewer. Every piece of text that comes from a record is escaped with ``html.escape``.

The page opens on what a reviewer needs first: a banner that agrees with pytest (a failure of
a test marked ``xfail`` is an *expected finding*, not a failure), a short header, and, when
several networks were tested, a matrix of networks (rows, by their test ids) against the
three instabilities (columns). Checks follow, failed ones first and open; passed ones folded.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

from .artifacts import atomic_write
from .html_check import check_section, kv_list, verdict_badge
from .html_text import CHECK_HELP, DEFAULT_BASELINE, describe_operator, esc, explanations
from .records import format_number, is_number, key_value, network_id, outcome_totals, status_of, unit_of

HTML_OPTION = "--invstab-html"
#: The matrix's columns: the paper's three instabilities.
INSTABILITIES = ("worst_case", "detail_recovery", "more_samples")
_ORDER = {"failed": 0, "expected": 1, "passed": 2}

# Kept in a file of its own (package data) and inlined into every page.
CSS = resources.files(__package__).joinpath("report.css").read_text(encoding="utf-8")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def banner(records: list[Mapping[str, Any]]) -> str:
    """Red only when a check failed outside an ``xfail`` test, as pytest's own verdict."""
    if not records:
        return '<div class="banner pass">No stability checks ran.</div>'
    t = outcome_totals(records)
    if t["unexpected"]:
        extra = f" · {t['expected']} expected (xfail)" if t["expected"] else ""
        return (f'<div class="banner fail">{t["unexpected"]} of {_plural(t["checks"], "check")} failed · '
                f"{t['passed']} passed{extra}</div>")
    if t["expected"]:
        return (f'<div class="banner pass">All {_plural(t["checks"], "check")} as expected: {t["passed"]} passed, '
                f"{_plural(t['expected'], 'expected finding')} (tests marked xfail: known instabilities)</div>")
    return f'<div class="banner pass">All {_plural(t["checks"], "check")} passed</div>'


def _cell(i: int, record: Mapping[str, Any], label: bool) -> str:
    """Verdict and key number next to the baseline's: its own worst case where it was attacked (fair),
    else its value on the same data. ``label``: name the test (a cell holds several)."""
    key = str(record.get("key_metric", ""))
    metrics = record.get("metrics") or {}
    own = metrics.get(f"baseline_worst_{key}")
    same = (record.get("baseline") or {}).get(key, metrics.get(f"baseline_{key}"))
    base, who = (own, "CS own worst") if is_number(own) else (same, "CS")
    value = format_number(key_value(record), unit_of(key))
    base_text = (f' <span class="help">({who} {esc(format_number(base, unit_of(key)))})</span>'
                 if is_number(base) else "")
    test = str(record.get("nodeid", "")).rsplit("::", 1)[-1].split("[", 1)[0].removeprefix("test_")
    name = f'<div class="help">{esc(test.replace("_", " "))}</div>' if label else ""
    return f'{name}<a href="#check-{i}">{verdict_badge(record)} {esc(value)}</a>{base_text}'


def findings_matrix(records: list[Mapping[str, Any]]) -> str:
    """Networks (rows) against the three instabilities (columns); empty when one network was tested."""
    networks = list(dict.fromkeys(network_id(r) for r in records))
    if len(networks) < 2:
        return ""
    checks = [c for c in INSTABILITIES if any(r.get("check") == c for r in records)]
    checks += list(dict.fromkeys(str(r.get("check")) for r in records if r.get("check") not in checks))
    head = "".join(f"<th>{esc(CHECK_HELP.get(c, (c,))[0])}<div class=\"help\">{esc(c)}: "
                   f"{esc(_key_of(records, c))}</div></th>" for c in checks)
    body = []
    for net in networks:
        cells = []
        for c in checks:
            mine = [(i, r) for i, r in enumerate(records) if network_id(r) == net and r.get("check") == c]
            found = [_cell(i, r, len(mine) > 1) for i, r in mine]
            cells.append(f"<td>{('<br>' if len(found) < 2 else '').join(found) or '–'}</td>")
        body.append(f"<tr><th class=\"net\">{esc(net)}</th>{''.join(cells)}</tr>")
    return (f'<h2>Findings</h2><table class="matrix"><thead><tr><th>network (test id)</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def _key_of(records: list[Mapping[str, Any]], check: str) -> str:
    return next((str(r.get("key_metric")) for r in records if r.get("check") == check), "")


def _header(recs: list[Mapping[str, Any]], meta: Mapping[str, Any]) -> str:
    t = outcome_totals(recs)
    versions = meta.get("versions") or (recs[0].get("versions") if recs else {}) or {}
    networks = list(dict.fromkeys(network_id(r) for r in recs))
    operators = list(dict.fromkeys(describe_operator(r.get("operator") or {}) for r in recs))
    info: list[tuple[str, Any]] = [
        ("networks", ", ".join(networks) or "–"),
        ("operators", "; ".join(operators) or "–"),
        ("checks", f"{t['checks']} ({t['passed']} passed, {t['unexpected']} failed, {t['expected']} expected)"),
        ("baseline", f"{DEFAULT_BASELINE} unless a test names another"),
    ]
    when = " → ".join(str(meta[k]) for k in ("started", "finished") if meta.get(k))
    if is_number(meta.get("duration_s")):
        when += f" ({float(meta['duration_s']):.1f} s)"
    if when:
        info.append(("run", when))
    if versions:
        info.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    return '<dl class="meta">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in info) + "</dl>"


def render_html(records: Iterable[Mapping[str, Any]], meta: Mapping[str, Any] | None = None,
                title: str = "pytest-invstab report") -> str:
    """The report page as a string (see ``write_html``)."""
    recs = [dict(r) for r in records]
    meta = dict(meta or {})
    options = meta.get("options") or {}
    options_html = f"<details><summary>Options of this run</summary>{kv_list(options.items())}</details>" if options else ""
    order = sorted(range(len(recs)), key=lambda i: (_ORDER[status_of(recs[i])], i))
    sections = "".join(check_section(i, recs[i]) for i in order)
    versions = meta.get("versions") or (recs[0].get("versions") if recs else {}) or {}
    version = versions.get("pytest_invstab", "")
    checks_present = list(dict.fromkeys(str(r.get("check")) for r in recs))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>{esc(title)}</h1>"
        '<p class="subtitle">Stability of image-reconstruction networks: tiny worst-case perturbations, '
        "small structural changes and more samples (Antun et al., PNAS 2020).</p>"
        f"{banner(recs)}{_header(recs, meta) if recs else ''}"
        + (findings_matrix(recs) + f"<h2>Checks</h2><p class=\"help\">Failed first, then expected findings "
           f"(xfail), then passed (folded: click to open).</p>{sections}" if recs else "")
        + f"{explanations(checks_present)}{options_html}"
        + f"<footer>Generated by pytest-invstab {esc(version)}. Self-contained page: no scripts, no external "
        "resources.</footer></main></body></html>\n"
    )


def write_html(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]],
               meta: Mapping[str, Any] | None = None) -> Path:
    """Write the self-contained HTML report atomically; ``ReportError`` (naming ``--invstab-html``) if it cannot.

    Images come from each record's ``artifacts`` (``panel.png``, ``curves.png``) and are
    inlined as base64 data URIs; checks whose images were not saved say so.
    """
    return atomic_write(path, render_html(records, meta), option=HTML_OPTION)


__all__ = ["CHECK_HELP", "DEFAULT_BASELINE", "banner", "esc", "findings_matrix", "render_html", "write_html"]
