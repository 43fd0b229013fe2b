"""Where plugin failures are kept (named Migrations set ``brokercrm.plugins``).

A plugin that fails outside a classification run (a follow-up after an
interaction, say) must neither lose the act that called it nor fail
silently: each failure is a row here, which ``plugins errors`` lists and
the site's dashboard counts.
"""

from sqlite_utils.migrations import Migrations

migrations = Migrations("brokercrm.plugins")


@migrations()
def m001_plugin_errors(db):
    db.executescript(
        """
        CREATE TABLE plugin_errors (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            plugin TEXT NOT NULL,
            branch TEXT,
            hook TEXT NOT NULL,
            target TEXT,
            error TEXT NOT NULL
        );
        CREATE TRIGGER plugin_errors_no_update BEFORE UPDATE ON plugin_errors
        BEGIN SELECT RAISE(ABORT, 'plugin_errors is append-only'); END;
        CREATE TRIGGER plugin_errors_no_delete BEFORE DELETE ON plugin_errors
        BEGIN SELECT RAISE(ABORT, 'plugin_errors is append-only'); END;
        """
    )
