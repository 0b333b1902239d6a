"""A conformance report as a readable, self-contained HTML page."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.4rem;
text-align:left;vertical-align:top}.pass{color:#176b2c;font-weight:600}
.fail{color:#a8071a;font-weight:600}.na{color:#777}code{font-size:.9em}
"""


def render_report(doc: dict[str, Any]) -> str:
    """HTML for a finished run's document (as `TestbedService.get` returns it)."""
    report = doc.get("report") or {}
    checks = report.get("checks", [])
    verdict = str(doc.get("verdict", "n/a"))
    rows = "".join(_row(check) for check in checks)
    refused = report.get("refused") or {}
    refused_html = (
        "<ul>" + "".join(f"<li>{escape(k)}: {v}</li>" for k, v in refused.items()) + "</ul>"
        if refused
        else "<p>none</p>"
    )
    by_device = report.get("refused_by_device") or {}
    if by_device:
        refused_html += (
            "<h2>Refused messages by device</h2><table><thead><tr><th>device</th>"
            "<th>refused</th><th>reasons</th></tr></thead><tbody>"
            + "".join(_refusals(device, reasons) for device, reasons in by_device.items())
            + "</tbody></table>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Conformance run {escape(str(doc.get("id", "")))}</title><style>{_STYLE}</style></head>
<body>
<h1>Conformance run: <span class="{_css(verdict)}">{escape(verdict.upper())}</span></h1>
{_incomplete(verdict, report.get("not_shown") or [])}
<p>Profile <code>{escape(str(doc.get("profile", "")))}</code>, API key
<code>{escape(str(doc.get("apikey", "")))}</code>; {report.get("messages", 0)} messages from
{report.get("devices", 0)} devices between {_time(report.get("started"))} and
{_time(report.get("ended"))}.</p>
<table><thead><tr><th>check</th><th>verdict</th><th>what was measured</th><th>examples</th></tr>
</thead><tbody>{rows}</tbody></table>
<h2>Refused messages by reason</h2>{refused_html}
<p><small>Run {escape(str(doc.get("id", "")))}, created {escape(str(doc.get("createdAt", "")))}
</small></p>
</body></html>
"""


def _row(check: dict[str, Any]) -> str:
    verdict = str(check.get("verdict", "n/a"))
    examples = "".join(f"<li><code>{escape(str(e))}</code></li>" for e in check.get("examples", []))
    return (
        f"<tr><td>{escape(str(check.get('name', '')))}</td>"
        f'<td class="{_css(verdict)}">{escape(verdict)}</td>'
        f"<td>{escape(str(check.get('summary', '')))}</td>"
        f"<td><ul>{examples}</ul></td></tr>"
    )


def _refusals(device: str, reasons: dict[str, int]) -> str:
    listed = ", ".join(f"{escape(reason)} {n}" for reason, n in reasons.items())
    return (
        f"<tr><td><code>{escape(device)}</code></td><td>{sum(reasons.values())}</td>"
        f"<td>{listed}</td></tr>"
    )


def _incomplete(verdict: str, not_shown: list[str]) -> str:
    if verdict != "incomplete":
        return ""
    names = ", ".join(escape(str(name)) for name in not_shown)
    return (
        f"<p>No check failed, but the run could not show {names}: run it longer, over "
        "several of the profile's intervals, with the devices sending.</p>"
    )


def _css(verdict: str) -> str:
    return {"pass": "pass", "fail": "fail"}.get(verdict, "na")


def _time(epoch: Any) -> str:
    if not isinstance(epoch, (int, float)):
        return "?"
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
