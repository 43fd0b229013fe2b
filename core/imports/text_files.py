"""Which encoding a text file is in: one per file, checked over the whole file.

Branches send CSV/TSV/NDJSON files in UTF-8 (with or without BOM), in GBK as
Chinese Excel saves "CSV", or in UTF-16 as Excel's "Unicode 文本" saves them.
A file is read only when one encoding decodes every byte of it:

1. A byte-order mark decides (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE).
2. Otherwise a file that is valid UTF-8 throughout is UTF-8 (a file with NUL
   bytes is asked of the detector first: it may be UTF-16 without a BOM).
3. Otherwise charset-normalizer looks at the lines that hold non-ASCII bytes
   and proposes encodings; the first of GB18030 (a superset of GBK and
   GB2312) and UTF-16 among its proposals is taken. Short Chinese samples
   are often also "valid" Korean or Big5 to a detector, so GB18030 wins
   whenever the detector finds it plausible; anything else is refused.
4. The chosen encoding must decode the whole file strictly, and a GB18030
   file must not hold lines that are UTF-8 Chinese: such a file mixes two
   encodings (UTF-8 ``测试`` read as GBK is ``娴嬭瘯``) and is refused with
   the first such line.

Everything is streamed in blocks, so a file of any size costs little memory.
"""

import codecs
from dataclasses import dataclass

from charset_normalizer import from_bytes

from ..kernel.errors import BrokerCRMError

BLOCK = 1 << 20
# How many bytes of non-ASCII lines the detector gets to see.
SAMPLE_BYTES = 256 << 10
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),  # before UTF-16: FF FE 00 00
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# Detector names we read, and the codec that reads them (GB18030 reads GBK and GB2312 text too).
SUPPORTED = {"gb18030": "gb18030", "gbk": "gb18030", "gb2312": "gb18030", "utf_16_le": "utf-16-le",
             "utf_16_be": "utf-16-be"}
LABELS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 (BOM)", "utf-16": "UTF-16 (BOM)", "utf-32": "UTF-32 (BOM)",
          "gb18030": "GBK/GB18030", "utf-16-le": "UTF-16 LE", "utf-16-be": "UTF-16 BE"}


# Control characters as UTF-8 bytes: C0 but tab, line feed and carriage return, and DEL. The C1
# characters (U+0080-U+009F) are 0xC2 followed by 0x80-0x9F: any 0xC2 byte counts as "maybe".
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


@dataclass(frozen=True)
class Encoding:
    codec: str   # what open() needs; BOM codecs drop the mark
    label: str   # what a person reads in a message
    # True when the whole file is known to hold no control character (read_rules.CONTROL):
    # its rows then skip the per-row search, a tenth of the reading time of a large file.
    no_control: bool = False


def _bom(path):
    with open(path, "rb") as f:
        head = f.read(4)
    for mark, codec in BOMS:
        if head.startswith(mark):
            return codec
    return None


def _first_bad_line(path, codec):
    """1-based line of the first byte ``codec`` cannot decode, or None when the whole file decodes."""
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    lines = 1
    with open(path, "rb") as f:
        while True:
            block = f.read(BLOCK)
            final = not block
            try:
                text = decoder.decode(block, final=final)
            except UnicodeDecodeError as e:
                return lines + _newlines_before(block, e.start, codec)
            lines += text.count("\n")
            if final:
                return None


def _newlines_before(block, offset, codec):
    # Within the failing block, count the line breaks before the bad byte (UTF-16 breaks are 2 bytes).
    if codec.startswith("utf-16"):
        return block[:offset].decode(codec, errors="replace").count("\n")
    return block[:offset].count(b"\n")


def _utf8_scan(path):
    """(first line that is not UTF-8 or None, whether the file holds NUL bytes, whether it may hold
    control characters), in one pass."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    lines, nul, bad, control = 1, False, None, False
    with open(path, "rb") as f:
        while True:
            block = f.read(BLOCK)
            nul = nul or b"\0" in block
            control = control or _may_hold_control(block)
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as e:
                bad = lines + _newlines_before(block, e.start, "utf-8")
                return bad, nul or _has_nul(path), True
            lines += text.count("\n")
            if not block:
                return None, nul, control


def _may_hold_control(block):
    """Whether UTF-8 bytes may hold a control character (read_rules.CONTROL); False is certain."""
    # bytes.translate deletes in C: ten times faster than a regular expression over the bytes.
    return len(block.translate(None, _CONTROL_BYTES)) != len(block) or b"\xc2" in block


def _control_free(path):
    """Whether a UTF-8 file holds no control character at all (one more pass, ~1 ms a megabyte)."""
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            if _may_hold_control(block):
                return False
    return True


def _has_nul(path):
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            if b"\0" in block:
                return True
    return False


def _non_ascii_sample(path):
    """Up to SAMPLE_BYTES of the file's lines that hold non-ASCII bytes (the ones that tell encodings apart)."""
    sample, size = [], 0
    with open(path, "rb") as f:
        for line in f:
            if not line.isascii():
                sample.append(line)
                size += len(line)
                if size >= SAMPLE_BYTES:
                    break
    return b"".join(sample)


def _detect(path, fallback_sample=False):
    # UTF-16 text has NUL bytes and no byte-aligned lines: the detector gets the file's head instead.
    sample = b"" if _has_nul(path) else _non_ascii_sample(path)
    if not sample and fallback_sample:
        with open(path, "rb") as f:
            sample = f.read(SAMPLE_BYTES)
    found = [m.encoding for m in from_bytes(sample)] if sample else []
    for name in ("gb18030", "gbk", "gb2312", "utf_16_le", "utf_16_be"):
        if name in found:
            return SUPPORTED[name], found
    return None, found


def _mixed_line(path):
    """First line of a GB18030 file that is UTF-8 Chinese instead (a file mixing two encodings), or None."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            if line.isascii():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                continue
            # GBK bytes that happen to be valid UTF-8 decode to Latin, Greek, Cyrillic … letters
            # (two-byte forms); real UTF-8 Chinese is three-byte characters only.
            if any("\u4e00" <= ch <= "\u9fff" for ch in text) and all(
                    ch.isascii() or ch >= "\u0800" for ch in text):
                return number
    return None


def _not_utf8(path, line):
    return BrokerCRMError(
        f"{path}:{line}: 该行不是有效的 UTF-8, 文件也不是 GBK 或 UTF-16; 请整体另存为 UTF-8 (line {line} is not valid"
        " UTF-8, and the file is neither GBK nor UTF-16: save the whole file as UTF-8)")


def detect(path, *, unicode_only=False):
    """The one Encoding that reads every byte of ``path``; BrokerCRMError naming the line otherwise.

    ``unicode_only``: only UTF-8/16/32 (JSON and NDJSON, RFC 8259), no detector.
    """
    codec = _bom(path)
    if codec is None:
        bad, nul, control = _utf8_scan(path)
        if bad is None and not nul:
            return Encoding("utf-8", LABELS["utf-8"], no_control=not control)
        if bad is not None and unicode_only:
            raise _not_utf8(path, bad)
    found = []
    if codec is None:
        codec, found = (None, []) if unicode_only else _detect(path, fallback_sample=True)
        if codec is None:
            bad = _first_bad_line(path, "utf-8")
            if bad is None:
                return Encoding("utf-8", LABELS["utf-8"])  # NUL bytes in UTF-8 text: refused per row later
            if found:
                raise _not_utf8(path, bad)
            raise BrokerCRMError(f"{path}: 不是文本文件, 无法确定编码 (not a text file: no encoding reads it)")
    bad = _first_bad_line(path, codec)
    if bad is not None:
        raise BrokerCRMError(
            f"{path}:{bad}: 该行无法按 {LABELS[codec]} 解码, 一个文件只能有一种编码 (line {bad} is not valid "
            f"{LABELS[codec]}, the encoding of the rest of the file; one encoding per file)")
    if codec == "utf-8-sig":  # Excel's "CSV UTF-8": the same per-row saving as a file without the mark
        return Encoding(codec, LABELS[codec], no_control=_control_free(path))
    if codec == "gb18030":
        mixed = _mixed_line(path)
        if mixed is not None:
            raise BrokerCRMError(
                f"{path}:{mixed}: 该行是 UTF-8 编码, 而文件是 GBK: 一个文件只能有一种编码, 请整体另存为 UTF-8 "
                f"(line {mixed} is UTF-8 while the file is GBK; one encoding per file)")
    return Encoding(codec, LABELS[codec])
