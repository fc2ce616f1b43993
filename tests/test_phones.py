"""Phone numbers: E.164 normal form, masking for logs, emergency numbers.

Fictional numbers used across the tests, all checked against the installed phonenumbers:
- US 201-555-0100..0199 and 212-555-01XX are VALID (real area code + 555-01XX fiction range);
- 555-555-0100 and +1 555 555 0006 are INVALID (area code 555 is not assigned);
- +1 500-555-0006 (Twilio's magic test "From") is valid;
- UK drama range +44 7700 900XXX is INVALID in phonenumbers, +44 7911 123456 is valid.
"""

from __future__ import annotations

import pytest

from followup.phones import PhoneError, emergency_number_for, mask_phone, normalize_phone


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("201-555-0123", "US", "+12015550123"),
        ("(212) 555-0199", "US", "+12125550199"),
        ("+1 201 555 0123", "US", "+12015550123"),
        ("  2015550123 ", "us", "+12015550123"),
        ("+15005550006", "US", "+15005550006"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("0412 345 678", "AU", "+61412345678"),
        ("+44 7911 123456", "US", "+447911123456"),  # a foreign number written with +
    ],
)
def test_it_normalizes_to_e164(raw: str, country: str, expected: str) -> None:
    assert normalize_phone(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "country", "reason"),
    [
        ("555-555-0100", "US", "not a valid number for US"),
        ("+1 555 555 0006", "US", "not a valid number for US"),
        ("12", "US", "not a valid number for US"),
        ("+44 7700 900123", "US", "not a valid number for GB"),
        ("call me", "US", "not a phone number"),
        ("", "US", "no phone number given"),
        ("   ", "US", "no phone number given"),
    ],
)
def test_it_rejects_with_a_reason(raw: str, country: str, reason: str) -> None:
    with pytest.raises(PhoneError) as info:
        normalize_phone(raw, country)
    assert str(info.value) == reason
    assert isinstance(info.value, ValueError)


def test_it_accepts_fixed_line_or_mobile() -> None:
    # US numbers cannot be told apart; only invalid ones are refused
    assert normalize_phone("201-555-0100", "US") == "+12015550100"


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        ("+15555550006", "+1555***0006"),
        ("+12015550123", "+1201***0123"),
        ("+447911123456", "+44791***3456"),
        ("+61491570156", "+6149***0156"),  # 9 national digits: 3 always hidden
        ("+35312345", "+353***45"),
        (None, "***"),
        ("", "***"),
        ("2015550123", "***23"),
    ],
)
def test_it_masks_phone_numbers(e164: str | None, masked: str) -> None:
    assert mask_phone(e164) == masked


def test_masking_always_hides_at_least_three_digits() -> None:
    for digits in range(1, 15):
        e164 = "+1" + "9" * digits
        assert mask_phone(e164).count("***") == 1
        shown = sum(c.isdigit() for c in mask_phone(e164)) - 1
        assert shown <= max(0, digits - 3)


@pytest.mark.parametrize(
    ("country", "number"),
    [
        ("US", "911"),
        ("ca", "911"),
        ("GB", "999"),
        ("AU", "000"),
        ("NZ", "111"),
        ("DE", "112"),
        ("FR", "112"),
        ("NO", "112"),
        ("CH", "112"),
        ("IS", "112"),
        ("JP", "112"),
    ],
)
def test_it_knows_emergency_numbers(country: str, number: str) -> None:
    assert emergency_number_for(country) == number
