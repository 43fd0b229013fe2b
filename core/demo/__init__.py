"""``brokercrm demo``: a synthetic book (``synth``) taken through the real importers,
classification and site (``run``)."""
