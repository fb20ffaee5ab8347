"""Issue 11, requests and tokens: the request form's limits count accepted submissions only and
keep what was typed; per-address and per-article limits; wrong status links are throttled;
status links expire, and a new one can be asked for without revealing who has requests."""

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.licensing.models import RepublishRequest, RequestToken
from portal.notifications.models import OutboxEmail
from tests.factories import form_answers, make_article

FORM_URL = "/articles/harbour-wind/republish"
WRONG = "x" * 43


@pytest.fixture
def article(db: Session):
    return make_article(db)


def csrf_token(client: FlaskClient, url: str = FORM_URL) -> str:
    page = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, "the page carries a CSRF token"
    return match.group(1)


def submit(client: FlaskClient, url: str = FORM_URL, **changes: str):
    data = form_answers(**changes)
    data["csrf_token"] = csrf_token(client, url)
    return client.post(url, data=data)


def count(db: Session, model: type, *where: object) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model).where(*where)) or 0


def token_of(response) -> str:
    return response.headers["Location"].rsplit("/", 1)[-1]


# -- 1. The form counts accepted submissions only, and a 429 keeps what was typed ----------

@pytest.mark.parametrize("app_overrides", [{"REPUBLISH_RATE_LIMIT": "2 per minute"}])
def test_submissions_sent_back_with_errors_do_not_count(
    client: FlaskClient, db: Session, article
) -> None:
    for _ in range(6):
        assert submit(client, requester_email="not an address").status_code == 422
    assert submit(client).status_code == 303
    assert submit(client).status_code == 303
    assert count(db, RepublishRequest) == 2


@pytest.mark.parametrize("app_overrides", [{"REPUBLISH_RATE_LIMIT": "1 per minute"}])
def test_a_refused_submission_keeps_what_was_typed_and_says_when(
    client: FlaskClient, db: Session, article
) -> None:
    assert submit(client).status_code == 303
    response = submit(client, organisation="Gazette of the Unusual Name",
                      message="Every word of this message is kept.")
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert 'value="Gazette of the Unusual Name"' in page
    assert "Every word of this message is kept." in page
    assert re.search(r"you can send it (on \d{1,2} \w+ \d{4} )?at \d\d:\d\d UTC", page), page
    assert "Retry-After" in response.headers
    assert count(db, RepublishRequest) == 1


# -- 2. Per requester address and per article ----------------------------------------------

@pytest.mark.parametrize("app_overrides", [{"REPUBLISH_RATE_LIMIT_EMAIL": "2 per hour"}])
def test_one_address_cannot_be_sent_mail_again_and_again(
    client: FlaskClient, db: Session, article
) -> None:
    assert submit(client, requester_email="stranger@example.org").status_code == 303
    assert submit(client, requester_email="stranger@example.org").status_code == 303
    mails = count(db, OutboxEmail)
    refused = submit(client, requester_email="Stranger@Example.org ")
    assert refused.status_code == 429
    assert "for this e-mail address" in refused.get_data(as_text=True)
    assert count(db, RepublishRequest) == 2
    assert count(db, OutboxEmail) == mails, "nothing stored, no mail queued"
    assert submit(client, requester_email="someone.else@example.org").status_code == 303


@pytest.mark.parametrize("app_overrides", [{"REPUBLISH_RATE_LIMIT_EMAIL": "1 per hour"}])
def test_an_international_domain_is_one_address_however_it_is_written(
    client: FlaskClient, db: Session, article
) -> None:
    assert submit(client, requester_email="ann@bücher.example").status_code == 303
    assert submit(client, requester_email="Ann@xn--bcher-kva.example").status_code == 429
    assert count(db, RepublishRequest) == 1


@pytest.mark.parametrize("app_overrides", [{"REPUBLISH_RATE_LIMIT_ARTICLE": "2 per hour"}])
def test_one_article_takes_a_bounded_number_of_requests(
    client: FlaskClient, db: Session, article
) -> None:
    make_article(db, slug="other-piece")
    assert submit(client, requester_email="a@example.org").status_code == 303
    assert submit(client, requester_email="b@example.org").status_code == 303
    refused = submit(client, requester_email="c@example.org")
    assert refused.status_code == 429
    assert "for this article" in refused.get_data(as_text=True)
    other = "/articles/other-piece/republish"
    assert submit(client, other, requester_email="c@example.org").status_code == 303
    assert count(db, RepublishRequest) == 3


# -- 3. Wrong status links are throttled; right ones never count ---------------------------

def token_rules(app: Flask) -> list[tuple[str, str]]:
    """(method, url) of every route that takes a status token, with a wrong token."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/requests/<token>"):
            continue
        url = rule.rule.replace("<token>", WRONG).replace("<number>", "L-2026-00001")
        method = "POST" if "POST" in rule.methods else "GET"
        found.append((method, url))
    return found


@pytest.mark.parametrize("app_overrides", [{"STATUS_TOKEN_RATE_LIMIT": "3 per minute"}])
def test_wrong_status_links_are_throttled_and_right_ones_never_count(
    client: FlaskClient, db: Session, article
) -> None:
    token = token_of(submit(client))
    for _ in range(10):
        assert client.get(f"/requests/{token}").status_code == 200
    for _ in range(3):
        missed = client.get(f"/requests/{WRONG}")
        assert missed.status_code == 404
        assert "/lost-link" in missed.get_data(as_text=True)
    refused = client.get(f"/requests/{WRONG}")
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "Too many attempts" in page and "/lost-link" in page
    assert re.search(r"try again (on \d{1,2} \w+ \d{4} )?at \d\d:\d\d UTC", page)


@pytest.mark.parametrize("app_overrides", [{"STATUS_TOKEN_RATE_LIMIT": "1 per minute"}])
def test_every_status_link_route_is_throttled(app: Flask, client: FlaskClient, article) -> None:
    csrf = csrf_token(client)
    rules = token_rules(app)
    assert len(rules) >= 12
    assert client.get(f"/requests/{WRONG}").status_code == 404
    for method, url in rules:
        response = client.open(url, method=method, data={"csrf_token": csrf})
        assert response.status_code == 429, (method, url, response.status_code)


@pytest.mark.parametrize("app_overrides", [{"STATUS_TOKEN_RATE_LIMIT": "1 per minute"}])
def test_each_status_link_route_counts_misses(app: Flask, client: FlaskClient, article) -> None:
    csrf = csrf_token(client)
    for method, url in token_rules(app):
        first = client.open(url, method=method, data={"csrf_token": csrf})
        assert first.status_code in (404, 429), (method, url, first.status_code)
    # after any one miss, the address is over a 1-per-minute budget
    assert client.get(f"/requests/{WRONG}").status_code == 429


# -- 4. Status links expire; new links on request ------------------------------------------

def age_tokens(db: Session, days: int) -> None:
    for token in db.scalars(select(RequestToken)):
        token.created_at -= timedelta(days=days)
    db.commit()


def link_mails(db: Session, request_id: int) -> int:
    return count(db, OutboxEmail, OutboxEmail.link_request_id == request_id)


def test_a_status_link_works_until_its_lifetime_ends(
    app: Flask, client: FlaskClient, db: Session, article
) -> None:
    token = token_of(submit(client))
    age_tokens(db, app.config["STATUS_TOKEN_DAYS"] - 1)
    assert client.get(f"/requests/{token}").status_code == 200
    age_tokens(db, 2)
    expired = client.get(f"/requests/{token}")
    assert expired.status_code == 410
    page = expired.get_data(as_text=True)
    assert "This link has expired" in page and "Send me a new link" in page
    assert expired.headers["Cache-Control"] == "no-store"
    # every page behind the token is closed, not only the status page
    csrf = csrf_token(client)
    assert client.post(f"/requests/{token}/withdraw",
                       data={"csrf_token": csrf}).status_code == 410


def test_an_expired_link_sends_a_new_one_to_the_requests_own_address_only(
    app: Flask, client: FlaskClient, db: Session, article
) -> None:
    token = token_of(submit(client, requester_email="ann@example.org"))
    request_id = db.scalar(select(RepublishRequest.id))
    age_tokens(db, app.config["STATUS_TOKEN_DAYS"] + 1)
    before = link_mails(db, request_id)
    url = f"/requests/{token}/new-link"
    csrf = csrf_token(client)
    wrong = client.post(url, data={"csrf_token": csrf, "email": "mallory@example.org"})
    right = client.post(url, data={"csrf_token": csrf, "email": "Ann@Example.org"})
    assert wrong.status_code == right.status_code == 200
    assert answer_text(wrong) == answer_text(right)
    assert link_mails(db, request_id) == before + 1
    mail = db.scalars(select(OutboxEmail).order_by(OutboxEmail.id.desc())).first()
    assert mail.to_address == "ann@example.org"
    assert "new link" in mail.subject.lower()
    # the old token still opens nothing; the new one is minted when the mail is sent
    assert client.get(f"/requests/{token}").status_code == 410


def answer_text(response) -> str:
    page = response.get_data(as_text=True)
    page = re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", page)
    return re.sub(r'value="[^"]*"', "", page)


def test_the_wrong_link_page_leads_to_lost_your_link(client: FlaskClient, article) -> None:
    page = client.get(f"/requests/{WRONG}").get_data(as_text=True)
    assert 'href="/lost-link"' in page
    assert client.get("/lost-link").status_code == 200


def test_lost_your_link_mails_every_live_request_of_the_address_and_reveals_nothing(
    app: Flask, client: FlaskClient, db: Session, article
) -> None:
    submit(client, requester_email="ann@example.org")
    submit(client, requester_email="ann@example.org")
    submit(client, requester_email="bob@example.org")
    ann = set(db.scalars(select(RepublishRequest.id).where(
        RepublishRequest.requester_email == "ann@example.org")))
    before = {rid: link_mails(db, rid) for rid in ann}
    total = count(db, OutboxEmail)
    csrf = csrf_token(client, "/lost-link")
    nobody = client.post("/lost-link", data={"csrf_token": csrf, "email": "nobody@example.org"})
    assert count(db, OutboxEmail) == total
    found = client.post("/lost-link", data={"csrf_token": csrf, "email": "ANN@example.org"})
    assert nobody.status_code == found.status_code == 200
    assert answer_text(nobody) == answer_text(found)
    assert {rid: link_mails(db, rid) for rid in ann} == {rid: n + 1 for rid, n in before.items()}
    assert count(db, OutboxEmail) == total + 2


@pytest.mark.parametrize("app_overrides", [{"NEW_LINK_EMAIL_LIMIT": "1 per day"}])
def test_new_links_to_one_address_are_limited_without_saying_so(
    client: FlaskClient, db: Session, article
) -> None:
    submit(client, requester_email="ann@example.org")
    total = count(db, OutboxEmail)
    csrf = csrf_token(client, "/lost-link")
    first = client.post("/lost-link", data={"csrf_token": csrf, "email": "ann@example.org"})
    second = client.post("/lost-link", data={"csrf_token": csrf, "email": "ann@example.org"})
    assert first.status_code == second.status_code == 200
    assert answer_text(first) == answer_text(second)
    assert count(db, OutboxEmail) == total + 1


@pytest.mark.parametrize("app_overrides", [{"NEW_LINK_RATE_LIMIT": "2 per hour"}])
def test_asking_for_new_links_is_rate_limited_per_client(
    client: FlaskClient, db: Session, article
) -> None:
    csrf = csrf_token(client, "/lost-link")
    for _ in range(2):
        assert client.post("/lost-link", data={"csrf_token": csrf,
                                               "email": "x@example.org"}).status_code == 200
    refused = client.post("/lost-link", data={"csrf_token": csrf, "email": "x@example.org"})
    assert refused.status_code == 429
    assert "Too many attempts" in refused.get_data(as_text=True)
