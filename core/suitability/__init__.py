"""Suitability (适当性): matching products to clients, and the evidence for it.

- ``policy``: the suitability policy (levels, matrix, rules) and its validation.
- ``schema``: the ``brokercrm.suitability`` migration set.
- ``products``: importing products and holdings.
- ``behaviour``: trading behaviour and behaviour-driven flags.
- ``investor_type``: professional / ordinary investor status and conversions.
- ``engine``: checking one sale, confirmations, plugin checks.
- ``scan``: checking every holding in one pass.
- ``assessments``: expiring assessments and renewal flags (they need the policy's bands).
- ``evidence``: what the client was shown and acknowledged per act, 双录 (``evidence_policy``, ``evidence_schema``).
- ``view``: what ``clients show`` adds.
- ``profile``, ``profile_show``: three-way matching — the client's objective / horizon / kinds, the
  product's horizon and kind, their SQL (issue 11).
- ``care_rules``, ``cooling_off``: special care (Art. 20) and cooling-off windows (issue 11).
"""
