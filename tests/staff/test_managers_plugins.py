"""Bookkeeping events (a manager changed, a questionnaire prompt) do not ask plugins for follow-ups."""

from brokercrm.plugins import use as use_plugins
from brokercrm.service import interactions
from brokercrm.staff import managers

from conftest import add_client

EVERY_EVENT = """
from brokercrm.hookspecs import hookimpl

@hookimpl
def interaction_follow_ups(event, branch):
    return [{"kind": "callback", "due_in_hours": 24, "note": event["kind"]}]
"""


def test_a_plugin_answering_every_event_is_not_asked_about_bookkeeping(db, actors, admin, plugin_site,
                                                                        approve_plugin):
    add_client(db, "C1")
    actors("am1", branch="TY01", role="account_manager")
    plugin_site.install("brokercrm-every", EVERY_EVENT)
    with plugin_site.host() as host:
        approve_plugin(host, "brokercrm-every", "TY01")
        use_plugins(host)
        try:
            managers.assign(db, admin, "C1", "am1", reason="分配")
            # C1 has no questionnaire: this interaction also raises the questionnaire prompt
            interactions.log(db, actors("ty", branch="TY01"), "C1", kind="call", channel="phone", note="hi")
        finally:
            use_plugins(None)
    notes = [r[0] for r in db.execute("SELECT title FROM tasks WHERE origin = 'plugin:brokercrm-every'")]
    assert notes == ["interaction_logged"]
    assert db.execute("SELECT count(*) FROM tasks WHERE kind = 'questionnaire'").fetchone()[0] == 1
