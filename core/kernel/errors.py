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
