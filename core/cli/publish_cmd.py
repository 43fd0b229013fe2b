"""publish, serve, site-password: the read-only Datasette site."""

import click

from ..site import publish as publish_lib
from ..site import auth
from ..site import serve as serve_lib
from . import cli
from .common import db_option, emit_json, json_option, open_db, operator_option

out_option = click.option(
    "--out", "out_dir", type=click.Path(file_okay=False), default=None,
    help="快照目录 (snapshot directory; default $BROKERCRM_SITE_DIR or ./site)")


@cli.command()
@db_option
@out_option
@operator_option
@json_option
def publish(db_path, out_dir, operator, as_json):
    """发布只读快照: 总部一份 (全部营业部), 每个营业部一份, 个人信息已脱敏.

    Write read-only snapshot databases for the Datasette site: hq.db with
    every branch and <BRANCH>.db with one branch's clients and their records.
    Names, ID numbers and phone numbers are masked inside the snapshots. Each
    file is replaced atomically, so a reader never sees half of one.
    """
    actor = operator.actor(open_db(db_path))
    result = publish_lib.publish(db_path, out_dir, actor=actor)
    if as_json:
        emit_json(result.as_dict())
        return
    click.echo(f"已发布 (published) {result.published_at} → {result.out_dir}  ({result.seconds:.1f} s)")
    for name, entry in result.databases.items():
        clients = entry["tables"].get("clients", 0)
        click.echo(f"  {entry['file']:<12} 客户 {clients:>10,}  表 {len(entry['tables'])}")
    if result.skipped:
        click.echo(f"  尚未建立、已跳过的表 (not yet in the database, skipped): {', '.join(result.skipped)}")


@cli.command()
@click.option("--dir", "site_dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="publish 写出的快照目录 (snapshot directory; default $BROKERCRM_SITE_DIR or ./site)")
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址 (address)")
@click.option("--port", type=click.IntRange(1, 65535), default=8001, show_default=True, help="端口 (port)")
def serve(site_dir, host, port):
    """以 Datasette 只读方式提供已发布的快照 (serve the snapshots, read-only).

    Needs BROKERCRM_SITE_SECRET (signs the sign-in cookie) and
    BROKERCRM_SITE_USERS_FILE (a users file; `brokercrm site-password --file`)
    or BROKERCRM_SITE_USERS (the same entries in the environment). Set
    BROKERCRM_SITE_HTTPS=1 when served behind HTTPS.
    """
    site_dir = site_dir or publish_lib.default_out_dir()
    click.echo(f"Datasette (只读 read-only): http://{host}:{port}/  — Ctrl-C 停止 (stop)")
    serve_lib.serve(site_dir, host=host, port=port)


@cli.command("site-password")
@click.argument("user")
@click.option("--role", type=click.Choice(serve_lib.ROLES), required=True, help="headoffice 或 branch")
@click.option("--branch", default=None, help="营业部代码 (branch code, for --role branch)")
@click.password_option("--password", help="密码 (password; prompted when omitted)")
@click.option("--file", "users_file", type=click.Path(dir_okay=False), default=None,
              help="写入用户文件 (add or replace the user in this users file; see BROKERCRM_SITE_USERS_FILE)")
@json_option
def site_password(user, role, branch, password, users_file, as_json):
    """生成一条站点用户记录 USER:ROLE:BRANCH:HASH (或写入用户文件).

    Print one USER:ROLE:BRANCH:HASH entry, or with --file add it to a users
    file (replacing that user's line). The password is stored only as a
    salted PBKDF2-SHA256 hash.
    """
    entry = auth.user_entry(user, role, branch, password)
    auth.parse_entry(entry, "新用户 (new entry)")  # validates it the same way serve will
    replaced = auth.write_entry(users_file, entry) if users_file else None
    if as_json:
        emit_json({"user": user, "role": role, "branch": branch, "entry": entry, "file": users_file,
                   "replaced": replaced})
    elif users_file:
        click.echo(f"{'已更新' if replaced else '已添加'}用户 {user} → {users_file} "
                   f"({'replaced' if replaced else 'added'})")
    else:
        click.echo(entry)
