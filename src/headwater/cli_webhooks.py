"""`headwater webhooks unrouted`: what providers sent that matched no instance."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Providers' webhooks kept by this server.")


@app.command("unrouted")
def unrouted(
    limit: int = typer.Option(20, min=1, max=1000, help="How many, newest first."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Webhooks that matched no instance, with their headers and bodies as received (the API
    lists them without either: they belong to no organization)."""
    from headwater import unrouted as shown

    shown.show(limit=limit, json_output=json_output)
