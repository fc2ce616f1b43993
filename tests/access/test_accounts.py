"""Staff accounts, login sessions, API keys and the audit log, on SQLite and PostgreSQL:
passwords and keys never stored as themselves, logins that end on logout, idleness, age and
a disabled account, keys that name one clinic and stop when revoked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from support.cli_run import run

from followup.access import accounts, keys, secrets, throttle
from followup.access.fields import (
    AccountError,
    check_clinics,
    check_email,
    check_password,
    check_role,
)
from followup.store.engine import transaction
from followup.store.models import ApiKey, AuditEvent, LoginSession, StaffUser

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


@pytest.fixture
def two_clinics(clinic, env):
    result = run("clinics", "add", "--slug", "bay", "--name", "Bay Physio", "--timezone",
                 "America/New_York", "--phone", "+12015550300",
                 "--oncall-phone", "+12015550391")  # fmt: skip
    assert result.exit_code == 0, result.output
    return clinic, "bay"


def add(runtime, email="ana@harbor.example", role="staff", clinics=("harbor",), pw=PASSWORD):
    with transaction(runtime.sessions) as db:
        return accounts.add_user(
            db, email=email, role=role, clinics=list(clinics), password=pw, now=NOW
        )


def every_stored_value(runtime) -> str:
    """Every value of every column of the account tables, as one string."""
    out = []
    with runtime.engine.connect() as conn:
        for table in ("staff_users", "login_sessions", "api_keys", "audit_events",
                      "login_failures"):  # fmt: skip
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                out += [str(v) for v in row]
    return "\n".join(out)


# --- pure -------------------------------------------------------------------------------------


def test_a_password_is_checked_against_its_argon2_hash_only():
    stored = secrets.hash_password(PASSWORD)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert secrets.verify_password(stored, PASSWORD)
    assert not secrets.verify_password(stored, PASSWORD + " ")
    assert not secrets.verify_password(None, PASSWORD)
    assert not secrets.verify_password("not a hash", PASSWORD)
    assert secrets.hash_password(PASSWORD) != stored  # salted


def test_tokens_are_random_and_stored_as_their_sha256():
    a, b = secrets.new_token(), secrets.new_token()
    assert a != b and len(a) >= 43
    assert secrets.token_hash(a) == secrets.token_hash(a) != secrets.token_hash(b)
    key = secrets.new_api_key()
    assert key.startswith("fu_") and secrets.key_prefix(key) == key[:9]


@pytest.mark.parametrize(
    ("check", "value", "field"),
    [
        (check_email, "no-at-sign", "email"),
        (check_email, "a@b", "email"),
        (check_email, "ana @harbor.example", "email"),
        (check_email, "x" * 250 + "@h.example", "email"),
        (check_role, "root", "role"),
        (check_password, "short", "password"),
        (check_password, " padded password ", "password"),
        (check_password, "tab\tinside password", "password"),
        (check_password, "x" * 1025, "password"),
    ],
)
def test_bad_fields_name_the_field_and_never_echo_a_password(check, value, field):
    with pytest.raises(AccountError, match=f"^{field}:") as caught:
        check(value)
    if check is check_password:
        assert value not in str(caught.value)


def test_an_email_is_the_lower_case_login_name():
    assert check_email("  Ana@Harbor.Example ") == "ana@harbor.example"


def test_only_an_org_account_has_several_clinics():
    assert check_clinics("org", ["a", "b", "a"]) == ["a", "b"]
    with pytest.raises(AccountError, match="use role org"):
        check_clinics("staff", ["a", "b"])
    with pytest.raises(AccountError, match="at least one"):
        check_clinics("admin", [" "])


# --- accounts and logins ---------------------------------------------------------------------


def test_an_account_is_created_once_with_its_clinic_and_an_audit_event(runtime, clinic):
    account = add(runtime, email="Ana@Harbor.example")
    assert (account.email, account.role, len(account.clinic_ids)) == (
        "ana@harbor.example", "staff", 1
    )  # fmt: skip
    with pytest.raises(AccountError, match="exists already"):
        add(runtime, email="ana@harbor.example")
    with pytest.raises(AccountError, match="no clinic nowhere"):
        add(runtime, email="bo@harbor.example", clinics=("nowhere",))
    with runtime.sessions() as db:
        assert db.scalar(select(StaffUser.email)) == "ana@harbor.example"
        (event,) = db.scalars(select(AuditEvent))
    assert (event.actor, event.action, event.subject) == ("cli", "user.add", f"user:{account.id}")
    assert PASSWORD not in every_stored_value(runtime)


def test_an_org_account_sees_each_of_its_clinics(runtime, two_clinics):
    account = add(runtime, email="boss@network.example", role="org", clinics=two_clinics)
    assert len(account.clinic_ids) == 2


def test_a_login_needs_the_right_password_and_an_enabled_account(runtime, clinic):
    add(runtime)
    with transaction(runtime.sessions) as db:
        assert accounts.log_in(db, "ana@harbor.example", "wrong password here", NOW) is None
        assert accounts.log_in(db, "nobody@harbor.example", PASSWORD, NOW) is None
        assert accounts.log_in(db, "not an email", PASSWORD, NOW) is None
        login = accounts.log_in(db, " ANA@harbor.example", PASSWORD, NOW)
    assert login is not None and login.account.email == "ana@harbor.example"
    stored = every_stored_value(runtime)
    assert login.token not in stored and secrets.token_hash(login.token) in stored


def test_a_login_session_ends_on_logout_idleness_age_and_a_disabled_account(runtime, clinic):
    account = add(runtime)

    def fresh():
        with transaction(runtime.sessions) as db:
            return accounts.log_in(db, "ana@harbor.example", PASSWORD, NOW)

    def seen(token, at):
        with transaction(runtime.sessions) as db:
            return accounts.signed_in(db, token, at)

    # each request keeps it alive: 29 minutes apart for 11 hours is fine
    login = fresh()
    at = NOW
    while at < NOW + timedelta(hours=11, minutes=30):
        at += timedelta(minutes=29)
        found = seen(login.token, at)
        assert found is not None and found[1] == login.csrf_token
    assert seen(login.token, NOW + accounts.LIFETIME + timedelta(seconds=1)) is None  # too old

    idle = fresh()
    assert seen(idle.token, NOW + accounts.IDLE + timedelta(seconds=1)) is None

    out = fresh()
    with transaction(runtime.sessions) as db:
        assert accounts.log_out(db, out.token, NOW) is True
        assert accounts.log_out(db, out.token, NOW) is False
    assert seen(out.token, NOW) is None
    assert seen(None, NOW) is None and seen("made-up", NOW) is None

    last = fresh()
    assert run("users", "disable", str(account.id)).exit_code == 0
    assert seen(last.token, NOW) is None
    with transaction(runtime.sessions) as db:
        assert accounts.log_in(db, "ana@harbor.example", PASSWORD, NOW) is None
        assert db.scalar(select(LoginSession).where(LoginSession.ended_at.is_(None))) is None


# --- API keys ---------------------------------------------------------------------------------


def test_a_key_names_its_clinic_until_it_is_revoked(runtime, two_clinics):
    with transaction(runtime.sessions) as db:
        harbor_key = keys.create_key(db, "harbor", NOW, label="EHR bridge")
        bay_key = keys.create_key(db, "bay", NOW)
    with transaction(runtime.sessions) as db:
        holder = keys.key_holder(db, harbor_key.key, NOW)
        assert holder is not None and holder.clinic_id == harbor_key.clinic_id
        assert keys.key_holder(db, bay_key.key, NOW).clinic_id != holder.clinic_id
        for wrong in (None, "", harbor_key.key[:-1], "Bearer " + harbor_key.key, "x" * 300):
            assert keys.key_holder(db, wrong, NOW) is None
    assert harbor_key.key not in every_stored_value(runtime)
    with transaction(runtime.sessions) as db:
        assert keys.revoke_key(db, harbor_key.id, NOW) == harbor_key.prefix
        with pytest.raises(AccountError, match="no live key"):
            keys.revoke_key(db, harbor_key.id, NOW)
    with transaction(runtime.sessions) as db:
        assert keys.key_holder(db, harbor_key.key, NOW) is None
        assert keys.key_holder(db, bay_key.key, NOW) is not None
        used = db.get(ApiKey, bay_key.id).last_used_at
    assert used == NOW


# --- the commands -----------------------------------------------------------------------------


def test_the_commands_add_list_and_audit_without_printing_secrets(runtime, clinic):
    added = run("users", "add", "--clinic", "harbor", "--email", "ana@harbor.example",
                "--role", "admin", "--password-stdin", input=PASSWORD + "\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    weak = run("users", "add", "--clinic", "harbor", "--email", "bo@harbor.example",
               "--password-stdin", input="hunter2\n")  # fmt: skip
    assert weak.exit_code == 1 and "at least 12" in weak.output and "hunter2" not in weak.output
    listed = run("users", "list")
    assert "ana@harbor.example\tadmin\tharbor\tactive" in listed.output
    assert "argon2" not in listed.output

    created = run("keys", "create", "--clinic", "harbor", "--label", "EHR bridge")
    assert created.exit_code == 0, created.output
    key = created.output.splitlines()[-1]
    assert key.startswith("fu_")
    shown = run("keys", "list").output
    assert key not in shown and f"{key[:9]}...\tharbor\tEHR bridge\tlive" in shown
    key_id = shown.split("\t")[0]
    assert run("keys", "revoke", key_id).exit_code == 0
    assert run("keys", "revoke", key_id).exit_code == 1
    assert "revoked" in run("keys", "list", "--clinic", "harbor").output

    audit = run("audit", "--clinic", "harbor").output
    for action in ("user.add", "key.create", "key.revoke"):
        assert action in audit
    assert key not in audit and PASSWORD not in audit


# --- throttling -------------------------------------------------------------------------------


def test_the_sixth_failure_in_a_window_waits_for_the_oldest_to_age_out():
    minute = timedelta(minutes=1)
    four = [NOW - 10 * minute, NOW - 8 * minute, NOW - 5 * minute, NOW - minute]
    assert throttle.retry_at(four, [], NOW) is None
    five = [NOW - 14 * minute, *four]
    assert throttle.retry_at(five, [], NOW) == NOW + minute  # when the oldest leaves
    old = [NOW - 20 * minute] * 10
    assert throttle.retry_at(old + four, [], NOW) is None  # outside the window: not counted
    many = [NOW - minute] * throttle.PER_CLIENT
    assert throttle.retry_at([], many, NOW) == NOW - minute + throttle.WINDOW


def test_guessing_is_throttled_per_account_and_per_client(runtime, clinic):
    add(runtime)

    def attempt(password, at, email="ana@harbor.example", client="198.51.100.7"):
        with transaction(runtime.sessions) as db:
            return accounts.log_in(db, email, password, at, client=client)

    for i in range(throttle.PER_ACCOUNT):
        assert attempt(f"guess number {i:04d}", NOW + timedelta(seconds=i)) is None
    # the right password is not even checked now, from any address
    with pytest.raises(accounts.Throttled) as caught:
        attempt(PASSWORD, NOW + timedelta(minutes=1), client="203.0.113.9")
    assert caught.value.retry_at == NOW + throttle.WINDOW
    # refused attempts are not counted: the owner gets in once the window has passed
    assert attempt(PASSWORD, NOW + throttle.WINDOW + timedelta(seconds=1)) is not None

    # one address trying many accounts
    later = NOW + timedelta(hours=1)
    for i in range(throttle.PER_CLIENT):
        assert attempt("whatever it is", later, email=f"user{i}@x.example", client="bot") is None
    with pytest.raises(accounts.Throttled):
        attempt(PASSWORD, later, client="bot")
    assert attempt(PASSWORD, later, client="198.51.100.7") is not None
    assert "user1@x.example" not in every_stored_value(runtime)  # tried e-mails: hashed


def test_a_new_password_replaces_the_old_and_ends_the_open_logins(runtime, clinic):
    add(runtime)
    with transaction(runtime.sessions) as db:
        login = accounts.log_in(db, "ana@harbor.example", PASSWORD, NOW)
    result = run("users", "password", "ana@harbor.example", "--password-stdin",
                 input="a brand new passphrase\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    with transaction(runtime.sessions) as db:
        assert accounts.signed_in(db, login.token, NOW + timedelta(minutes=1)) is None
        assert accounts.log_in(db, "ana@harbor.example", PASSWORD, NOW) is None
        assert accounts.log_in(db, "ana@harbor.example", "a brand new passphrase", NOW)
        actions = db.scalars(select(AuditEvent.action)).all()
    assert "user.password" in actions
    weak = run("users", "password", "ana@harbor.example", "--password-stdin", input="short\n")
    unknown = run("users", "password", "nobody@harbor.example", "--password-stdin",
                  input="a brand new passphrase\n")  # fmt: skip
    assert weak.exit_code == 1 and "password" in weak.output
    assert unknown.exit_code == 1 and "no account" in unknown.output
