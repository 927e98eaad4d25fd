"""The `atrium` command line and the health endpoints, as a process designer and an operator use them."""

from __future__ import annotations

import shutil

import pytest

from api.app import create_app
from atrium.cli import main
from atrium.settings import Settings

from .conftest import BPMN_DIR


@pytest.fixture
def cli_env(tmp_path, monkeypatch, clock):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("ATRIUM_DATABASE_URL", url)
    monkeypatch.setenv("ATRIUM_FORMS_DIR", str(tmp_path / "forms"))
    return tmp_path


def test_validate_prints_file_line_element_message_and_fails(cli_env, capsys):
    bad = cli_env / "bad.bpmn"
    bad.write_text((BPMN_DIR / "loop.bpmn").read_text().replace("count = count + 1", "import os"))
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert out[0].endswith("bad.bpmn:8: bump: script: Line 1: imports are not allowed in scripts")


def test_validate_accepts_good_files(cli_env, capsys):
    assert main(["validate", str(BPMN_DIR / "loop.bpmn"), str(BPMN_DIR / "timers.bpmn")]) == 0
    assert "OK: 3 process(es) valid" in capsys.readouterr().out


def test_migrate_deploy_and_demo_say_what_they_did(cli_env, capsys):
    from atrium.settings import PROJECT_ROOT

    shutil.copytree(PROJECT_ROOT / "forms", cli_env / "forms")
    from storage.db import make_engine
    from storage.migrate import head_revision

    assert main(["migrate"]) == 0
    assert f"from revision empty to {head_revision(make_engine('sqlite://'))}." in capsys.readouterr().out
    assert main(["deploy", str(PROJECT_ROOT / "processes")]) == 0
    assert "Deployed engagement_review version 1." in capsys.readouterr().out
    assert main(["deploy", str(PROJECT_ROOT / "processes")]) == 0
    assert "engagement_review version 1 is unchanged." in capsys.readouterr().out
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert out.count("Started engagement_review") == 3 and out.count("Created demo account") == 14
    assert out.count(", password ") == 14 and "Created the demo firm: 200 clients" in out
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert out.count("already exists") == 3 and "Created demo account" not in out and "password" not in out


def test_user_create_reads_the_password_from_stdin(cli_env, capsys, monkeypatch):
    import io

    assert main(["migrate"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-enough-password\n"))
    assert main(["user", "create", "--username", "lin", "--password-stdin", "--role", "partner", "--group", "tax"]) == 0
    assert "Created account lin with roles partner and groups tax." in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["user", "create", "--username", "kim", "--password-stdin", "--role", "viewer"]) == 1
    assert "password too short" in capsys.readouterr().err


def test_deploy_of_a_broken_file_deploys_nothing_and_fails(cli_env, capsys):
    bad = cli_env / "bad.bpmn"
    bad.write_text("<bpmn:definitions")
    assert main(["migrate"]) == 0
    assert main(["deploy", str(bad)]) == 1
    captured = capsys.readouterr()
    assert "not well-formed XML" in captured.out and "Nothing deployed" in captured.err


def test_healthz_checks_the_database(db):
    settings = Settings(database_url=db.url.render_as_string(hide_password=False))
    client = create_app(settings).test_client()
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["database"] == "ok"
    assert client.get("/readyz").json["status"] == "ready"
    anonymous = client.get("/api/nope")  # unknown API paths reveal nothing without a token (others are the web app)
    assert anonymous.status_code == 401 and anonymous.mimetype == "application/problem+json"


def test_healthz_reports_an_unreachable_database(tmp_path):
    settings = Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = create_app(settings).test_client().get("/healthz")
    assert response.status_code == 503 and response.mimetype == "application/problem+json"


def test_production_refuses_to_start_without_a_secret_key():
    with pytest.raises(RuntimeError, match="ATRIUM_SECRET_KEY"):
        create_app(Settings(env="production", database_url="sqlite://"))
