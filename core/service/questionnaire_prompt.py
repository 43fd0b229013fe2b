"""The questionnaire prompt (seed 001 第八条2; issue 14 item 4): an existing client without a valid
risk questionnaire is asked to fill one in at their next interaction (存量客户…应要求客户补填).

An events listener: when an interaction is logged for a client whose latest
assessment is missing or expired, it emits ``questionnaire_missing`` — once per
client and assessment state (no assessment, or that expired assessment) — and the
service policy's touchpoint for that event opens the task "请客户填写风险测评问卷",
which goes to the client's account manager like any task without a queue. A
client who then fills one in has a valid assessment and is not asked again.
"""

from ..kernel import events
from ..kernel.timeutil import today

EVENT = "questionnaire_missing"


def on_event(db, event):
    if event["kind"] != "interaction_logged":
        return
    row = db.execute("SELECT assessment_id, assessment_expires_at FROM clients WHERE client_id = ?",
                     [event["client_id"]]).fetchone()
    if row is None:
        return
    assessment_id, expires = row
    if assessment_id is not None and (expires is None or expires >= today().isoformat()):
        return  # a valid questionnaire: nothing to ask
    state = "none" if assessment_id is None else f"expired:{assessment_id}"
    asked = db.execute("SELECT 1 FROM events WHERE kind = ? AND client_id = ? AND json_extract(detail, '$.state') = ?"
                       " LIMIT 1", [EVENT, event["client_id"], state]).fetchone()
    if asked:
        return  # once: the client has been asked already for this state
    detail = {"state": state, "interaction_id": event["detail"].get("interaction_id"),
              "branch_id": event["detail"].get("branch_id")}
    events.emit(db, EVENT, event["client_id"], at=event["at"], detail=detail, operator=event.get("operator"))
