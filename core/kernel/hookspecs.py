"""Every hook a branch plugin may implement, in three families.

A plugin implements a hook by defining a function of the same name decorated
with ``brokercrm.hookspecs.hookimpl``; it may take any subset of the
arguments (pluggy passes only the ones it names). That is what lets these
specs *gain* arguments over time without breaking plugins written today:
a spec here may add an argument, never remove or rename one
(``tests/plugins/test_plugins_discovery.py`` keeps a frozen list).

The engine calls a plugin for a branch only while head office's approval of
exactly (plugin, version, code digest, branch) stands; ``branch`` is always
the branch code the call is for. Every hook is documented in
``docs/plugins.md`` with its exact argument list (a test fails when not).

Hot hooks take a batch (``rows``) or return declarative rules that compile
to SQL: a plugin is never called once per client per run.
"""

import pluggy

PROJECT = "brokercrm"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

FAMILIES = {
    "client": ["validate_clients", "enrich_clients"],
    "interaction": ["interaction_follow_ups"],
    "policy": ["classification_adjustments", "suitability_checks", "behaviour_rules", "choose_service_package",
               "register_commands"],
}


# -- client ------------------------------------------------------------------

@hookspec
def validate_clients(rows, branch):
    """Extra KYC checks on a batch of imported client rows of ``branch``.

    ``rows`` is a list of dicts (standard columns, normalised: numbers as
    float, dates ISO; extra columns as text). Return a list of
    ``(index, column, reason)`` for each problem; ``index`` is the position
    in ``rows``. Problems join the import's row-level report, so a file with
    one bad row imports nothing.
    """


@hookspec
def enrich_clients(rows, branch):
    """Derived fields for a batch of client rows of ``branch``.

    Return a list of ``(index, {column: value})``; the values are kept with
    the client as extra columns. Never change identity fields.
    """


# -- interaction -------------------------------------------------------------

@hookspec
def interaction_follow_ups(event, branch):
    """Follow-up tasks for a logged interaction or domain event of ``branch``.

    ``event`` is a dict: ``id, kind, client_id, at, detail, operator``.
    Return a list of ``{"kind": str, "due_in_hours": number, "note": str}``.
    """


# -- policy ------------------------------------------------------------------

@hookspec
def classification_adjustments(branch, policy, today):
    """Declarative class adjustments for the clients of ``branch``.

    ``policy`` is the head-office classification policy in force (a dict; its
    ``grid.order`` lists classes lowest first), ``today`` a date. Return a list
    of rules, each ``{"when": condition, "shift": n, "reason": text}`` (move
    ``n`` classes along ``grid.order``; +1 is one class up) or
    ``{"when": condition, "set_class": "A", "reason": text}``. Conditions use
    the language of ``brokercrm.rules`` over client fields (with ``age`` and
    ``account_years``, whole years since ``opened_at``) and the values the
    head-office policy proposes (``class``, ``risk_level``, ``lowest_category``,
    ``habit``, ``tier``, ``value_segment``). The first matching rule of a
    branch wins; its reason lands in the client's history.
    """


@hookspec
def suitability_checks(branch):
    """Extra suitability rules for ``branch``.

    Return a list of ``{"name": str, "when": condition, "message": str}``,
    optionally with ``"verdict"``: ``"forbidden"`` (no confirmation lifts it),
    ``"mismatch"`` (needs the special risk warning and written confirmation)
    or ``"warning"`` (the default: ``message`` is only added to the reasons).
    ``when`` may test client fields, ``age``, and ``product_risk`` (1–5),
    ``product_type``, ``product_code``, ``risk_level``, ``investor_type``,
    ``lowest_category``, ``behaviour_flag`` (see ``brokercrm.suitability.engine``).
    """


@hookspec
def behaviour_rules(branch):
    """Extra behaviour re-rating rules for the clients of ``branch``.

    Return a list of rules shaped like head office's ``[[behaviour.rules]]``
    in policies/suitability.toml: ``{"name", "flag", "label", "window_days",
    "min_days", "message", "reason"}`` plus a condition (``any``/``all``/``not``)
    over the day fields ``turnover_pct`` and ``st_share``. A client with at
    least ``min_days`` such days within ``window_days`` gets the flag and an
    alert task; head office's rules are tried first. Flags never block trading.
    """


@hookspec
def choose_service_package(client, packages, branch):
    """Pick a service package for one client of ``branch``.

    ``client`` is the masked client dict with its classification,
    ``packages`` the package names head office offers. Return one of
    ``packages`` or None to leave the head-office choice.
    """


@hookspec
def register_commands(cli):
    """Add click commands to the ``brokercrm`` command line.

    The commands refuse to run until the plugin is approved for at least one
    branch.
    """
