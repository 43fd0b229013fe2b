"""Evidence of suitability acts: what the client was shown and acknowledged, and 双录 where policy says."""

import json
import sqlite3

import pytest

from brokercrm.kernel.errors import BrokerCRMError, Conflict, Forbidden, NotFound, PolicyError, ValidationFailed
from brokercrm.policy import sets
from brokercrm.suitability import engine as suitability
from brokercrm.suitability import evidence, evidence_policy
from conftest import add_assessment, add_client, add_product

SHA = "ab" * 32
REC = {"ref": "REC-2026-001", "sha256": SHA, "seconds": 95.0}


@pytest.fixture
def book(db):
    for level in ("R1", "R2", "R3", "R4", "R5"):
        add_product(db, f"P{level}", level)
    add_client(db, "c1", branch="TY01")
    add_assessment(db, "c1", "C3")
    add_client(db, "bj", branch="BJ01")
    add_assessment(db, "bj", "C3")
    return db


def count(db, table="suitability_evidence"):
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def audit_rows(db):
    return db.execute("SELECT count(*) FROM audit_log").fetchone()[0]


def test_assessment_result_records_what_was_shown(book, admin):
    row = evidence.record(book, admin, "c1", "assessment_result", acknowledgement="SIGN-001", channel="counter")
    assert row["shown"]["assessment"]["level"] == "C3"
    assert row["template_id"] == "assessment_result_notice" and row["template_version"] == 1
    text = next(w["text"] for w in evidence_policy.load(book).doc["warnings"] if w["id"] == "assessment_result_notice")
    assert row["template_sha256"] == evidence_policy.text_sha256(text)
    assert row["channel"] == "counter" and row["recorded_by"] == "admin" and row["acknowledgement"] == "SIGN-001"
    # The text itself is kept once per version, so the archive can show exactly what was shown.
    assert book.execute("SELECT body FROM evidence_templates WHERE template_id = 'assessment_result_notice'"
                        ).fetchone()[0] == text
    # The audit row names the act, never personal data.
    detail = book.execute("SELECT detail FROM audit_log WHERE action = 'suitability.evidence'").fetchone()[0]
    assert "测试客户" not in detail and "13800000000" not in detail


def test_matching_opinion_needs_a_check_and_carries_its_verdict(book, admin):
    with pytest.raises(NotFound, match="suitability check"):
        evidence.record(book, admin, "c1", "matching_opinion", acknowledgement="S-1", channel="online",
                        product_code="PR3")
    suitability.check(book, admin, "c1", "PR3")
    row = evidence.record(book, admin, "c1", "matching_opinion", acknowledgement="S-1", channel="online",
                          product_code="PR3")
    assert row["shown"]["opinion"]["verdict"] == "match" and row["check_id"] is not None
    assert row["template_id"] == "matching_opinion"


def test_no_assessment_no_result_to_show(book, admin):
    add_client(book, "new")
    with pytest.raises(NotFound, match="风险测评"):
        evidence.record(book, admin, "new", "assessment_result", acknowledgement="S", channel="counter")
    assert count(book) == 0


def test_recording_required_at_a_branch_for_high_risk(book, admin):
    """办法 Art. 24 via policy: counter + R4 and above needs a recording; refused without, database unchanged."""
    before = audit_rows(book)
    with pytest.raises(BrokerCRMError, match="双录"):
        evidence.record(book, admin, "c1", "risk_warning", acknowledgement="S-2", channel="counter",
                        product_code="PR4")
    assert count(book) == 0 and count(book, "evidence_templates") == 0 and audit_rows(book) == before
    row = evidence.record(book, admin, "c1", "risk_warning", acknowledgement="S-2", channel="counter",
                          product_code="PR4", recording=REC)
    assert (row["recording_ref"], row["recording_sha256"], row["recording_seconds"]) == ("REC-2026-001", SHA, 95.0)
    assert row["recording_rule"] == "branch_high_risk"
    # Below the line, or through a non-site channel, no recording is required.
    assert evidence.record(book, admin, "c1", "risk_warning", acknowledgement="S-3", channel="counter",
                           product_code="PR3")["recording_rule"] is None
    assert evidence.record(book, admin, "c1", "risk_warning", acknowledgement="S-4", channel="online",
                           product_code="PR5")["recording_ref"] is None


def test_a_rule_with_a_product_floor_binds_an_act_without_a_product(book, admin):
    with pytest.raises(BrokerCRMError, match="双录"):
        evidence.record(book, admin, "c1", "special_notice", acknowledgement="S", channel="counter")


@pytest.mark.parametrize("ref,sha,secs,field", [
    ("", SHA, 10, "recording_ref"), ("R", "xyz", 10, "recording_sha256"), ("R", SHA, 0, "recording_seconds"),
    ("R", SHA, "abc", "recording_seconds"), ("R", None, 10, "recording_sha256"),
])
def test_a_malformed_recording_is_refused_naming_the_field(ref, sha, secs, field):
    with pytest.raises(ValidationFailed, match=field):
        evidence.recording_from(ref, sha, secs)


def test_confirmation_at_the_counter_needs_a_recording(book, admin):
    """The hook in `confirm`: refused before anything is written (no check, no confirmation, no audit)."""
    tables = ("suitability_checks", "suitability_confirmations", "suitability_evidence", "audit_log", "events")
    before = [count(book, t) for t in tables]
    with pytest.raises(BrokerCRMError, match="双录"):
        suitability.confirm(book, admin, "c1", "PR4", "WARN-1", shown={"channel": "counter"})
    assert [count(book, t) for t in tables] == before
    result = suitability.confirm(book, admin, "c1", "PR4", "WARN-1", shown={"channel": "counter", "recording": REC})
    ev = result["evidence_record"]
    assert ev["act"] == "confirmation" and ev["confirmation_id"] == result["confirmation"]["id"]
    assert ev["template_id"] == "special_risk_warning" and ev["acknowledgement"] == "WARN-1"
    assert ev["shown"]["verdict"] == "mismatch" and ev["shown"]["reasons"] == result["reasons"]
    assert ev["recording_rule"] in ("branch_high_risk", "branch_mismatch_warning")


def test_confirmation_by_phone_is_recorded_without_a_recording(book, admin):
    result = suitability.confirm(book, admin, "c1", "PR4", "WARN-2", shown={"channel": "phone"})
    assert result["evidence_record"]["channel"] == "phone" and result["evidence_record"]["recording_ref"] is None


def test_confirmation_without_a_channel_is_recorded_as_unspecified(book, admin):
    """The shipped policy keeps old callers working (require_channel = false); docs/archive.md says why."""
    result = suitability.confirm(book, admin, "c1", "PR4", "WARN-3")
    assert result["evidence_record"]["channel"] == "unspecified"


def publish_evidence(db, admin, tmp_path, edit):
    body = (sets.default_policy_dir() / "evidence.toml").read_text(encoding="utf-8")
    new = edit(body)
    assert new != body
    path = tmp_path / "evidence.toml"
    path.write_text(new, encoding="utf-8")
    sets.publish(db, path, admin)


def test_policy_can_require_the_channel(book, admin, tmp_path):
    publish_evidence(book, admin, tmp_path, lambda b: b.replace("require_channel = false", "require_channel = true"))
    with pytest.raises(ValidationFailed, match="channel"):
        suitability.confirm(book, admin, "c1", "PR4", "WARN-4")
    with pytest.raises(ValidationFailed, match="channel"):
        evidence.record(book, admin, "c1", "assessment_result", acknowledgement="S")


def test_unknown_channel_and_template_are_refused(book, admin):
    with pytest.raises(ValidationFailed, match="未知渠道"):
        evidence.record(book, admin, "c1", "assessment_result", acknowledgement="S", channel="carrier-pigeon")
    with pytest.raises(BrokerCRMError, match="no such template"):
        evidence.record(book, admin, "c1", "assessment_result", acknowledgement="S", channel="online",
                        template_id="nope")
    with pytest.raises(ValidationFailed, match="acknowledgement"):
        evidence.record(book, admin, "c1", "assessment_result", acknowledgement="  ", channel="online")
    assert count(book) == 0


def test_a_changed_text_under_the_same_version_is_refused(book, admin, tmp_path):
    evidence.record(book, admin, "c1", "assessment_result", acknowledgement="S", channel="online")
    publish_evidence(book, admin, tmp_path, lambda b: b.replace("请您核对并签字确认", "请您签字"))
    with pytest.raises(Conflict, match="版本未变"):
        evidence.record(book, admin, "c1", "assessment_result", acknowledgement="S2", channel="online")
    # A new version of the text is accepted and both texts stay on file.
    publish_evidence(book, admin, tmp_path, lambda b: b.replace("请您核对并签字确认", "请您签字").replace(
        'id = "assessment_result_notice"\nversion = 1', 'id = "assessment_result_notice"\nversion = 2'))
    assert evidence.record(book, admin, "c1", "assessment_result", acknowledgement="S3",
                           channel="online")["template_version"] == 2
    assert count(book, "evidence_templates") == 2


def test_branch_operator_only_for_own_branch(book, actors):
    ty = actors("ty_clerk", branch="TY01")
    evidence.record(book, ty, "c1", "assessment_result", acknowledgement="S", channel="counter")
    with pytest.raises(Forbidden):
        evidence.record(book, ty, "bj", "assessment_result", acknowledgement="S", channel="counter")
    with pytest.raises(Forbidden):
        evidence.list_for(book, ty, "bj")
    assert [r["client_id"] for r in evidence.list_for(book, ty, "c1")] == ["c1"]


def test_confirmation_act_only_through_confirm(book, admin):
    with pytest.raises(ValidationFailed, match="suitability confirm"):
        evidence.record(book, admin, "c1", "confirmation", acknowledgement="S", channel="online")


def test_evidence_rows_cannot_be_changed_even_with_raw_sqlite(book, admin, db_path):
    evidence.record(book, admin, "c1", "assessment_result", acknowledgement="S", channel="online")
    raw = sqlite3.connect(db_path)
    try:
        for sql in ("UPDATE suitability_evidence SET acknowledgement = 'x'", "DELETE FROM suitability_evidence",
                    "UPDATE evidence_templates SET body = 'x'", "DELETE FROM evidence_templates"):
            with pytest.raises(sqlite3.IntegrityError):
                raw.execute(sql)
    finally:
        raw.close()


@pytest.mark.parametrize("edit,key", [
    (lambda b: b.replace('min_product_risk = "R4"', 'min_product_risk = "R9"'), "min_product_risk"),
    (lambda b: b.replace('acts = ["confirmation"]\nchannels', 'acts = ["bribery"]\nchannels'), "未知的留痕行为"),
    (lambda b: b.replace('channels = ["counter"]\nmin', 'channels = ["fax"]\nmin'), "not a channel"),
    (lambda b: b.replace('version = 1\ntitle = "适当性', 'version = 0\ntitle = "适当性'), "version"),
])
def test_policy_validation_names_the_key(edit, key):
    body = (sets.default_policy_dir() / "evidence.toml").read_text(encoding="utf-8")
    new = edit(body)
    assert new != body
    with pytest.raises(PolicyError, match=key):
        sets.parse(new, "evidence.toml")


def test_cli_record_list_and_refusal(book, run):
    bad = run("suitability", "evidence", "record", "c1", "--act", "risk_warning", "--ack", "S-9", "--product", "PR5",
              "--channel", "counter", "--json", ok=False)
    assert bad.exit_code == 1 and "双录" in bad.output
    assert count(book) == 0
    ok = json.loads(run("suitability", "evidence", "record", "c1", "--act", "risk_warning", "--ack", "S-9",
                        "--product", "PR5", "--channel", "counter", "--recording", "REC-9", "--recording-sha256",
                        SHA, "--recording-seconds", "61", "--json").output)
    assert ok["recording_ref"] == "REC-9"
    listed = json.loads(run("suitability", "evidence", "list", "c1", "--json").output)
    assert [r["id"] for r in listed] == [ok["id"]]
    text = run("suitability", "evidence", "list", "c1").output
    assert "REC-9" in text and "risk_warning" in text
    assert "special_risk_warning" in run("suitability", "evidence", "templates").output


def test_cli_recording_file_digest(book, run, tmp_path):
    media = tmp_path / "rec.mp4"
    media.write_bytes(b"not really a video")
    import hashlib
    digest = hashlib.sha256(b"not really a video").hexdigest()
    out = json.loads(run("suitability", "confirm", "c1", "PR4", "--evidence", "W-7", "--channel", "counter",
                         "--recording", "REC-7", "--recording-file", media, "--recording-seconds", "30",
                         "--json").output)
    assert out["evidence_record"]["recording_sha256"] == digest
    bad = run("suitability", "confirm", "c1", "PR4", "--evidence", "W-8", "--channel", "counter", "--recording",
              "REC-8", "--recording-file", media, "--recording-sha256", SHA, "--recording-seconds", "30", ok=False)
    assert bad.exit_code == 1 and "recording_sha256" in bad.output


def test_act_names_in_chinese_and_a_time_from_a_paper_form(book, admin):
    row = evidence.record(book, admin, "c1", "测评结果", acknowledgement="S", channel="counter",
                          at="2026-06-29 15:30")
    assert row["act"] == "assessment_result" and row["shown_at"] == "2026-06-29T15:30:00+08:00"
    assert row["recorded_at"] == "2026-06-30T10:00:00+08:00"
    with pytest.raises(ValidationFailed, match="at: .*future"):
        evidence.record(book, admin, "c1", "assessment", acknowledgement="S", channel="counter", at="2026-07-01")
    with pytest.raises(ValidationFailed, match="unknown act"):
        evidence.record(book, admin, "c1", "bribe", acknowledgement="S", channel="counter")
    assert count(book) == 1


def test_clients_show_lists_the_evidence(book, run):
    run("suitability", "evidence", "record", "c1", "--act", "assessment_result", "--ack", "SIGN-77", "--channel",
        "counter")
    shown = json.loads(run("clients", "show", "c1", "--json").output)
    assert [(e["act"], e["acknowledgement"]) for e in shown["evidence"]] == [("assessment_result", "SIGN-77")]
    assert "SIGN-77" in run("clients", "show", "c1").output
