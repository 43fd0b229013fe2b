"""Values a person types that must name something: a branch, a class, a client, a product, an operator.

A listing filtered by a mistyped branch used to print nothing, as if the
branch had no clients; now an unknown value is an error that says so and
lists what exists (a few of them). Each function returns the value as stored
(branch codes are upper case) or raises ``NotFound``. The CLI calls these
before it calls the library.
"""

from ..kernel.errors import NotFound
from ..policy import current as current_policy

SHOWN = 12


def _known(values):
    values = sorted(v for v in values if v is not None)
    more = f" … (+{len(values) - SHOWN})" if len(values) > SHOWN else ""
    return ", ".join(values[:SHOWN]) + more if values else "无 (none)"


def branch(db, code):
    if code is None:
        return None
    codes = {row[0] for row in db.execute("SELECT code FROM branches")}
    wanted = code.strip().upper()
    if wanted not in codes:
        raise NotFound(f"营业部 {code!r} 不存在; 已有 (known): {_known(codes)} (no such branch)")
    return wanted


def client_class(db, label):
    """A classification class label (A+, B, …) of the policy in force or of any stored classification."""
    if label is None:
        return None
    labels = set()
    try:
        for band in current_policy(db)["classification"]["grid"]["bands"]:
            labels.update((band.get("high"), band.get("low")))
    except Exception:  # no policy yet: the stored classes still count
        pass
    labels.update(row[0] for row in db.execute("SELECT DISTINCT class FROM classifications"))
    wanted = label.strip().upper()
    if wanted not in labels:
        raise NotFound(f"客户类别 {label!r} 不存在; 现行类别 (classes): {_known(labels)} (no such class)")
    return wanted


def client(db, client_id):
    if client_id is None:
        return None
    wanted = client_id.strip()
    if not db.execute("SELECT 1 FROM clients WHERE client_id = ?", [wanted]).fetchone():
        raise NotFound(f"客户 {client_id!r} 不存在 (no such client)")
    return wanted


def product(db, code):
    if code is None:
        return None
    wanted = code.strip().upper()
    if not db.execute("SELECT 1 FROM products WHERE code = ?", [wanted]).fetchone():
        raise NotFound(f"产品 {code!r} 不存在 (no such product; import products first)")
    return wanted


def operator(db, operator_id):
    if operator_id is None:
        return None
    if not db.execute("SELECT 1 FROM operators WHERE id = ?", [operator_id]).fetchone():
        raise NotFound(f"操作员 {operator_id!r} 未登记 (no such operator)")
    return operator_id
