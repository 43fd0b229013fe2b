"""Positions (岗位) and qualifications (证券从业资格) of the people who act.

- ``positions``: the head-office positions policy (policies/positions.toml): what
  each position may do and its scope, validated and fed to the authorisation table
  (``brokercrm.trust.authz``) through the registry when an operator authenticates.
- ``qualifications``: an operator's securities qualification and its validity; the
  acts the policy lists are refused to a person without a valid one.
- ``schema``: the qualifications table (named set ``brokercrm.staff``).
"""
