"""One check's section of the HTML report: verdict line, message, metrics (per-rate metrics as one table), figures."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Iterable, Mapping

from .html_text import describe_operator, esc
from .records import (
    KEY_THRESHOLDS,
    METRIC_HELP,
    better_of,
    failed_criteria,
    format_number,
    is_number,
    key_threshold,
    key_value,
    network_id,
    short_name,
    status_of,
    unit_of,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STATUS_WORD = {"passed": "PASSED", "failed": "FAILED", "expected": "EXPECTED (xfail)"}


def _rate_metric(name: str) -> bool:
    """``psnr@0.25``-like names: one value per sampling rate, shown together in ``rate_table``."""
    family, at, rate = name.partition("@")
    return bool(at and family and rate)


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


def _threshold_text(record: Mapping[str, Any]) -> str:
    thr = key_threshold(record)
    if not thr:
        return "–"
    return f"{thr[0]} {'≤' if thr[1] == '<=' else '≥'} {format_number(thr[2], unit_of(record.get('key_metric', '')))}"


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
    for name in [m for m in list(metrics) + [m for m in baseline if m not in metrics] if not _rate_metric(m)]:
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
        '<table class="metrics"><thead><tr><th>metric</th><th class="num">network</th><th class="num">CS baseline</th>'
        '<th class="num">threshold</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>"
    )


def kv_list(items: Iterable[tuple[str, Any]], fold: int = 120) -> str:
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
                 "(colour bars in the image's units; an amplified perturbation's bar says by how much).",
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


def verdict_badge(record: Mapping[str, Any]) -> str:
    """``<span class="verdict failed">FAILED</span>`` (``expected`` for a failure in an xfail test)."""
    status = status_of(record)
    return f'<span class="verdict {status}">{STATUS_WORD[status]}</span>'


def _rate_label(record: Mapping[str, Any], rates: list[str]) -> list[str]:
    ops = (record.get("settings") or {}).get("operators") or []
    if len(ops) == len(rates) and all(isinstance(o, dict) and is_number(o.get("n_angles")) for o in ops):
        return [f"{int(o['n_angles'])} angles" for o in ops]
    return [f"rate {r}" for r in rates]


def rate_table(record: Mapping[str, Any]) -> str:
    """Per-rate metrics (``psnr@0.25``, ``ssim@0.25``, ...) as one table: a column per rate, rows per metric."""
    metrics, baseline = record.get("metrics") or {}, record.get("baseline") or {}
    names = [m for m in list(metrics) + [m for m in baseline if m not in metrics] if _rate_metric(m)]
    if not names:
        return ""
    families = list(dict.fromkeys(m.partition("@")[0] for m in names))
    rates = list(dict.fromkeys(m.partition("@")[2] for m in names))
    head = "".join(f'<th class="num">{esc(label)}</th>' for label in _rate_label(record, rates))
    body = []
    for family in families:
        for who, values in (("network", metrics), ("CS baseline", baseline)):
            cells = [values.get(f"{family}@{r}") for r in rates]
            if all(c is None for c in cells) and who != "network":
                continue
            unit = unit_of(family)
            body.append(f"<tr><td><code>{esc(family)}</code> {esc(who)}{f' ({unit})' if unit else ''}</td>"
                        + "".join(f'<td class="num">{esc(format_number(c)) if c is not None else "–"}</td>'
                                  for c in cells) + "</tr>")
    return (f'<table class="rates"><thead><tr><th>per rate (mean over images)</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def summary_line(record: Mapping[str, Any]) -> str:
    """The check's one line: verdict, test, check, key number against its limit, baseline, failed criterion."""
    key = str(record.get("key_metric", ""))
    base = (record.get("baseline") or {}).get(key)
    crit = failed_criteria(record)
    seconds = (record.get("timings") or {}).get("total_s")
    parts = [verdict_badge(record), f"<b>{esc(record.get('name') or short_name(str(record.get('nodeid', ''))))}</b>",
             f'<span class="tag">{esc(record.get("check", "?"))}</span>',
             f"{esc(key)} <b>{_num(key_value(record), key)}</b> ({esc(_threshold_text(record))})"]
    if is_number(base):
        parts.append(f"CS baseline {_num(base, key)}")
    if crit:
        parts.append(f'<span class="crit">failed on {esc(", ".join(crit))}</span>')
    if is_number(seconds):
        parts.append(f'<span class="help">{float(seconds):.1f} s</span>')
    return " ".join(parts)


def check_section(i: int, record: Mapping[str, Any]) -> str:
    """A ``<section id="check-i">`` holding a ``<details>``: open for failed and expected checks."""
    status = status_of(record)
    settings = dict(record.get("settings") or {})
    settings.pop("operators", None)  # one description per rate: the rate table says what matters
    details = [("seed", record.get("seed")), ("network", network_id(record)), ("model", record.get("model") or "–"),
               ("operator", describe_operator(record.get("operator") or {})), ("test", record.get("nodeid", ""))]
    details += [(k, v) for k, v in settings.items()]
    opened = " open" if status != "passed" else ""
    index = int(record.get("index", 0) or 0)
    return (
        f'<section class="check {status}" id="check-{i}"><details{opened}><summary>{summary_line(record)}'
        f"{esc(f' #{index}') if index else ''}</summary>"
        f'<div class="body"><p class="message">{esc(record.get("message", ""))}</p>'
        f'<div class="cols"><div>{_metrics_table(record)}{rate_table(record)}'
        f"<details><summary>Settings</summary>{kv_list(details)}</details>{_per_image(record)}</div>"
        f"<div>{_figures(record)}</div></div></div></details></section>"
    )


__all__ = ["check_section", "kv_list", "rate_table", "summary_line", "verdict_badge"]
