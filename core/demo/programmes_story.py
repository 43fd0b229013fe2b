"""The demo's part of issue 14: clients leaving and why, callbacks, prospects, VIPs, education,
client events and points, so that every new report (`status report`, `callbacks report`,
`prospects report`, `vip list`, `education report`, `client-events report`, `points report`)
shows data.

Deterministic like the rest of the story: clients are picked by position in each branch.
Dormancy (`status refresh`) is not run: the synthetic book has behaviour rows for only a few
clients, so most of it would read as dormant, which says more about the demo than the book.
"""

import datetime as dt

from ..kernel.timeutil import CST
from ..programmes import callbacks, client_events, education, points, prospects, vip
from ..service import exits
from .story import _nth, at_time

EXITS = [  # branch, n-th client, request, reason, completed
    ("TY01", 61, "closure", "commission", False), ("TY01", 73, "transfer", "competitor_offer", True),
    ("BJ01", 67, "transfer", "relocation", True), ("BJ01", 79, "closure", "investment_loss", False),
    ("SH01", 71, "closure", "service", True),
]
PROSPECTS = [  # branch, name, source, grade
    ("TY01", "王晓明", "referral", "A"), ("TY01", "赵丽", "walk-in", "B"), ("TY01", "孙强", "online", "D"),
    ("BJ01", "周敏", "bank", "A"), ("BJ01", "吴刚", "event", "C"), ("SH01", "郑红", "telemarketing", "E"),
]


def tell(db, *, today, actor, say=lambda line: None):
    base = dt.datetime.combine(today, dt.time(11, 0), CST)
    with at_time(base):
        left, used = 0, set()
        for branch, n, request, reason, done in EXITS:
            cid = _nth(db, branch, n)
            if cid is None or cid in used:  # a small book: _nth gives the branch's last client again
                continue
            used.add(cid)
            exits.request(db, actor, cid, request, channel="counter", note="客户到柜台申请", reason=reason)
            if done:
                exits.complete(db, actor, cid, note="已按规定办结")
                left += 1
        vips = vip.refresh(db, actor)
        [run] = callbacks.sample(db, actor, script="new_account", seed=2026)
        script = callbacks.scripts(db)[0]["new_account"]
        items = [i["code"] for i in script["items"]]
        recorded = 0
        for k, sampled in enumerate(run["clients"][:6]):
            covered = items if k % 3 else items[:2]  # every third misses required risk items: flagged
            callbacks.record(db, actor, sampled["client_id"], script="new_account", covered=covered,
                             note="后台随机回访", satisfaction=5)
            recorded += 1
        made = []
        for branch, name, source, grade in PROSPECTS:
            made.append(prospects.add(db, actor, branch=branch, name=name, source=source, grade=grade))
        converted = _nth(db, "TY01", 3)
        if converted and converted not in used:
            prospects.convert(db, actor, made[0]["id"], converted, note="已开户")
        prospects.lose(db, actor, made[-1]["id"], note="已在他券商开户")
        sessions = 0
        for branch in ("TY01", "BJ01", "SH01"):
            s = education.add(db, actor, branch=branch, title="防范非法证券活动专题讲座", topic="防范非法证券活动与诈骗"
                              " (illegal securities activity and fraud)", held_on=(today - dt.timedelta(days=14)).isoformat())
            came = [c for c in (_nth(db, branch, k) for k in range(0, 40, 4)) if c]
            education.attend(db, actor, s["id"], sorted(set(came)))
            sessions += 1
        event = client_events.add(db, actor, branch="TY01", title="年度贵宾答谢会", kind="VIP appreciation",
                                  held_on=(today - dt.timedelta(days=3)).isoformat(), place="太原营业部三楼")
        invited = client_events.invite(db, actor, event["id"], vip_level="gold")
        guests = [r[0] for r in db.execute("SELECT client_id FROM programme_invitations WHERE session_id = ?"
                                           " ORDER BY client_id LIMIT 5", [event["id"]])]
        if guests:
            client_events.attend(db, actor, event["id"], guests[::2])
        earned = points.accrue(db, actor)
    say(f"客户状态 (status): {len(EXITS)} 个转销户申请, {left} 个已办结; 贵宾 (VIP) 新进 {vips['entered']};"
        f" 回访抽样 {run['sampled']}/{run['population']}, 已回访 {recorded}; 潜在客户 {len(made)};"
        f" 投教 {sessions} 场; 客户活动邀请 {invited['invited']}; 积分入账 {sum(earned['rows'].values()):,} 笔")
    return {"left": left, "vip": vips, "callbacks": run["sampled"], "prospects": len(made), "sessions": sessions}
