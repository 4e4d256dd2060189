"""Sales (spec tag ``Sales``): ``GET /v1/{org}/sales/settings`` (the list ``/v1/{org}/sales`` is in
``routes_read``)."""

from __future__ import annotations

from flask import Response

from ..api_common import org_data
from ..errors import json_response
from .common import blueprint
from .invoices import default_template_id

bp = blueprint("sales")
REMINDER_FEE = 100.0
REMINDER_INTEREST_RATE = 0.7  # percent per started month (Danish "renteloven" style)


@bp.get("/v1/<org>/sales/settings")
def sales_settings() -> Response:
    """``SalesVoucherSetttingsModel``: the defaults new invoices get."""
    org = org_data()
    return json_response(
        {
            "LinesInclVat": False,
            "FikCode": None,
            "UseFikCode": False,
            "DefaultAccountNumber": 1000,
            "InvoiceTemplateId": default_template_id(org.id),
            "AddVoucherAsPdfAttachment": True,
            "ReminderFee": REMINDER_FEE,
            "ReminderInterestRate": REMINDER_INTEREST_RATE,
            "TrustPilotEmail": None,
            "PaymentConditionNumberOfDays": 8,
            "PaymentConditionType": "Netto",
        }
    )
