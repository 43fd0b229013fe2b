"""Ed25519 keys for operators: create, store, load, sign, verify.

Ed25519 through the ``cryptography`` package: small keys and signatures,
deterministic signing (no nonce to get wrong), fast verification, and a
library that is maintained and audited. Private keys live in PEM (PKCS#8)
files, encrypted with a passphrase unless the caller asks for none; public
keys travel as base64 of the 32 raw bytes, and a key's fingerprint is the
SHA-256 of those bytes.
"""

import base64
import hashlib
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..kernel.errors import BrokerCRMError

ENV_PASSPHRASE = "BROKERCRM_KEY_PASSPHRASE"


class KeyFileError(BrokerCRMError):
    """A key file is missing, unreadable, wrongly protected or not an Ed25519 key."""


def canonical(obj):
    """The one byte form that is signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def generate():
    return Ed25519PrivateKey.generate()


def public_b64(key):
    """Base64 of the raw 32-byte public key of a private or public key."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def fingerprint(pub_b64):
    """SHA256:<hex> of the raw public key; what people compare and what init prints."""
    return "SHA256:" + hashlib.sha256(base64.b64decode(pub_b64)).hexdigest()


def sign(key, data):
    return base64.b64encode(key.sign(data)).decode("ascii")


def verify(pub_b64, signature_b64, data):
    """True when ``signature_b64`` is ``pub_b64``'s signature of ``data``; never raises."""
    try:
        pub = Ed25519PublicKey.from_public_bytes(base64.b64decode(pub_b64, validate=True))
        pub.verify(base64.b64decode(signature_b64, validate=True), data)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def save_private(key, path, passphrase=None):
    """Write ``key`` to a new file readable by its owner only; refuse to overwrite.

    ``passphrase`` None means unencrypted (scripts that asked for
    ``--no-passphrase``); otherwise the PEM is encrypted with it.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise KeyFileError(f"密钥目录不存在 (no such folder): {path.parent}")
    enc = (serialization.BestAvailableEncryption(passphrase.encode("utf-8")) if passphrase
           else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"密钥文件已存在, 不覆盖 (key file exists, not overwritten): {path}") from None
    except OSError as e:
        raise KeyFileError(f"无法写入密钥文件 (cannot write key file) {path}: {e.strerror}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return path


def is_encrypted(path):
    try:
        with open(path, "rb") as f:
            return b"ENCRYPTED" in f.read(64 * 1024)
    except OSError:
        return False


def load_private(path, passphrase=None):
    """The Ed25519 private key in ``path``; a clear error for every way it can fail."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"密钥文件不存在 (no such key file): {path}") from None
    except OSError as e:
        raise KeyFileError(f"无法读取密钥文件 (cannot read key file) {path}: {e.strerror}") from None
    if len(data) > 64 * 1024:
        raise KeyFileError(f"{path}: 不是密钥文件 (not a key file: too large)")
    encrypted = b"ENCRYPTED" in data
    if encrypted and not passphrase:
        raise KeyFileError(
            f"{path}: 密钥有口令保护, 请输入口令或设置 {ENV_PASSPHRASE} (key is passphrase-protected)")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase.encode("utf-8") if encrypted else None)
    except (ValueError, TypeError) as e:
        if encrypted:
            raise KeyFileError(f"{path}: 口令错误或密钥损坏 (wrong passphrase or damaged key)") from None
        raise KeyFileError(f"{path}: 不是有效的私钥文件 (not a private key file): {e}") from None
    except Exception as e:  # cryptography raises its own types for unsupported formats
        raise KeyFileError(f"{path}: 不是有效的私钥文件 (not a private key file): {type(e).__name__}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: 须为 Ed25519 私钥 (an Ed25519 private key is required)")
    return key


def load_public(path):
    """A public key file as written by ``write_public``: base64 of the raw key, or a PEM."""
    path = Path(path)
    try:
        text = path.read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise KeyFileError(f"无法读取公钥文件 (cannot read public key file) {path}: {e}") from None
    return parse_public(text, str(path))


def parse_public(text, where="public key"):
    if text.startswith("-----BEGIN PUBLIC KEY-----"):
        try:
            pub = serialization.load_pem_public_key(text.encode("ascii"))
        except ValueError as e:
            raise KeyFileError(f"{where}: 不是有效的公钥 (not a public key): {e}") from None
        if not isinstance(pub, Ed25519PublicKey):
            raise KeyFileError(f"{where}: 须为 Ed25519 公钥 (an Ed25519 public key is required)")
        return public_b64(pub)
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise KeyFileError(f"{where}: 不是有效的 Ed25519 公钥 (not an Ed25519 public key)")
    return text


def public_pem(pub_b64):
    pub = Ed25519PublicKey.from_public_bytes(base64.b64decode(pub_b64))
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
