"""Head-office policy files ship inside the package as brokercrm.default_policies."""
