"""Accounting vouchers (记账凭证) for a Chinese finance package: one per invoice issued (Dr accounts receivable,
Cr revenue and output VAT) and one per payment received (Dr bank, Cr accounts receivable) in a period, laid
out as Kingdee's (金蝶 KIS/K3 凭证引入) or Yonyou's (用友 U8/T3 凭证导入) import files, as CSV (UTF-8 with BOM)
or XLSX. Amounts are Decimal with two places; every voucher balances."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session

from atrium.billing_summary import money
from atrium.client_export import _xlsx_cell, csv_text
from atrium.i18n import translate
from storage.billing import Invoice, Payment
from storage.clients import Client

LAYOUTS = ("kingdee", "yonyou")
FORMATS = ("csv", "xlsx")
# The packages are Chinese and so are their import files: headers, account names and summaries in zh-CN.
LOCALE = "zh-CN"
ACCOUNTS = ("receivable", "revenue", "output_vat", "bank")


@dataclass(frozen=True)
class VoucherLine:
    voucher: int  # 凭证号, from 1 in date order
    day: date
    summary: str
    account: str  # the account's role: receivable, revenue, output_vat or bank
    code: str
    debit: Decimal
    credit: Decimal
    currency: str


def _text(key: str, **params) -> str:
    return translate(key, LOCALE, **params)


def account_name(account: str) -> str:
    return _text(f"finance.account.{account}")


def voucher_lines(
    session: Session,
    *,
    date_from: date,
    date_to: date,
    accounts: dict[str, str],
    shown_name: Callable[[Client], str],
) -> list[VoucherLine]:
    """The vouchers of invoices issued and payments received from `date_from` to `date_to` (both included),
    numbered from 1 in date order (a day's invoices before its payments). `shown_name` gives the client's
    name as the person exporting may see it (the summary carries it)."""
    invoices = session.execute(
        select(Invoice, Client)
        .join(Client, Client.id == Invoice.client_id)
        .where(Invoice.status != "cancelled", Invoice.issue_date >= date_from, Invoice.issue_date <= date_to)
    ).all()
    payments = session.execute(
        select(Payment, Invoice.number, Invoice.currency, Client)
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .join(Client, Client.id == Payment.client_id)
        .where(Payment.paid_on >= date_from, Payment.paid_on <= date_to)
    ).all()
    entries: list[tuple] = []
    for invoice, client in invoices:
        total, tax = money(invoice.total_amount), money(invoice.tax_amount)
        summary = _text("finance.voucher.invoice_summary", number=invoice.number, client=shown_name(client))
        # Revenue is what the total leaves after tax, so the voucher balances whatever net_amount says.
        legs = [("receivable", total, Decimal("0.00")), ("revenue", Decimal("0.00"), total - tax)]
        if tax:
            legs.append(("output_vat", Decimal("0.00"), tax))
        entries.append(((invoice.issue_date, 0, invoice.number, invoice.id), summary, invoice.currency, legs))
    for payment, number, currency, client in payments:
        amount = money(payment.amount)
        summary = _text("finance.voucher.payment_summary", number=number, client=shown_name(client))
        legs = [("bank", amount, Decimal("0.00")), ("receivable", Decimal("0.00"), amount)]
        entries.append(((payment.paid_on, 1, number, payment.id), summary, currency, legs))
    lines = []
    for n, (key, summary, currency, legs) in enumerate(sorted(entries, key=lambda e: e[0]), start=1):
        for account, debit, credit in legs:
            lines.append(VoucherLine(n, key[0], summary, account, accounts[account], debit, credit, currency))
    return lines


# The import files' columns, as each package's template names them, and how a line fills them.
def _currency(line: VoucherLine, layout: str) -> str:
    # Kingdee's own code for the renminbi is RMB; Yonyou's templates name it 人民币.
    if line.currency == "CNY":
        return "RMB" if layout == "kingdee" else "人民币"
    return line.currency


COLUMNS: dict[str, tuple[tuple[str, Callable[[VoucherLine], object]], ...]] = {
    "kingdee": (
        ("凭证日期", lambda line: line.day.isoformat()),
        ("凭证字", lambda line: _text("finance.voucher.word")),
        ("凭证号", lambda line: line.voucher),
        ("附单据数", lambda line: 0),
        ("摘要", lambda line: line.summary),
        ("科目代码", lambda line: line.code),
        ("科目名称", lambda line: account_name(line.account)),
        ("借方金额", lambda line: line.debit),
        ("贷方金额", lambda line: line.credit),
        ("币别", lambda line: _currency(line, "kingdee")),
        ("汇率", lambda line: 1 if line.currency == "CNY" else None),
        ("原币金额", lambda line: line.debit or line.credit),
        ("制单人", lambda line: ""),  # left empty: the package fills in the operator importing
    ),
    "yonyou": (
        ("制单日期", lambda line: line.day.isoformat()),
        ("凭证类别", lambda line: _text("finance.voucher.word")),
        ("凭证编号", lambda line: line.voucher),
        ("附单据数", lambda line: 0),
        ("摘要", lambda line: line.summary),
        ("科目编码", lambda line: line.code),
        ("借方金额", lambda line: line.debit),
        ("贷方金额", lambda line: line.credit),
        ("币种", lambda line: _currency(line, "yonyou")),
        ("汇率", lambda line: 1 if line.currency == "CNY" else None),
        ("制单人", lambda line: ""),  # left empty: the package fills in the operator importing
    ),
}


def _row(layout: str, line: VoucherLine) -> list:
    return [value(line) for _, value in COLUMNS[layout]]


def _csv_cell(value) -> str:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return csv_text(value)


def write_csv(layout: str, lines: list[VoucherLine]) -> bytes:
    """The lines as CSV in UTF-8 with a byte-order mark (what Excel and the packages' importers read as UTF-8);
    text a spreadsheet would run as a formula is written with a leading apostrophe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([title for title, _ in COLUMNS[layout]])
    for line in lines:
        writer.writerow([_csv_cell(v) for v in _row(layout, line)])
    return "\ufeff".encode() + buffer.getvalue().encode()


def write_xlsx(layout: str, lines: list[VoucherLine]) -> bytes:
    """The lines as a one-sheet workbook (openpyxl's write-only mode: flat memory, about three times faster);
    amounts are numbers shown with two places, text never a formula."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_text("finance.voucher.sheet"))
    titles = [title for title, _ in COLUMNS[layout]]
    for title, width in (("摘要", 40), ("科目名称", 30)):
        if title in titles:
            sheet.column_dimensions[get_column_letter(titles.index(title) + 1)].width = width
    sheet.append(titles)
    for line in lines:
        sheet.append(
            [_xlsx_amount(sheet, v) if isinstance(v, Decimal) else _xlsx_cell(sheet, v) for v in _row(layout, line)]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_amount(sheet, value: Decimal) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = "0.00"
    return cell
