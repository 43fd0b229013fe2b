"""brokercrm publish: masked, branch-scoped, indexed, atomic snapshots."""

import json
import os
import shutil
import sqlite3

import pytest

from brokercrm.kernel import masking
from brokercrm.site import publish as publish_lib
from brokercrm.site import specs as publish_specs
from brokercrm.kernel.errors import BrokerCRMError
from brokercrm.site.specs import TABLES, TableSpec
from brokercrm.trust.authz import Forbidden

from site_support import BRANCHES, ID_RE, MOBILE_RE, book_admin, book_operator, build_book, publish_book


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pub")
    raw, result = publish_book(tmp)
    return tmp, raw, result


def rows(path, sql, params=()):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def all_text(path):
    """Every value of every table in a snapshot, as one string."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    parts = []
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        for row in conn.execute(f"SELECT * FROM [{table}]"):
            parts.extend(str(v) for v in row)
    conn.close()
    return "\n".join(parts)


def test_one_snapshot_for_head_office_and_one_per_branch(published):
    tmp, _, result = published
    site = tmp / "site"
    assert set(result.databases) == {"hq", *BRANCHES}
    for name in ("hq", *BRANCHES):
        assert (site / f"{name}.db").exists()
    assert rows(site / "hq.db", "SELECT count(*) FROM clients")[0][0] == 24
    for code in BRANCHES:
        branch_rows = rows(site / f"{code}.db", "SELECT DISTINCT branch_id FROM clients")
        assert branch_rows == [(code,)]
        # Records reach the branch only through its own clients.
        for table in ("classifications", "classification_history", "interactions", "events"):
            assert {r[0] for r in rows(site / f"{code}.db", f"SELECT DISTINCT branch_id FROM {table}")} <= {code}
        assert rows(site / f"{code}.db", "SELECT count(*) FROM clients")[0][0] == 8


def test_personal_data_is_masked_inside_every_snapshot(published):
    tmp, raw, _ = published
    for name in ("hq", *BRANCHES):
        text = all_text(tmp / "site" / f"{name}.db")
        for value in raw["ids"] + raw["phones"] + raw["names"]:
            assert value not in text, (name, value)
        assert not ID_RE.search(text)
        assert not MOBILE_RE.search(text)
    client = rows(tmp / "site" / "hq.db", "SELECT name, id_number, phone, birth_date FROM clients WHERE client_id = 'TY01000000'")[0]
    assert client == (masking.mask_name(raw["names"][0]), masking.mask_id(raw["ids"][0]),
                      masking.mask_phone(raw["phones"][0]), "1960-**-**")
    assert client[1].startswith("110101") and client[1].count("*") == 8
    assert client[2] == "139****0000"
    assert client[0] == "王**"


def test_free_text_numbers_are_masked(published):
    tmp, _, _ = published
    note = rows(tmp / "site" / "hq.db", "SELECT note FROM interactions WHERE kind = 'call' ORDER BY id LIMIT 1")[0][0]
    assert "138****0000" in note and "110101********" in note


def test_no_full_text_index_and_no_unlisted_tables(published):
    tmp, _, _ = published
    listed = {s.table for s in TABLES} | {s.table for s in publish_lib.SUMMARIES} | {"publish_info", "sqlite_stat1"}
    for name in ("hq", *BRANCHES):
        sql = rows(tmp / "site" / f"{name}.db", "SELECT name, sql FROM sqlite_master WHERE type = 'table'")
        assert not any("fts" in (s or "").lower() for _, s in sql)
        assert {n for n, _ in sql} <= listed
    # Tables that never leave the working database.
    assert not rows(tmp / "site" / "hq.db", "SELECT 1 FROM sqlite_master WHERE name = 'client_bank_accounts'")
    columns = {r[1] for r in rows(tmp / "site" / "hq.db", "PRAGMA table_info(clients)")}
    assert "extra" not in columns


def test_head_office_only_tables_stay_out_of_branch_snapshots(published):
    tmp, _, _ = published
    assert rows(tmp / "site" / "hq.db", "SELECT count(*) FROM audit_log")[0][0] > 0
    for code in BRANCHES:
        assert not rows(tmp / "site" / f"{code}.db", "SELECT 1 FROM sqlite_master WHERE name = 'audit_log'")
        run_columns = {r[1] for r in rows(tmp / "site" / f"{code}.db", "PRAGMA table_info(runs)")}
        assert "summary" not in run_columns


def test_a_branch_snapshot_carries_nothing_firm_wide(published, tmp_path):
    tmp, _, _ = published
    # A run of one branch only: the other branches must not see it.
    conn = sqlite3.connect(tmp / "crm.db")
    conn.execute("INSERT INTO runs (kind, started_at, status, branch, dry_run, client_mark) "
                 "VALUES ('classify', '2026-06-30', 'ok', 'BJ01', 0, 24)")
    conn.commit()
    conn.close()
    publish_lib.publish(tmp / "crm.db", tmp_path / "site", actor=book_admin(tmp / "crm.db"))
    hq_runs = rows(tmp_path / "site" / "hq.db", "SELECT count(*), max(client_mark) FROM runs")[0]
    assert hq_runs[0] >= 2 and hq_runs[1] == 24          # head office sees the firm's marks
    for code in BRANCHES:
        snapshot = tmp_path / "site" / f"{code}.db"
        columns = {r[1] for r in rows(snapshot, "PRAGMA table_info(runs)")}
        # Marks are the book's size, the summary holds every class count: firm-wide.
        assert not columns & {"summary", "error", "client_mark", "assessment_mark", "fingerprint", "audit_head"}
        assert {b for (b,) in rows(snapshot, "SELECT DISTINCT branch FROM runs")} <= {None, code}
        assert rows(snapshot, "SELECT code FROM branches") == [(code,)]
        assert dict(rows(snapshot, "SELECT key, value FROM publish_info"))["branches"] == code
        for table in ("summary_class_by_branch", "summary_risk_habit"):
            assert {b for (b,) in rows(snapshot, f"SELECT DISTINCT branch_id FROM {table}")} == {code}
    assert rows(tmp_path / "site" / "BJ01.db", "SELECT count(*) FROM runs WHERE branch = 'BJ01'") == [(1,)]


def test_filtered_and_faceted_columns_are_indexed(published):
    tmp, _, _ = published
    manifest = json.loads((tmp / "site" / "manifest.json").read_text())
    for name in ("hq", "TY01"):
        indexes = rows(tmp / "site" / f"{name}.db",
                       "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index'")
        by_table = {}
        for table, index in indexes:
            by_table.setdefault(table, []).append(index)
        for spec in TABLES:
            if spec.table not in manifest["tables"]:
                continue
            info = manifest["tables"][spec.table]
            for facet in spec.facets:
                if facet in info["columns"]:
                    assert facet in info["indexed"], (spec.table, facet)
            if info["branch_col"]:
                assert info["branch_col"] in info["indexed"]


def test_every_offered_filter_is_answered_in_page_order_without_sorting_the_matches(published):
    """A filtered page asks for 51 rows in the table's order: an index must hand them over.

    Without one, SQLite sorts every match: at 10M clients ``?run_id=N`` on the
    classification history sorted half a million rows per request (101 ms).
    """
    tmp, _, _ = published
    manifest = json.loads((tmp / "site" / "manifest.json").read_text())
    by_name = {s.table: s for s in TABLES}
    checked = 0
    for name in ("hq", "TY01"):
        path = tmp / "site" / f"{name}.db"
        present = {t for (t,) in rows(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table, info in manifest["tables"].items():
            if table not in present:
                continue
            spec = by_name.get(table)
            key = ", ".join(f"[{p}]" for p in info["pk"]) or "rowid"
            order = f"[{spec.sort_desc}] DESC, {key}" if spec and spec.sort_desc else key
            # What this file's indexes lead with is what the site's gate lets a big table filter on.
            for column in manifest["databases"][name]["indexed"].get(table, []):
                if [column] == info["pk"]:
                    continue
                sql = f"SELECT * FROM [{table}] WHERE [{column}] = ? ORDER BY {order} LIMIT 51"
                plan = " | ".join(r[3] for r in rows(path, "EXPLAIN QUERY PLAN " + sql, ["x"]))
                assert "TEMP B-TREE FOR ORDER BY" not in plan, (name, sql, plan)
                checked += 1
    assert checked > 40


def test_summaries_match_the_detail(published):
    tmp, _, _ = published
    hq = tmp / "site" / "hq.db"
    assert dict(rows(hq, "SELECT class, sum(clients) FROM summary_class_by_branch GROUP BY class")) == \
        dict(rows(hq, "SELECT class, count(*) FROM classifications GROUP BY class"))
    ty = tmp / "site" / "TY01.db"
    assert rows(ty, "SELECT DISTINCT branch_id FROM summary_class_by_branch") == [("TY01",)]


def test_inspect_data_has_counts_for_fast_first_page(published):
    tmp, _, result = published
    inspect = json.loads((tmp / "site" / "inspect-data.json").read_text())
    assert set(inspect) == set(result.databases)
    assert inspect["hq"]["tables"]["clients"]["count"] == 24
    assert len(inspect["hq"]["hash"]) == 64


def test_publish_is_repeatable_and_replaces_files_atomically(published, tmp_path):
    tmp, _, _ = published
    admin = book_admin(tmp / "crm.db")
    first = publish_lib.publish(tmp / "crm.db", tmp_path / "site", actor=admin)
    before = (tmp_path / "site" / "hq.db").stat().st_ino
    # A reader holding the old file keeps a whole snapshot while the next publish swaps it.
    reader = sqlite3.connect(f"file:{tmp_path / 'site' / 'hq.db'}?mode=ro", uri=True)
    reader.execute("SELECT count(*) FROM clients").fetchone()
    second = publish_lib.publish(tmp / "crm.db", tmp_path / "site", actor=admin)
    assert reader.execute("SELECT count(*) FROM clients").fetchone()[0] == 24
    reader.close()
    assert (tmp_path / "site" / "hq.db").stat().st_ino != before
    assert first.generation != second.generation
    # Trust work (issue 10): a publish is itself a signed audit row in the source, so the head-office
    # snapshot's audit_log (and only that) has one row more the second time; all else is the same.
    hq_tables = second.databases["hq"]["tables"]
    assert hq_tables["audit_log"] == first.databases["hq"]["tables"]["audit_log"] + 1
    assert {**second.databases, "hq": {**second.databases["hq"], "tables": {
        **hq_tables, "audit_log": hq_tables["audit_log"] - 1}}} == first.databases
    # Each manifest carries the audit chain head it showed; the first publish's own signed row
    # extends the chain, so the second head is one row on (issue 10: truncation shows against a copy).
    assert second.audit_head["id"] == first.audit_head["id"] + 1
    manifest = json.loads((tmp_path / "site" / "manifest.json").read_text())
    assert manifest["audit_head"] == second.audit_head
    leftovers = [p.name for p in (tmp_path / "site").iterdir() if ".tmp-" in p.name]
    assert leftovers == []


def test_a_set_is_a_directory_switched_in_by_one_link(published, tmp_path):
    tmp, _, _ = published
    site = tmp_path / "site"
    admin = book_admin(tmp / "crm.db")
    names = [publish_lib.publish(tmp / "crm.db", site, actor=admin).generation for _ in range(3)]
    assert os.readlink(site / "current") == names[-1]
    manifest = json.loads((site / "manifest.json").read_text())
    assert manifest["generation"] == names[-1]
    for name, entry in manifest["databases"].items():
        # Stable names resolve through current; every file says which set it belongs to.
        assert os.readlink(site / entry["file"]) == f"current/{entry['file']}"
        info = dict(rows(site / entry["file"], "SELECT key, value FROM publish_info"))
        assert info["generation"] == names[-1] and info["scope"] == name
    # The set before stays for requests still reading it; older ones go.
    assert sorted(p.name for p in site.iterdir() if p.name.startswith("gen-")) == sorted(names[-2:])


def test_publish_removes_what_a_dead_publish_left(published, tmp_path):
    tmp, _, _ = published
    site = tmp_path / "site"
    admin = book_admin(tmp / "crm.db")
    publish_lib.publish(tmp / "crm.db", site, actor=admin)
    (site / ".tmp-gen-20260101T000000-deadbeef").mkdir()
    (site / ".tmp-gen-20260101T000000-deadbeef" / "hq.db").write_bytes(b"x" * 1000)
    (site / "gen-20260101T000000-0badcafe").mkdir()       # built but never switched in
    (site / ".hq.db.tmp-4242").write_bytes(b"x")           # the flat layout's temp file
    (site / ".tmp-current-4242").symlink_to("gen-20260101T000000-0badcafe")
    publish_lib.publish(tmp / "crm.db", site, actor=admin)
    names = {p.name for p in site.iterdir()}
    assert not {n for n in names if n.startswith(".tmp-") or n.endswith(".tmp-4242")}
    assert "gen-20260101T000000-0badcafe" not in names


def test_head_office_work_is_split_whole_with_computed_tables_together(published):
    """Each published table is built by exactly one of the two head-office connections.

    A ``via`` table must be on its parent's (it reads the parent's branch from
    that file), and the computed tables on one connection (the clients'
    packages refer to the packages' definitions).
    """
    from brokercrm.kernel.db import readonly_uri
    from brokercrm.site import head_office
    from brokercrm.site.files import open_snapshot

    tmp, _, _ = published
    conn = open_snapshot(tmp / "plan.db")
    try:
        conn.execute("ATTACH DATABASE ? AS src", [readonly_uri(tmp / "crm.db")])
        groups, skipped, names = head_office.plan_groups(conn)
    finally:
        conn.close()
    placed = [s.table for g in groups for s in g]
    assert sorted(placed) == sorted(set(placed)) == sorted(names)
    assert "client_service_packages" in names and not set(skipped) & names
    group_of = {s.table: i for i, g in enumerate(groups) for s in g}
    assert group_of["client_service_packages"] == group_of["service_packages"]
    for spec in TABLES:
        if spec.scope == "via" and spec.table in group_of and spec.via[0] in group_of:
            assert group_of[spec.table] == group_of[spec.via[0]], spec.table
    assert all(groups), "both connections get work"


def test_the_head_office_move_copies_by_the_transfer_optimisation(tmp_path):
    """The part's tables move into hq.db record by record, undecoded (the program's RowData path).

    SQLite compiles the transfer path (taken when the target is empty) only for
    exactly ``INSERT INTO t SELECT * FROM other.t`` between twins; a column list,
    a WHERE or a differing index turns it into a decode-and-sort copy.
    """
    from brokercrm.site.files import open_snapshot, readonly_file_uri
    from brokercrm.site.tables import Built, create_indexes

    built = Built("t", "branch", [("client_id", "TEXT"), ("branch_id", "TEXT"), ("note", "TEXT")], ["client_id"],
                  [], "branch_id", [("branch_id", "client_id"), ("note", "client_id")])
    part = open_snapshot(tmp_path / "part.db")
    part.execute(built.create_sql())
    create_indexes(part, built)
    part.execute("INSERT INTO t VALUES ('c1', 'TY01', 'x'), ('c2', 'BJ01', 'y')")
    part.close()
    hq = open_snapshot(tmp_path / "hq.db")
    hq.execute("ATTACH DATABASE ? AS part", [readonly_file_uri(tmp_path / "part.db")])
    hq.execute(built.create_sql())
    create_indexes(hq, built)
    program = [r[1] for r in hq.execute("EXPLAIN INSERT INTO main.[t] SELECT * FROM part.[t]")]
    assert "RowData" in program, program
    slower = [r[1] for r in hq.execute("EXPLAIN INSERT INTO main.[t] SELECT * FROM part.[t] WHERE note > ''")]
    assert "RowData" not in slower
    hq.close()


def test_failed_publish_leaves_previous_snapshots(published, tmp_path, monkeypatch):
    tmp, _, _ = published
    admin = book_admin(tmp / "crm.db")
    publish_lib.publish(tmp / "crm.db", tmp_path / "site", actor=admin)
    old = (tmp_path / "site" / "hq.db").read_bytes()

    from brokercrm.site import branches as publish_branches

    real = publish_branches.build_branch

    def boom(hq_path, path, code, *args):
        if code == "SH01":
            raise RuntimeError("disk full")
        return real(hq_path, path, code, *args)

    monkeypatch.setattr(publish_branches, "build_branch", boom)
    with pytest.raises(RuntimeError):
        publish_lib.publish(tmp / "crm.db", tmp_path / "site", actor=admin)
    assert (tmp_path / "site" / "hq.db").read_bytes() == old
    assert not [p for p in (tmp_path / "site").iterdir() if ".tmp-" in p.name]


def test_missing_tables_are_skipped_and_new_specs_are_picked_up(published, tmp_path, monkeypatch):
    tmp, _, _ = published
    admin = book_admin(tmp / "crm.db")
    extra = TableSpec("not_built_yet", "client", "尚未建立")
    monkeypatch.setattr(publish_specs, "TABLES", [*publish_specs.TABLES, extra])
    result = publish_lib.publish(tmp / "crm.db", tmp_path / "site", actor=admin)
    assert "not_built_yet" in result.skipped
    # Once the table exists, the same spec publishes it, scoped through its clients and scrubbed.
    shutil.copy(tmp / "crm.db", tmp_path / "copy.db")
    conn = sqlite3.connect(tmp_path / "copy.db")
    conn.execute("CREATE TABLE not_built_yet (id INTEGER PRIMARY KEY, client_id TEXT, remark TEXT)")
    conn.execute("INSERT INTO not_built_yet VALUES (1, 'BJ01000001', '电话 13912345678')")
    conn.commit()
    conn.close()
    result = publish_lib.publish(tmp_path / "copy.db", tmp_path / "site2", actor=admin)
    assert "not_built_yet" not in result.skipped
    assert rows(tmp_path / "site2" / "BJ01.db", "SELECT branch_id, remark FROM not_built_yet") == \
        [("BJ01", "电话 139****5678")]
    assert rows(tmp_path / "site2" / "TY01.db", "SELECT count(*) FROM not_built_yet") == [(0,)]


def test_changed_values_are_masked_by_their_field():
    # (the scrubber's own cases: tests/kernel/test_masking.py)
    assert masking.mask_change("phone", "13912345678") == "139****5678"
    assert masking.mask_change("occupation", "教师") == "教师"
    # A reviewed change of a settlement account is published with the account masked, not only scrubbed.
    assert masking.mask_change("bank_account", "6222020200112233445") == "6222***********3445"


def test_only_head_office_or_a_service_account_publishes(tmp_path):
    build_book(tmp_path / "crm.db", clients=6)
    ty, nightly = (book_operator(tmp_path / "crm.db", *who) for who in (("ty", "branch", "TY01"),
                                                                       ("nightly", "service", None)))
    with pytest.raises(Forbidden):
        publish_lib.publish(tmp_path / "crm.db", tmp_path / "site", actor=ty)
    assert not (tmp_path / "site").exists()
    result = publish_lib.publish(tmp_path / "crm.db", tmp_path / "site", actor=nightly)
    assert set(result.databases) == {"hq", *BRANCHES}
    assert rows(tmp_path / "crm.db", "SELECT operator FROM audit_log WHERE action = 'publish.run'") == [("nightly",)]


def test_publish_command(run, db_path, tmp_path):
    result = run("publish", "--out", str(tmp_path / "out"), "--json")
    info = json.loads(result.output)
    assert set(info["databases"]) == {"hq", "TY01", "BJ01", "SH01"}
    text = run("publish", "--out", str(tmp_path / "out")).output
    assert "hq.db" in text


def test_publish_refuses_a_missing_database(admin, tmp_path):
    with pytest.raises(BrokerCRMError):
        publish_lib.publish(tmp_path / "nope.db", tmp_path / "out", actor=admin)
    assert not os.path.exists(tmp_path / "nope.db")
