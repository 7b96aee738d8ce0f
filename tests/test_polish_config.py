"""Rate limits are settings: COUNT/SECONDS in SIPAS_* variables, refused clearly if malformed."""

import pytest

from core.config import ConfigError, load
from core.extensions import db

LIMITS = (
    "SURVEY_POSTER_IP_LIMIT", "SURVEY_POSTER_BROWSER_LIMIT", "SURVEY_POSTER_START_LIMIT",
    "API_RATE_LIMIT", "PUBLIC_RATE_LIMIT",
)


def test_limits_have_documented_defaults(tmp_path):
    config = load({"SIPAS_INSTANCE_PATH": str(tmp_path)})
    assert config["SURVEY_POSTER_IP_LIMIT"] == (30, 3600)
    assert config["SURVEY_POSTER_BROWSER_LIMIT"] == (3, 86400)
    assert config["SURVEY_POSTER_START_LIMIT"] == (120, 3600)
    assert config["API_RATE_LIMIT"] == (600, 60)
    assert config["PUBLIC_RATE_LIMIT"] == (120, 60)


@pytest.mark.parametrize("name", LIMITS)
def test_a_limit_is_read_as_count_per_seconds(tmp_path, name):
    config = load({"SIPAS_INSTANCE_PATH": str(tmp_path), f"SIPAS_{name}": " 7 / 90 "})
    assert config[name] == (7, 90)


@pytest.mark.parametrize("name", LIMITS)
@pytest.mark.parametrize("raw", ["30", "thirty/3600", "30/", "/3600", "0/3600", "30/0", "-1/60",
                                 "3.5/60", "30/3600/1"])
def test_a_malformed_limit_names_the_variable(tmp_path, name, raw):
    with pytest.raises(ConfigError, match=f"SIPAS_{name}"):
        load({"SIPAS_INSTANCE_PATH": str(tmp_path), f"SIPAS_{name}": raw})


def test_the_poster_limit_from_the_environment_reaches_the_survey(database_url, tmp_path):
    from core import create_app
    from core.services.survey import flow as survey

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": str(tmp_path),
         "SECRET_KEY": "k" * 40, "TESTING": True},
        env={"SIPAS_SURVEY_POSTER_BROWSER_LIMIT": "2/86400"},
    )
    with app.app_context():
        marks = [survey.poster_misuse("192.0.2.1", "browser-a") for _ in range(3)]
        db.session.remove()
        db.engine.dispose()
    assert marks == [None, None, "rate_limited"]
