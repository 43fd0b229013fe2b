"""The client book: reading clients, branches, and recorded changes to client data.

- ``clients``: lists and one client's full record (``clients show``).
- ``branches``: the branches (营业部) clients belong to.
- ``data_changes``: requests to change a client's personal data, with masking.
- ``lookups``: values a person types that must name something (branch, class, client, product).
"""
