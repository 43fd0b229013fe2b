#!/usr/bin/env python3
"""What positions and the qualification rule add to authenticating (issue 14), measured in one run.

    .venv/bin/python bench/bench_positions.py

authenticate() of an account manager 300 times, fifteen rounds, alternating: with the staff
resolution (positions policy in force + latest qualification) and with it switched off in the
same process (the bare baseline). Prints the medians and their ratio.
"""
import os, tempfile, time, statistics
from pathlib import Path
os.environ["BROKERCRM_NOW"] = "2026-06-30T10:00:00+08:00"
from brokercrm.kernel.db import connect
from brokercrm.kernel import registry as reg
from brokercrm.policy.sets import publish_defaults
from brokercrm.staff import qualifications
from brokercrm.trust import identity, keys, operators, root
d = Path(tempfile.mkdtemp()); db = connect(d / "b.db")
k = keys.generate(); admin = operators.bootstrap(db, "admin", root.root_path(d / "b.db"), k)
publish_defaults(db, admin)
db.execute("INSERT INTO branches (code, name, created_at) VALUES ('TY01','t','x')")
_, key = operators.add(db, admin, "am1", "account_manager", branch="TY01")
qualifications.record(db, admin, "am1", "S12345678", "2030-01-01")
rp = root.for_db(db)
def run(n=300):
    t = time.perf_counter()
    for _ in range(n): identity.authenticate(db, "am1", key, rp)
    return (time.perf_counter() - t) / n * 1e6
full = []; bare = []
r = reg.registry()
saved = r.actor_authorities[:]
for _ in range(15):
    r.actor_authorities[:] = saved; full.append(run())
    r.actor_authorities[:] = []; bare.append(run())
f, b = statistics.median(full), statistics.median(bare)
print(f"authenticate: bare {b:.0f} µs, with positions+qualification {f:.0f} µs, ratio {f/b:.2f}")
