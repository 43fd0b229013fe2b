"""The evidence policy (``policies/evidence.toml``): the texts shown to clients as versioned
templates, the channels, and the 双录 rules (办法 Art. 24) — validation and loading."""

import hashlib
import tomllib
from dataclasses import dataclass

from ..kernel.checks import array, number, table, text
from ..kernel.errors import BrokerCRMError, PolicyError
from ..policy.sets import default_policy_dir, load_file
from .policy import PRODUCT_LEVELS, rank

# The acts whose evidence is recorded, and what each one is (the code knows what each shows).
ACTS = {
    "assessment_result": "风险测评结果告知及客户确认 (assessment result shown and signed)",
    "matching_opinion": "适当性匹配意见 (matching opinion given to the client)",
    "risk_warning": "风险揭示/警示 (risk disclosure or warning)",
    "special_notice": "特别提示 (special-care notice, Art. 20)",
    "confirmation": "不适当销售的特别风险警示及客户书面确认 (warning and written confirmation of a mismatch)",
}
UNSPECIFIED = "unspecified"


def text_sha256(body):
    """The digest recorded for a text shown: SHA-256 of its UTF-8 bytes, exactly as published."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _acts(doc, key, where):
    acts = array(doc, key, where)
    for act in acts:
        if act not in ACTS:
            raise PolicyError(f"{where}.{key}: 未知的留痕行为 {act!r} (unknown act; known: {', '.join(ACTS)})")
    return acts


def validate(doc):
    channels = table(doc, "channels", "")
    if not channels or UNSPECIFIED in channels:
        raise PolicyError(f"channels: 须列出渠道, 且不能命名为 {UNSPECIFIED} (list the channels)")
    for key in channels:
        text(channels, key, "channels")
    if not isinstance(doc.get("require_channel", False), bool):
        raise PolicyError("require_channel: 须为 true 或 false (must be a boolean)")
    seen = set()
    for i, w in enumerate(array(doc, "warnings", "")):
        where = f"warnings[{i}]"
        wid = text(w, "id", where)
        version = number(w, "version", where, minimum=1)
        if int(version) != version:
            raise PolicyError(f"{where}.version: 须为整数 (a whole number)")
        if wid in seen:
            raise PolicyError(f"{where}.id: 模板 {wid!r} 重复 (template listed twice; a new text is a new version)")
        seen.add(wid)
        text(w, "title", where)
        text(w, "text", where)
        _acts(w, "acts", where)
    for i, rule in enumerate(doc.get("recording", [])):
        where = f"recording[{i}]"
        text(rule, "name", where)
        text(rule, "reason", where)
        _acts(rule, "acts", where)
        for ch in array(rule, "channels", where):
            if ch not in channels:
                raise PolicyError(f"{where}.channels: {ch!r} 不在 [channels] 中 (not a channel)")
        if "min_product_risk" in rule and rule["min_product_risk"] not in PRODUCT_LEVELS:
            raise PolicyError(f"{where}.min_product_risk: 须为 R1–R5 (must be R1..R5), got {rule['min_product_risk']!r}")
    number(doc, "min_recording_seconds", "", minimum=0)


@dataclass
class EvidencePolicy:
    doc: dict
    version: int | None
    digest: str
    source: str

    @property
    def channels(self):
        return self.doc["channels"]

    def template(self, template_id=None, *, act=None):
        """The template named, or the act's default; a clear refusal when there is none."""
        for w in self.doc["warnings"]:
            if (template_id is not None and w["id"] == template_id) or (template_id is None and act in w["acts"]):
                return {"id": w["id"], "version": int(w["version"]), "title": w["title"], "text": w["text"],
                        "sha256": text_sha256(w["text"])}
        if template_id is not None:
            known = ", ".join(w["id"] for w in self.doc["warnings"])
            raise BrokerCRMError(f"警示/告知模板 {template_id!r} 不在 {self.source} 中 (no such template; known: {known})")
        return None

    def recording_rule(self, act, channel, product_risk):
        """The first 双录 rule this act matches, or None. An unknown product risk never escapes a rule."""
        for rule in self.doc.get("recording", []):
            if act not in rule["acts"] or channel not in rule["channels"]:
                continue
            floor = rule.get("min_product_risk")
            if floor is None or product_risk is None or rank(product_risk) >= rank(floor):
                return rule
        return None


def load(db):
    """The evidence policy in force; a database published before it existed gets the shipped file."""
    # Only this file is parsed, not the whole set (most of an act's time otherwise).
    version = db.execute("SELECT max(version) FROM policy_versions").fetchone()[0]
    row = db.execute("SELECT body, sha256 FROM policy_files WHERE name = 'evidence' AND version = ?",
                     [version]).fetchone()
    if row is not None:
        return EvidencePolicy(tomllib.loads(row[0]), version, row[1], f"策略 v{version} evidence")
    pf = load_file(default_policy_dir() / "evidence.toml")
    return EvidencePolicy(pf.doc, version, pf.sha256,
                          "默认留痕策略文件 (shipped default evidence.toml; not yet published)")
