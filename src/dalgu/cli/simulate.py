"""`dalgu simulate`: a fleet of virtual devices over MQTT, HTTP or CoAP, with a progress bar."""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from dalgu.testbed.profile import DeviceProfile
from dalgu.testbed.simulator import Endpoints, Faults, FleetReport, provision, run_fleet


def simulate(
    console: Console,
    profile: DeviceProfile,
    *,
    apikey: str,
    tenant: str,
    devices: int,
    rate: float,
    duration: float,
    transport: str | None,
    endpoints: Endpoints,
    faults: Faults,
    seed: int,
    provision_group: bool,
) -> FleetReport:
    kind = transport or profile.transport
    with Progress(
        TextColumn(f"[bold]{profile.name}[/] × {devices} over {kind}"),
        BarColumn(),
        TextColumn("{task.fields[sent]} sent, {task.fields[failed]} failed"),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("fleet", total=duration, sent=0, failed=0)

        def progress(elapsed: float, report: FleetReport) -> None:
            bar.update(
                task, completed=min(elapsed, duration), sent=report.sent, failed=report.failed
            )

        async def run() -> FleetReport:
            if provision_group:
                await provision(profile, apikey, endpoints, tenant)
            return await run_fleet(
                profile,
                apikey=apikey,
                devices=devices,
                rate=rate,
                duration=duration,
                transport=kind,
                endpoints=endpoints,
                faults=faults,
                seed=seed,
                progress=progress,
            )

        report = asyncio.run(run())
    table = Table(title=f"{profile.name}: {devices} virtual devices, {rate:g} messages/s")
    for column in ("sent", "failed", "malformed", "silent", "send p50", "send p99"):
        table.add_column(column, justify="right")
    table.add_row(
        str(report.sent),
        str(report.failed),
        str(report.malformed),
        str(report.silent),
        f"{report.percentile(0.5) * 1000:.1f} ms",
        f"{report.percentile(0.99) * 1000:.1f} ms",
    )
    console.print(table)
    for reason, count in report.errors.most_common(5):
        console.print(f"  {count} × {reason}")
    return report
