"""Calling approved plugins for a branch: the hooks, batched by branch.

Every function here asks the gate (``brokercrm.plugins.gate``) which loaded
plugins may act for a branch and calls only those; a plugin that raises or
returns something malformed becomes a ``PluginError`` naming plugin and
branch.
"""

from .gate import approved_for
from .manager import PluginError
from .process import current


def call_for_branch(db, plugins, branch, hook, **kwargs):
    """[(plugin info, result)] of every approved plugin's ``hook`` for ``branch``.

    A plugin that raises becomes a PluginError naming plugin and branch.
    """
    out = []
    for info in approved_for(db, plugins, branch):
        if not plugins.implementations(info, hook):
            continue
        try:
            out.append((info, plugins.call_one(info, hook, branch=branch, **kwargs)))
        except Exception as e:
            raise PluginError(info.name, branch, f"{hook} 出错 (raised) {type(e).__name__}: {e}") from e
    return out


def _per_branch_rows(db, plugins, hook, item):
    """A batch function for a row hook (``validate_clients``, ``enrich_clients``), or None if no plugin has it.

    Rows are grouped by branch and each approved plugin sees only its branch's
    rows. ``item(info, position, entry)`` turns one entry of a plugin's result,
    whose index it has mapped back to the batch, into what the caller collects.
    """
    plugins = plugins if plugins is not None else current()
    if not any(plugins.implementations(i, hook) for i in plugins if not i.error):
        return None

    def run(rows):
        by_branch = {}
        for i, row in enumerate(rows):
            by_branch.setdefault(row.get("branch_id"), []).append(i)
        out = []
        for branch, positions in by_branch.items():
            batch = [rows[i] for i in positions]
            for info, result in call_for_branch(db, plugins, branch, hook, rows=batch):
                try:
                    for index, *entry in result or ():
                        out.append(item(info, positions[index], entry))
                except (TypeError, ValueError, IndexError) as e:
                    raise PluginError(info.name, branch, f"{hook} 返回格式错误 (malformed result): {e}") from e
        return out

    return run


def row_validators(db, plugins=None):
    """Validators for ``import_clients(row_validators=…)`` running approved plugins' checks.

    Each plugin returns ``[(index, column, reason)]``; its reasons are prefixed with its name.
    """
    def problem(info, position, entry):
        column, reason = entry
        return position, column, f"{info.name}: {reason}"

    validate = _per_branch_rows(db, plugins, "validate_clients", problem)
    return [validate] if validate else []


def row_enrichers(db, plugins=None):
    """Enrichers for ``import_clients(row_enrichers=…)`` running approved plugins' ``enrich_clients``.

    Each plugin returns ``[(index, {column: value})]``.
    """
    def added(info, position, entry):
        (values,) = entry
        return position, dict(values)

    enrich = _per_branch_rows(db, plugins, "enrich_clients", added)
    return [enrich] if enrich else []


def follow_ups(db, event, branch, plugins=None):
    """Follow-ups that approved plugins of ``branch`` ask for after ``event``.

    Returns [{"plugin", "kind", "due_in_hours", "note"}]; for the
    interactions engine to turn into tasks.
    """
    plugins = plugins if plugins is not None else current()
    out = []
    for info, result in call_for_branch(db, plugins, branch, "interaction_follow_ups", event=event):
        for item in result or ():
            if not isinstance(item, dict) or not isinstance(item.get("kind"), str):
                raise PluginError(info.name, branch, f"interaction_follow_ups 返回格式错误 (malformed): {item!r}")
            out.append({"plugin": info.name, "kind": item["kind"],
                        "due_in_hours": item.get("due_in_hours"), "note": item.get("note", "")})
    return out


def with_client_checks(import_clients, plugins=None):
    """Wrap ``import_clients(db, path, **kw)`` so approved plugins' KYC checks join its report
    and their derived fields are kept with the clients.

    The import CLI uses this; the importer itself stays free of plugin code.
    """

    def run(db, path, **kwargs):
        validators = list(kwargs.pop("row_validators", None) or []) + row_validators(db, plugins)
        enrichers = list(kwargs.pop("row_enrichers", None) or []) + row_enrichers(db, plugins)
        return import_clients(db, path, row_validators=validators, row_enrichers=enrichers, **kwargs)

    return run
