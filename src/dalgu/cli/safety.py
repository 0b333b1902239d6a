"""`dalgu safety`: generate scenarios and measure the safety service's detection on them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from dalgu.safety.evaluation import Report

safety = typer.Typer(
    help="Healthcare-linked vehicle safety: scenarios and detection quality.",
    no_args_is_help=True,
)
console = Console()
OutOption = typer.Option(..., "--out", "-o", help="Directory to write scenarios into.")
ScenariosOption = typer.Option(..., "--scenarios", "-s", help="A directory of scenarios.")
JsonOption = typer.Option(None, "--json", help="Write the figures as JSON here.")


def parse_seeds(text: str) -> list[int]:
    """`5000-5039`, `7,8,9` or a mix: `1000-1009,1500`."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            if int(high or low) < int(low):
                raise typer.BadParameter(f"{part.strip()!r} is a reversed range")
            seeds.extend(range(int(low), int(high or low) + 1))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a list of seeds like 5000-5039") from None
    return seeds


@safety.command("generate")
def generate(
    out: Path = OutOption,
    seeds: str = typer.Option("5000-5039", help="Seeds: 5000-5039 (held out), 1000-1039 (tuning)."),
    duration: float = typer.Option(
        1800.0,
        min=900.0,
        help="Seconds of each drive (one with a medical emergency ends one to two minutes "
        "after it: its labels give its own duration).",
    ),
    mix: str = typer.Option(
        "mixed",
        help="mixed, drowsy, medical, quiet, early (an emergency in the first ten minutes) or "
        "tired (a drowsy episode from the first minutes).",
    ),
) -> None:
    """Write seeded scenarios (signals JSON Lines and labels) into a directory."""
    from dalgu.safety.generator import generate_scenario
    from dalgu.safety.scenario import write_scenario

    if mix not in ("mixed", "drowsy", "medical", "quiet", "early", "tired"):
        raise typer.BadParameter("mix is mixed, drowsy, medical, quiet, early or tired")
    from dalgu.safety.campaign import split_of

    if out.exists() and not out.is_dir():
        raise typer.BadParameter(f"{out} is a file, not a directory", param_hint="--out")
    chosen = parse_seeds(seeds)
    outside = [seed for seed in chosen if split_of(seed) == "unknown"]
    if outside:
        console.print(
            f"[yellow]note[/]: {len(outside)} seeds ({outside[0]}…) are in neither the tuning "
            "(1000-1999) nor the held-out (5000-8999) range: evaluate reports them as unknown"
        )
    for seed in chosen:
        write_scenario(out, generate_scenario(seed, duration=duration, mix=mix))
    console.print(f"{len(chosen)} scenarios written to {out}")


GatewayOption = typer.Option(
    False,
    "--through-gateway",
    help="Replay over MQTT into a running Dalgu (DALGU_SAFETY=true) at the drives' own pace.",
)

BaselinesOption = typer.Option(
    None,
    "--baselines-from",
    help="Drives (a scenarios directory) from which each driver's awake baseline is learnt "
    "first, as the live service keeps it: each drive evaluated is read against its driver's "
    "from its first second.",
)


@safety.command("evaluate")
def evaluate(
    scenarios: Path = ScenariosOption,
    workers: int = typer.Option(0, min=0, help="Worker processes (0: one per core)."),
    json_out: Path | None = JsonOption,
    check: bool = typer.Option(False, help="Exit 1 when a target is missed."),
    through_gateway: bool = GatewayOption,
    speed: float = typer.Option(1.0, min=0.1, help="With --through-gateway: ×the drives' pace."),
    api: str = typer.Option(
        "http://127.0.0.1:1026",
        help="With --through-gateway: the server's base URL (or its /ngsi-ld/v1 root).",
    ),
    north: str = typer.Option("http://127.0.0.1:4041", help="Provisioning API (IoT Agent)."),
    mqtt_host: str = typer.Option("127.0.0.1", help="The broker the gateway listens to."),
    mqtt_port: int = typer.Option(1884, help="Its port (1884: Dalgu's embedded broker)."),
    baselines_from: Path | None = BaselinesOption,
    details: bool = typer.Option(
        False, "--details", help="List each drive's alerts, detections and misses."
    ),
) -> None:
    """Replay scenarios through the detectors and the threshold baseline; print the figures."""
    from dalgu.errors import DalguError
    from dalgu.safety.campaign import evaluate_files, learn_baselines
    from dalgu.safety.evaluation import Targets
    from dalgu.safety.scenario import scenario_files

    try:
        paths = scenario_files(scenarios)
        if not paths:
            raise typer.BadParameter(f"no *.jsonl scenarios in {scenarios}")
        processes = workers or os.cpu_count() or 1
        baselines = None
        if baselines_from is not None:
            awake = scenario_files(baselines_from)
            if not awake:
                raise typer.BadParameter(f"no *.jsonl scenarios in {baselines_from}")
            baselines = learn_baselines(awake, processes)
            console.print(
                f"drivers' baselines: {len(baselines)} drivers, from {len(awake)} drives of "
                f"{baselines_from}"
            )
        result = evaluate_files(paths, processes, baselines)
        if baselines is not None:
            lacking = sum(1 for o in result.outcomes if any("no baseline" in n for n in o.notes))
            console.print(
                f"{len(paths) - lacking} of {len(paths)} drives read against a stored baseline"
            )
        live = (
            _through_gateway(paths, speed, api, north, mqtt_host, mqtt_port)
            if through_gateway
            else None
        )
    except DalguError as error:
        raise typer.BadParameter(error.detail) from None
    splits = ", ".join(f"{n} {name}" for name, n in result.splits.items())
    console.print(
        f"{len(paths)} scenarios, {result.detectors.hours:.1f} driving hours, "
        f"seeds: {result.split} set ({splits})"
    )
    for outcome in result.outcomes:
        for note in outcome.notes:
            console.print(f"[yellow]note[/] {outcome.scenario}: {note}", highlight=False)
    if details:
        for outcome in result.outcomes:
            for line in _details(outcome):
                console.print(line, highlight=False, markup=False)
    shown = [("Dalgu detectors", result.detectors), ("threshold baseline", result.baseline)]
    if live is not None:
        shown.insert(0, (f"Dalgu through the gateway (×{speed:g})", live))
        shown[1] = ("Dalgu detectors in process (the same drives)", result.detectors)
    for name, figures in shown:
        console.print(_table(name, figures))
    checks = Targets().check(live if live is not None else result.detectors)
    missed = [name for name, (_, _, met) in checks.items() if met is False]
    for name, (value, bar, met) in checks.items():
        if met is None:
            console.print(f"  [yellow]n/a   [/] {name}: no such events (bar {bar:g})")
            continue
        text = "-" if value is None else f"{value:.2f}"
        colour = "green" if met else "red"
        console.print(f"  [{colour}]{'met ' if met else 'MISSED'}[/] {name}: {text} (bar {bar:g})")
    if json_out is not None:
        document = _document(result, checks)
        if live is not None:
            document["throughGateway"] = _rows(live)
        json_out.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    raise typer.Exit(1 if check and missed else 0)


ModelOutOption = typer.Option(
    None, "--out", "-o", help="Where to write the model (default: the one the detector reads)."
)


@safety.command("fit-drowsiness")
def fit_drowsiness(
    scenarios: Path = ScenariosOption,
    out: Path | None = ModelOutOption,
    false_alarms: float = typer.Option(
        0.25, min=0.0, help="Most false alarms per driving hour allowed on the tuning drives."
    ),
    workers: int = typer.Option(0, min=0, help="Worker processes (0: one per core)."),
) -> None:
    """Learn the drowsiness model from TUNING drives only (seeds 1000-1999; others are refused)."""
    from dalgu.errors import DalguError
    from dalgu.safety.detectors.drowsiness_model import MODEL_FILE
    from dalgu.safety.scenario import scenario_files
    from dalgu.safety.training import fit, record_files

    try:
        paths = scenario_files(scenarios)
        if not paths:
            raise typer.BadParameter(f"no *.jsonl scenarios in {scenarios}")
        recordings = record_files(paths, workers or os.cpu_count() or 1)
        seeds = sorted(r.seed for r in recordings if r.seed is not None)
        model = fit(recordings, _seed_ranges(seeds), false_alarms)
    except DalguError as error:
        raise typer.BadParameter(error.detail) from None
    target = out or MODEL_FILE
    target.write_bytes(model.to_json() + b"\n")
    console.print(
        f"{len(recordings)} tuning drives ({model.fitted_on}): drift {model.drift:g}, "
        f"limit {model.limit:g}; written to {target}"
    )
    for name, value in model.tuning.items():
        console.print(f"  {name}: {value:g}")


def _seed_ranges(seeds: list[int]) -> str:
    """1000,1001,1002,1005 -> 1000-1002,1005."""
    parts: list[str] = []
    for seed in seeds:
        if parts and seed == int(parts[-1].rpartition("-")[2] or parts[-1]) + 1:
            low = parts[-1].partition("-")[0]
            parts[-1] = f"{low}-{seed}"
        else:
            parts.append(str(seed))
    return ",".join(parts)


def _through_gateway(
    paths: list[Path], speed: float, api: str, north: str, host: str, port: int
) -> Report:
    import asyncio

    from rich.progress import BarColumn, Progress, TextColumn

    from dalgu.safety.evaluation import report
    from dalgu.safety.gateway_replay import replay_through_gateway
    from dalgu.safety.scenario import read_scenario
    from dalgu.testbed.simulator import Endpoints

    scenarios = [read_scenario(p) for p in paths]
    with Progress(
        TextColumn(f"{len(scenarios)} drives over MQTT ×{speed:g}"), BarColumn(), console=console
    ) as bar:
        task = bar.add_task("replay", total=max(s.labels.duration for s in scenarios))
        outcomes = asyncio.run(
            replay_through_gateway(
                scenarios,
                endpoints=Endpoints(host=host, mqtt_port=port),
                api=ngsi_ld_api(api),
                north=north.rstrip("/"),
                speed=speed,
                progress=lambda second, _: bar.update(task, completed=second),
            )
        )
    return report(outcomes)


def ngsi_ld_api(api: str) -> str:
    """The NGSI-LD API's root from --api, given as the server's base URL or as that root (the
    root was doubled, every read was a 404, and the replay failed after five minutes)."""
    return f"{api.rstrip('/').removesuffix('/ngsi-ld/v1')}/ngsi-ld/v1"


def _table(title: str, figures: object) -> Table:
    from dalgu.safety.evaluation import Report

    assert isinstance(figures, Report)
    table = Table(title=title)
    for column in (
        "event",
        "events",
        "recall",
        "precision",
        "F1",
        "false alarms/h",
        "p50 s",
        "p95 s",
    ):
        table.add_column(column, justify="right" if column != "event" else "left")
    for row, f in figures.rows.items():
        table.add_row(
            row,
            str(f.events),
            f"{f.recall:.2f}" if f.events else "-",
            f"{f.precision:.2f}" if f.scores_alerts and f.alerts else "-",
            f"{f.f1:.2f}" if f.scores_alerts and f.alerts and f.events else "-",
            f"{f.false_alarms_per_hour:.2f}" if f.scores_alerts else "-",
            "-" if f.latency_p50 is None else f"{f.latency_p50:.1f}",
            "-" if f.latency_p95 is None else f"{f.latency_p95:.1f}",
        )
    return table


def _document(
    result: object, checks: dict[str, tuple[float | None, float, bool | None]]
) -> dict[str, object]:
    from dalgu.safety.campaign import CampaignResult

    assert isinstance(result, CampaignResult)
    return {
        "split": result.split,
        "splits": result.splits,
        "seeds": list(result.seeds),
        "drives": [_drive(o) for o in result.outcomes],
        "hours": result.detectors.hours,
        "detectors": _rows(result.detectors),
        "baseline": _rows(result.baseline),
        "targets": {k: {"measured": v, "bar": b, "met": m} for k, (v, b, m) in checks.items()},
    }


def _rows(report: object) -> dict[str, object]:
    from dalgu.safety.evaluation import Report

    assert isinstance(report, Report)
    return {
        name: {
            "events": f.events,
            "recall": f.recall if f.events else None,
            "precision": f.precision if f.alerts else None,
            "f1": f.f1 if f.events and f.alerts else None,
            "falseAlarms": f.false_alarms,
            "falseAlarmsPerHour": f.false_alarms_per_hour,
            "latencyP50": f.latency_p50,
            "latencyP95": f.latency_p95,
        }
        for name, f in report.rows.items()
    }


def _details(outcome: object) -> list[str]:
    """A drive's events found (with the alert's time) and missed, and its false alarms."""
    from dalgu.safety.evaluation import Outcome

    assert isinstance(outcome, Outcome)
    lines = [f"{outcome.scenario}:"]
    for e, latency in outcome.detected:
        lines.append(f"  found  {e.type} at {e.onset:g} s, alerted {latency:.1f} s after")
    for e in outcome.missed:
        lines.append(f"  MISSED {e.type} at {e.onset:g} s")
    for a in outcome.false_alerts:
        lines.append(f"  false  {a.type}/{a.subtype} raised at {a.raised:.1f} s")
    return lines


def _drive(outcome: object) -> dict[str, object]:
    from dalgu.safety.evaluation import Outcome

    assert isinstance(outcome, Outcome)

    def event(e: object, latency: float | None = None) -> dict[str, object]:
        from dalgu.safety.scenario import Event

        assert isinstance(e, Event)
        found = {"type": e.type, "subtype": e.detail.get("subtype"), "onset": e.onset}
        return found if latency is None else {**found, "latency": latency}

    return {
        "scenario": outcome.scenario,
        "notes": outcome.notes,
        "detected": [event(e, latency) for e, latency in outcome.detected],
        "missed": [event(e) for e in outcome.missed],
        "falseAlarms": [
            {"type": a.type, "subtype": a.subtype, "onset": a.onset, "raised": a.raised}
            for a in outcome.false_alerts
        ],
        "alerts": [
            {"type": a.type, "subtype": a.subtype, "raised": a.raised, "severity": a.severity}
            for a in sorted([*outcome.true_alerts, *outcome.false_alerts], key=lambda a: a.raised)
        ],
    }
