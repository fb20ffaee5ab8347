"""The public request form: submit -> stored -> e-mails -> status page, and bad input."""

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.db import Base, utcnow
from portal.licensing.models import AuditEvent, RepublishRequest, RequestToken
from portal.licensing.services import hash_token
from portal.notifications.models import LINK_PLACEHOLDER, OutboxEmail
from tests.conftest import REDIS_SKIP, REDIS_URL
from tests.factories import form_answers, make_article

FORM_URL = "/articles/harbour-wind/republish"


def csrf_token(client: FlaskClient, url: str = FORM_URL) -> str:
    page = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, "the form carries a CSRF token"
    return match.group(1)


def submit(client: FlaskClient, **changes: str) -> "object":
    data = form_answers(**changes)
    data["csrf_token"] = csrf_token(client)
    return client.post(FORM_URL, data=data)


def count(db: Session, model: type) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def article(db: Session):
    return make_article(db)


def test_article_page_offers_the_form(client: FlaskClient, article) -> None:
    page = client.get("/articles/harbour-wind").get_data(as_text=True)
    assert "Republish this article" in page
    assert 'href="/articles/harbour-wind/republish"' in page


def test_form_page_has_every_usage_field_labelled(client: FlaskClient, article) -> None:
    page = client.get(FORM_URL).get_data(as_text=True)
    for field in ("requester_name", "requester_email", "organisation", "organisation_type",
                  "country", "vat_id", "publication_name", "publication_url", "audience_band",
                  "territory_country", "territory_region", "translation_language",
                  "excerpt_words", "start_date", "intended_edits", "message"):
        assert f'<label for="{field}">' in page, field
    for group in ("medium", "territory", "language", "portion", "term"):
        assert f'<fieldset class="field" id="{group}"' in page, group


def test_submit_stores_every_detail_and_queues_both_emails(
    client: FlaskClient, db: Session, article
) -> None:
    response = submit(client)
    assert response.status_code == 303
    location = response.headers["Location"]
    token = location.rsplit("/", 1)[-1]
    assert location == f"/requests/{token}"

    req = db.scalars(select(RepublishRequest)).one()
    assert re.fullmatch(rf"RR-{utcnow().year}-\d{{5}}", req.reference)
    assert req.state == "submitted"
    assert (req.requester_name, req.requester_email) == ("Jane Reader", "jane@gazette.example")
    assert (req.organisation, req.organisation_type, req.country) == (
        "The Coastal Gazette", "commercial_media", "NO")
    assert req.vat_id is None
    assert (req.medium, req.publication_name, req.publication_url) == (
        "website", "Coastal Gazette Online", "https://www.gazette.example")
    assert (req.audience_band, req.territory, req.territory_country, req.territory_region) == (
        "10k_100k", "country", "NO", None)
    assert (req.language, req.translation_language) == ("translation", "nb")
    assert (req.portion, req.excerpt_words, req.term) == ("excerpt", 400, "one_year")
    assert req.start_date == utcnow().date()
    assert req.intended_edits == "Shortened for length; a new headline."
    assert req.message.startswith("We cover the same coast")

    # the audit log has the submission, in the same transaction
    event = db.scalars(select(AuditEvent)).one()
    assert (event.actor, event.action, event.from_state, event.to_state) == (
        "requester", "submit", None, "submitted")

    mails = db.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).all()
    assert [m.to_address for m in mails] == ["jane@gazette.example",
                                             "licensing@northernledger.example"]
    to_requester, to_staff = mails
    assert to_requester.subject.startswith(f"We received your request {req.reference}")
    # the link is minted when the e-mail is sent: the stored body holds a placeholder
    assert to_requester.link_request_id == req.id
    assert LINK_PLACEHOLDER in to_requester.text_body and LINK_PLACEHOLDER in to_requester.html_body
    assert "/requests/" not in to_requester.text_body + to_requester.html_body
    assert to_requester.text_body.splitlines()[0].startswith(
        f"We have received your request {req.reference}. No action is needed now")
    assert req.reference in to_staff.subject and "The Coastal Gazette" in to_staff.subject
    assert "jane@gazette.example" in to_staff.text_body
    assert "- Language: Translation into Norwegian Bokmål" in to_staff.text_body
    assert "- Language: Translation into Norwegian Bokmål" in to_requester.text_body


def test_status_page_shows_the_request_and_is_private(
    client: FlaskClient, db: Session, article
) -> None:
    token = submit(client).headers["Location"].rsplit("/", 1)[-1]
    response = client.get(f"/requests/{token}")
    page = response.get_data(as_text=True)
    req = db.scalars(select(RepublishRequest)).one()
    assert response.status_code == 200
    assert req.reference in page
    assert "has been received" in page  # the confirmation message after the redirect
    assert "Received, waiting for review" in page
    assert "Translation into Norwegian Bokmål" in page and "up to 400 words" in page
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    # the confirmation shows once only
    assert "has been received" not in client.get(f"/requests/{token}").get_data(as_text=True)


def test_only_a_hash_of_the_token_is_stored(client: FlaskClient, db: Session, article) -> None:
    token = submit(client).headers["Location"].rsplit("/", 1)[-1]
    assert len(token) >= 43  # 32 random bytes, base64: 256 bits
    req = db.scalars(select(RepublishRequest)).one()
    hashes = db.scalars(select(RequestToken.token_hash).where(RequestToken.request_id == req.id))
    assert hash_token(token) in set(hashes)
    # the token appears nowhere in the database, the outbox included
    with db.get_bind().connect() as connection:
        for table in Base.metadata.sorted_tables:
            dump = str(connection.execute(table.select()).fetchall())
            assert token not in dump, table.name


def test_tokens_are_unique_and_unguessable(client: FlaskClient, db: Session, article) -> None:
    first = submit(client).headers["Location"]
    second = submit(client, requester_email="other@gazette.example").headers["Location"]
    assert first != second
    references = db.scalars(select(RepublishRequest.reference).order_by(RepublishRequest.id)).all()
    year = utcnow().year
    assert references == [f"RR-{year}-00001", f"RR-{year}-00002"]


@pytest.mark.parametrize("token", ["nope", "x" * 43, "a" * 5000, "%01", "..%2F..%2Fetc"])
def test_unknown_token_is_404(client: FlaskClient, article, token: str) -> None:
    response = client.get(f"/requests/{token}")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


LONG = "x" * 5000
BAD_INPUT = [
    # (field, value, message fragment)
    ("requester_name", "", "Please fill in this field."),
    ("requester_name", "n" * 201, "under 200 characters"),
    ("requester_name", "<script>alert(1)</script>", "without HTML"),
    ("requester_name", "Jane\x00Reader", "special characters"),
    ("requester_email", "", "Please give an e-mail address"),
    ("requester_email", "not-an-email", "valid e-mail address"),
    ("requester_email", "a@" + "b" * 320 + ".com", "under 320 characters"),
    ("organisation", "", "Please fill in this field."),
    ("organisation", "<b>Gazette</b>", "without HTML"),
    ("organisation_type", "", "type of organisation"),
    ("organisation_type", "government", "Not a valid choice"),
    ("country", "", "choose your country"),
    ("country", "XX", "Not a valid choice"),
    ("vat_id", "DE<123>", "only letters, digits"),
    ("vat_id", "D" * 33, "under 32 characters"),
    ("medium", "", "where it will appear"),
    ("medium", "billboard", "Not a valid choice"),
    ("publication_name", "", "Please fill in this field."),
    ("publication_name", LONG, "under 200 characters"),
    ("publication_url", "javascript:alert(1)", "full web address"),
    ("publication_url", "ftp://gazette.example", "full web address"),
    ("publication_url", "https://" + "a" * 2000 + ".com", "under 2,000 characters"),
    ("audience_band", "", "size of the audience"),
    ("audience_band", "billions", "Not a valid choice"),
    ("territory", "", "where it will be published"),
    ("territory", "moon", "Not a valid choice"),
    ("territory_country", "", "choose the country"),
    ("territory_country", "ZZ", "Not a valid choice"),
    ("language", "", "choose the language"),
    ("language", "klingon", "Not a valid choice"),
    ("translation_language", "", "language of the translation"),
    ("translation_language", "xx", "Not a valid choice"),
    ("portion", "", "how much of the article"),
    ("portion", "all", "Not a valid choice"),
    ("excerpt_words", "", "how many words"),
    ("excerpt_words", "many", "Not a valid integer"),
    ("excerpt_words", "0", "from 1 to 5,000"),
    ("excerpt_words", "5001", "from 1 to 5,000"),
    ("excerpt_words", "99999999999999999999999", "from 1 to 5,000"),
    ("term", "", "how long you need"),
    ("term", "forever", "Not a valid choice"),
    ("start_date", "", "give a start date"),
    ("start_date", "tomorrow", "give a start date"),
    ("start_date", "2020-01-01", "cannot be in the past"),
    ("start_date", "2999-01-01", "within the next two years"),
    ("intended_edits", LONG, "under 2,000 characters"),
    ("intended_edits", "<img src=x onerror=alert(1)>", "without HTML"),
    ("message", "m" * 4001, "under 4,000 characters"),
    ("message", "Hello <script>alert(1)</script>", "without HTML"),
    ("message", "Hi\x1b[31m", "special characters"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_INPUT)
def test_bad_input_is_refused_next_to_its_field(
    client: FlaskClient, db: Session, article, field: str, value: str, message: str
) -> None:
    changes = {field: value}
    if field == "territory_region":
        changes["territory"] = "region"
    response = submit(client, **changes)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', page, re.S)
    assert error, f"no message next to {field}"
    assert message in error.group(1)
    assert f'href="#{field}"' in page  # the summary links to the field
    if field not in ("medium", "territory", "language", "portion", "term"):
        assert re.search(rf'aria-describedby="[^"]*{field}-error[^"]*"[^>]*id="{field}"', page) \
            or re.search(rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error', page)
    assert "<script>alert(1)</script>" not in page
    assert count(db, RepublishRequest) == 0
    assert count(db, OutboxEmail) == 0


def test_region_needs_a_region(client: FlaskClient, db: Session, article) -> None:
    response = submit(client, territory="region", territory_country="", territory_region="")
    assert response.status_code == 422
    assert "Please choose the region." in response.get_data(as_text=True)
    assert count(db, RepublishRequest) == 0


def test_answers_that_do_not_apply_are_not_stored(
    client: FlaskClient, db: Session, article
) -> None:
    response = submit(client, territory="worldwide", territory_country="NO",
                      language="original", translation_language="nb",
                      portion="full", excerpt_words="400")
    assert response.status_code == 303
    req = db.scalars(select(RepublishRequest)).one()
    assert (req.territory_country, req.translation_language, req.excerpt_words) == (
        None, None, None)


def test_form_keeps_the_answers_after_an_error(client: FlaskClient, article) -> None:
    page = submit(client, requester_email="nope").get_data(as_text=True)
    assert 'value="The Coastal Gazette"' in page
    assert 'value="Coastal Gazette Online"' in page


def test_missing_csrf_token_is_refused(client: FlaskClient, db: Session, article) -> None:
    response = client.post(FORM_URL, data=form_answers())
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    assert count(db, RepublishRequest) == 0


def test_forged_csrf_token_is_refused(client: FlaskClient, db: Session, article) -> None:
    csrf_token(client)
    response = client.post(FORM_URL, data={**form_answers(), "csrf_token": "forged"})
    assert response.status_code == 400
    assert count(db, RepublishRequest) == 0


def test_honeypot_turns_bots_away(client: FlaskClient, db: Session, article) -> None:
    response = submit(client, website="http://spam.example")
    assert response.status_code == 400
    assert "looked automated" in response.get_data(as_text=True)
    assert count(db, RepublishRequest) == 0
    assert count(db, OutboxEmail) == 0


def test_body_over_the_limit_is_413(client: FlaskClient, db: Session, article) -> None:
    data = form_answers(message="m" * 70_000)
    data["csrf_token"] = csrf_token(client)
    response = client.post(FORM_URL, data=data)
    assert response.status_code == 413
    assert "too much to send" in response.get_data(as_text=True)
    assert count(db, RepublishRequest) == 0


def test_not_licensable_article_shows_why_instead_of_the_form(
    client: FlaskClient, db: Session
) -> None:
    make_article(db, slug="interview", is_licensable=False,
                 rights_reason="Syndicated to us by a partner magazine.")
    article_page = client.get("/articles/interview").get_data(as_text=True)
    assert "not available for republication" in article_page
    assert "Syndicated to us by a partner magazine." in article_page
    assert "/articles/interview/republish" not in article_page
    form_page = client.get("/articles/interview/republish")
    assert form_page.status_code == 200
    text = form_page.get_data(as_text=True)
    assert "Syndicated to us" in text and "mailto:licensing@northernledger.example" in text
    assert 'name="requester_name"' not in text
    # posting anyway (with a valid CSRF token from another form) stores nothing
    make_article(db, slug="other", guid="other", canonical_url="https://n.example/other")
    data = {**form_answers(), "csrf_token": csrf_token(client, "/articles/other/republish")}
    response = client.post("/articles/interview/republish", data=data)
    assert response.status_code == 409
    assert count(db, RepublishRequest) == 0


def test_unknown_article_is_404(client: FlaskClient, article) -> None:
    assert client.get("/articles/no-such-article").status_code == 404
    assert client.get("/articles/no-such-article/republish").status_code == 404
    assert client.get("/articles/" + "a" * 3000).status_code == 404


def test_start_date_in_the_past_is_refused_even_by_a_day_or_more(
    client: FlaskClient, db: Session, article
) -> None:
    past = (utcnow().date() - timedelta(days=3)).isoformat()
    assert submit(client, start_date=past).status_code == 422
    assert count(db, RepublishRequest) == 0


class TestRateLimit:
    @pytest.fixture
    def app_overrides(self) -> dict[str, object]:
        return {"REPUBLISH_RATE_LIMIT": "2 per minute"}

    def test_third_post_in_a_minute_is_429(
        self, client: FlaskClient, db: Session, article
    ) -> None:
        assert submit(client).status_code == 303
        assert submit(client).status_code == 303
        response = submit(client)
        assert response.status_code == 429
        assert "Too many attempts" in response.get_data(as_text=True)
        assert "Retry-After" in response.headers
        assert count(db, RepublishRequest) == 2
        # reading the form is not limited
        assert client.get(FORM_URL).status_code == 200


def test_a_failure_midway_leaves_nothing_half_written(
    app: Flask, client: FlaskClient, db: Session, article, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.notifications import people as notify

    def broken_enqueue(*args: object, **kwargs: object) -> None:
        raise RuntimeError("mail template missing")

    data = {**form_answers(), "csrf_token": csrf_token(client)}
    monkeypatch.setattr(notify, "enqueue", broken_enqueue)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.post(FORM_URL, data=data)
    assert response.status_code == 500
    assert "Nothing you submitted was half-saved" in response.get_data(as_text=True)
    assert count(db, RepublishRequest) == 0
    assert count(db, AuditEvent) == 0
    assert count(db, OutboxEmail) == 0


FIELDS = [name for name in form_answers() if name != "website"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=300), max_size=6))
def test_no_input_makes_a_500(client: FlaskClient, article, changes: dict[str, str]) -> None:
    data = {**form_answers(**changes), "csrf_token": csrf_token(client)}
    response = client.post(FORM_URL, data=data)
    assert response.status_code in (303, 400, 413, 422), response.status_code


class TestRateLimitInRedis:
    """With PORTAL_REDIS_URL the counters live in Redis, shared by every process."""

    COUNTERS = "*public.republish_form*"

    @pytest.fixture
    def app_overrides(self) -> Iterator[dict[str, object]]:
        if not REDIS_URL:
            pytest.skip(REDIS_SKIP)
        import redis

        server = redis.Redis.from_url(REDIS_URL)
        # Flask-Limiter keeps its first key prefix for good, so counters left by an earlier
        # test are cleared by pattern instead.
        stale = server.keys(self.COUNTERS)
        if stale:
            server.delete(*stale)
        yield {"REPUBLISH_RATE_LIMIT": "2 per minute", "REDIS_URL": REDIS_URL}
        left = server.keys(self.COUNTERS)
        if left:
            server.delete(*left)
        server.close()

    def test_limit_is_shared_between_app_instances(
        self, app: Flask, client: FlaskClient, db: Session, article, tmp_path, database_url: str
    ) -> None:
        import redis

        from tests.conftest import make_app

        assert app.config["RATELIMIT_STORAGE_URI"] == REDIS_URL
        assert submit(client).status_code == 303
        assert submit(client).status_code == 303
        server = redis.Redis.from_url(REDIS_URL)
        assert server.keys(self.COUNTERS), "the counters are in Redis"
        server.close()
        # a second process (another app on the same Redis) sees the same counter
        other = make_app(tmp_path, database_url, REPUBLISH_RATE_LIMIT="2 per minute",
                         REDIS_URL=REDIS_URL)
        other_client = other.test_client()
        data = {**form_answers(), "csrf_token": csrf_token(other_client)}
        assert other_client.post(FORM_URL, data=data).status_code == 429
        other.extensions["portal.db"].engine.dispose()
        assert count(db, RepublishRequest) == 2


@pytest.mark.parametrize("body", ['{"requester_name": {"x": 1}}', '{"requester_name": 5}',
                                  '{"website": {"a": 1}}', '{"start_date": true}', "[1, 2]"])
def test_json_bodies_are_not_form_answers(
    client: FlaskClient, db: Session, article, body: str
) -> None:
    token = csrf_token(client)
    response = client.post(FORM_URL, data=body, content_type="application/json",
                           headers={"X-CSRFToken": token})
    assert response.status_code in (400, 422)
    assert count(db, RepublishRequest) == 0


def test_head_of_the_form_is_200(client: FlaskClient, article) -> None:
    assert client.head(FORM_URL).status_code == 200


@pytest.mark.parametrize("value", ["Org\u2028Bcc: x@evil.example", "Org\u0085Line",
                                   "Gazette\u202eetteza", "Org\x9bx"])
def test_unicode_line_breaks_and_direction_overrides_are_refused(
    client: FlaskClient, db: Session, article, value: str
) -> None:
    response = submit(client, organisation=value)
    assert response.status_code == 422
    assert count(db, RepublishRequest) == 0


def test_international_domain_is_stored_in_ascii(client: FlaskClient, db: Session, article) -> None:
    assert submit(client, requester_email="ann@bücher.example").status_code == 303
    assert db.scalars(select(RepublishRequest.requester_email)).one() == "ann@xn--bcher-kva.example"


def test_non_ascii_mailbox_names_are_refused(client: FlaskClient, db: Session, article) -> None:
    response = submit(client, requester_email="jösé@example.com")
    assert response.status_code == 422
    assert count(db, RepublishRequest) == 0


def test_longest_answers_still_make_a_storable_subject(
    client: FlaskClient, db: Session
) -> None:
    make_article(db, title="T" * 500)
    assert submit(client, organisation="O" * 200).status_code == 303
    subjects = db.scalars(select(OutboxEmail.subject)).all()
    assert subjects and all(len(subject) <= 300 for subject in subjects)
    assert all(subject.endswith("…") for subject in subjects)


class TestRedisDown:
    @pytest.fixture
    def app_overrides(self) -> dict[str, object]:
        return {"REDIS_URL": "redis://127.0.0.1:1/0", "REPUBLISH_RATE_LIMIT": "2 per minute"}

    def test_the_form_still_works_when_redis_is_unreachable(
        self, client: FlaskClient, db: Session, article
    ) -> None:
        assert submit(client).status_code == 303
        assert count(db, RepublishRequest) == 1


def test_status_tokens_are_kept_out_of_logs(
    app: Flask, client: FlaskClient, article, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/requests/<token>/boom")
    def boom(token: str) -> str:
        raise RuntimeError("failure")

    token = submit(client).headers["Location"].rsplit("/", 1)[-1]
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with caplog.at_level("INFO"):
        assert client.get(f"/requests/{token}/boom").status_code == 500
    assert caplog.records, "the failure was logged"
    assert token not in caplog.text
    assert "/requests/…" in caplog.text
