"""The ``headwater`` command line. Each command is a thin shell over a module that does the work."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from headwater import __version__, cli_rotate, cli_webhooks

if TYPE_CHECKING:
    from headwater.elements import registry

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Headwater: polls SaaS APIs and delivers their changes as signed, durable webhooks.",
)
users_app = typer.Typer(no_args_is_help=True, help="Organizations and users.")
db_app = typer.Typer(no_args_is_help=True, help="The database.")
sandbox_app = typer.Typer(no_args_is_help=True, help="Local stand-ins for providers.")
elements_app = typer.Typer(
    no_args_is_help=True,
    help="Elements (providers): those shipped and those in HEADWATER_ELEMENTS_PATH.",
)
app.add_typer(users_app, name="users")
app.add_typer(elements_app, name="elements")
app.add_typer(db_app, name="db")
app.add_typer(cli_rotate.key_app, name="secret-key")
app.add_typer(cli_webhooks.app, name="webhooks")
app.add_typer(sandbox_app, name="sandbox")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"headwater {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Headwater: polls SaaS APIs and delivers their changes as signed, durable webhooks."""


@app.command("settings")
def show_settings() -> None:
    """Print every HEADWATER_* setting with its default and meaning, as a Markdown table."""
    from headwater import settings

    typer.echo(settings.markdown_table(), nl=False)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: bool = typer.Option(True, "--workers/--no-workers", help="Run the workers too."),
) -> None:
    """Run the API, the UI and (unless --no-workers) the workers in one process."""
    from headwater import runtime

    runtime.serve(host=host, port=port, workers=workers)


@app.command()
def worker(
    metrics_port: int | None = typer.Option(
        None, help="Serve this worker's Prometheus metrics at /metrics on this port."
    ),
    metrics_host: str = typer.Option("127.0.0.1", help="Address of the metrics endpoint."),
) -> None:
    """Run pollers and deliveries only; start as many as you like against PostgreSQL."""
    from headwater import runtime

    runtime.worker(metrics_host=metrics_host, metrics_port=metrics_port)


@app.command()
def status(
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every instance with its pollers' health (last run, lag, failures), its queue of
    undelivered notifications and its subscription."""
    from headwater import runtime

    runtime.status(json_output=json_output)


@users_app.command("create")
def users_create(
    org: str = typer.Option(..., "--org", help="The organization's name."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create an organization and its first user; prints their secrets once."""
    from headwater import runtime

    runtime.create_user(org=org, json_output=json_output)


cli_rotate.add_users_rotate(users_app)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations."""
    from headwater import runtime

    runtime.db_upgrade()


@db_app.command("backup")
def db_backup(
    file: Path = typer.Argument(..., help="Where to write the copy (replaced if it exists)."),
) -> None:
    """Copy the SQLite database into FILE while the server runs (PostgreSQL: use pg_dump)."""
    from headwater import runtime

    runtime.db_backup(file)


@sandbox_app.command("acton")
def sandbox_acton(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8100),
    client_id: str = typer.Option("sandbox-client", help="The OAuth client id it accepts."),
    client_secret: str = typer.Option("sandbox-secret", help="The OAuth client secret it accepts."),
    lists: int = typer.Option(3, help="How many contact lists to seed."),
    contacts: int = typer.Option(25, help="How many contacts each list starts with."),
    seed: int = typer.Option(1, help="Seed of the generated data."),
    token_ttl: int = typer.Option(3600, help="Access token lifetime in seconds (expires_in)."),
    rate_per_second: float = typer.Option(0, help="Calls per second per account; 0: no limit."),
    rate_per_day: int = typer.Option(0, help="Calls per day per account; 0: no limit."),
) -> None:
    """A faithful local Act-On: OAuth, lists, contacts, rate limits and injectable faults."""
    from headwater.sandbox import acton

    acton.run(
        host=host,
        port=port,
        client_id=client_id,
        client_secret=client_secret,
        lists=lists,
        contacts=contacts,
        seed=seed,
        token_ttl=token_ttl,
        rate_per_second=rate_per_second,
        rate_per_day=rate_per_day,
    )


@sandbox_app.command("mailchimp")
def sandbox_mailchimp(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8300),
    client_id: str = typer.Option("sandbox-client", help="The OAuth client id it accepts."),
    client_secret: str = typer.Option("sandbox-secret", help="The OAuth client secret it accepts."),
    lists: int = typer.Option(2, help="How many lists (audiences) to seed."),
    members: int = typer.Option(25, help="How many members each list starts with."),
    seed: int = typer.Option(1, help="Seed of the generated data."),
    connection_limit: int = typer.Option(
        10, help="Simultaneous requests per account before 429; 0: no limit."
    ),
    lenient_dates: bool = typer.Option(
        False,
        help="Ignore an unreadable date filter (as users report Mailchimp does) instead of 400.",
    ),
) -> None:
    """A faithful local Mailchimp: OAuth, lists, members, webhooks, limits and injectable faults."""
    from headwater.sandbox.mailchimp import app as mailchimp_app

    mailchimp_app.run(
        host=host,
        port=port,
        client_id=client_id,
        client_secret=client_secret,
        lists=lists,
        members=members,
        seed=seed,
        connection_limit=connection_limit,
        lenient_dates=lenient_dates,
    )


def _catalog() -> registry.Registry:
    """The catalog this server would build: the shipped elements and HEADWATER_ELEMENTS_PATH."""
    from headwater import settings
    from headwater.elements import registry

    found = settings.from_env()
    return registry.build(found.element_settings, extra_paths=found.elements_path)


def _fail(message: str) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(1)


@elements_app.command("list")
def elements_list() -> None:
    """One line per element: key, name, hub and event methods."""
    from headwater.elements import catalog
    from headwater.errors import HeadwaterError

    try:
        found = _catalog()
    except HeadwaterError as error:
        _fail(error.message)
    typer.echo(catalog.table(found), nl=False)


@elements_app.command("show")
def elements_show(key: str = typer.Argument(..., help="The element's key.")) -> None:
    """The declaration of element KEY, as YAML."""
    from headwater.elements import catalog
    from headwater.errors import HeadwaterError

    try:
        typer.echo(catalog.show(_catalog(), key), nl=False)
    except HeadwaterError as error:
        _fail(error.message)


@elements_app.command("validate")
def elements_validate(
    paths: list[Path] = typer.Argument(..., help="element.yaml files or their folders."),
) -> None:
    """Check declarations against the schema: prints "ok", or each problem with its line and key
    path (and exits 1)."""
    from headwater.elements import catalog

    valid, report = catalog.validate(paths)
    typer.echo(report, nl=False)
    if not valid:
        raise typer.Exit(1)


@elements_app.command("schema")
def elements_schema() -> None:
    """Print the JSON Schema of element declarations."""
    from headwater.elements import schema

    typer.echo(schema.text(), nl=False)


@app.command()
def receiver(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8200),
    secret: str | None = typer.Option(None, help="The signature key to verify with."),
    fail: str = typer.Option("", help="Failure pattern for tests, e.g. '500,500,ok' or '410'."),
) -> None:
    """A callback receiver that verifies signatures and prints what arrived."""
    from headwater.sandbox import receiver as receiver_module

    receiver_module.run(host=host, port=port, secret=secret, fail=fail)
