"""Know your client (办法 Art. 6–7; seed 000; issue 11 item 7).

- ``schema``: the ``brokercrm.kyc`` migration set (verifications, callback samples,
  plausibility flags, ID-expiry notices; seed 004's columns on ``data_changes``);
- ``verification``: the three-level check as audited acts, and back office's seeded,
  recorded random callback sample of new accounts;
- ``plausibility``: head office's rules that flag, never block;
- ``id_expiry``: IDs near their 有效期 open a task, expired ones are listed;
- ``view``: the KYC part of ``clients show``.

The policy (``policies/kyc.toml``) is read through ``brokercrm.book.kyc_policy``, which the
data-change flow (``book.data_changes``) also uses.
"""
