"""Operators' securities qualification (证券从业资格) and its validity.

Recording one is a head-office act (``operator.qualify``), audited. The latest
record per operator is in force; it is valid through ``valid_until``. Whether an
act needs a qualified person is the positions policy's ``[qualification]``.
"""

import datetime as dt
import re

from ..kernel.errors import BrokerCRMError, NotFound
from ..kernel.timeutil import now_iso, today
from ..trust import audit, authz

# SAC registration numbers are letters and digits; bounded because it lands in audit rows.
CERT_NO = re.compile(r"[A-Za-z0-9-]{4,32}")


def record(db, actor, operator_id, certificate_no, valid_until):
    """Record ``operator_id``'s qualification, valid through ``valid_until`` (YYYY-MM-DD)."""
    authz.require(actor, "operator.qualify")
    if db.execute("SELECT 1 FROM operators WHERE id = ?", [operator_id]).fetchone() is None:
        raise NotFound(f"操作员 {operator_id} 不存在 (no such operator)")
    if not isinstance(certificate_no, str) or not CERT_NO.fullmatch(certificate_no.strip()):
        raise BrokerCRMError(
            f"从业资格证书编号 {certificate_no!r} 无效: 须为 4–32 位字母、数字或 - (invalid certificate number)")
    try:
        until = dt.date.fromisoformat(str(valid_until))
    except ValueError:
        raise BrokerCRMError(f"有效期 {valid_until!r} 须为日期 YYYY-MM-DD (valid-until must be a date)") from None
    row = {"operator_id": operator_id, "certificate_no": certificate_no.strip(), "valid_until": until.isoformat(),
           "recorded_at": now_iso(), "recorded_by": actor.id}
    with db.atomic():
        db.execute("INSERT INTO operator_qualifications (operator_id, certificate_no, valid_until, recorded_at,"
                   " recorded_by) VALUES (:operator_id, :certificate_no, :valid_until, :recorded_at, :recorded_by)",
                   row)
        audit.record(db, "operator.qualify", actor=actor, target=operator_id,
                     detail={"certificate_no": row["certificate_no"], "valid_until": row["valid_until"]})
    return row


def current(db, operator_id):
    """The qualification in force for ``operator_id`` (a dict), or None."""
    row = db.execute("SELECT certificate_no, valid_until, recorded_at, recorded_by FROM operator_qualifications"
                     " WHERE operator_id = ? ORDER BY id DESC LIMIT 1", [operator_id]).fetchone()
    if row is None:
        return None
    return dict(zip(("certificate_no", "valid_until", "recorded_at", "recorded_by"), row))


def valid(db, operator_id, on):
    q = current(db, operator_id)
    return q is not None and q["valid_until"] >= on.isoformat()


def status(db, operator_id, on=None):
    """"有效" / "已过期" / "无" for a listing."""
    q = current(db, operator_id)
    if q is None:
        return "无 (none)"
    return "有效 (valid)" if q["valid_until"] >= (on or today()).isoformat() else "已过期 (expired)"
