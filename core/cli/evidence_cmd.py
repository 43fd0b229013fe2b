"""suitability evidence record / list / templates: what the client was shown and acknowledged."""

import click

from ..book import lookups
from ..suitability import evidence
from ..suitability import evidence_policy
from .evidence_options import recording_from_options, recording_options
from .common import acting, db_option, echo_table, emit_json, json_option, operator_option
from .suitability_cmd import suitability_group

@suitability_group.group("evidence")
def evidence_group():
    """适当性留痕: 告知、警示、客户确认与双录 (evidence of what the client was shown and acknowledged)."""


@evidence_group.command("record")
@click.argument("client_id")
@click.option("--act", required=True, metavar="ACT",
              help="留痕行为 (the act): assessment_result 测评结果, matching_opinion 匹配意见, "
                   "risk_warning 风险揭示, special_notice 特别提示")
@click.option("--ack", "--acknowledgement", "acknowledgement", required=True, metavar="REF",
              help="客户签字确认的凭证编号 (reference of the client's signed acknowledgement)")
@click.option("--at", "at", default=None, metavar="TIME",
              help="向客户展示的时间, 默认现在; 不能晚于现在 (when shown; default now)")
@click.option("--product", default=None, help="产品代码 (product code)")
@click.option("--channel", default=None, help="渠道, 见策略 evidence [channels] (counter, online, phone, visit)")
@click.option("--template", "--warning", "template_id", default=None, help="告知/警示模板 id; 默认取该行为的模板 (template)")
@click.option("--assessment", "assessment_id", type=int, default=None, help="测评编号; 默认最新 (assessment id)")
@click.option("--check", "check_id", type=int, default=None, help="适当性检查编号; 默认该产品最新 (check id)")
@recording_options
@db_option
@operator_option
@json_option
def record_cmd(client_id, act, acknowledgement, at, product, channel, template_id, assessment_id, check_id,
               recording_ref, recording_sha256, recording_seconds, recording_file, db_path, operator, as_json):
    """记录一次告知/警示及客户确认 (record what the client was shown and acknowledged).

    策略要求双录时 (办法第二十四条), 须提供录音录像编号、SHA-256 与时长, 否则拒绝.
    """
    db, actor = acting(db_path, operator)
    client_id = lookups.client(db, client_id)
    recording = recording_from_options(recording_ref, recording_sha256, recording_seconds, recording_file)
    row = evidence.record(db, actor, client_id, act, acknowledgement=acknowledgement, channel=channel,
                          product_code=product, template_id=template_id, assessment_id=assessment_id,
                          check_id=check_id, recording=recording, at=at)
    if as_json:
        emit_json(row)
        return
    click.echo(f"留痕 (evidence) #{row['id']} · 客户 {row['client_id']} · {evidence_policy.ACTS[row['act']]}")
    _describe(row)


def _describe(row):
    if row["product_code"]:
        click.echo(f"  产品 {row['product_code']} ({row['product_risk']})")
    if row["template_id"]:
        click.echo(f"  文本 (text) {row['template_id']} v{row['template_version']} SHA-256 {row['template_sha256']}")
    click.echo(f"  渠道 {row['channel']} · 时间 {row['shown_at']} · 经办 {row['recorded_by']} · 客户确认 {row['acknowledgement']}")
    if row["recording_ref"]:
        click.echo(f"  双录 {row['recording_ref']} · {row['recording_seconds']:g} 秒 · SHA-256 {row['recording_sha256']}"
                   + (f" · 依据 {row['recording_rule']}" if row["recording_rule"] else ""))


@evidence_group.command("list")
@click.argument("client_id")
@db_option
@operator_option
@json_option
def list_cmd(client_id, db_path, operator, as_json):
    """列出客户的全部留痕记录 (every evidence row of the client)."""
    db, actor = acting(db_path, operator)
    client_id = lookups.client(db, client_id)
    rows = evidence.list_for(db, actor, client_id)
    if as_json:
        emit_json(rows)
        return
    echo_table([[r["id"], r["act"], r["product_code"] or "-", r["channel"],
                 f"{r['template_id']} v{r['template_version']}" if r["template_id"] else "-",
                 r["acknowledgement"], r["recording_ref"] or "-", r["shown_at"], r["recorded_by"]] for r in rows],
               ["#", "行为 act", "产品", "渠道", "文本 text", "客户确认", "双录", "时间", "经办"])


@evidence_group.command("templates")
@db_option
@operator_option
@json_option
def templates_cmd(db_path, operator, as_json):
    """现行告知/警示模板: id、版本、SHA-256 (the texts in force, with version and digest)."""
    db, _actor = acting(db_path, operator)
    policy = evidence_policy.load(db)
    items = [{"id": w["id"], "version": int(w["version"]), "title": w["title"], "acts": w["acts"],
              "sha256": evidence_policy.text_sha256(w["text"])} for w in policy.doc["warnings"]]
    if as_json:
        emit_json({"source": policy.source, "templates": items, "recording": policy.doc.get("recording", [])})
        return
    click.echo(policy.source)
    echo_table([[i["id"], i["version"], i["title"], ", ".join(i["acts"]), i["sha256"][:16]] for i in items],
               ["模板 id", "版本", "标题", "用于", "SHA-256"])
