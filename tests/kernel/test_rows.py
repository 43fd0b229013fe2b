"""Dict rows, the one client look-up, and the error types callers can tell apart."""

import pytest

from brokercrm.book import data_changes
from brokercrm.kernel import rows
from brokercrm.kernel.errors import BrokerCRMError, Conflict, Forbidden, NotFound
from brokercrm.service import orders, tasks
from conftest import add_client


def test_one_gives_a_dict_or_none(db):
    add_client(db, "C1")
    assert rows.one(db, "SELECT client_id, branch_id FROM clients WHERE client_id = ?", ["C1"]) == {
        "client_id": "C1", "branch_id": "TY01"}
    assert rows.one(db, "SELECT client_id FROM clients WHERE client_id = ?", ["nobody"]) is None


def test_client_names_the_missing_client(db):
    add_client(db, "C1", branch="BJ01")
    assert rows.client(db, "C1") == {"branch_id": "BJ01"}
    assert rows.client(db, "C1", "kind, branch_id") == {"kind": "individual", "branch_id": "BJ01"}
    with pytest.raises(NotFound, match="客户 nobody 不存在 \\(no such client\\)"):
        rows.client(db, "nobody")


def test_existing_looks_up_in_chunks(db):
    for i in range(1203):
        add_client(db, f"C{i:04}")
    wanted = [f"C{i:04}" for i in range(0, 1300, 2)] + ["", None]
    assert rows.existing(db, "clients", "client_id", wanted) == {f"C{i:04}" for i in range(0, 1203, 2)}


def test_the_error_types_are_domain_errors_the_cli_prints():
    for cls in (NotFound, Forbidden, Conflict):
        assert issubclass(cls, BrokerCRMError)


def test_features_raise_the_precise_type(db, actors, admin):
    add_client(db, "C1")
    clerk = actors("clerk", branch="TY01")
    with pytest.raises(NotFound):
        orders.flag(db, clerk, "nobody", note="大额撤单")
    with pytest.raises(NotFound):
        tasks.get(db, 999)
    flagged = orders.flag(db, clerk, "C1", note="大额撤单", order_id="O-1")
    (task,) = flagged["tasks"]
    assert flagged["event"]["kind"] == "abnormal_order" and task["event_id"] == flagged["event"]["id"]
    tasks.done(db, clerk, task["id"], note="已复核")
    with pytest.raises(Conflict):
        tasks.done(db, clerk, task["id"], note="again")
    pending = data_changes.request(db, clerk, "C1", "phone", "13912345678", identity_check="证件原件", form_ref="F1")
    with pytest.raises(Forbidden):
        data_changes.approve(db, clerk, pending["id"])
