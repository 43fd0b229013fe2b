"""Account managers (客户经理, seed 001; issue 14 item 2): who owns which client.

Each client has an account manager: an operator id of the client's own branch
(``clients.account_manager``). Naming one is an audited act with a reason, kept
in the append-only ``manager_assignments``; so is moving one client, or every
client of a departing manager to another manager or spread over several. A
change emits ``manager_changed``, on which the task engine moves the client's
open tasks from the old manager to the new one.

The client import carries the column too (``account_manager``, 客户经理,
客户经理编号): ``ImportAssignments`` checks each row's manager against the
operators of that row's branch and records the assignments of the rows written.
"""

import json

from ..kernel import events, rows
from ..kernel.errors import BrokerCRMError, NotFound
from ..kernel.registry import registry
from ..kernel.timeutil import now_iso
from ..trust import audit, authz

COLUMN = "account_manager"
ALIASES = {"客户经理": COLUMN, "客户经理编号": COLUMN, "客户经理代码": COLUMN, "manager": COLUMN}
MAX_REASON = 200


def active_operators(db, branch_id):
    """Operator ids of ``branch_id`` whose certificate has not been revoked."""
    return {r[0] for r in db.execute(
        "SELECT id FROM operators WHERE branch = ? AND id NOT IN"
        " (SELECT target FROM audit_log WHERE action = 'operator.revoke')", [branch_id])}


def refusal(db, branch_id, manager, known=None):
    """Why ``manager`` cannot manage clients of ``branch_id`` (text), or None if they can."""
    known = active_operators(db, branch_id) if known is None else known
    if manager in known:
        return None
    row = db.execute("SELECT branch FROM operators WHERE id = ?", [manager]).fetchone()
    if row is None:
        return f"客户经理 {manager!r} 不是已登记的操作员 (not a registered operator)"
    if row[0] != branch_id:
        where = f"营业部 {row[0]}" if row[0] else "总部"
        return (f"客户经理 {manager} 属于{where}, 不是营业部 {branch_id} 的操作员"
                f" (a client's manager must be an operator of the client's branch)")
    return f"客户经理 {manager} 的证书已撤销 (the operator has been revoked)"


def _reason(reason):
    if not reason or not str(reason).strip():
        raise BrokerCRMError("变更客户经理须说明理由 --reason (a reason is required)")
    reason = str(reason).strip()
    if len(reason) > MAX_REASON:
        raise BrokerCRMError(f"理由过长, 最多 {MAX_REASON} 字 (reason too long)")
    return reason


def _record(db, actor, client_id, branch_id, old, new, reason, source, at):
    """Store one assignment and emit ``manager_changed``."""
    _record_many(db, actor, [(client_id, branch_id, old, new, reason, source)], at, emit=False)
    return events.emit(db, "manager_changed", client_id, at=at, detail={"branch_id": branch_id, "old": old, "new": new},
                       operator=actor.id)


def _record_many(db, actor, assignments, at, *, emit=True):
    """Store assignments [(client_id, branch, old, new, reason, source)] with one statement each kind.

    With ``emit`` the ``manager_changed`` events are recorded (one INSERT … for all) and handed to
    the listeners as one batch (``_dispatch``): an import or a handover of thousands of clients
    costs a few statements, not a few per client.
    """
    if not assignments:
        return []
    conn = db.conn
    conn.executemany(
        "INSERT INTO manager_assignments (client_id, branch_id, old_manager, new_manager, reason, source, at,"
        " operator) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [(*a, at, actor.id) for a in assignments])
    conn.executemany("UPDATE clients SET account_manager = ? WHERE client_id = ?",
                     [(a[3], a[0]) for a in assignments])
    if not emit:
        return []
    last = conn.execute("SELECT COALESCE(max(id), 0) FROM events").fetchone()[0]
    details = [{"branch_id": a[1], "old": a[2], "new": a[3]} for a in assignments]
    conn.executemany("INSERT INTO events (kind, client_id, at, detail, operator) VALUES ('manager_changed', ?, ?, ?, ?)",
                     [(a[0], at, json.dumps(d, ensure_ascii=False), actor.id) for a, d in zip(assignments, details)])
    ids = [r[0] for r in conn.execute("SELECT id FROM events WHERE id > ? ORDER BY id", [last])]
    batch = [{"id": i, "kind": "manager_changed", "client_id": a[0], "at": at, "detail": d, "operator": actor.id}
             for i, a, d in zip(ids, assignments, details)]
    _dispatch(db, batch)
    return batch


def _dispatch(db, batch):
    """Hand recorded events to the listeners, a whole batch at once where a listener takes one."""
    if not batch:
        return
    for listener in registry().event_listeners:
        many = getattr(listener, "batch", None)
        if many is not None:
            many(db, batch)
        else:
            for event in batch:
                listener(db, event)


def assign(db, actor, client_id, manager, *, reason):
    """Make ``manager`` the account manager of ``client_id`` (assignment or reassignment)."""
    reason = _reason(reason)
    client = rows.client(db, client_id, "client_id, branch_id, account_manager")
    authz.require(actor, "manager.assign", branch=client["branch_id"])
    why = refusal(db, client["branch_id"], manager)
    if why:
        raise BrokerCRMError(f"客户 {client_id}: {why}")
    old = client["account_manager"]
    if old == manager:
        raise BrokerCRMError(f"{manager} 已是客户 {client_id} 的客户经理 (already the manager)")
    at = now_iso()
    with db.atomic():
        _record(db, actor, client_id, client["branch_id"], old, manager, reason, "reassign" if old else "assign", at)
        audit.record(db, "manager.assign", actor=actor, target=client_id,
                     detail={"old": old, "new": manager, "reason": reason})
    return {"client_id": client_id, "branch_id": client["branch_id"], "old_manager": old, "account_manager": manager,
            "reason": reason, "at": at}


def handover(db, actor, from_manager, to_managers, *, reason):
    """Every client of ``from_manager`` to ``to_managers``: one takes all, several share them in turn.

    Clients go in client-id order, each to the receiving manager with the fewest
    clients so far (ties: the order given), so the books stay even. All or nothing.
    """
    reason = _reason(reason)
    clients = db.execute("SELECT client_id, branch_id FROM clients WHERE account_manager = ? ORDER BY client_id",
                         [from_manager]).fetchall()
    if not clients:
        raise NotFound(f"{from_manager} 名下没有客户 (no clients managed by {from_manager})")
    return _spread(db, actor, clients, from_manager, to_managers, reason, "bulk", "manager.handover", from_manager)


def distribute(db, actor, branch, to_managers, *, reason):
    """Every client of ``branch`` without a manager, shared among ``to_managers`` like ``handover``."""
    reason = _reason(reason)
    clients = db.execute("SELECT client_id, branch_id FROM clients WHERE branch_id = ? AND account_manager IS NULL"
                         " ORDER BY client_id", [branch]).fetchall()
    if not clients:
        authz.require(actor, "manager.assign", branch=branch)
        return {"from": None, "to": {}, "clients": 0, "reason": reason, "at": now_iso()}
    return _spread(db, actor, clients, None, to_managers, reason, "distribute", "manager.distribute", branch)


def _spread(db, actor, clients, from_manager, to_managers, reason, source, action, target):
    to_managers = list(dict.fromkeys(m.strip() for m in to_managers if m and m.strip()))
    if not to_managers:
        raise BrokerCRMError("须指明接手的客户经理 --to (at least one receiving manager)")
    if from_manager is not None and from_manager in to_managers:
        raise BrokerCRMError(f"{from_manager} 不能移交给自己 (cannot hand over to themself)")
    for branch in sorted({b for _, b in clients}):
        authz.require(actor, "manager.assign", branch=branch)
        known = active_operators(db, branch)
        for m in to_managers:
            why = refusal(db, branch, m, known)
            if why:
                raise BrokerCRMError(f"--to {m}: {why}")
    load = {m: db.execute("SELECT count(*) FROM clients WHERE account_manager = ?", [m]).fetchone()[0]
            for m in to_managers}
    at, moved = now_iso(), {m: 0 for m in to_managers}
    with db.atomic():
        assignments = []
        for client_id, branch in clients:
            target_manager = min(to_managers, key=lambda m: (load[m], to_managers.index(m)))
            load[target_manager] += 1
            moved[target_manager] += 1
            assignments.append((client_id, branch, from_manager, target_manager, reason, source))
        _record_many(db, actor, assignments, at)
        audit.record(db, action, actor=actor, target=target,
                     detail={"to": moved, "clients": len(clients), "reason": reason})
    return {"from": from_manager, "to": moved, "clients": len(clients), "reason": reason, "at": at}


def history(db, actor, client_id):
    """The client's assignments, oldest first."""
    branch = rows.client(db, client_id)["branch_id"]
    authz.require(actor, "client.read", branch=branch)
    return list(db.query(
        "SELECT old_manager, new_manager, reason, source, at, operator FROM manager_assignments"
        " WHERE client_id = ? ORDER BY id", [client_id]))


class ImportAssignments:
    """The ``account_manager`` column of a client import: checked per row, recorded once written.

    The column arrives among a row's extra columns; ``take`` removes it from
    them (it is stored in ``clients.account_manager``, not as extra data) and
    returns problems for the rows whose manager is not an operator of the row's
    branch. ``apply`` records the assignments of the rows that were written.
    """

    def __init__(self, db, actor, source):
        self.db, self.actor, self.source = db, actor, source
        self.known = {}
        self.pending = []   # (row number, client_id, branch, manager)

    def _known(self, branch):
        if branch not in self.known:
            self.known[branch] = active_operators(self.db, branch)
        return self.known[branch]

    def take(self, good, numbers, client_index, branch_index):
        """(good rows without the column, problems as [(index, column, reason)])."""
        out, problems = [], []
        for i, stored in enumerate(good):
            extra = stored[-1]
            if not extra or COLUMN not in extra:
                out.append(stored)
                continue
            values = json.loads(extra)
            manager = str(values.pop(COLUMN, "") or "").strip()
            stored = (*stored[:-1], json.dumps(values, ensure_ascii=False, sort_keys=True) if values else None)
            out.append(stored)
            if not manager:
                continue
            branch = stored[branch_index]
            why = refusal(self.db, branch, manager, self._known(branch))
            if why:
                problems.append((i, COLUMN, why))
            else:
                self.pending.append((numbers[i], stored[client_index], branch, manager))
        return out, problems

    def drop(self, row_numbers):
        """Forget the rows that were not written (refused, or repeating an earlier row)."""
        gone = set(row_numbers)
        self.pending = [p for p in self.pending if p[0] not in gone]

    def apply(self):
        """Record the assignments that change a client's manager; returns how many."""
        if not self.pending:
            return 0
        current = dict.fromkeys(p[1] for p in self.pending)
        for chunk in rows.chunks(list(current), 900):
            current.update(self.db.execute(
                f"SELECT client_id, account_manager FROM clients WHERE client_id IN ({', '.join('?' * len(chunk))})",
                chunk).fetchall())
        assignments = []
        for n, client_id, branch, manager in self.pending:
            old = current.get(client_id)
            if old == manager:
                continue
            assignments.append((client_id, branch, old, manager, f"导入 {self.source}:{n} (import)",
                                f"{self.source}:{n}"))
            current[client_id] = manager
        self.pending = []
        _record_many(self.db, self.actor, assignments, now_iso())
        return len(assignments)
