"""Materials of an investor-education session (issue 14 item 4): reference and SHA-256 on record."""

import hashlib
import json
import sqlite3

import pytest

from brokercrm.kernel.errors import BrokerCRMError, Forbidden, NotFound
from brokercrm.programmes import education, materials


@pytest.fixture
def session(db, actors):
    m1 = actors("m1", branch="TY01")
    return education.add(db, m1, branch="TY01", title="防范非法证券活动", topic="basics of investing",
                         held_on="2026-06-20")


def test_a_material_is_kept_with_the_sha256_of_its_file(db, actors, session, tmp_path):
    f = tmp_path / "handout.pdf"
    f.write_bytes(b"%PDF-1.4 investor education handout")
    m = materials.add(db, actors("m1"), session["id"], title="投资者教育手册", reference="JY-2026-01", file=f)
    assert m["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    shown = education.get(db, actors("m1"), session["id"])
    assert [(x["title"], x["reference"], x["sha256"]) for x in shown["materials"]] == [
        ("投资者教育手册", "JY-2026-01", m["sha256"])]


def test_refusals_leave_nothing(db, actors, session, tmp_path):
    with pytest.raises(Forbidden):
        materials.add(db, actors("bj", branch="BJ01"), session["id"], title="t", reference="r")
    with pytest.raises(BrokerCRMError, match="reference"):
        materials.add(db, actors("m1"), session["id"], title="t", reference=" ")
    with pytest.raises(BrokerCRMError, match="no such file"):
        materials.add(db, actors("m1"), session["id"], title="t", reference="r", file=tmp_path / "missing.pdf")
    with pytest.raises(NotFound):
        materials.add(db, actors("m1"), 999, title="t", reference="r")
    assert db.execute("SELECT count(*) FROM education_materials").fetchone()[0] == 0


def test_materials_are_append_only(db, actors, session, db_path):
    materials.add(db, actors("m1"), session["id"], title="t", reference="r")
    conn = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM education_materials")
    finally:
        conn.close()


def test_cli_material_and_show(db, actors, session, run):
    out = run("education", "material", str(session["id"]), "--title", "风险揭示", "--ref", "JY-2", "--json",
              "--as", "m1")
    assert json.loads(out.output)["reference"] == "JY-2"
    shown = run("education", "show", str(session["id"]), "--as", "m1")
    assert "风险揭示" in shown.output and "JY-2" in shown.output
