"""A Dinero-like standard chart of accounts (kontoplan) and the VAT types of a Danish organization.

Result accounts (drift) have four-digit numbers below 50000; balance accounts five digits from 50000.
Deposit accounts (banks, MobilePay, Stripe ...) live in 55000-55999, cash (kasse) is 58000.
"""

from __future__ import annotations

from typing import NamedTuple


class Account(NamedTuple):
    """One account of the chart."""

    number: int
    name: str
    vat_code: str | None
    category: str
    category_name: str
    deposit: bool = False


ACCOUNTS: tuple[Account, ...] = (
    Account(1000, "Salg af varer/ydelser m/moms", "U25", "Turnover", "Omsætning"),
    Account(1010, "Salg af varer/ydelser u/moms", "none", "Turnover", "Omsætning"),
    Account(1100, "Salg af ydelser til udlandet (EU)", "UEUY", "Turnover", "Omsætning"),
    Account(1200, "Salg af varer til udlandet (EU)", "UEUV", "Turnover", "Omsætning"),
    Account(1300, "Salg af varer/ydelser uden for EU", "none", "Turnover", "Omsætning"),
    Account(2000, "Vareforbrug", "I25", "Variable Expenses", "Variable omkostninger"),
    Account(2100, "Fremmed arbejde", "I25", "Variable Expenses", "Variable omkostninger"),
    Account(2200, "Varekøb i EU", "IEUV", "Variable Expenses", "Variable omkostninger"),
    Account(3000, "Lønninger", "none", "Salary", "Lønninger"),
    Account(3100, "Pension", "none", "Salary", "Lønninger"),
    Account(4000, "Annoncer og reklame", "I25", "Sales Expenses", "Salgsomkostninger"),
    Account(4100, "Repræsentation", "REP", "Sales Expenses", "Salgsomkostninger"),
    Account(5000, "Husleje", "I25", "Property Expenses", "Lokaleomkostninger"),
    Account(5100, "El, vand og varme", "I25", "Property Expenses", "Lokaleomkostninger"),
    Account(6000, "Kontorartikler", "I25", "Administration Expenses", "Administrationsomkostninger"),
    Account(6100, "Telefon og internet", "I25", "Administration Expenses", "Administrationsomkostninger"),
    Account(
        6200, "Software og IT-abonnementer", "I25", "Administration Expenses", "Administrationsomkostninger"
    ),
    Account(6300, "Revisor og bogføring", "I25", "Administration Expenses", "Administrationsomkostninger"),
    Account(6400, "Gebyrer", "none", "Administration Expenses", "Administrationsomkostninger"),
    Account(7000, "Rejseudgifter", "I25", "Travel Expenses", "Rejseudgifter"),
    Account(8000, "Afskrivninger", "none", "Depreciation", "Afskrivninger"),
    Account(9000, "Renteindtægter", "none", "Interest Income", "Renteindtægter"),
    Account(9100, "Renteudgifter", "none", "Interest Expenses", "Renteudgifter"),
    Account(51000, "Inventar", "I25", "Property", "Anlægsaktiver"),
    Account(52000, "Varelager", "none", "Turnover Assets", "Omsætningsaktiver"),
    Account(55000, "Bank", "none", "Liquid Assets", "Likvide beholdninger", deposit=True),
    Account(55010, "Opsparingskonto", "none", "Liquid Assets", "Likvide beholdninger", deposit=True),
    Account(55020, "MobilePay", "none", "Liquid Assets", "Likvide beholdninger", deposit=True),
    Account(55030, "Stripe", "none", "Liquid Assets", "Likvide beholdninger", deposit=True),
    Account(56000, "Debitorer", "none", "Receivables", "Tilgodehavender"),
    Account(58000, "Kasse", "none", "Liquid Assets", "Likvide beholdninger"),
    Account(61000, "Egenkapital", "none", "Equity", "Egenkapital"),
    Account(62000, "Banklån", "none", "Long Term Debt", "Langfristet gæld"),
    Account(63000, "Kreditorer", "none", "Short Term Debt", "Kortfristet gæld"),
    Account(64000, "Salgsmoms (udgående moms)", "none", "Vat Due", "Moms"),
    Account(64060, "Købsmoms (indgående moms)", "none", "Vat Due", "Moms"),
    Account(64100, "Moms af varekøb i udlandet", "none", "Vat Due", "Moms"),
    Account(64200, "Momsafregning", "none", "Vat Due", "Moms"),
    Account(65000, "Skyldig A-skat og AM-bidrag", "none", "Salary Due", "Skyldig løn"),
)

DEFAULT_SALES_ACCOUNT = 1000
RECEIVABLES_ACCOUNT = 56000
PAYABLES_ACCOUNT = 63000
EQUITY_ACCOUNT = 61000
SALES_VAT_ACCOUNT = 64000
PURCHASE_VAT_ACCOUNT = 64060
BANK_ACCOUNT = 55000
CASH_ACCOUNT = 58000


class VatType(NamedTuple):
    """One VAT code: rate, Danish name, and on which side it applies (sales/purchase)."""

    code: str
    name: str
    rate: float
    side: str  # "sale" or "purchase"


VAT_TYPES: tuple[VatType, ...] = (
    VatType("U25", "Salgsmoms 25%", 0.25, "sale"),
    VatType("UEUV", "Salg af varer til EU (0%)", 0.0, "sale"),
    VatType("UEUY", "Salg af ydelser til EU (0%)", 0.0, "sale"),
    VatType("UVC", "Salg med omvendt betalingspligt (0%)", 0.0, "sale"),
    VatType("I25", "Dansk købsmoms 25%", 0.25, "purchase"),
    VatType("IEUV", "Køb af varer i EU (25%)", 0.25, "purchase"),
    VatType("IEUY", "Køb af ydelser i EU (25%)", 0.25, "purchase"),
    VatType("REP", "Repræsentation (25% fradrag af momsen)", 0.25, "purchase"),
    VatType("KUNS", "Køb af kunst (brugtmoms)", 0.0, "purchase"),
)
VAT_BY_CODE: dict[str, VatType] = {v.code.lower(): v for v in VAT_TYPES}
NO_VAT = "none"


def vat_rate(code: str | None) -> float:
    """The VAT rate of a code (0 for ``none``/unknown/None)."""
    if not code:
        return 0.0
    vat = VAT_BY_CODE.get(code.lower())
    return vat.rate if vat else 0.0


def vat_side(code: str | None) -> str | None:
    """``sale``/``purchase`` for a VAT code, None for none/unknown."""
    if not code:
        return None
    vat = VAT_BY_CODE.get(code.lower())
    return vat.side if vat else None


def vat_account(code: str | None) -> int:
    """Where the VAT of a code is posted."""
    return SALES_VAT_ACCOUNT if vat_side(code) == "sale" else PURCHASE_VAT_ACCOUNT


def account_rows() -> list[dict]:
    """The chart as stored rows (entry and deposit fields together)."""
    rows = []
    first_deposit = True
    for acc in ACCOUNTS:
        rows.append(
            {
                "AccountNumber": acc.number,
                "PublicStandardNumber": None,
                "Name": acc.name,
                "VatCode": acc.vat_code,
                "Category": acc.category,
                "CategoryName": acc.category_name,
                "IsHidden": False,
                "IsDefaultSalesAccount": acc.number == DEFAULT_SALES_ACCOUNT,
                "BankRegistrationNumber": "5301" if acc.number == BANK_ACCOUNT else None,
                "BankAccountNumber": "0001234567" if acc.number == BANK_ACCOUNT else None,
                "BankSwiftNumber": None,
                "BankIbanNumber": "DK5053010001234567" if acc.number == BANK_ACCOUNT else None,
                "IsDefault": acc.deposit and first_deposit,
                "_IsDeposit": acc.deposit,
            }
        )
        if acc.deposit:
            first_deposit = False
    return rows
