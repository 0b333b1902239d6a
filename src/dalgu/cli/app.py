"""`dalgu`: run and operate the Dalgu city data hub."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="dalgu",
    help="Dalgu: a smart-city IoT testbed and city data hub on an ETSI NGSI-LD context broker.",
    no_args_is_help=True,
    add_completion=False,
)


def main() -> None:
    app()
