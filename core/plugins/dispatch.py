"""Calling the plugins in force for a branch: the hooks, batched by branch.

Every function here asks the gate (``gate.approved_for``) which plugins may
act for a branch and runs only those, in their worker processes
(``host.Host``). A plugin that misbehaves, or that stands approved but
cannot be run as approved, becomes a ``PluginError`` naming plugin and
branch. The declarative hooks' results must also match the rules
fingerprint head office approved.
"""

import math

from .gate import DECLARATIVE_HOOKS, approved_for, in_force, rules_fingerprint
from .host import Host
from .isolation import PluginError
from ..kernel.timeutil import now_iso
from ..trust import root as trust_root

MAX_FOLLOW_UP_HOURS = 24 * 366  # a follow-up more than a year out is a plugin bug, not a plan


def call_for_branch(db, host, branch, hook, **kwargs):
    """[(installed plugin, result)] of every approved plugin's ``hook`` for ``branch``."""
    out = []
    for info, decision in approved_for(db, host, branch):
        try:
            if hook not in host.hooks(info.name):
                continue
            result = host.call(info.name, hook, branch=branch, **kwargs)
        except PluginError as e:
            raise PluginError(info.name, branch, e.detail) from None
        if hook in DECLARATIVE_HOOKS and decision.rules.get(hook) != rules_fingerprint(result):
            raise PluginError(info.name, branch,
                              f"{hook} 返回的规则与总部批准时不同 (rules changed since approval #{decision.approval_id})")
        out.append((info, result))
    return out


def branches_with_plugins(db, branches=None):
    """The branches (of ``branches``, or all) for which some plugin decision is in force."""
    try:
        root = trust_root.for_db(db)
    except trust_root.TrustRootError:
        return set()
    wanted = None if branches is None else set(branches)
    return {b for (_, b) in in_force(db, root) if wanted is None or b in wanted}


def record_failure(db, error, *, hook, target=None):
    """Keep a plugin's failure (a ``PluginError``) where it is seen, inside the caller's transaction."""
    db.execute("INSERT INTO plugin_errors (at, plugin, branch, hook, target, error) VALUES (?, ?, ?, ?, ?, ?)",
               [now_iso(), error.plugin, error.branch, hook, target, error.detail[:2000]])


def _by_branch(rows):
    out = {}
    for i, row in enumerate(rows):
        out.setdefault(row.get("branch_id"), []).append(i)
    return out


def row_validators(db, host):
    """Validators for ``import_clients(row_validators=…)`` running approved plugins' checks.

    Rows are grouped by branch; each approved plugin sees only its branch's
    rows, and its reasons are prefixed with its name.
    """
    if not branches_with_plugins(db):
        return []

    def validate(rows):
        problems = []
        for branch, positions in _by_branch(rows).items():
            batch = [rows[i] for i in positions]
            for info, result in call_for_branch(db, host, branch, "validate_clients", rows=batch):
                try:
                    for index, column, reason in result or ():
                        problems.append((positions[index], str(column), f"{info.name}: {reason}"))
                except (TypeError, ValueError, IndexError) as e:
                    raise PluginError(info.name, branch, f"validate_clients 返回格式错误 (malformed result): {e}") from e
        return problems

    return [validate]


def row_enrichers(db, host):
    """Enrichers for ``import_clients(row_enrichers=…)`` running approved plugins' enrich_clients."""
    if not branches_with_plugins(db):
        return []

    def enrich(rows):
        added = []
        for branch, positions in _by_branch(rows).items():
            batch = [rows[i] for i in positions]
            for info, result in call_for_branch(db, host, branch, "enrich_clients", rows=batch):
                try:
                    for index, values in result or ():
                        added.append((positions[index], dict(values)))
                except (TypeError, ValueError, IndexError) as e:
                    raise PluginError(info.name, branch, f"enrich_clients 返回格式错误 (malformed result): {e}") from e
        return added

    return [enrich]


def _follow_up(info, branch, item):
    """One follow-up, checked: a kind, a due time within a year, a short note."""
    if not isinstance(item, dict) or not isinstance(item.get("kind"), str) or not item["kind"].strip():
        raise PluginError(info.name, branch, f"interaction_follow_ups 返回格式错误 (malformed): {item!r:.200}")
    hours = item.get("due_in_hours")
    if hours is not None and (isinstance(hours, bool) or not isinstance(hours, (int, float))
                              or not math.isfinite(hours) or not 0 <= hours <= MAX_FOLLOW_UP_HOURS):
        raise PluginError(info.name, branch,
                          f"due_in_hours 须为 0–{MAX_FOLLOW_UP_HOURS} 之间的数 (out of range): {hours!r:.50}")
    note = item.get("note", "")
    if not isinstance(note, str):
        raise PluginError(info.name, branch, "note 须为文本 (note must be text)")
    return {"plugin": info.name, "kind": item["kind"].strip()[:64], "due_in_hours": hours, "note": note[:500]}


def follow_ups(db, event, branch, host):
    """Follow-ups that approved plugins of ``branch`` ask for after ``event``.

    Returns [{"plugin", "kind", "due_in_hours", "note"}]; for the
    interactions engine to turn into tasks.
    """
    out = []
    for info, result in call_for_branch(db, host, branch, "interaction_follow_ups", event=event):
        if not isinstance(result, (list, tuple)) and result is not None:
            raise PluginError(info.name, branch, "interaction_follow_ups 须返回列表 (must return a list)")
        out += [_follow_up(info, branch, item) for item in result or ()]
    return out


def with_client_checks(import_clients, host):
    """Wrap ``import_clients(db, path, **kw)`` so approved plugins' KYC checks join its report
    and their derived fields are kept with the clients.

    The import CLI uses this; the importer itself stays free of plugin code.
    """

    def run(db, path, **kwargs):
        validators = list(kwargs.pop("row_validators", None) or []) + row_validators(db, host)
        enrichers = list(kwargs.pop("row_enrichers", None) or []) + row_enrichers(db, host)
        return import_clients(db, path, row_validators=validators, row_enrichers=enrichers, **kwargs)

    return run


__all__ = ["Host", "call_for_branch", "row_validators", "row_enrichers", "follow_ups", "with_client_checks"]
