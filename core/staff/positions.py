"""The positions policy: each position's acts and scope, and the acts needing a qualification.

The authorisation table (``trust.authz``) stands below policy and cannot read it;
this module gives it what it needs through the registry: the catalogue of positions
(``catalogue``, so ``operators add --role`` knows them) and one operator's
authority (``authority``: the acts their position grants, and the acts refused for
lack of a valid qualification), resolved when the operator authenticates.
"""

import tomllib
from functools import lru_cache

from ..kernel.checks import array, text
from ..kernel.errors import PolicyError
from ..kernel.timeutil import today
from ..policy import sets as policy_lib
from ..trust import authz
from . import qualifications

NAME = "positions"
BASES = {"branch": authz.OWN, "headoffice": authz.FIRM}
# The governance of the system itself stays with the built-in head-office role: a
# position granting these would let a policy file mint operators or decide plugins.
RESERVED = frozenset({"operator.add", "operator.revoke", "operator.qualify", "branch.add", "policy.publish",
                      "approval.decide", "site.users"})
_BASE_ROLE = {"branch": authz.BRANCH, "headoffice": authz.HEADOFFICE}


def validate(doc):
    qual = doc.get("qualification", {})
    if not isinstance(qual, dict):
        raise PolicyError("qualification: 须为表 (must be a table)")
    for j, act in enumerate(qual.get("required_for", [])):
        if act not in authz.ACTS:
            raise PolicyError(f"qualification.required_for[{j}]: 未知操作 {act!r} (unknown act)")
    seen = set()
    for i, pos in enumerate(array(doc, "positions", "")):
        where = f"positions[{i}]"
        pid = text(pos, "id", where)
        if pid in authz.ROLES:
            raise PolicyError(f"{where}.id: {pid!r} 是内置角色, 不能作为岗位 (a built-in role, not a position)")
        if pid in seen:
            raise PolicyError(f"{where}.id: 岗位 {pid!r} 重复 (duplicate position)")
        seen.add(pid)
        text(pos, "name", where)
        text(pos, "source", where)
        base = pos.get("base")
        if base not in BASES:
            raise PolicyError(f"{where}.base: 须为 branch 或 headoffice (must be branch or headoffice), got {base!r}")
        for j, act in enumerate(array(pos, "acts", where)):
            at = f"{where}.acts[{j}]"
            if act not in authz.ACTS:
                raise PolicyError(f"{at}: 未知操作 {act!r} (unknown act)")
            if act in RESERVED:
                raise PolicyError(f"{at}: {act} 只属于总部角色, 不能授予岗位 (reserved to the head-office role)")
            # A position narrows its base role; it never widens it.
            if _BASE_ROLE[base] not in authz.ACTS[act][1]:
                raise PolicyError(f"{at}: {base} 岗位不能 {act} (its base role may not do this act)")


@lru_cache(maxsize=8)
def _parse(body):
    return tomllib.loads(body)


def _doc(db):
    """The positions policy in force; the shipped default while a database's set has none."""
    row = db.execute(
        "SELECT body FROM policy_files WHERE name = ? AND version = (SELECT max(version) FROM policy_versions)",
        [NAME]).fetchone()
    if row is not None:
        return _parse(row[0])
    return _parse((policy_lib.default_policy_dir() / "positions.toml").read_text(encoding="utf-8"))


def catalogue(db):
    """{position id: {"name", "base", "scope", "acts", "source"}} of the policy in force."""
    return {p["id"]: {"name": p["name"], "base": p["base"], "scope": BASES[p["base"]], "acts": list(p["acts"]),
                      "source": p["source"]}
            for p in _doc(db)["positions"]}


def qualified_acts(db):
    return frozenset(_doc(db).get("qualification", {}).get("required_for", []))


def authority(db, operator_id, role):
    """What authz needs about one operator: {"grants": {act: scope}, "unqualified_for": acts}."""
    doc = _doc(db)
    grants = {}
    for pos in doc["positions"]:
        if pos["id"] == role:
            grants = {act: BASES[pos["base"]] for act in pos["acts"]}
    unqualified = frozenset()
    if role != authz.SERVICE and not qualifications.valid(db, operator_id, today()):
        unqualified = frozenset(doc.get("qualification", {}).get("required_for", []))
    return {"grants": grants, "unqualified_for": unqualified}


def roles(db):
    """{position id: "branch" | "headoffice"}: the roles operators may be certified in beyond the built-ins."""
    return {pid: p["base"] for pid, p in catalogue(db).items()}


def listing(db, actor):
    """The positions policy in force, for anyone who may see the operators."""
    authz.scope(actor, "operator.list")
    return {"qualification_required_for": sorted(qualified_acts(db)), "positions": catalogue(db)}
