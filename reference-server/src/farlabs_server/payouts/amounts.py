"""Exact conversion between FAR amounts (`Decimal`) and token base units (wei, `int`).

$FAR has 18 decimals, so 1 FAR is 10**18 wei. Conversions never round: an amount that is not a whole
number of wei (more than 18 significant decimal places) is refused with `AmountError`, because a
silently dropped fraction is money that goes missing. The database stores FAR as NUMERIC(38, 18),
so amounts read from it always convert.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

FAR_DECIMALS = 18
WEI_PER_FAR = 10**FAR_DECIMALS
MAX_UINT256 = 2**256 - 1


class AmountError(ValueError):
    """An amount that cannot be paid exactly: not a number, negative, finer than 1 wei, or too large."""


def far_to_wei(amount_far: Decimal | int | str) -> int:
    """Convert a FAR amount to wei exactly.

    Accepts `Decimal`, `int` or a decimal string (as amounts travel on the wire). Refuses `float`
    (binary floats cannot hold most decimal amounts), negative amounts, NaN/infinity, precision
    finer than 1 wei, and results beyond uint256.
    """
    if isinstance(amount_far, bool) or not isinstance(amount_far, (Decimal, int, str)):
        raise AmountError(f"FAR amounts must be Decimal, int or str, not {type(amount_far).__name__}")
    if isinstance(amount_far, str):
        amount_far = _parse(amount_far)
    try:
        numerator, denominator = amount_far.as_integer_ratio()
    except (ValueError, OverflowError):  # NaN or infinity
        raise AmountError(f"not a finite amount: {amount_far}") from None
    if numerator < 0:
        raise AmountError(f"negative amount: {amount_far} FAR")
    wei, remainder = divmod(numerator * WEI_PER_FAR, denominator)
    if remainder:
        raise AmountError(f"{amount_far} FAR is not a whole number of wei (at most {FAR_DECIMALS} decimal places)")
    if wei > MAX_UINT256:
        raise AmountError(f"{amount_far} FAR does not fit in uint256")
    return int(wei)


def wei_to_far(amount_wei: int) -> Decimal:
    """Convert wei to FAR exactly, as a `Decimal` with 18 decimal places (like NUMERIC(38, 18))."""
    if isinstance(amount_wei, bool) or not isinstance(amount_wei, int):
        raise AmountError(f"wei amounts must be int, not {type(amount_wei).__name__}")
    if amount_wei < 0:
        raise AmountError(f"negative amount: {amount_wei} wei")
    # Built from its digits, not by division, so no context precision can round it.
    return Decimal((0, tuple(int(d) for d in str(amount_wei)), -FAR_DECIMALS))


def format_far(amount: Decimal | int) -> str:
    """Render an amount (FAR `Decimal`, or wei `int`) for people: plain notation, no trailing zeros.

    `format_far(Decimal("0.250000000000000000"))` and `format_far(250000000000000000)` give `"0.25"`.
    """
    far = wei_to_far(amount) if isinstance(amount, int) and not isinstance(amount, bool) else amount
    if not isinstance(far, Decimal) or not far.is_finite():
        raise AmountError(f"cannot format {amount!r} as FAR")
    text = f"{far:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _parse(text: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise AmountError(f"not a decimal amount: {text!r}") from None
