"""The branch's service programmes (issue 14 item 5), one module per programme, each policy + library.

- ``policy``: ``policies/programmes.toml`` (validated and versioned like every head-office policy).
- ``schema``: the ``brokercrm.programmes`` migration set.
- ``callbacks``: 回访 scripts with required risk-disclosure items, random sampling, callback records.
- ``prospects``: 潜在客户 with grades A–E, follow-ups and conversion into a client.
- ``vip``: 贵宾客户 entry and exit criteria and benefits; who qualifies, who lost it.
- ``points``: 积分 ledger, membership tiers, redemption.
- ``sessions``: what education and client events share (session, invitations, attendance);
  ``education`` (投资者教育: plan and coverage) and ``client_events`` (客户活动) on top of it.
"""
