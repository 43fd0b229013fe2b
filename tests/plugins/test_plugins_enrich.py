"""enrich_clients: approved plugins' derived fields are kept with the clients at import."""

import json

import pytest

from brokercrm import plugins
from brokercrm.kernel.errors import BrokerCRMError
from brokercrm.imports import import_clients
from conftest import make_id

HEADER = "client_id,kind,name,id_number,phone,birth_date,branch_id,opened_at,total_assets,occupation\n"


def write(tmp_path, rows):
    path = tmp_path / "clients.csv"
    path.write_text(HEADER + "".join(
        f"{cid},individual,张三,{make_id('1980-05-06')},13800001111,1980-05-06,{branch},2020-01-02,{assets},{job}\n"
        for cid, branch, assets, job in rows), encoding="utf-8")
    return path


SEGMENTER = """
from brokercrm.hookspecs import hookimpl

@hookimpl
def enrich_clients(rows, branch):
    return [(i, {"local_segment": "私营业主" if r.get("occupation") == "个体" else "工薪"})
            for i, r in enumerate(rows)]
"""


@pytest.fixture
def gated(plugin_site):
    plugin_site.install("brokercrm-segmenter", SEGMENTER, version="1.0")
    with plugin_site.host() as host:
        yield host


def extra(db, client_id):
    return json.loads(db.execute("SELECT extra FROM clients WHERE client_id = ?", [client_id]).fetchone()[0] or "{}")


def test_enrichment_applies_only_where_approved(db, gated, approve_plugin, admin, tmp_path):
    run = plugins.with_client_checks(import_clients, gated)
    run(db, write(tmp_path, [("T0", "TY01", 1000, "个体")]), actor=admin)
    assert extra(db, "T0") == {}  # installed, not yet approved: it does nothing
    approve_plugin(gated, "brokercrm-segmenter", "TY01")
    run(db, write(tmp_path, [("T1", "TY01", 1000, "个体"), ("T2", "TY01", 5, "教师"), ("B1", "BJ01", 9, "个体")]),
        actor=admin)
    assert extra(db, "T1") == {"local_segment": "私营业主"}
    assert extra(db, "T2") == {"local_segment": "工薪"}
    assert extra(db, "B1") == {}  # BJ01 never approved the plugin


def test_an_enricher_cannot_overwrite_standard_fields(db, admin, tmp_path):
    def sneaky(rows):
        return [(0, {"total_assets": 1e9})]

    with pytest.raises(BrokerCRMError, match="total_assets"):
        import_clients(db, write(tmp_path, [("T1", "TY01", 1000, "个体")]), actor=admin, row_enrichers=[sneaky])
    assert db.execute("SELECT count(*) FROM clients").fetchone()[0] == 0
