"""Client data leaving the database is audited, reads included (issue 13, a tamper-evident audit): a client
export (`client.export`), a report shown or downloaded (`report.view`), a report run's PDF
(`report.download`), and a read of a client owned outside the reader's teams by a role that sees every
client (`client.read_other_team`). Logins already are (`login`, tests/test_login_security.py)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from storage.audit import AuditEntry
from storage.reports import SUCCEEDED, ReportRun

from .api_helpers import caller, people_in_two_teams
from .factories import make_account
from .factories import make_client as new_client
from .test_audit_walk import audit_mark, audit_rows_after


def rows(app, mark, action):
    return [r for r in audit_rows_after(app, mark) if r["action"] == action]


def test_a_client_export_is_audited_with_its_form_and_size_but_not_the_search_text(app):
    people = people_in_two_teams(app)
    partner = people["partner"]
    new_client(partner, minimal=True, name="Tax team client", owner="account_manager", tier="B")
    new_client(partner, minimal=True, name="Audit team client", owner="am_audit", tier="B")
    mark = audit_mark(app)
    assert partner.get("/api/clients/export?format=csv&q=13800138000").status_code == 200
    assert people["account_manager"].get("/api/clients/export?format=xlsx&tier=B").status_code == 200
    exported = rows(app, mark, "client.export")
    assert [(r["actor"], r["target"], r["outcome"]) for r in exported] == [
        ("partner", "clients", "success"),
        ("account_manager", "clients", "success"),
    ]
    assert exported[0]["detail"] == {"format": "csv", "rows": 0, "filters": {}, "search": True}
    assert exported[1]["detail"] == {"format": "xlsx", "rows": 1, "filters": {"tier": "B"}, "search": False}
    assert "13800138000" not in str(exported)
    assert people["viewer"].get("/api/clients/export?format=csv").status_code == 403  # no permission: no export


def test_a_report_view_and_a_run_pdf_download_are_audited(app, clock):
    partner = caller(app.test_client(), "partner")
    mark = audit_mark(app)
    query = "from=2026-01-01&to=2026-01-31&format=json"
    assert partner.get(f"/api/reports/monthly_client?{query}&owner=account_manager").status_code == 200
    [view] = rows(app, mark, "report.view")
    assert (view["actor"], view["target"]) == ("partner", "report:monthly_client")
    assert view["detail"] == {
        "from": "2026-01-01",
        "to": "2026-01-31",
        "format": "json",
        "parameters": {"owner": "account_manager"},
    }
    with app.extensions["atrium.engine"].transaction() as session:
        run = ReportRun(
            report="monthly_client",
            period_from=date(2026, 1, 1),
            period_to=date(2026, 2, 1),
            requested_by="partner",
            status=SUCCEEDED,
            created_at=clock.now(),
            pdf=b"%PDF-1.4 test",
            pdf_size=13,
        )
        session.add(run)
        session.flush()
        run_id = run.id
    mark = audit_mark(app)
    assert partner.get(f"/api/report-runs/{run_id}/pdf").data == b"%PDF-1.4 test"
    [download] = rows(app, mark, "report.download")
    assert (download["actor"], download["target"], download["detail"]) == (
        "partner",
        f"report_run:{run_id}",
        {"report": "monthly_client", "format": "pdf"},
    )
    am = caller(app.test_client(), "account_manager")  # another's run: 404, and nothing downloaded
    assert am.get(f"/api/report-runs/{run_id}/pdf").status_code == 404
    assert am.get(f"/api/reports/no_such_report?{query}").status_code == 404
    assert rows(app, mark, "report.download") == [download] and rows(app, mark, "report.view") == []


def test_a_privileged_read_of_another_teams_client_is_audited(app):
    people = people_in_two_teams(app)
    admin = people["admin"]
    make_account(admin, "mgr_tax", roles=["manager"], groups=["tax"])
    manager = caller(app.test_client(), "mgr_tax")
    in_tax = new_client(people["partner"], minimal=True, name="Tax client", owner="am_tax")["id"]
    in_audit = new_client(people["partner"], minimal=True, name="Audit client", owner="am_audit")["id"]
    mark = audit_mark(app)
    assert manager.get(f"/api/clients/{in_tax}").status_code == 200  # their own team's: not recorded
    assert manager.get(f"/api/clients/{in_audit}").status_code == 200
    assert people["partner"].get(f"/api/clients/{in_tax}").status_code == 200  # a partner in no team
    assert people["am_tax"].get(f"/api/clients/{in_tax}").status_code == 200
    assert people["am_tax"].get(f"/api/clients/{in_audit}").status_code == 404  # not visible: no read
    assert people["am_tax"].get("/api/clients/999999").status_code == 404
    read = rows(app, mark, "client.read_other_team")
    assert [(r["actor"], r["target"], r["detail"]) for r in read] == [
        ("mgr_tax", f"client:{in_audit}", {"owner": "am_audit"}),
        ("partner", f"client:{in_tax}", {"owner": "am_tax"}),
    ]
    with app.extensions["atrium.engine"].transaction() as session:  # and the chain still verifies
        from atrium.audit_chain import verify

        assert verify(session).ok
        assert session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)) >= 2
