"""What each import reads: its columns, the ones it needs, what it does with others.

One entry per import kind. Each importer passes its own built-in spellings
when it runs; head-office synonyms come on top from the import policy
(``imports.policy``). ``unknown`` says what happens to a column the
import does not know: "keep" stores it as extra data (clients, behaviour),
"refuse" names it as a header problem, unless the policy lists it under
``ignore``.
"""

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    known: tuple
    required: tuple
    unknown: str
    pattern: str = ""  # other columns matching this regex are known too (assessments: q1 … q12)

    def knows(self, column):
        return column in self.known or bool(self.pattern and re.fullmatch(self.pattern, column))


KINDS = {
    "clients": Kind(
        known=("client_id", "kind", "name", "id_number", "phone", "birth_date", "branch_id", "opened_at",
               "total_assets", "turnover_rate", "avg_holding_days", "annual_income", "occupation", "education",
               "investment_years", "legal_representative", "business_scope", "net_assets",
               # issue 11 item 7 (kernel.kyc_fields.COLUMNS)
               "gender", "address", "income_source", "debts", "integrity_record", "tax_residence", "id_type",
               "id_valid_until", "beneficial_owners", "actual_controller",
               "account_manager"),  # issue 14 item 2 (brokercrm.staff.managers)
        required=("client_id", "kind", "name", "id_number", "branch_id"),
        unknown="keep"),
    "assessments": Kind(
        known=("client_id", "answered_at"), required=("client_id", "answered_at"), unknown="refuse", pattern=r"q\d+"),
    "products": Kind(
        known=("code", "name", "type", "risk_level"), required=("code", "name"), unknown="refuse"),
    "holdings": Kind(
        known=("client_id", "product_code", "amount", "since"), required=("client_id", "product_code", "amount"),
        unknown="refuse"),
    "behaviour": Kind(
        known=("client_id", "date", "turnover_pct", "st_share"),
        required=("client_id", "date", "turnover_pct", "st_share"), unknown="keep"),
    "interactions": Kind(
        known=("client_id", "kind", "channel", "note", "satisfaction", "at", "manager"),
        required=("client_id", "kind", "channel", "note"), unknown="refuse"),
}
