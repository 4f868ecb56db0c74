"""The rotation commands: `headwater users rotate`, `headwater secret-key rotate|generate`."""

from __future__ import annotations

import typer

key_app = typer.Typer(no_args_is_help=True, help="The server's secret key (HEADWATER_SECRET_KEY).")


def add_users_rotate(users_app: typer.Typer) -> None:
    """Register ``rotate`` under ``headwater users``."""
    users_app.command("rotate")(users_rotate)


def users_rotate(
    user: int | None = typer.Option(None, "--user", help="Rotate this user's secret."),
    org: int | None = typer.Option(None, "--org", help="Rotate this organization's secret."),
    overlap: float | None = typer.Option(
        None,
        "--overlap",
        help="Seconds the old secret keeps working (default HEADWATER_CREDENTIAL_OVERLAP_SECONDS"
        "; 0 stops it now).",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Give a user and/or an organization a new secret (printed once); the old one keeps working
    for the overlap."""
    from headwater import rotations

    rotations.rotate_users(
        user_id=user, organization_id=org, overlap=overlap, json_output=json_output
    )


@key_app.command("rotate")
def secret_key_rotate(
    batch_size: int = typer.Option(100, help="Secrets re-encrypted per transaction."),
) -> None:
    """Re-encrypt every stored secret under HEADWATER_SECRET_KEY (resumable).

    Secrets still sealed by HEADWATER_PREVIOUS_SECRET_KEY are read with it; interrupted, run it
    again: it goes on where it stopped. See docs/deploy.md, "Rotating keys"."""
    from headwater import rotations

    rotations.rotate_secret_key(batch=batch_size)


@key_app.command("generate")
def secret_key_generate() -> None:
    """Print a new random secret key."""
    from headwater import rotations

    rotations.generate_key()
