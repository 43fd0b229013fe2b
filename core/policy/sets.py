"""Head-office policies: plain TOML files, validated, digested and versioned.

A *policy set* is every policy file in force at once. Publishing a file makes
a new set version that carries the other files over unchanged; its digest is
the SHA-256 over each file's name and SHA-256, so a run that records
(version, digest) names exactly the rules it used.
"""

import hashlib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..trust import audit, authz
from ..kernel.errors import BrokerCRMError, Conflict, NotFound, PolicyError
from ..kernel.registry import registry
from ..kernel.timeutil import now_iso

# Each policy's validator (policy name -> validate(doc), raising PolicyError
# naming the key) is contributed by the feature that uses the policy, through
# brokercrm.kernel.registry.


def default_policy_dir():
    return Path(str(resources.files("brokercrm.default_policies")))


def sha256_text(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class PolicyFile:
    name: str
    filename: str
    body: str
    doc: dict
    sha256: str


@dataclass
class PolicySet:
    version: int
    digest: str
    files: dict = field(default_factory=dict)  # name -> PolicyFile

    def __getitem__(self, name):
        try:
            return self.files[name].doc
        except KeyError:
            raise BrokerCRMError(f"策略集 v{self.version} 中没有 {name} 策略 (no '{name}' policy in force)")

    def label(self):
        return f"v{self.version} ({self.digest[:12]})"


def parse(body, filename):
    """Parse and validate one policy file's text; errors name the file and key."""
    try:
        doc = tomllib.loads(body)
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(f"{filename}: TOML 语法错误 (syntax error): {e}") from None
    name = doc.get("policy", {}).get("name") if isinstance(doc.get("policy"), dict) else None
    if not isinstance(name, str) or not name:
        raise PolicyError(f"{filename}: policy.name: 缺少策略名称 (missing [policy] name)")
    validators = registry().policy_validators
    if name not in validators:
        raise PolicyError(
            f"{filename}: policy.name: 未知策略 {name!r} (unknown policy; known: {', '.join(sorted(validators))})"
        )
    validate = validators[name]
    try:
        validate(doc)
    except PolicyError as e:
        raise PolicyError(f"{filename}: {e}") from None
    return PolicyFile(name, Path(filename).name, body, doc, sha256_text(body))


def load_file(path):
    path = Path(path)
    try:
        body = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyError(f"{path}: 无法读取 (cannot read): {e}") from None
    return parse(body, str(path))


def set_digest(files):
    joined = "".join(f"{name}\0{files[name].sha256}\n" for name in sorted(files))
    return sha256_text(joined)


def current(db):
    """The policy set in force: the highest published version."""
    row = db.execute("SELECT version, digest FROM policy_versions ORDER BY version DESC LIMIT 1").fetchone()
    if row is None:
        raise BrokerCRMError("尚未发布任何策略, 请先运行 `brokercrm init` (no policy published; run init)")
    return load_version(db, row[0])


def load_version(db, version):
    row = db.execute("SELECT digest FROM policy_versions WHERE version = ?", [version]).fetchone()
    if row is None:
        raise NotFound(f"策略版本 v{version} 不存在 (no such policy version)")
    files = {}
    for name, filename, body, sha in db.execute(
        "SELECT name, filename, body, sha256 FROM policy_files WHERE version = ?", [version]
    ):
        files[name] = PolicyFile(name, filename, body, tomllib.loads(body), sha)
    return PolicySet(version, row[0], files)


def _publish(db, files, actor, note):
    version = (db.execute("SELECT max(version) FROM policy_versions").fetchone()[0] or 0) + 1
    digest = set_digest(files)
    with db.atomic():
        db.execute(
            "INSERT INTO policy_versions (version, digest, published_at, published_by, note) VALUES (?, ?, ?, ?, ?)",
            [version, digest, now_iso(), actor.id, note],
        )
        for pf in files.values():
            db.execute(
                "INSERT INTO policy_files (version, name, filename, sha256, body) VALUES (?, ?, ?, ?, ?)",
                [version, pf.name, pf.filename, pf.sha256, pf.body],
            )
        audit.record(
            db,
            "policy.publish",
            actor=actor,
            target=f"policy v{version}",
            detail={"note": note, "files": {n: f.sha256 for n, f in files.items()}},
            digest=digest,
        )
    return PolicySet(version, digest, files)


def publish_defaults(db, actor, directory=None):
    """Record the shipped policies as version 1, once; later calls return the current set."""
    if db.execute("SELECT 1 FROM policy_versions LIMIT 1").fetchone():
        return current(db)
    authz.require(actor, "policy.publish")
    directory = Path(directory or default_policy_dir())
    files = {}
    for path in sorted(directory.glob("*.toml")):
        pf = load_file(path)
        files[pf.name] = pf
    return _publish(db, files, actor, f"默认总部策略 (defaults from {directory.name}/)")


def publish(db, path, actor, note=None):
    """Head office publishes one policy file as a new set version; unchanged files carry over."""
    authz.require(actor, "policy.publish")
    pf = load_file(path)
    base = current(db)
    if pf.name in base.files and base.files[pf.name].sha256 == pf.sha256:
        raise Conflict(f"{path}: 与现行 {pf.name} 策略相同, 无需发布 (identical to the policy in force)")
    files = dict(base.files)
    files[pf.name] = pf
    return _publish(db, files, actor, note or f"发布 {pf.filename}")
