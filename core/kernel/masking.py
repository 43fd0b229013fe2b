"""Masking personal data for display and publication.

ID number 110101********1234, phone 138****5678, name 张*. Used by
``clients show`` unless the full record is deliberately requested (which is
audited), by the audit trail of reviewed changes, and by the published
Datasette snapshots (which mask the same kinds in SQL, checked against these).

``PERSONAL`` is the one map of which field holds which kind of personal data.
"""


def mask_id(value):
    if not value:
        return value
    value = str(value)
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value):
    if not value:
        return value
    value = str(value)
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value):
    if not value:
        return value
    value = str(value)
    if len(value) == 1:
        return "*"
    return value[0] + "*" * (len(value) - 1)


def mask_birth_date(value):
    """Keep the year only: age bands stay visible, the birthday does not."""
    return f"{str(value)[:4]}-**-**" if value else value


def mask_account(value):
    if not value:
        return value
    value = str(value)
    return value[:4] + "*" * max(len(value) - 8, 0) + value[-4:] if len(value) > 8 else "*" * len(value)


# Kind of personal data -> its masker.
KINDS = {"name": mask_name, "id": mask_id, "phone": mask_phone, "birth": mask_birth_date, "account": mask_account}

# Field (column) names that hold personal data, whatever the table -> kind.
PERSONAL = {
    "name": "name", "legal_representative": "name", "client_name": "name",
    "id_number": "id",
    "phone": "phone", "mobile": "phone", "contact_phone": "phone",
    "birth_date": "birth",
    "bank_account": "account",
}

MASKERS = {name: KINDS[kind] for name, kind in PERSONAL.items()}


def mask_field(name, value):
    """``value`` masked as field ``name`` holds it; a field without personal data unchanged."""
    masker = MASKERS.get(name)
    return masker(value) if masker else value


def mask_record(record):
    return {k: mask_field(k, v) for k, v in record.items()}
