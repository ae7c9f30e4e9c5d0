"""The results writer: ``results.json`` (everything measured) and ``results.md`` (the tables)."""

import json
from pathlib import Path
from typing import Any

from bench import fig_agenda, fig_brief

SHARED_NOTE = (
    "This 2-core machine is shared (its load average before and after the run is below), so absolute "
    "milliseconds vary from run to run; every figure is therefore given as a ratio to a floor measured in "
    "the same run, in alternating rounds where possible."
)


def _pcts(s: dict[str, Any]) -> str:
    return f"{s['p50']:.2f} / {s['p90']:.2f} / {s['p99']:.2f}"


def render(results: dict[str, Any]) -> str:
    run, lines = results["run"], []
    lines += [f"# Benchmark results ({run['mode']})", ""]
    lines += [f"Run {run['started']} UTC, {run['seconds']:.0f} s, `{run['command']}`. {SHARED_NOTE}", ""]
    m = run["machine"]
    lines += [
        f"Machine: {m['cpu']} × {m['cores']} cores, {m['memory_gib']} GiB; load average "
        f"{m['load_before']} before, {m['load_after']} after. {m['versions']}.",
        "",
        "Latencies in ms (p50 / p90 / p99); ratio = service p50 ÷ floor p50 measured in the same run.",
        "",
    ]
    if read := results.get("read"):
        lines += ["## 1. Read path: `GET /api/sessions?childId=` (12 sessions)", ""]
        lines += ["| Clients | Service | Bare FastAPI + asyncpg, same SQL | Ratio p50 | Throughput (service / floor) |"]
        lines += ["|---|---|---|---|---|"]
        for key, f in read.items():
            tput = f"{f['service']['per_second']:.0f} / {f['floor']['per_second']:.0f} /s ({f['throughput_share']:.0%})"
            lines += [
                f"| {key.split('_')[1]} | {_pcts(f['service'])} | {_pcts(f['floor'])} | {f['ratio_p50']}× | {tput} |"
            ]
        lines += ["", "Target: p50 ≤ 1.2×, throughput ≥ 80% of the bare app.", ""]
    if action := results.get("action"):
        lines += ["## 2. Action round trip", ""]
        lines += [
            "| Action | Service | Floor: update-with-start → local activity, same transaction | Ratio | Transaction alone | Ratio |"
        ]
        lines += ["|---|---|---|---|---|---|"]
        for name, f in action.items():
            lines += [
                f"| {name} | {_pcts(f['service'])} | {_pcts(f['floor'])} | {f['ratio_p50_vs_floor']}× "
                f"| {_pcts(f['tx'])} | {f['ratio_p50_vs_tx']}× |"
            ]
        lines += ["", "Target: p50 ≤ 1.3× the floor.", "", "### Where the time goes (p50 differences, ms)", ""]
        lines += [
            "| Action | HTTP + auth + API read | SessionWorkflow vs bare workflow | Sandbox (bare) | Temporal round trip + local activity | SQL transaction |"
        ]
        lines += ["|---|---|---|---|---|---|"]
        for name, f in action.items():
            if "direct" not in f:
                continue  # an A/B run has no ``direct`` variant
            p = {k: f[k]["p50"] for k in ("service", "direct", "floor", "floor_unsandboxed", "tx")}
            lines += [
                f"| {name} | {p['service'] - p['direct']:.2f} | {p['direct'] - p['floor']:.2f} "
                f"| {p['floor'] - p['floor_unsandboxed']:.2f} | {p['floor_unsandboxed'] - p['tx']:.2f} | {p['tx']:.2f} |"
            ]
        lines += ["", "History after the action (one workflow each):", ""]
        lines += ["| Action | Service events / bytes | Floor events / bytes |", "|---|---|---|"]
        for name, f in action.items():
            h = f["history"]
            lines += [
                f"| {name} | {h['service']['events']} / {h['service']['bytes']} | {h['floor']['events']} / {h['floor']['bytes']} |"
            ]
        lines += [""]
    for who, prof in (results.get("profile") or {}).items():
        if "layers_pct" not in prof:
            lines += [f"Profile of the {who}: {prof.get('error', 'no samples')}", ""]
            continue
        layers = ", ".join(f"{k} {v}%" for k, v in list(prof["layers_pct"].items())[:8])
        top = "; ".join(f"{k} {v}%" for k, v in prof["top_inclusive_pct"][:8])
        lines += [
            f"**Profile of the {who}** ({prof['samples']} samples, {prof.get('busy_cpu_share', '?')} of a core in Python): {layers}.",
            "",
        ]
        lines += [f"Hottest (inclusive): {top}.", ""]
    if flows := results.get("flows"):
        lines += ["## 3. Consent flows: request-cancel → signed Approve → `cancelled`", ""]
        lines += [
            "| Concurrency | Flows/s | Flow ms | request-cancel ms | CPU cores used (top) | Total cores |",
            "|---|---|---|---|---|---|",
        ]
        for key, f in flows["levels"].items():
            top = ", ".join(f"{k} {v}" for k, v in list(f["cpu_cores_used"].items())[:4])
            lines += [
                f"| {key.split('_')[1]} | {f['flows']['per_second']} | {_pcts(f['flows'])} | {_pcts(f['request_cancel'])} | {top} | {f['cpu_cores_total']} |"
            ]
        floor = flows["floor"]
        lines += [
            "",
            f"Floor, same server and run: one-activity workflows at concurrency {flows['floor_concurrency']}: "
            f"{floor['per_second']}/s (p50 {floor['p50']:.1f} ms). Best flows/s ÷ floor: {flows['ratio_best_to_floor']}. "
            "Target: ≥ half the SDK load test's 85/s.",
            "",
        ]
    if scale := results.get("scale"):
        lines += _scale(scale)
    if ref := results.get("before"):
        lines += [f"## A/B: this tree against `{ref}` (API + worker of each, same run, alternating)", ""]
        lines += ["| Path | Before p50 | After p50 | After ÷ before |", "|---|---|---|---|"]
        for key, f in (results.get("read") or {}).items():
            if "service_before" in f:
                lines += [
                    f"| read, {key.split('_')[1]} client(s) | {f['service_before']['p50']:.2f} | {f['service']['p50']:.2f} | {f['after_vs_before_p50']}× |"
                ]
        for name, f in (results.get("action") or {}).items():
            if "service_before" in f:
                lines += [
                    f"| {name} | {f['service_before']['p50']:.2f} | {f['service']['p50']:.2f} | {f['after_vs_before_p50']}× |"
                ]
        lines += [""]
    lines += fig_brief.render(results.get("brief"))
    lines += fig_agenda.render(results.get("agenda"))
    return "\n".join(lines)


def _scale(scale: dict[str, Any]) -> list[str]:
    """Figure 4: enrolment rate, memory against the number of sessions at rest, disk, paths afterwards."""
    cores = ", ".join(f"{k} {v}" for k, v in list(scale.get("cpu_cores_used", {}).items())[:4])
    lines = [f"## 4. Scale at rest: {scale['children']} children × 12 sessions", ""]
    lines += [
        f"Enrolled through the API ({scale.get('enroll_concurrency', 4)} at a time) in {scale['enroll_api_seconds']} s; "
        f"all {scale['sessions']} session workflows started after {scale.get('all_workflows_started_seconds', '?')} s "
        f"and at rest (through their first tasks: session loaded, timers armed, calendar event synced) after "
        f"{scale['all_workflows_running_seconds']} s: **{scale['session_workflows_per_second']} session workflows/s** "
        f"(CPU cores used meanwhile: {cores}; total {scale.get('cpu_cores_total', '?')} of 2). Disk per session: "
        f"Temporal SQLite {scale['temporal_sqlite_bytes_per_session']} B, PostgreSQL {scale['postgres_bytes_per_session']} B.",
        "",
        f"Worker workflow cache bound (`WORKER_MAX_CACHED_WORKFLOWS`): {scale.get('worker_max_cached_workflows', '?')}. "
        f"The last row is read after {scale.get('settle_seconds', '?')} s idle.",
        "",
        "| Sessions at rest | Seconds | Worker RSS MiB | Temporal RSS MiB |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {g['sessions']} | {g.get('seconds', '')} | {g['worker_rss_mib']} | {g['temporal_rss_mib']} |"
        for g in scale["memory"]
    ]
    rate, n = scale["session_workflows_per_second"], 120_000
    lines += [
        "",
        f"Extrapolated to 10,000 children ({n:,} session workflows; estimates, from this run): "
        f"{n} / {rate} per s = {n / rate / 3600:.1f} h of enrolment at this rate (paced; see bench/README.md), "
        f"{n} × {scale['temporal_sqlite_bytes_per_session']} B = {n * scale['temporal_sqlite_bytes_per_session'] / 1e9:.1f} GB "
        f"of Temporal SQLite, {n} × {scale['postgres_bytes_per_session']} B = "
        f"{n * scale['postgres_bytes_per_session'] / 1e6:.0f} MB of PostgreSQL; worker memory follows the cache "
        "bound, not the count.",
    ]
    prof = scale.get("worker_profile_while_enrolling") or {}
    if "layers_pct" in prof:
        layers = ", ".join(f"{k} {v}%" for k, v in list(prof["layers_pct"].items())[:8])
        lines += [
            "",
            f"Worker profile while enrolling ({prof['samples']} samples, {prof.get('busy_cpu_share', '?')} of a core in Python): {layers}.",
        ]
    after = scale["after"]
    lines += [
        "",
        f"Afterwards: read p50 {after['read']['service']['p50']:.2f} ms vs floor {after['read']['floor']['p50']:.2f} "
        f"({after['read']['ratio_p50']}×); reschedule p50 {after['action']['service']['p50']:.2f} ms vs floor "
        f"{after['action']['floor']['p50']:.2f} ({after['action']['ratio_p50_vs_floor']}×).",
        "",
    ]
    return lines


def write(results: dict[str, Any], md: Path, js: Path) -> None:
    js.write_text(json.dumps(results, indent=2, default=str) + "\n")
    md.write_text(render(results))
