"""One self-contained HTML page for a session: summary, per-check details and figures.

Self-contained means: CSS inline, images inlined as ``data:image/png;base64`` URIs, no
scripts, no external requests, so the file can be attached to a release ticket or mailed to
a reviewer. Every piece of text that comes from a record is escaped with ``html.escape``.
"""

from __future__ import annotations

import base64
import html
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

from .artifacts import atomic_write
from .records import (
    KEY_THRESHOLDS,
    METRIC_HELP,
    better_of,
    format_number,
    is_number,
    key_threshold,
    key_value,
    short_name,
    totals,
    unit_of,
)

HTML_OPTION = "--invstab-html"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

CHECK_HELP: dict[str, tuple[str, str]] = {
    "worst_case": (
        "Tiny worst-case perturbations",
        "Searches for a perturbation r of the image (or of the measurements) with ||r|| ≤ eps·||x|| that "
        "changes the reconstruction as much as possible. <b>artifact</b> = ||f(A(x+r)) − f(Ax)|| / ||x|| "
        "(dimensionless: 0.1 means a change of 10 % of the image's norm); <b>eps</b> = ||r|| / ||x||, the "
        "perturbation size. The same r is given to a stable compressed-sensing (CS) baseline: a small "
        "baseline artifact shows that the instability belongs to the network, not to the problem. "
        "Fails when artifact &gt; max_artifact.",
    ),
    "detail_recovery": (
        "Small structural changes",
        "Inserts clearly visible details (card symbols, text) into the image and measures how much of each "
        "detail the reconstruction shows. <b>recovery</b>: 1 = the detail is reconstructed perfectly, "
        "0 = it has vanished. The CS baseline sees the same data. Fails when recovery &lt; min_recovery "
        "(and, where a margin is set, when the network is worse than the baseline by more than it).",
    ),
    "more_samples": (
        "More samples",
        "Reconstructs at growing sampling rates (nested masks: a larger rate keeps every sample of a smaller "
        "one). A stable method improves with more data; <b>PSNR</b> is in dB, <b>max_drop_db</b> is the "
        "largest fall of PSNR (dB) as the rate grows. The dashed line marks the rate the network was "
        "trained for. Fails when max_drop_db &gt; tolerance_db.",
    ),
}

# Kept in a file of its own (package data) and inlined into every page.
CSS = resources.files(__package__).joinpath("report.css").read_text(encoding="utf-8")


def esc(value: Any) -> str:
    """``html.escape`` of ``str(value)``, quotes included (safe in text and attributes)."""
    return html.escape(str(value), quote=True)


def _png_data_uri(path: Any) -> str | None:
    """``data:image/png;base64,...`` of a saved PNG, ``None`` if missing, unreadable or not a PNG."""
    if not path:
        return None
    try:
        data = Path(str(path)).read_bytes()
    except OSError:
        return None
    if not data.startswith(PNG_SIGNATURE):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _metric_help(metric: str) -> str:
    m = metric.lower()
    if m in METRIC_HELP:
        text, unit = METRIC_HELP[m]
        return f"{text} ({unit})" if unit not in text else text
    for prefix in ("psnr", "ssim"):
        if m.startswith(prefix):
            text, unit = METRIC_HELP[prefix]
            return f"{text} ({unit})"
    if m.startswith("recovery_"):
        return f"recovery of the detail {metric[len('recovery_'):]!r} (1 = perfect)"
    if m.endswith("_recovery"):
        return f"{metric[:-len('_recovery')].replace('_', ' ')} part of the detail recovery (1 = perfect)"
    if m.endswith("_db"):
        return "in dB"
    if m.endswith("_s"):
        return "seconds"
    return ""


def _num(value: Any, metric: str = "") -> str:
    return esc(format_number(value, unit_of(metric)))


def _describe_operator(op: Mapping[str, Any]) -> str:
    if not op:
        return "unknown operator"
    parts = [str(op.get("type", "operator"))]
    shape = op.get("image_shape")
    if isinstance(shape, (list, tuple)) and shape:
        parts.append("image " + "×".join(str(s) for s in shape))
    if is_number(op.get("rate")):
        parts.append(f"rate {float(op['rate']):.3g}")
    for k in ("pattern", "coils", "angles", "n_angles", "dtype", "device"):
        if k in op and op[k] not in (None, ""):
            parts.append(f"{k} {op[k]}")
    return ", ".join(parts)


def _threshold_text(record: Mapping[str, Any]) -> str:
    thr = key_threshold(record)
    if not thr:
        return "–"
    return f"{thr[0]} {'≤' if thr[1] == '<=' else '≥'} {format_number(thr[2], unit_of(record.get('key_metric', '')))}"


def _verdict(record: Mapping[str, Any]) -> str:
    v = "passed" if record.get("passed") else "failed"
    return f'<span class="verdict {v}">{v.upper()}</span>'


def _summary_table(records: list[Mapping[str, Any]]) -> str:
    rows = []
    for i, r in enumerate(records):
        key = str(r.get("key_metric", ""))
        base = (r.get("baseline") or {})
        base_text = _num(base[key], key) if key in base else "–"
        rows.append(
            "<tr>"
            f'<td><a href="#check-{i}">{esc(r.get("name") or short_name(str(r.get("nodeid", ""))))}</a>'
            f'<div class="help mono">{esc(r.get("nodeid", ""))}</div></td>'
            f'<td><span class="tag">{esc(r.get("check", "?"))}</span></td>'
            f"<td>{esc(key)}</td>"
            f'<td class="num">{_num(key_value(r), key)}</td>'
            f'<td class="num">{esc(_threshold_text(r))}</td>'
            f'<td class="num">{base_text}</td>'
            f"<td>{_verdict(r)}</td>"
            "</tr>"
        )
    return (
        '<table class="summary"><thead><tr><th>test</th><th>check</th><th>key metric</th>'
        '<th class="num">network</th><th class="num">threshold</th><th class="num">CS baseline</th>'
        "<th>verdict</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _metrics_table(record: Mapping[str, Any]) -> str:
    metrics = record.get("metrics") or {}
    baseline = record.get("baseline") or {}
    thresholds = dict(record.get("thresholds") or {})
    key = record.get("key_metric")
    # Attach each threshold to the metric it limits, so a row reads "value / limit".
    limit_of: dict[str, str] = {}
    for metric, (tname, op) in KEY_THRESHOLDS.items():
        if tname in thresholds:
            limit_of[metric] = f"{'≤' if op == '<=' else '≥'} {format_number(thresholds.pop(tname), unit_of(metric))}"
    for tname in list(thresholds):
        for prefix, sym in (("max_", "≤"), ("min_", "≥")):
            target = tname[len(prefix):]
            if tname.startswith(prefix) and target in metrics and target not in limit_of:
                limit_of[target] = f"{sym} {format_number(thresholds.pop(tname), unit_of(target))}"
    for tname in list(thresholds):  # a limit named like its metric (e.g. eps)
        if tname in metrics and tname not in limit_of:
            sym = "≥" if better_of(record, tname) == "higher" else "≤"
            limit_of[tname] = f"{sym} {format_number(thresholds.pop(tname), unit_of(tname))}"
    rows = []
    for name in list(metrics) + [m for m in baseline if m not in metrics]:
        cls = ' class="key"' if name == key else ""
        value = _num(metrics[name], name) if name in metrics else "–"
        base = _num(baseline[name], name) if name in baseline else "–"
        rows.append(
            f"<tr{cls}><td><code>{esc(name)}</code>{' <b>(key)</b>' if name == key else ''}"
            f'<div class="help">{esc(_metric_help(name))}</div></td>'
            f'<td class="num">{value}</td><td class="num">{base}</td>'
            f'<td class="num">{esc(limit_of.get(name, "–"))}</td></tr>'
        )
    for tname, tvalue in thresholds.items():  # limits not tied to a reported metric (margins, etc.)
        rows.append(
            f'<tr><td><code>{esc(tname)}</code><div class="help">{esc(_metric_help(tname) or "setting / limit")}</div></td>'
            f'<td class="num">–</td><td class="num">–</td><td class="num">{_num(tvalue, tname)}</td></tr>'
        )
    if not rows:
        return '<p class="none">No metrics reported.</p>'
    return (
        '<table><thead><tr><th>metric</th><th class="num">network</th><th class="num">CS baseline</th>'
        '<th class="num">threshold</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>"
    )


def _kv(items: Iterable[tuple[str, Any]], fold: int = 120) -> str:
    """A definition list; values longer than ``fold`` characters are folded into a ``<details>``."""
    body = []
    for k, v in items:
        if isinstance(v, (dict, list)):
            v = json.dumps(v, ensure_ascii=False, default=str)
        elif isinstance(v, float):
            v = format_number(v)
        text = str(v)
        if len(text) > fold:
            shown = (f'<details><summary>{esc(text[: fold // 2])}…</summary>'
                     f'<code class="long">{esc(text)}</code></details>')
        else:
            shown = esc(text)
        body.append(f"<dt>{esc(k)}</dt><dd>{shown}</dd>")
    return '<dl class="kv">' + "".join(body) + "</dl>"


def _per_image(record: Mapping[str, Any]) -> str:
    rows = record.get("per_image") or []
    if not rows:
        return ""
    cols = list(dict.fromkeys(k for row in rows for k in row))
    shown = rows[:100]
    head = "".join(f'<th class="num">{esc(c)}</th>' for c in cols)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{_num(row.get(c), c)}</td>' for c in cols) + "</tr>" for row in shown
    )
    more = f'<p class="help">first {len(shown)} of {len(rows)} images</p>' if len(rows) > len(shown) else ""
    return (f"<details><summary>Per-image values ({len(rows)} image{'s' if len(rows) != 1 else ''})</summary>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}</details>")


def _figures(record: Mapping[str, Any]) -> str:
    artifacts = record.get("artifacts") or {}
    out = []
    captions = {
        "panel": "Images in rows, each row on one intensity scale; differences and perturbations in colour "
                 "(colour bar in the image's units).",
        "curves": "Quality against sampling rate; the dashed line marks the rate the network was trained for.",
    }
    for key in ("panel", "curves"):
        uri = _png_data_uri(artifacts.get(key))
        if uri:
            out.append(f'<figure><img src="{uri}" alt="{esc(key)} of {esc(record.get("check", ""))}">'
                       f"<figcaption>{esc(captions[key])}</figcaption></figure>")
    if not out:
        why = record.get("artifact_error") or ("No images were saved for this check (by default only failed "
                                               "checks save them; run with --invstab-save=all to keep every one).")
        out.append(f'<p class="none">{esc(why)}</p>')
    return "".join(out)


def _check_section(i: int, record: Mapping[str, Any]) -> str:
    verdict = "passed" if record.get("passed") else "failed"
    check = str(record.get("check", "?"))
    settings = dict(record.get("settings") or {})
    timings = record.get("timings") or {}
    details = [("seed", record.get("seed")), ("model", record.get("model") or "–"),
               ("operator", _describe_operator(record.get("operator") or {}))]
    details += [(k, v) for k, v in settings.items()]
    if is_number(timings.get("total_s")):
        details.append(("time", f"{float(timings['total_s']):.2f} s"))
    index = int(record.get("index", 0) or 0)
    return (
        f'<section class="check {verdict}" id="check-{i}"><header>'
        f"<h3>{esc(record.get('name') or short_name(str(record.get('nodeid', ''))))}"
        f"{esc(f' #{index}') if index else ''}</h3>"
        f'<span class="tag">{esc(check)}</span>{_verdict(record)}'
        f'<div class="nodeid mono">{esc(record.get("nodeid", ""))}</div></header>'
        f'<div class="body"><p class="message">{esc(record.get("message", ""))}</p>'
        f'<div class="cols"><div><h4>Metrics</h4>{_metrics_table(record)}</div>'
        f"<div><h4>Settings</h4>{_kv(details)}</div></div>"
        f"{_per_image(record)}{_figures(record)}</div></section>"
    )


def _explanations(records: list[Mapping[str, Any]]) -> str:
    checks = list(dict.fromkeys(str(r.get("check")) for r in records))
    items = []
    for c in checks:
        if c in CHECK_HELP:
            title, text = CHECK_HELP[c]
            # CHECK_HELP is our own trusted markup (bold units); record text is never inserted here.
            items.append(f"<dt><code>{esc(c)}</code> — {esc(title)}</dt><dd>{text}</dd>")
    items.append(
        "<dt>CS baseline</dt><dd>A compressed-sensing reconstruction (l1-wavelet by FISTA or total variation) "
        "on exactly the same data. It is stable by construction, so it shows what a stable method does on "
        "the same problem.</dd>"
    )
    items.append(
        "<dt>Seed</dt><dd>Every random choice comes from the seed shown with each check; the same seed and "
        "versions reproduce the same numbers.</dd>"
    )
    return ('<section class="explain"><h2>How to read this report</h2><p>These checks follow Antun et al., '
            "“On instabilities of deep learning in image reconstruction and the potential costs of AI”, "
            "PNAS 117(48), 2020.</p><dl>" + "".join(items) + "</dl></section>")


def render_html(records: Iterable[Mapping[str, Any]], meta: Mapping[str, Any] | None = None,
                title: str = "pytest-invstab report") -> str:
    """The report page as a string (see ``write_html``)."""
    recs = [dict(r) for r in records]
    meta = dict(meta or {})
    t = totals(recs)
    if not recs:
        banner = '<div class="banner pass">No stability checks ran.</div>'
    elif t["failed"]:
        banner = (f'<div class="banner fail">{t["failed"]} of {t["checks"]} check{"s" if t["checks"] != 1 else ""} '
                  f"failed · {t['passed']} passed</div>")
    else:
        banner = f'<div class="banner pass">All {t["checks"]} check{"s" if t["checks"] != 1 else ""} passed</div>'
    models = list(dict.fromkeys(str(r.get("model") or "unnamed model") for r in recs))
    operators = list(dict.fromkeys(_describe_operator(r.get("operator") or {}) for r in recs))
    versions = meta.get("versions") or (recs[0].get("versions") if recs else {}) or {}
    info: list[tuple[str, Any]] = [
        ("networks tested", "; ".join(models) or "–"),
        ("operators", "; ".join(operators) or "–"),
        ("checks", f"{t['checks']} ({t['passed']} passed, {t['failed']} failed)"),
    ]
    for k in ("started", "finished"):
        if meta.get(k):
            info.append((k, meta[k]))
    if is_number(meta.get("duration_s")):
        info.append(("duration", f"{float(meta['duration_s']):.1f} s"))
    if versions:
        info.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    meta_html = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in info)
    options = meta.get("options") or {}
    options_html = (f"<details><summary>Options of this run</summary>{_kv(options.items())}</details>"
                    if options else "")
    sections = "".join(_check_section(i, r) for i, r in enumerate(recs))
    version = versions.get("pytest_invstab", "")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>{esc(title)}</h1>"
        '<p class="subtitle">Stability of image-reconstruction networks: tiny worst-case perturbations, '
        "small structural changes and more samples.</p>"
        f'{banner}<dl class="meta">{meta_html}</dl>{options_html}'
        f"{_explanations(recs)}"
        + (f"<h2>Summary</h2>{_summary_table(recs)}<h2>Checks</h2>{sections}" if recs else "")
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


__all__ = ["CHECK_HELP", "esc", "render_html", "write_html"]
