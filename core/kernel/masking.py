"""Masking personal data for display and publication.

ID number 110101********1234, phone 138****5678, name 张*. Used by
``clients show`` unless the full record is deliberately requested (which is
audited), and by the published Datasette snapshots.
"""

PERSONAL_FIELDS = ("name", "id_number", "phone", "birth_date", "legal_representative")


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


MASKERS = {
    "name": mask_name,
    "legal_representative": mask_name,
    "id_number": mask_id,
    "phone": mask_phone,
    "birth_date": mask_birth_date,
}


def mask_record(record):
    return {k: (MASKERS[k](v) if k in MASKERS else v) for k, v in record.items()}
