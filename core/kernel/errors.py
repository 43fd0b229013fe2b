"""Errors that the CLI prints as one clear message instead of a traceback."""


class BrokerCRMError(Exception):
    """A domain error: bad input, a refused action, a missing record."""


class ValidationFailed(BrokerCRMError):
    """Input failed validation; ``problems`` lists ``file:row:column: reason`` lines."""

    def __init__(self, message, problems=(), total=None):
        super().__init__(message)
        self.problems = list(problems)
        self.total = total if total is not None else len(self.problems)


class PolicyError(BrokerCRMError):
    """A policy file is invalid; the message names the file and the key."""


class NotFound(BrokerCRMError):
    """The record a command names does not exist (no such client, task, complaint, …)."""


class Forbidden(BrokerCRMError):
    """This operator may not do this: no operator given, wrong branch, or their own request to decide."""


class Conflict(BrokerCRMError):
    """The record is not in a state that allows this (already decided, already closed, …)."""


# The one wording of a missing client, for NotFound and for a row's problem in an import.
NO_SUCH_CLIENT = "客户 {} 不存在 (no such client)"
