from decimal import Decimal, localcontext

import pytest

from farlabs_server.payouts.amounts import MAX_UINT256, AmountError, far_to_wei, format_far, wei_to_far


@pytest.mark.parametrize(
    ("far", "wei"),
    [
        (Decimal("0"), 0),
        (Decimal("1"), 10**18),
        (Decimal("0.000000000000000001"), 1),
        (Decimal("0.25"), 250_000_000_000_000_000),
        (Decimal("0.100000000000000000"), 10**17),  # NUMERIC(38,18) as asyncpg returns it
        (Decimal("1E+3"), 1000 * 10**18),
        (Decimal("12345678901234567890.123456789012345678"), 12345678901234567890123456789012345678),
        (7, 7 * 10**18),
        ("0.0001", 10**14),
        (" 10 ", 10 * 10**18),
    ],
)
def test_far_to_wei_is_exact(far: object, wei: int) -> None:
    assert far_to_wei(far) == wei  # type: ignore[arg-type]


def test_far_to_wei_ignores_the_decimal_context() -> None:
    # 40 significant digits: Decimal arithmetic at the default 28-digit precision would round this.
    amount = Decimal("1234567890123456789012.123456789012345678")
    with localcontext() as ctx:
        ctx.prec = 5
        assert far_to_wei(amount) == 1234567890123456789012123456789012345678


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (Decimal("0.0000000000000000001"), "whole number of wei"),
        (Decimal("1.0000000000000000015"), "whole number of wei"),
        (Decimal("-1"), "negative"),
        (Decimal("-0.000000000000000001"), "negative"),
        (Decimal("NaN"), "finite"),
        (Decimal("Infinity"), "finite"),
        (0.1, "Decimal, int or str"),
        (True, "Decimal, int or str"),
        (None, "Decimal, int or str"),
        ("ten", "not a decimal"),
        (Decimal(MAX_UINT256) + 1, "uint256"),
    ],
)
def test_far_to_wei_refuses_what_cannot_be_paid_exactly(bad: object, message: str) -> None:
    with pytest.raises(AmountError, match=message):
        far_to_wei(bad)  # type: ignore[arg-type]


def test_trailing_zeros_beyond_18_places_are_fine() -> None:
    assert far_to_wei(Decimal("1.50000000000000000000000")) == 15 * 10**17


@pytest.mark.parametrize("wei", [0, 1, 10**18, 123456789, MAX_UINT256, 10**40 + 7])
def test_wei_round_trips(wei: int) -> None:
    far = wei_to_far(wei)
    assert far.as_tuple().exponent == -18
    assert far_to_wei(far) == wei


def test_wei_to_far_values() -> None:
    assert wei_to_far(1) == Decimal("0.000000000000000001")
    assert wei_to_far(250_000_000_000_000_000) == Decimal("0.25")
    with pytest.raises(AmountError):
        wei_to_far(-1)
    with pytest.raises(AmountError):
        wei_to_far(1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("0.250000000000000000"), "0.25"),
        (250_000_000_000_000_000, "0.25"),
        (Decimal("10.000000000000000000"), "10"),
        (Decimal("1E+3"), "1000"),
        (0, "0"),
        (1, "0.000000000000000001"),
    ],
)
def test_format_far(amount: object, text: str) -> None:
    assert format_far(amount) == text  # type: ignore[arg-type]
