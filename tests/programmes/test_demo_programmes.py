"""The demo seeds every report of issue 14 items 3 and 5 with data."""

from click.testing import CliRunner

from brokercrm.cli import cli
from brokercrm.kernel.db import connect


def test_demo_has_data_for_the_status_and_programme_reports(monkeypatch, tmp_path):
    monkeypatch.setenv("BROKERCRM_NOW", "2026-06-30T10:00:00+08:00")
    monkeypatch.delenv("BROKERCRM_DB", raising=False)
    path = tmp_path / "demo.db"
    result = CliRunner().invoke(cli, ["demo", "--clients", "400", "--no-serve", "--db", str(path)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "客户状态 (status)" in result.output
    db = connect(path)
    one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    try:
        assert one("SELECT count(*) FROM client_status WHERE status IN ('closed', 'transferred')") >= 2
        assert one("SELECT count(*) FROM client_status WHERE status IN ('transfer_requested', 'closure_requested')") >= 1
        assert one("SELECT count(DISTINCT reason) FROM exit_reasons") >= 3
        assert one("SELECT count(*) FROM vip_status") >= 1
        assert one("SELECT count(*) FROM prospects WHERE state = 'converted'") == 1
        assert one("SELECT count(DISTINCT branch_id) FROM programme_sessions WHERE kind = 'education'") == 3
        assert one("SELECT count(*) FROM programme_attendance") >= 10
        assert one("SELECT count(*) FROM points_ledger") > 100
        assert one("SELECT count(*) FROM callback_runs") == 1
    finally:
        db.close()
