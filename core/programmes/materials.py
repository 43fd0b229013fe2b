"""Materials of an investor-education session (投资者教育, seed 001 part 9): what was taught.

Each material is recorded against its session with a reference (the document's number
or title page) and, when the file is given, the SHA-256 of its bytes, so an inspector
can match the material on file to what the session used. Append-only: a corrected
material is a new row.
"""

from pathlib import Path

from ..kernel.digests import file_sha256
from ..kernel.errors import BrokerCRMError
from ..kernel.timeutil import now_iso
from ..trust import audit, authz
from . import sessions

KIND, MANAGE = "education", "education.manage"


def _digest(path):
    if not Path(path).is_file():
        raise BrokerCRMError(f"{path}: 文件不存在 (no such file)")
    return file_sha256(path)


def add(db, actor, session_id, *, title, reference, file=None):
    """Record a material of education session ``session_id``; returns the row."""
    s = sessions._session(db, KIND, session_id)
    authz.require(actor, MANAGE, branch=s["branch_id"])
    title, reference = (title or "").strip(), (reference or "").strip()
    if not title or not reference:
        raise BrokerCRMError("须提供资料名称 --title 和编号/出处 --ref (a material needs a title and a reference)")
    digest = _digest(file) if file else None
    at = now_iso()
    with db.atomic():
        mid = db.execute(
            "INSERT INTO education_materials (session_id, title, reference, sha256, added_by, added_at)"
            " VALUES (?, ?, ?, ?, ?, ?)", [session_id, title, reference, digest, actor.id, at]).lastrowid
        audit.record(db, "education.material", actor=actor, target=f"session {session_id}",
                     detail={"material_id": mid, "reference": reference, "sha256": digest})
    return {"id": mid, "session_id": session_id, "title": title, "reference": reference, "sha256": digest,
            "added_by": actor.id, "added_at": at}


def for_session(db, session_id):
    return [dict(r) for r in db.query(
        "SELECT id, title, reference, sha256, added_by, added_at FROM education_materials"
        " WHERE session_id = ? ORDER BY id", [session_id])]
