"""An existing client without a valid risk questionnaire is prompted at their next interaction, once
(seed 001 第八条2: 存量客户…补填)."""

import pytest

from brokercrm.imports import import_assessments
from brokercrm.plugins import use as use_plugins
from brokercrm.service import interactions, tasks

from conftest import add_client, answers, write_csv


@pytest.fixture(autouse=True)
def setup(db, actors, plugin_site):
    add_client(db, "C1")
    actors("am1", branch="TY01", role="account_manager")
    db.execute("UPDATE clients SET account_manager = 'am1' WHERE client_id = 'C1'")
    with plugin_site.host() as host:
        use_plugins(host)
        try:
            yield
        finally:
            use_plugins(None)


def prompts(db, actor):
    return [t for t in tasks.list_tasks(db, actor, client_id="C1") if t["kind"] == "questionnaire"]


def log(db, actor, note="来营业部办理业务"):
    interactions.log(db, actor, "C1", kind="visit", channel="counter", note=note)


def test_no_questionnaire_prompts_once_to_the_manager(db, actors, admin):
    log(db, actors("am1"))
    [task] = prompts(db, admin)
    assert task["title"].startswith("请客户填写风险测评问卷") and task["assignee"] == "am1"
    assert task["due_at"] == "2026-07-01T10:00:00+08:00"
    log(db, actors("am1"), "再次来访")
    tasks.done(db, admin, task["id"], note="客户已填写")
    log(db, actors("am1"), "第三次")
    assert len(prompts(db, admin)) == 1


def test_a_valid_questionnaire_means_no_prompt(db, tmp_path, actors, admin):
    import_assessments(db, write_csv(tmp_path / "a.csv", [answers("C1", "2026-01-15")]), actor=admin)
    log(db, actors("am1"))
    assert prompts(db, admin) == []


def test_an_expired_questionnaire_prompts_again(db, tmp_path, actors, admin):
    import_assessments(db, write_csv(tmp_path / "a.csv", [answers("C1", "2026-01-15")]), actor=admin)
    db.execute("UPDATE clients SET assessment_expires_at = '2026-06-29' WHERE client_id = 'C1'")
    log(db, actors("am1"))
    [task] = prompts(db, admin)
    assert task["status"] == "open"
