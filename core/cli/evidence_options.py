"""Options shared by the commands that record suitability evidence (confirm, evidence record)."""

import click

from ..kernel.digests import file_sha256
from ..kernel.errors import ValidationFailed
from ..suitability import evidence


def recording_options(f):
    """--recording REF, --recording-sha256 HEX, --recording-seconds N, --recording-file PATH (双录)."""
    for option in reversed([
        click.option("--recording", "--recording-ref", "recording_ref", default=None, metavar="REF",
                     help="双录 (录音录像) 存档编号 (the recording's reference)"),
        click.option("--recording-sha256", default=None, metavar="HEX", help="录音录像文件的 SHA-256"),
        click.option("--recording-seconds", "--recording-duration", "recording_seconds", default=None, metavar="N", help="录音录像时长, 秒 (duration, seconds)"),
        click.option("--recording-file", default=None, type=click.Path(exists=True, dir_okay=False),
                     help="录音录像文件: 计算其 SHA-256 (or give the file: its SHA-256 is computed)"),
    ]):
        f = option(f)
    return f


def recording_from_options(recording_ref, recording_sha256, recording_seconds, recording_file):
    if recording_file:
        digest = file_sha256(recording_file)
        if recording_sha256 and recording_sha256.strip().lower() != digest:
            raise ValidationFailed(f"recording_sha256: 与文件 {recording_file} 的 SHA-256 不符 "
                                   "(does not match the file's digest)")
        recording_sha256 = digest
    return evidence.recording_from(recording_ref, recording_sha256, recording_seconds)
