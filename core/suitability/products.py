"""Products and holdings: validated, all-or-nothing imports.

Products carry a risk level R1–R5; a product imported without one gets the
default level of its type from the suitability policy (seeds/001 art. 8: the
three fund tiers; the mapping to R levels and why is in
policies/suitability.toml). Holdings tie a client to a product.

Both go through the shared all-or-nothing loop, ``brokercrm.imports.runner.run_import``.
"""

import json

from ..kernel.errors import NO_SUCH_CLIENT
from ..kernel.rows import chunks, existing
from ..imports.runner import run_import
from . import ratings
from .policy import PRODUCT_LEVELS, load as load_policy, rank
from . import profile
from ..kernel.timeutil import now_iso, today
from ..kernel.validate import non_negative, parse_date

PRODUCT_ALIASES = {
    "产品代码": "code", "基金代码": "code", "代码": "code", "product_code": "code",
    "产品名称": "name", "基金名称": "name", "名称": "name",
    "产品类型": "type", "基金类型": "type", "类型": "type",
    "风险等级": "risk_level", "产品风险等级": "risk_level", "risk": "risk_level",
}
HOLDING_ALIASES = {
    "客户号": "client_id", "客户编号": "client_id", "产品代码": "product_code", "基金代码": "product_code",
    "code": "product_code", "持有金额": "amount", "金额": "amount", "市值": "amount",
    "持有起始日": "since", "持有日期": "since", "起始日期": "since",
}


# -- products ---------------------------------------------------------------

def _check_products(db, policy):
    def check(batch):
        # Levels already set: an import may list a product, never re-rate it (that is maker–checker's).
        current = {}
        codes = [row.get("code", "").strip().upper() for _, row in batch]
        for chunk in chunks(codes, 500):
            current.update(db.execute(f"SELECT code, risk_level FROM products WHERE code IN"
                                      f" ({', '.join('?' * len(chunk))})", chunk).fetchall())
        out = []
        for _, row in batch:
            errors = []
            code = row.get("code", "").strip().upper()
            name = row.get("name", "").strip()
            ptype = row.get("type", "").strip()
            level = row.get("risk_level", "").strip().upper()
            if not code:
                errors.append(("code", "缺少产品代码 (missing product code)"))
            if not name:
                errors.append(("name", "缺少产品名称 (missing product name)"))
            mapped = policy.type_level(ptype) if ptype else None
            source = "file"
            if level:
                if level not in PRODUCT_LEVELS:
                    errors.append(("risk_level", f"{level!r} 须为 R1–R5 (must be R1–R5)"))
                if mapped:
                    ptype = mapped[0]
            elif not ptype:
                errors.append(("risk_level", "缺少风险等级, 也没有产品类型可推定 (no risk level and no type to derive it)"))
            elif mapped is None:
                known = ", ".join(t["type"] for t in policy.doc["types"])
                errors.append(("type", f"未知产品类型 {ptype!r}, 请填写风险等级或使用已知类型 (unknown type; give "
                                       f"risk_level or use one of: {known})"))
            else:
                ptype, level = mapped
                source = f"{policy.source}: {ptype} → {level}"
            given = row.get("risk_level", "").strip()
            if code in current and not given:
                level, source = current[code], "kept"   # a blank level never resets a decided rating
            errors += _rating_errors(policy, ptype, level, given, current.get(code))
            out.append(({"code": code, "name": name, "type": ptype or None, "risk_level": level,
                         "level_source": source}, errors))
        return out

    return check


def _rating_errors(policy, ptype, level, given, current):
    """Issue 11 item 3: a level below the type's floor, or a change of an existing product's level."""
    if level not in PRODUCT_LEVELS:
        return []
    refused = ratings.below_floor(policy, ptype, level)
    if refused:
        if given or current is None:
            return [("risk_level", refused)]
        return [("type", f"按该类型, 现有等级 {refused}; 请先经复核调整等级 (the type's floor is above the current level)")]
    if current is not None and given and level != current:
        return [("risk_level", f"产品现为 {current}; 风险等级变更须总部提议并经另一人复核 (a rating change goes through"
                               " `brokercrm suitability ratings propose`, approved by a second head-office operator)")]
    return []


def _write_products(db, actor, policy):
    stamp = now_iso()

    def write(records, result):
        if not records:
            return
        old, sources = {}, {}
        codes = [r["code"] for r in records]
        for chunk in chunks(codes, 500):
            for row in db.execute(f"SELECT code, name, type, risk_level, level_source FROM products WHERE code IN"
                                  f" ({', '.join('?' * len(chunk))})", chunk):
                old[row[0]], sources[row[0]] = row[1:4], row[4]
        rows, listed = [], []
        for r in records:
            if not result.tally(old.get(r["code"]), (r["name"], r["type"], r["risk_level"])):
                continue
            source = sources[r["code"]] if r["level_source"] == "kept" else r["level_source"]
            rows.append([r["code"], r["name"], r["type"], r["risk_level"], rank(r["risk_level"]),
                         source, stamp, stamp])
            if r["code"] not in old:
                listed.append([r["code"], r["risk_level"], ratings.floor(policy, r["type"])[0],
                               f"首次导入评级 (first rating at import): {source}", actor.id, stamp, policy.version])
        db.conn.executemany(
            "INSERT INTO products (code, name, type, risk_level, risk_rank, level_source, imported_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(code) DO UPDATE SET name = excluded.name,"
            " type = excluded.type, risk_level = excluded.risk_level, risk_rank = excluded.risk_rank,"
            " level_source = excluded.level_source, updated_at = excluded.updated_at",
            rows,
        )
        # Every rating has its history row: a first rating at import is head office's (product.import).
        db.conn.executemany(
            "INSERT INTO product_ratings (product_code, new_level, floor_level, reason, proposed_by, proposed_at,"
            " state, policy_version) VALUES (?, ?, ?, ?, ?, ?, 'imported', ?)", listed)

    return write


def import_products(db, path, *, actor, **options):
    """Import products (code, name, type, risk_level); a blank level comes from the type by policy.

    A level below the type's floor is refused for that row; an existing product's level is never
    changed by an import (``ratings.propose`` / ``decide``); a blank level keeps it.
    """
    policy = load_policy(db)
    check, write = profile.with_product_terms(db, policy, _check_products(db, policy),  # issue 11: horizon, kind
                                              _write_products(db, actor, policy))
    return run_import(db, path, "products", "产品 (products)", {**PRODUCT_ALIASES, **profile.PRODUCT_TERM_ALIASES},
                      check, write, lambda r: r["code"], actor=actor, **options)


# -- holdings ---------------------------------------------------------------

def _check_holdings(db):
    today_iso = today().isoformat()

    def check(batch):
        clients = existing(db, "clients", "client_id", [row.get("client_id", "").strip() for _, row in batch])
        products = existing(db, "products", "code",
                            [row.get("product_code", "").strip().upper() for _, row in batch])
        out = []
        for _, row in batch:
            errors = []
            cid = row.get("client_id", "").strip()
            code = row.get("product_code", "").strip().upper()
            if not cid:
                errors.append(("client_id", "缺少客户号 (missing client_id)"))
            elif cid not in clients:
                errors.append(("client_id", NO_SUCH_CLIENT.format(cid)))
            if not code:
                errors.append(("product_code", "缺少产品代码 (missing product code)"))
            elif code not in products:
                errors.append(("product_code", f"产品 {code} 不存在, 请先导入产品 (no such product; import products first)"))
            amount, err = non_negative(row.get("amount", "")) if row.get("amount", "") else (None, "缺少持有金额 (missing amount)")
            if err:
                errors.append(("amount", err))
            since = None
            if row.get("since"):
                day = parse_date(row["since"])
                if day is None:
                    errors.append(("since", f"{row['since']!r} 不是有效日期 (not a date)"))
                elif day.isoformat() > today_iso:
                    errors.append(("since", f"{day} 晚于今天 (in the future)"))
                else:
                    since = day.isoformat()
            out.append(({"client_id": cid, "product_code": code, "amount": amount, "since": since}, errors))
        return out

    return check


def import_holdings(db, path, *, replace=False, **options):
    """Import holdings (client_id, product_code, amount, since).

    A holding already held is updated. With ``replace`` the file is the whole
    book: holdings not in it are removed (inside the same transaction).
    """
    stamp = now_iso()
    if replace:
        db.execute("CREATE TEMP TABLE IF NOT EXISTS _holdings_seen (client_id TEXT, product_code TEXT,"
                   " PRIMARY KEY (client_id, product_code)) WITHOUT ROWID")
        db.execute("DELETE FROM temp._holdings_seen")

    def write(records, result):
        if not records:
            return
        held = {}
        for chunk in chunks(list({r["client_id"] for r in records}), 500):
            for cid, code, amount, since in db.execute(
                f"SELECT client_id, product_code, amount, since FROM holdings WHERE client_id IN"
                f" ({', '.join('?' * len(chunk))})", chunk):
                held[(cid, code)] = (amount, since)
        rows = []
        for r in records:
            old = held.get((r["client_id"], r["product_code"]))
            since = r["since"] or (old[1] if old else None)
            if not result.tally(old, (r["amount"], since)):
                continue
            rows.append([r["client_id"], r["product_code"], r["amount"], since, stamp])
        db.conn.executemany(
            "INSERT INTO holdings (client_id, product_code, amount, since, imported_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(client_id, product_code) DO UPDATE SET amount = excluded.amount,"
            " since = excluded.since, imported_at = excluded.imported_at",
            rows,
        )
        if replace:
            db.conn.executemany("INSERT OR IGNORE INTO temp._holdings_seen VALUES (?, ?)",
                                [(r["client_id"], r["product_code"]) for r in records])

    def finish(result):
        if replace:
            result.extra["removed"] = db.execute(
                "DELETE FROM holdings WHERE NOT EXISTS (SELECT 1 FROM temp._holdings_seen s"
                " WHERE s.client_id = holdings.client_id AND s.product_code = holdings.product_code)"
            ).rowcount
            db.execute("DROP TABLE temp._holdings_seen")

    return run_import(db, path, "holdings", "持仓 (holdings)", HOLDING_ALIASES, _check_holdings(db), write,
                      lambda r: json.dumps([r["client_id"], r["product_code"]]), finish=finish, **options)
