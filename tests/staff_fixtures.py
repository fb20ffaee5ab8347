"""Staff accounts for tests (a pytest plugin): make_staff() writes one into the database,
the staff_login fixture signs a test client in through the real sign-in form."""

import functools
import itertools
import re
from collections.abc import Callable

import pytest
from flask import Config
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal.resources import resource_dir
from portal.staff.auth import password_hasher
from portal.staff.models import StaffRole, StaffUser

STAFF_PASSWORD = "correct horse battery staple"
LOGIN_URL = "/staff/login"

_numbers = itertools.count(1)


@functools.cache
def _password_hash(password: str) -> str:
    # Made outside any app, with the test profile's cost (config/test.py); accounts sharing a
    # test password may share its hash too.
    config = Config(resource_dir("config"))
    for name in ("default.py", "test.py"):
        config.from_pyfile(name)
    return password_hasher(config).hash(password)


def make_staff(
    db: Session,
    email: str | None = None,
    role: StaffRole = StaffRole.LICENSING,
    password: str = STAFF_PASSWORD,
    *,
    name: str = "",
    is_active: bool = True,
) -> StaffUser:
    """A committed staff account (a fresh address unless `email` is given)."""
    user = StaffUser(
        email=email or f"{role.value}{next(_numbers)}@northernledger.example",
        name=name or f"Test {role.value}",
        role=role,
        password_hash=_password_hash(password),
        is_active=is_active,
    )
    db.add(user)
    db.commit()
    return user


def page_csrf_token(client: FlaskClient, url: str = LOGIN_URL) -> str:
    """The CSRF token of the form on `url`, for this client's session."""
    page = client.get(url).get_data(as_text=True)
    match = re.search(r'<input[^>]* name="csrf_token"[^>]* value="([^"]+)"', page)
    assert match, f"{url} carries a form with a CSRF token"
    return match.group(1)


def sign_in(client: FlaskClient, email: str, password: str = STAFF_PASSWORD,
            **kwargs: object) -> TestResponse:
    """Post the sign-in form as a browser would (kwargs go to client.post)."""
    data = {"email": email, "password": password, "csrf_token": page_csrf_token(client)}
    return client.post(LOGIN_URL, data=data, **kwargs)  # type: ignore[arg-type]


StaffLogin = Callable[..., StaffUser]


@pytest.fixture
def staff_login(client: FlaskClient, db: Session) -> StaffLogin:
    """staff_login(role=StaffRole.LICENSING, *, client=..., email=None, password=..., name="")
    -> StaffUser: creates a staff user and signs `client` (default: the test's) in as them."""
    default_client = client

    def login(
        role: StaffRole = StaffRole.LICENSING,
        *,
        client: FlaskClient = default_client,
        email: str | None = None,
        password: str = STAFF_PASSWORD,
        name: str = "",
    ) -> StaffUser:
        user = make_staff(db, email, role, password, name=name)
        response = sign_in(client, user.email, password)
        assert response.status_code == 303, f"sign-in as {user.email} failed"
        return user

    return login
