"""`demo load`: the sample articles, the rate card and a back-office account, loaded once."""

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.articles.models import Article, Asset
from portal.demo import DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD
from portal.staff.models import StaffUser
from tests.staff_fixtures import sign_in


def test_demo_load_is_complete_and_idempotent(runner: FlaskCliRunner, db: Session,
                                              client: FlaskClient) -> None:
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "Imported 5, updated 0, skipped 0." in first.output
    second = runner.invoke(args=["demo", "load"])
    assert second.exit_code == 0 and "Imported 0" in second.output
    assert db.scalar(select(func.count()).select_from(Article)) == 5
    assert db.scalar(select(func.count()).select_from(StaffUser)) == 1
    # one article is not licensable, one picture is agency material
    blocked = db.scalars(select(Article).where(Article.is_licensable.is_(False))).all()
    assert [a.title for a in blocked] == ["Interview: the composer who writes for ice"]
    agency = db.scalars(select(Asset).where(Asset.is_distributable.is_(False))).all()
    assert len(agency) == 1 and "AFP" in (agency[0].credit or "") + (agency[0].restriction or "")
    # the printed account signs in
    assert sign_in(client, DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD).status_code == 303
    assert client.get("/staff/").status_code == 200


def test_demo_is_refused_in_production(app: Flask) -> None:
    app.config["ENV"] = "production"
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code != 0
    assert "never for production" in result.output
