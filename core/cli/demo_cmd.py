"""demo."""

import click

from ..demo import run as demo_lib
from ..demo.synth import BRANCHES, DEFAULT_SEED
from ..site import serve as serve_lib
from . import cli
from .classify_cmd import print_summary
from .common import emit_json, json_option, show_progress


@cli.command()
@click.option("--clients", "n", type=click.IntRange(min=1), default=demo_lib.DEFAULT_CLIENTS, show_default=True,
              help="合成客户数 (number of synthetic clients)")
@click.option("--no-serve", is_flag=True, help="分类后退出, 不启动 Datasette (exit after the summary)")
@click.option("--db", "db_path", type=click.Path(dir_okay=False), default=demo_lib.DEFAULT_DB, show_default=True,
              help="演示数据库文件; 只会覆盖由 demo 建立的数据库 (only a database built by demo is replaced)")
@click.option("--port", type=click.IntRange(1, 65535), default=demo_lib.DEFAULT_PORT, show_default=True,
              help="Datasette 端口, 只监听 127.0.0.1 (port, on 127.0.0.1 only)")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
              help="随机种子: 同一种子得到同一客户簿 (same seed, same book)")
@json_option
def demo(n, no_serve, db_path, port, seed, as_json):
    """建立演示数据库: 合成客户簿, 导入, 分类, 并以只读方式发布.

    Build a fresh demo database with a realistic synthetic client book
    (three branches, valid ID numbers, Chinese names), import it through the
    validating importers, run the classification, print the summary and serve
    the database read-only with Datasette on 127.0.0.1.

    The demo ignores $BROKERCRM_DB and never overwrites a database it did not
    build itself; the generated files are kept in <db name>_files/ beside it.
    """
    if not no_serve and not demo_lib.port_free(port):
        # Fail before spending a minute building the book.
        raise click.ClickException(
            f"端口 {port} 已被占用 (port in use); 请用 --port 换一个, 或 --no-serve (choose another with --port)"
        )
    echo = None if as_json else click.echo
    result = demo_lib.build(db_path, clients=n, seed=seed, progress=show_progress(as_json), echo=echo)
    if as_json:
        emit_json(result.as_dict())
    else:
        print_summary(result.run)
        click.echo(f"完成 (done) 用时 {result.steps['total']:.1f}s · 数据库 {result.db}")
        keys_dir = demo_lib.keys_dir_for(result.db)
        click.echo(f"命令行操作员 (CLI operators): --as {demo_lib.ROOT} --key {keys_dir / (demo_lib.ROOT + '.key')}"
                   f" (总部 head office) · --as {demo_lib.BRANCH_OPERATOR[0]}"
                   f" --key {keys_dir / (demo_lib.BRANCH_OPERATOR[0] + '.key')} (营业部 {demo_lib.BRANCH_OPERATOR[1]})")
        if no_serve:
            for line in serve_lib.demo_signin_lines(list(BRANCHES)):
                click.echo(line)
            click.echo(f"启动只读站点 (to serve it): brokercrm demo --db {result.db} 会重建并启动; "
                       "或 brokercrm publish 后 brokercrm serve (see docs/site.md)")
    if not no_serve:
        code = demo_lib.serve_demo(result.db, port)
        if code:
            raise click.ClickException(f"Datasette 退出, 代码 {code} (datasette exited with {code})")
