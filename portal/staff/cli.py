"""`flask --app portal staff create EMAIL --role ...`, `staff set-password EMAIL`,
`staff deactivate EMAIL` and `staff reset-two-factor EMAIL`."""

import os

import click
from flask.cli import AppGroup

from portal import security_events
from portal.staff import auth, two_factor
from portal.staff.models import StaffRole
from portal.uow import unit_of_work

staff_cli = AppGroup("staff", help="Staff accounts of the back office.")

#: where `staff create` takes the password from, for scripts (else it asks, twice)
PASSWORD_VARIABLE = "PORTAL_STAFF_PASSWORD"


@staff_cli.command("create")
@click.argument("email")
@click.option(
    "--role", required=True, type=click.Choice([role.value for role in StaffRole]),
    help="viewer reads; licensing also quotes and decides; admin also manages staff, "
         "the rate card and articles' rights.",
)
@click.option("--name", default="", help="The person's name, as colleagues see it.")
def create(email: str, role: str, name: str) -> None:
    """Create a staff account that signs in at /staff/ with EMAIL."""
    password = _new_password()
    try:
        with unit_of_work() as db:
            user = auth.create_user(db, email, StaffRole(role), password, name)
            security_events.record(db, "staff_added", target=user.email,
                                   detail=f"as {role}, by the staff create command")
    except auth.StaffAccountError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Created {user.role.value} account {user.email}; they can sign in at /staff/.")


def _new_password() -> str:
    return os.environ.get(PASSWORD_VARIABLE) or click.prompt(
        f"Password (at least {auth.PASSWORD_MIN_LENGTH} characters)",
        hide_input=True, confirmation_prompt=True,
    )


@staff_cli.command("set-password")
@click.argument("email")
def set_password(email: str) -> None:
    """Give EMAIL a new password (a forgotten one, say), and end their open sessions."""
    password = _new_password()
    try:
        with unit_of_work() as db:
            user = auth.find_user(db, email)
            if user is None:
                raise auth.StaffAccountError(
                    f"There is no staff account for {email.strip().lower()}.")
            auth.check_password_policy(password)
            user.password_hash = auth.hash_password(password)
            ended = auth.end_all_sessions(db, user)
            security_events.record(db, "password_reset", target=user.email,
                                   detail="by the staff set-password command")
    except auth.StaffAccountError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"New password set for {user.email}; ended {ended} "
               f"session{'' if ended == 1 else 's'}.")


@staff_cli.command("deactivate")
@click.argument("email")
def deactivate(email: str) -> None:
    """Stop EMAIL signing in, and sign them out wherever they are signed in."""
    with unit_of_work() as db:
        user = auth.find_user(db, email)
        if user is None:
            raise click.ClickException(f"There is no staff account for {email.strip().lower()}.")
        ended = auth.deactivate_user(db, user)
        security_events.record(db, "staff_deactivated", target=user.email,
                               detail="by the staff deactivate command")
    sessions = f"{ended} session" + ("" if ended == 1 else "s")
    click.echo(f"Deactivated {user.email}; ended {sessions}.")


@staff_cli.command("reset-two-factor")
@click.argument("email")
def reset_two_factor(email: str) -> None:
    """Turn off EMAIL's two-factor sign-in (a lost phone and lost recovery codes) and end their
    sessions; they sign in with the password and, if it is required, enrol again."""
    with unit_of_work() as db:
        user = auth.find_user(db, email)
        if user is None:
            raise click.ClickException(f"There is no staff account for {email.strip().lower()}.")
        two_factor.disable(user)
        ended = auth.end_all_sessions(db, user)
        security_events.record(db, "staff_two_factor_reset", target=user.email,
                               detail="by the staff reset-two-factor command")
    click.echo(f"Two-factor sign-in is off for {user.email}; ended {ended} "
               f"session{'' if ended == 1 else 's'}.")
