"""Datasette configuration ships inside the package as brokercrm.datasette_config."""
