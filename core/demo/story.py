"""The rest of the demo's story, so every report and chart on the site has data.

After the book is imported and classified once (``brokercrm.demo.run.build``),
``tell`` adds, through the same doors real data uses:

- products of every risk level R1–R5 and holdings, imported from files
  (``products.csv``, ``holdings.csv`` beside the client files); some clients
  hold products above their level, and a written confirmation is recorded for
  about a third of those mismatches (the rest stay unconfirmed); then the
  suitability scan;
- a market revaluation of some clients' assets and a second classification
  run, so the class-moves report and the client pages have moves;
- contacts: callbacks that close some account-opening tasks (on time and late;
  the others stay overdue), complaints at several steps — one past its 48-hour
  deadline, one due within a day — a low satisfaction score;
- a behaviour alert (20 days of > 200% turnover in ST stocks) and care moments.

Deterministic: the same book gives the same story. Times are set relative to
``today`` (the demo's day) through ``BROKERCRM_NOW``, restored afterwards.
"""

import contextlib
import datetime as dt
import os
from pathlib import Path

from ..kernel.errors import BrokerCRMError
from ..kernel.timeutil import CST, iso, parse_moment
from ..classify.engine import classify
from ..service import care, complaints, interactions
from ..suitability import behaviour, products
from ..suitability.engine import confirm
from ..suitability.scan import scan

PRODUCTS = [  # code, name, type, risk level
    ("MM001", "天天利货币基金", "money_market", "R1"),
    ("SB002", "稳盈短债基金", "short_term_bond", "R2"),
    ("BD003", "安心债券基金", "bond", "R3"),
    ("BL004", "均衡配置混合基金", "balanced", "R4"),
    ("EQ005", "成长优选股票基金", "equity", "R4"),
    ("DV006", "沪深300股指期权", "derivative", "R5"),
]


@contextlib.contextmanager
def at_time(moment):
    """Pin brokercrm's clock (BROKERCRM_NOW) to ``moment`` for the block."""
    before = os.environ.get("BROKERCRM_NOW")
    os.environ["BROKERCRM_NOW"] = iso(moment)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("BROKERCRM_NOW", None)
        else:
            os.environ["BROKERCRM_NOW"] = before


def _clients(db):
    return [r[0] for r in db.execute("SELECT client_id FROM clients ORDER BY client_id")]


def _nth(db, branch, n):
    """The branch's n-th client (fewer clients: its last), so each branch has its share of the story."""
    rows = db.execute("SELECT client_id FROM clients WHERE branch_id = ? ORDER BY client_id LIMIT ?",
                      [branch, n + 1]).fetchall()
    return rows[-1][0] if rows else None


def write_product_files(db, directory):
    """products.csv and holdings.csv for the book; returns their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    product_file = directory / "products.csv"
    product_file.write_text("code,name,type,risk_level\n"
                        + "".join(f"{c},{n},{t},{r}\n" for c, n, t, r in PRODUCTS), encoding="utf-8")
    lines = ["client_id,product_code,amount,since"]
    for i, cid in enumerate(_clients(db)):
        held = []
        if i % 4 == 0:
            held.append(("MM001", 20_000 + 137 * i))
        if i % 6 == 1:
            held.append(("BD003", 50_000 + 91 * i))
        if i % 9 == 2:
            held.append(("EQ005", 80_000 + 53 * i))
        if i % 13 == 3:
            held.append(("DV006", 30_000 + 29 * i))
        if i % 10 == 5:
            held.append(("SB002", 15_000 + 11 * i))
        if i % 15 == 7:
            held.append(("BL004", 60_000 + 17 * i))
        lines += [f"{cid},{code},{amount:.2f},2025-0{1 + i % 9}-15" for code, amount in held]
    holdings = directory / "holdings.csv"
    holdings.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return product_file, holdings


def suitability_story(db, directory, actor):
    product_file, holding_file = write_product_files(db, directory)
    products.import_products(db, product_file, actor=actor)
    products.import_holdings(db, holding_file, actor=actor)
    # A third of the mismatches get the client's signed confirmation (特别风险警示书).
    first = scan(db, actor)
    confirmed = 0
    mismatches = db.execute(
        "SELECT client_id, product_code FROM suitability_exceptions WHERE verdict = 'mismatch'"
        " ORDER BY client_id, product_code").fetchall()
    for n, (cid, code) in enumerate(mismatches):
        if n % 3:
            continue
        try:
            confirm(db, actor, cid, code, f"警示书-{cid[-4:]}-{code}")
            confirmed += 1
        except BrokerCRMError:
            continue  # e.g. a lowest-category client: no confirmation can cover it
    result = scan(db, actor)
    return {"holdings": db.execute("SELECT count(*) FROM holdings").fetchone()[0],
            "mismatches": len(mismatches), "confirmed": confirmed, "scan": result.get("counts", first.get("counts"))}


def second_run(db, today, actor):
    """Some clients' assets are revalued (as the nightly feed would bring), then classify again."""
    stamp = iso(dt.datetime.combine(today, dt.time(18, 0), CST))
    with db.atomic():
        db.execute("UPDATE clients SET total_assets = round(total_assets * 3.1, 2), updated_at = ?"
                   " WHERE id % 11 = 4", [stamp])
        db.execute("UPDATE clients SET total_assets = round(total_assets * 0.3, 2), updated_at = ?"
                   " WHERE id % 13 = 6", [stamp])
    return classify(db, actor=actor, today=today, full=True)


def service_story(db, today, actor):
    base = dt.datetime.combine(today, dt.time(10, 0), CST)
    ids = _clients(db)
    counts = {"callbacks": 0, "complaints": 0, "care": 0}
    # Account-opening callbacks: every other open one is made, some after the deadline.
    open_tasks = db.execute("SELECT id, client_id, due_at FROM tasks WHERE status = 'open' AND kind = 'callback'"
                            " ORDER BY id").fetchall()
    for n, (task_id, cid, due_at) in enumerate(open_tasks):
        if n % 2:
            continue
        due = parse_moment(due_at)
        moment = due - dt.timedelta(hours=3) if n % 4 == 0 else due + dt.timedelta(hours=20)
        moment = min(moment, base)
        with at_time(base):
            interactions.log(db, actor, cid, kind="callback", channel="phone", note="开户回访: 已核实身份与风险测评结果",
                             satisfaction=5 if n % 8 else 2, at=iso(moment), task_id=task_id)
        counts["callbacks"] += 1
    # Complaints at several steps: one past its deadline, one due within a day, one just received.
    story = [(_nth(db, "TY01", 5), 5 * 24, "对交易系统卡顿导致未能及时卖出不满", ("investigating",)),
             (_nth(db, "BJ01", 17), 30, "客户经理推荐产品时未充分说明风险", ("investigating", "proposed")),
             (_nth(db, "SH01", 29), 3, "营业部柜台排队时间过长", ()),
             (_nth(db, "TY01", 41), 10 * 24, "佣金费率与约定不符", ("investigating", "proposed"))]
    story = [item for item in story if item[0]]
    for cid, hours_ago, summary, steps in story:
        moment = base - dt.timedelta(hours=hours_ago)
        with at_time(moment):
            logged = interactions.log(db, actor, cid, kind="complaint", channel="counter", note=summary,
                                      satisfaction=1, at=iso(moment))
        complaint_id = logged["complaint"] if isinstance(logged["complaint"], int) else logged["complaint"]["id"]
        for k, step in enumerate(steps):
            with at_time(moment + dt.timedelta(hours=2 + k)):
                if step == "investigating":
                    complaints.investigate(db, actor, complaint_id, note="已调取交易记录核实")
                else:
                    complaints.propose(db, actor, complaint_id, solution="向客户说明情况并提出补偿方案, 待主管批准")
        counts["complaints"] += 1
    # Care moments: a child's exam, a retirement, a wedding anniversary.
    for n, (kind, days, note) in enumerate([("exam", 20, "孩子今年高考"), ("retirement", 45, "下月退休"),
                                            ("anniversary", 9, "结婚二十周年")]):
        cid = ids[(7 + 13 * n) % len(ids)]
        care.record_moment(db, actor, cid, kind=kind, on_date=(today + dt.timedelta(days=days)).isoformat(),
                           note=note, yearly=kind == "anniversary")
        counts["care"] += 1
    return counts


def behaviour_story(db, directory, today, actor):
    """Twenty days of > 200% daily turnover, mostly in ST stocks, for three clients: flagged 进取型."""
    ids = _clients(db)
    hot = [ids[(3 + 19 * n) % len(ids)] for n in range(3)]
    lines = ["client_id,date,turnover_pct,st_share"]
    for cid in hot:
        for d in range(1, 26):
            lines.append(f"{cid},{(today - dt.timedelta(days=d)).isoformat()},{230 + d},0.65")
    path = Path(directory) / "behaviour.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    behaviour.import_behaviour(db, path, actor=actor)
    return {"flagged": db.execute("SELECT count(*) FROM behaviour_flags").fetchone()[0]}


def tell(db, directory, *, today, actor, say=lambda line: None):
    """Add the whole story to a freshly classified demo book; returns what was added.

    ``actor``: the demo's authenticated head-office operator, who does every step.
    """
    with at_time(dt.datetime.combine(today, dt.time(9, 0), CST)):
        suit = suitability_story(db, directory, actor)
    say(f"产品与持仓 (products, holdings): {len(PRODUCTS)} 个产品 R1–R5, {suit['holdings']:,} 笔持仓; "
        f"不匹配 {suit['mismatches']:,}, 已书面确认 {suit['confirmed']:,}")
    service = service_story(db, today, actor)
    say(f"服务 (service): 回访 {service['callbacks']}, 投诉 {service['complaints']}, 关怀时点 {service['care']}")
    flags = behaviour_story(db, directory, today, actor)
    say(f"交易行为 (behaviour): {flags['flagged']} 位客户标记为进取型")
    with at_time(dt.datetime.combine(today, dt.time(18, 30), CST)):
        run = second_run(db, today, actor)
    say(f"第二次分类 (second run) #{run.run_id}: {run.changed:,} 位客户类别或维度变动")
    return {"suitability": suit, "service": service, "behaviour": flags, "second_run": run}
