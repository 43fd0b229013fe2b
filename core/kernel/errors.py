"""Errors that the CLI prints as one clear message instead of a traceback.

Each class carries a stable ``code`` that ``--json`` error output reports
(docs/cli-errors.md lists them).
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
    """The record or value a command names does not exist (no such client, branch, task, database, …)."""

    code = "not_found"


class Forbidden(BrokerCRMError):
    """This operator may not do this: no operator given, wrong branch, or their own request to decide."""

    code = "forbidden"


class Conflict(BrokerCRMError):
    """The record is not in a state that allows this (already decided, already closed, …)."""

    code = "conflict"


class Busy(BrokerCRMError):
    """The database stayed locked by another writer for longer than the busy timeout."""

    code = "busy"


# The one wording of a missing client, for NotFound and for a row's problem in an import.
NO_SUCH_CLIENT = "客户 {} 不存在 (no such client)"
