"""Errors that the CLI prints as one clear message instead of a traceback.

Each class carries a stable ``code`` that ``--json`` error output reports
(docs/cli.md lists them).
"""


class BrokerCRMError(Exception):
    """A domain error: bad input, a refused action, a missing record."""

    code = "error"


class ValidationFailed(BrokerCRMError):
    """Input failed validation; ``problems`` lists ``file:row:column: reason`` lines."""

    code = "invalid_input"

    def __init__(self, message, problems=(), total=None):
        super().__init__(message)
        self.problems = list(problems)
        self.total = total if total is not None else len(self.problems)

    def __reduce__(self):  # the import worker sends these to its parent through a pipe
        return (type(self), (str(self), self.problems, self.total))


class PolicyError(BrokerCRMError):
    """A policy file is invalid; the message names the file and the key."""

    code = "invalid_policy"


class NotFound(BrokerCRMError):
    """A value names nothing that exists: a branch, class, client, product, operator, database."""

    code = "not_found"


class Busy(BrokerCRMError):
    """The database stayed locked by another writer for longer than the busy timeout."""

    code = "busy"
