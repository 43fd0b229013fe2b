"""The import policy: header synonyms and ignored columns, by import kind (policies/import.toml).

Head office owns the names a trading system gives its columns: a firm whose
export says 资金账号 for the client number adds that spelling here and
publishes the file (``brokercrm policy publish``); no code changes. The file
is validated like every policy: each kind and column must be one the
importers know, and one spelling must mean one column.

``spec(db, kind, …)`` gives an importer its ``headers.ColumnSpec``: the
built-in spellings, the policy's synonyms and ignores, the kind's columns.
A database whose policy set predates this file uses the shipped default.
"""

from functools import lru_cache

from ..kernel.errors import PolicyError
from .headers import ColumnSpec, header_key
from ..policy import current as current_policy
from ..policy import default_policy_dir, load_file
from .client_rows import ALIASES as CLIENT_ALIASES
from .columns import KINDS


def validate(doc):
    """Raise PolicyError naming the key of the first problem in a parsed import policy."""
    for kind, body in doc.items():
        if kind == "policy":
            continue
        if kind not in KINDS:
            raise PolicyError(f"{kind}: 未知的导入类型 (unknown import kind; known: {', '.join(KINDS)})")
        if not isinstance(body, dict):
            raise PolicyError(f"{kind}: 须为表 (must be a table)")
        for key in body:
            if key not in ("synonyms", "ignore"):
                raise PolicyError(f"{kind}.{key}: 未知的键 (unknown key; use synonyms, ignore)")
        _check_kind(kind, body)


def _strings(value, where):
    if not isinstance(value, list) or not all(isinstance(v, str) and header_key(v) for v in value):
        raise PolicyError(f"{where}: 须为非空字符串的列表 (must be a list of non-empty strings)")
    return [_alias(v) for v in value]


def _check_kind(kind, body):
    spec = KINDS[kind]
    # The client import's own spellings are checked too; the other importers' live above this
    # package and come in only when they import (spec's extra_aliases), where the policy's win.
    builtin = {_alias(k): v for k, v in (CLIENT_ALIASES if kind == "clients" else {}).items()}
    seen = {}
    synonyms = body.get("synonyms", {})
    if not isinstance(synonyms, dict):
        raise PolicyError(f"{kind}.synonyms: 须为表: 列 = [同义词, …] (must be a table: column = [spellings])")
    for column, spellings in synonyms.items():
        where = f"{kind}.synonyms.{column}"
        if not spec.knows(column):
            raise PolicyError(f"{where}: {kind} 导入没有 {column} 列 (no such column; known: {', '.join(spec.known)})")
        for spelling in _strings(spellings, where):
            meant = seen.get(spelling) or builtin.get(spelling) or (spelling if spec.knows(spelling) else None)
            if meant and meant != column:
                raise PolicyError(f"{where}: {spelling!r} 已表示 {meant} 列, 一个表头只能表示一列 "
                                  f"(already means {meant}; one spelling, one column)")
            seen[spelling] = column
    for spelling in _strings(body.get("ignore", []), f"{kind}.ignore"):
        if spelling in seen or spelling in builtin or spec.knows(spelling):
            raise PolicyError(f"{kind}.ignore: {spelling!r} 是一个列的表头, 不能忽略 (names a column; cannot be"
                              " ignored)")


def _document(db):
    found = current_policy(db).files.get("import")
    if found is not None:
        return found.doc
    return _default()


@lru_cache(maxsize=1)
def _default():
    return load_file(default_policy_dir() / "import.toml").doc


def spec(db, kind, extra_aliases=None, extra_known=()):
    """The ColumnSpec of one import kind under the policy in force."""
    return spec_from(_document(db), kind, extra_aliases, extra_known)


def _alias(spelling):
    key = header_key(spelling)
    return key.lower() if key.isascii() else key


def spec_from(doc, kind, extra_aliases=None, extra_known=()):
    """The ColumnSpec of ``kind`` under a parsed import policy ``doc``."""
    base = KINDS[kind]
    aliases = {_alias(k): v for k, v in (extra_aliases or {}).items()}
    body = doc.get(kind, {})
    for column, spellings in body.get("synonyms", {}).items():
        for spelling in spellings:
            aliases[_alias(spelling)] = column
    ignore = frozenset(_alias(s) for s in body.get("ignore", []))
    known = frozenset(base.known) | frozenset(extra_known)
    return ColumnSpec(aliases=aliases, known=known, required=base.required, unknown=base.unknown, ignore=ignore)
