"""Head-office governance: the approval workflow for branch plugins (request, approve,
reject, revoke) and its impact preview. The check the engine runs is ``brokercrm.plugins.gate``."""
