"""Money: ``decimal.Decimal``, never a float, in yuan (CNY) to the fen (分, 0.01). Amounts from
people are parsed by ``pricing.amount``.

Unit prices may carry more digits (0.0125 CNY per CPU-hour is a real price), and so may the
exact product of a price and a usage; an amount that reaches the ledger is rounded once, to the
fen, half away from zero (ROUND_HALF_UP: 四舍五入, as Chinese invoices round). Where one amount is
split in parts (a fee, a voucher's share), the parts are rounded and the last part is what is
left, so that the parts always add up to the whole (``ledger.charge``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")
ROUNDING = ROUND_HALF_UP
ZERO = Decimal("0.00")
CURRENCY = "CNY"


def to_fen(amount: Decimal) -> Decimal:
    """``amount`` rounded to the fen, half away from zero."""
    return amount.quantize(FEN, rounding=ROUNDING)
