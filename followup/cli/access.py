"""Commands for who may see a clinic's data: ``users add|list|disable``, ``keys
create|list|revoke`` and ``audit``. Registered by :mod:`followup.cli.main`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from followup.access.fields import AccountError
from followup.cli.support import fail, get_runtime


@click.group()
def users() -> None:
    """Staff accounts for the dashboard."""


@users.command("add")
@click.option("--clinic", "clinics", multiple=True, required=True,
              help="The clinic's slug; repeat for an org account.")  # fmt: skip
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(["admin", "staff", "org"]), default="staff",
              show_default=True)  # fmt: skip
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin's first line.")
@click.pass_context
def users_add(
    ctx: click.Context, clinics: tuple[str, ...], email: str, role: str, password_stdin: bool
) -> None:
    """Create a staff account (argon2-hashed password, at least 12 characters)."""
    from followup.access.accounts import add_user
    from followup.store.engine import transaction

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    rt = get_runtime(ctx)
    try:
        with transaction(rt.sessions) as db:
            account = add_user(
                db, email=email, role=role, clinics=list(clinics), password=password,
                now=datetime.now(UTC),
            )  # fmt: skip
    except AccountError as exc:
        fail(f"cannot add the account: {exc}")
    click.echo(f"account {account.id}: {account.email}, {account.role} of {', '.join(clinics)}")


@users.command("password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin's first line.")
@click.pass_context
def users_password(ctx: click.Context, email: str, password_stdin: bool) -> None:
    """Set an account's password; its open logins end."""
    from followup.access.accounts import set_password
    from followup.store.engine import transaction

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    rt = get_runtime(ctx)
    try:
        with transaction(rt.sessions) as db:
            account = set_password(db, email, password, datetime.now(UTC))
    except AccountError as exc:
        fail(f"cannot set the password: {exc}")
    click.echo(f"account {account.id}: password set, its logins ended")


@users.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """Every staff account with its role and clinics (never a password)."""
    from followup.store import accounts as store

    rt = get_runtime(ctx)
    with rt.sessions() as db:
        for user, slugs in store.users(db):
            state = f"disabled {user.disabled_at:%Y-%m-%d}" if user.disabled_at else "active"
            click.echo(f"{user.id}\t{user.email}\t{user.role}\t{','.join(slugs)}\t{state}")


@users.command("disable")
@click.argument("user_id", type=int)
@click.pass_context
def users_disable(ctx: click.Context, user_id: int) -> None:
    """Stop an account from logging in, and end its login sessions now."""
    from followup.access import audit
    from followup.store import accounts as store
    from followup.store.engine import transaction

    rt = get_runtime(ctx)
    now = datetime.now(UTC)
    with transaction(rt.sessions) as db:
        if not store.disable_user(db, user_id, now):
            fail(f"no active account {user_id} (see `followup users list`)")
        for clinic_id in store.clinics_of_user(db, user_id):
            audit.record(db, actor=audit.CLI, action="user.disable", now=now,
                         clinic_id=clinic_id, subject=f"user:{user_id}")  # fmt: skip
    click.echo(f"account {user_id} disabled")


@click.group()
def keys() -> None:
    """Per-clinic keys for the JSON API (Authorization: Bearer)."""


@keys.command("create")
@click.option("--clinic", required=True, help="The clinic's slug.")
@click.option("--label", help="What the key is for, e.g. 'EHR bridge'.")
@click.pass_context
def keys_create(ctx: click.Context, clinic: str, label: str | None) -> None:
    """Create a key and print it once: it is stored only as its hash."""
    from followup.access.keys import create_key
    from followup.store.engine import transaction

    rt = get_runtime(ctx)
    try:
        with transaction(rt.sessions) as db:
            new = create_key(db, clinic, datetime.now(UTC), label=label)
    except AccountError as exc:
        fail(f"cannot create a key: {exc}")
    click.echo(f"key {new.id} for {clinic} (shown once, keep it safe):")
    click.echo(new.key)


@keys.command("list")
@click.option("--clinic", help="Only this clinic's keys.")
@click.pass_context
def keys_list(ctx: click.Context, clinic: str | None) -> None:
    """Keys by id, prefix, clinic and state (never the key)."""
    from followup.store import accounts as store

    rt = get_runtime(ctx)
    with rt.sessions() as db:
        for key, slug in store.keys(db, _clinic_id(db, clinic)):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "live"
            used = f"used {key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never used"
            click.echo(f"{key.id}\t{key.prefix}...\t{slug}\t{key.label or ''}\t{state}\t{used}")


@keys.command("revoke")
@click.argument("key_id", type=int)
@click.pass_context
def keys_revoke(ctx: click.Context, key_id: int) -> None:
    """Revoke a key: requests carrying it are refused from now on."""
    from followup.access.keys import revoke_key
    from followup.store.engine import transaction

    rt = get_runtime(ctx)
    try:
        with transaction(rt.sessions) as db:
            prefix = revoke_key(db, key_id, datetime.now(UTC))
    except AccountError as exc:
        fail(f"cannot revoke: {exc}")
    click.echo(f"key {key_id} ({prefix}...) revoked")


@click.command("audit")
@click.option("--clinic", help="Only this clinic's events.")
@click.option("--limit", type=int, default=200, show_default=True)
@click.pass_context
def audit_log(ctx: click.Context, clinic: str | None, limit: int) -> None:
    """The audit log, newest first: when, who, what, to what."""
    from followup.store import accounts as store

    rt = get_runtime(ctx)
    with rt.sessions() as db:
        clinic_id = _clinic_id(db, clinic)
        ids = None if clinic_id is None else [clinic_id]
        for e in store.audit_events(db, ids, limit):
            click.echo(f"{e.at:%Y-%m-%d %H:%M:%S}\t{e.actor}\t{e.action}\t{e.subject or ''}")


def _clinic_id(db, slug: str | None) -> int | None:
    """The id of the clinic a ``--clinic`` option names (None without one); exit 1 when
    no clinic has that slug."""
    from followup.store import accounts as store

    if not slug:
        return None
    found = store.clinic_ids_by_slug(db, [slug])
    if slug not in found:
        fail(f"no clinic {slug}")
    return found[slug]
