"""The ``brokercrm`` command line: a thin layer over the library.

Each noun has its own module in this package; they register their commands
on ``cli`` when imported at the bottom of this file.
"""

import click

from .. import __version__
from .common import main_group


@click.group(cls=main_group())
@click.version_option(__version__, prog_name="brokercrm")
def cli():
    """brokercrm — 证券公司客户管理 (client management for securities brokerages).

    数据库 (database): --db PATH, 或环境变量 BROKERCRM_DB, 默认 ./brokercrm.db.
    操作员 (operator): --as ID, 或环境变量 BROKERCRM_OPERATOR.
    """


from . import core_commands  # noqa: E402,F401  (registers init, branches, import, classify, clients, policy, demo)
