"""`clients archive`: the client's complete archive round-trips, verifies, and refuses tampering."""

import csv
import json
import sqlite3

import pytest

from brokercrm.archive import catalogue, verify, writer
from brokercrm.book import data_changes
from brokercrm.kernel.db import connect
from brokercrm.kernel.errors import BrokerCRMError, Forbidden
from brokercrm.service import care, complaints, interactions, retention
from brokercrm.suitability import engine as suitability
from brokercrm.suitability import evidence, lowest
from brokercrm.trust import root as trust_root
from conftest import add_assessment, add_client, add_product

SHA = "cd" * 32


@pytest.fixture
def book(db, admin, actors):
    """Two clients of one branch with records in as many tables as the library can fill."""
    for level in ("R1", "R3", "R4", "R5"):
        add_product(db, f"P{level}", level)
    for cid in ("c1", "c2"):
        add_client(db, cid, branch="TY01")
        add_assessment(db, cid, "C3")
        db.execute("INSERT INTO holdings (client_id, product_code, amount, since, imported_at)"
                   " VALUES (?, 'PR3', 1000, '2026-01-01', '2026-01-01')", [cid])
        suitability.check(db, admin, cid, "PR3")
        suitability.confirm(db, admin, cid, "PR4", f"WARN-{cid}", shown={"channel": "counter", "recording": {
            "ref": f"REC-{cid}", "sha256": SHA, "seconds": 80.0}})
        evidence.record(db, admin, cid, "assessment_result", acknowledgement=f"SIGN-{cid}", channel="counter")
        it = interactions.log(db, admin, cid, kind="call", channel="phone", note="回访 (callback)")
        with db.atomic():
            case = complaints.open_case(db, admin, cid, summary="投诉内容", interaction_id=it["id"])
        complaints.investigate(db, admin, case["id"], note="调查")
        care.record_moment(db, admin, cid, kind="exam", on_date="2026-07-07")
        with db.atomic():
            rc = retention.open_case(db, admin, cid, request="transfer")
        retention.attempt(db, admin, rc["id"], note="挽留")
        lowest.record_capacity(db, admin, cid, "full", evidence="身份证核验", reason="成年")
        change = data_changes.request(db, admin, cid, "phone", "13900000000", identity_check="证件原件", form_ref="F-1")
        if change.get("state") == "pending":
            data_changes.approve(db, actors("checker"), change["id"])
    return db


def rows_naming(db, client_id):
    """Independently of the catalogue: every row of every table with a column equal to the client id
    (or an audit target "client/…"), as {table: [row dicts]}."""
    found = {}
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"):
        cols = [r[1] for r in db.execute(f"PRAGMA table_info([{table}])")]
        cond = " OR ".join(f"[{c}] = :cid" for c in cols)
        if table == "audit_log":
            cond += " OR target LIKE :cid || '/%'"
        hits = [dict(zip(cols, r)) for r in db.execute(f"SELECT * FROM [{table}] WHERE {cond}", {"cid": client_id})]
        if hits:
            found[table] = hits
    return found


def archived_rows(folder):
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    out = {}
    for t in manifest["tables"]:
        jsons = [f for f in t["files"] if f.endswith(".json")]
        out[t["table"]] = json.loads((folder / jsons[0]).read_text(encoding="utf-8"))["rows"] if jsons else []
    return manifest, out


def test_round_trip_every_record_of_the_client_is_in_the_archive(book, admin, tmp_path):
    out = tmp_path / "archive"
    expected = rows_naming(book, "c1")   # before: the archive act's own audit row comes after it
    result = writer.archive(book, admin, "c1", out)
    manifest, archived = archived_rows(out)
    assert set(expected) - set(catalogue.EXCLUDED) <= set(archived)
    for table, rows in expected.items():
        if table in catalogue.EXCLUDED:
            continue
        for row in rows:
            assert {k: v for k, v in row.items()} in [{k: r.get(k) for k in row} for r in archived[table]], \
                (table, row)
    # Records linked only through another table are there too: complaint steps, retention attempts,
    # the warning texts the evidence names.
    for table in ("complaint_steps", "retention_attempts", "evidence_templates", "suitability_evidence",
                  "suitability_confirmations", "interactions", "complaints", "tasks", "events"):
        assert archived[table], table
    # Nothing of the other client, directly or through a link.
    for table, rows in archived.items():
        for r in rows:
            assert not any(v == "c2" or (isinstance(v, str) and v.startswith("c2/")) for v in r.values()), (table, r)
    mine = book.execute("SELECT count(*) FROM complaint_steps s JOIN complaints c ON c.id = s.complaint_id"
                        " WHERE c.client_id = 'c1'").fetchone()[0]
    assert len(archived["complaint_steps"]) == mine < book.execute("SELECT count(*) FROM complaint_steps").fetchone()[0]
    # The manifest names every record by its key, and every file by digest.
    counts = {t["table"]: t["rows"] for t in manifest["tables"]}
    assert counts["clients"] == 1 and counts["suitability_evidence"] == 2
    assert result["manifest_sha256"] and not manifest["undeclared"]
    assert verify.verify(out, db=book, root_pub=trust_root.for_db(book))["ok"]


def test_the_archive_act_is_audited_without_personal_data(book, admin, tmp_path):
    writer.archive(book, admin, "c1", tmp_path / "a")
    target, detail, operator = book.execute(
        "SELECT target, detail, operator FROM audit_log WHERE action = 'client.archive'").fetchone()
    assert (target, operator) == ("c1", "admin")
    assert "测试客户" not in detail and "138" not in detail and "1980" not in detail


def test_csv_is_utf8_with_bom_and_matches_the_json(book, admin, tmp_path):
    out = tmp_path / "a"
    writer.archive(book, admin, "c1", out)
    raw = (out / "01_client" / "clients.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0]["client_id"] == "c1" and rows[0]["name"] == "测试客户"
    assert "# 客户档案" in (out / "README.md").read_text(encoding="utf-8")


def test_branch_may_archive_own_clients_only(book, actors, tmp_path):
    ty, bj = actors("ty_clerk", branch="TY01"), actors("bj_clerk", branch="BJ01")
    before = book.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    with pytest.raises(Forbidden):
        writer.archive(book, bj, "c1", tmp_path / "no")
    assert not (tmp_path / "no").exists()
    assert book.execute("SELECT count(*) FROM audit_log").fetchone()[0] == before
    assert writer.archive(book, ty, "c1", tmp_path / "yes")["client_id"] == "c1"
    svc = actors("nightly", role="service")
    with pytest.raises(Forbidden):
        writer.archive(book, svc, "c1", tmp_path / "svc")


def test_a_non_empty_folder_is_not_overwritten(book, admin, tmp_path):
    out = tmp_path / "a"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(BrokerCRMError, match="非空"):
        writer.archive(book, admin, "c1", out)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


@pytest.fixture
def made(book, admin, tmp_path):
    out = tmp_path / "a"
    writer.archive(book, admin, "c1", out)
    return out


def check(book, folder):
    return verify.verify(folder, db=book, root_pub=trust_root.for_db(book))


def test_a_tampered_file_fails_verification(book, made):
    path = made / "05_evidence" / "suitability_evidence.csv"
    path.write_bytes(path.read_bytes().replace(b"REC-c1", b"REC-zz"))
    result = check(book, made)
    assert not result["ok"]
    assert result["failures"] == [{"file": "05_evidence/suitability_evidence.csv",
                                   "reason": "SHA-256 不符: 文件被修改 (digest differs: the file was altered)"}]


def test_a_missing_or_added_file_fails(book, made):
    (made / "01_client" / "clients.json").unlink()
    (made / "extra.csv").write_text("x")
    files = {f["file"] for f in check(book, made)["failures"]}
    assert files == {"01_client/clients.json", "extra.csv"}


def test_an_edited_manifest_fails_the_signature(book, made):
    body = (made / "manifest.json").read_text(encoding="utf-8")
    (made / "manifest.json").write_text(body.replace('"rows": 1', '"rows": 2', 1), encoding="utf-8")
    result = check(book, made)
    assert not result["ok"] and result["failures"][0]["file"] == "manifest.sig"


def test_a_re_signed_manifest_by_an_uncertified_key_is_not_trusted(book, made):
    from brokercrm.trust import keys
    key = keys.generate()
    manifest = json.loads((made / "manifest.json").read_text(encoding="utf-8"))
    manifest["created_by"]["public_key"] = keys.public_b64(key)
    manifest["created_by"]["key_fingerprint"] = keys.fingerprint(keys.public_b64(key))
    body = (json.dumps(manifest, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    (made / "manifest.json").write_bytes(body)
    sig = json.loads((made / "manifest.sig").read_text())
    sig["signature"], sig["key_fingerprint"] = keys.sign(key, body), manifest["created_by"]["key_fingerprint"]
    (made / "manifest.sig").write_text(json.dumps(sig))
    alone = verify.verify(made)       # without the database, the signature itself holds …
    assert alone["ok"] and alone["signer"]["trusted"] is None
    result = check(book, made)        # … but the key is not the operator's certified key
    assert not result["ok"] and result["signer"]["trusted"] is False


def test_undeclared_table_is_archived_not_left_out(book, admin, tmp_path, db_path):
    raw = sqlite3.connect(db_path)
    raw.execute("CREATE TABLE k99_notes (id INTEGER PRIMARY KEY, client_id TEXT, note TEXT)")
    raw.execute("INSERT INTO k99_notes (client_id, note) VALUES ('c1', 'n')")
    raw.commit()
    raw.close()
    db = connect(db_path)
    try:
        assert catalogue.undeclared(db) == ["k99_notes"]
        out = tmp_path / "u"
        result = writer.archive(db, admin, "c1", out)
        assert result["undeclared"] == ["k99_notes"]
        assert (out / "99_undeclared" / "k99_notes.json").is_file()
        assert check(db, out)["ok"]
    finally:
        db.close()


def test_cli_archive_and_verify(book, run, tmp_path):
    out = tmp_path / "cli"
    made = json.loads(run("clients", "archive", "c1", "--out", out, "--json").output)
    assert made["client_id"] == "c1" and (out / "manifest.sig").is_file()
    assert "核验通过" in run("clients", "archive-verify", out).output
    ok = json.loads(run("clients", "archive-verify", out, "--json", operator=None).output)
    assert ok["ok"] and ok["signer"]["trusted"] is True
    (out / "README.md").write_text("changed", encoding="utf-8")
    bad = run("clients", "archive-verify", out, ok=False)
    assert bad.exit_code == 1 and "README.md" in bad.output and "核验失败" in bad.output
    missing = run("clients", "archive", "nobody", "--out", tmp_path / "x", ok=False)
    assert missing.exit_code == 1 and "nobody" in missing.output


def test_a_formula_in_a_cell_is_text_in_the_csv_and_exact_in_the_json(db, admin, tmp_path):
    add_client(db, "f1", name="=HYPERLINK(\"http://x\")")
    out = tmp_path / "f"
    writer.archive(db, admin, "f1", out)
    rows = list(csv.DictReader((out / "01_client" / "clients.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0]["name"] == "'=HYPERLINK(\"http://x\")"
    assert json.loads((out / "01_client" / "clients.json").read_text(encoding="utf-8"))["rows"][0]["name"] == \
        "=HYPERLINK(\"http://x\")"


def test_a_manifest_naming_files_outside_the_folder_fails(book, made, tmp_path):
    from brokercrm.trust import keys
    key = keys.generate()
    manifest = json.loads((made / "manifest.json").read_text(encoding="utf-8"))
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    manifest["files"].append({"path": str(outside), "sha256": "0" * 64, "bytes": 1})
    manifest["files"].append({"path": "../outside.txt", "sha256": "0" * 64, "bytes": 1})
    manifest["files"].append("not an entry")
    manifest["created_by"].update(public_key=keys.public_b64(key), key_fingerprint=keys.fingerprint(keys.public_b64(key)))
    body = json.dumps(manifest).encode("utf-8")
    (made / "manifest.json").write_bytes(body)
    (made / "manifest.sig").write_text(json.dumps({"operator": manifest["created_by"]["operator"],
                                                   "signature": keys.sign(key, body)}))
    failures = verify.verify(made)["failures"]
    assert [f["file"] for f in failures] == [str(outside), "../outside.txt", "None"]
