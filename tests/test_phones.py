"""Phone numbers: E.164 normal form, masking for logs, emergency numbers.

Fictional numbers used across the tests, all checked against the installed phonenumbers:
- US 201-555-0100..0199 and 212-555-01XX are VALID (real area code + 555-01XX fiction range);
- 555-555-0100 and +1 555 555 0006 are INVALID (area code 555 is not assigned);
- +1 500-555-0006 (Twilio's magic test "From") is valid;
- UK drama range +44 7700 900XXX is INVALID in phonenumbers, +44 7911 123456 is valid.

As a patient's phone (:func:`patient_phone`), the US fiction numbers are FIXED_LINE_OR_MOBILE
and +44 7911 123456 is MOBILE, so all are accepted; +1 500-555-0006 is a PERSONAL_NUMBER and
020 7946 0018 a FIXED_LINE, so neither is.
"""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from followup.phones import (
    TEXTABLE_TYPES,
    PhoneError,
    emergency_number_for,
    emergency_number_of,
    mask_phone,
    normalize_phone,
    patient_phone,
)


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
    ("raw", "country", "expected"),
    [
        ("201-555-0123", "US", "+12015550123"),  # FIXED_LINE_OR_MOBILE: most US numbers
        ("(613) 555-0123", "CA", "+16135550123"),
        ("07911 123456", "GB", "+447911123456"),  # MOBILE
        ("+33 6 12 34 56 78", "US", "+33612345678"),
        ("+44 56 1234 5678", "GB", "+445612345678"),  # VOIP
    ],
)
def test_a_patient_phone_is_one_a_text_can_reach(raw, country, expected) -> None:
    assert patient_phone(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "country", "reason"),
    [
        ("+1 900 555 0100", "US", "a premium-rate number; cannot be texted"),
        ("+44 909 123 4567", "GB", "a premium-rate number; cannot be texted"),
        ("1-800-555-0100", "US", "a toll-free number; cannot be texted"),
        ("(888) 555-0100", "US", "a toll-free number; cannot be texted"),
        ("0800 123 4567", "GB", "a toll-free number; cannot be texted"),
        ("+33 8 84 01 23 45", "FR", "a shared-cost number; cannot be texted"),
        ("+44 55 1234 5678", "GB", "a company's universal access number; cannot be texted"),
        ("+44 76 4012 3456", "GB", "a pager number; cannot be texted"),
        ("+49 17799 1234567", "DE", "a voicemail access number; cannot be texted"),
        ("+44 70 1234 5678", "GB", "a personal (forwarding) number; cannot be texted"),
        ("+1 500-555-0006", "US", "a personal (forwarding) number; cannot be texted"),
        ("020 7946 0018", "GB", "a landline; cannot receive texts"),
        ("+33 1 40 00 00 00", "GB", "a landline; cannot receive texts"),
        ("22395", "US", "a short code or service number, not a patient's phone"),
        ("911", "US", "a short code or service number, not a patient's phone"),
        ("999", "GB", "a short code or service number, not a patient's phone"),
        ("12", "US", "not a valid number for US"),  # neither a number nor a short code
        ("555-555-0100", "US", "not a valid number for US"),
    ],
)
def test_a_patient_phone_no_text_can_reach_is_refused(raw, country, reason) -> None:
    with pytest.raises(PhoneError) as info:
        patient_phone(raw, country)
    assert str(info.value) == reason
    assert "".join(c for c in raw if c.isdigit())[-4:] not in str(info.value)


def test_every_number_type_is_either_textable_or_refused_with_a_reason() -> None:
    """libphonenumber's example number of each type, in some country that has one."""
    seen = set()
    for region in ("GB", "US", "FR", "DE", "ES", "IT", "AU", "BR", "IN", "CH"):
        for wanted in PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, wanted)
            # the example of a type may be of another (GB's FIXED_LINE_OR_MOBILE is a landline)
            kind = phonenumbers.number_type(example) if example else None
            if kind is None or kind in seen:
                continue
            seen.add(kind)
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            if kind in TEXTABLE_TYPES:
                assert patient_phone(e164, region) == e164
            else:
                with pytest.raises(PhoneError, match="cannot"):
                    patient_phone(e164, region)
    assert seen > TEXTABLE_TYPES  # every textable type was tried


def test_numbers_that_are_never_a_patients_are_refused_by_what_they_are() -> None:
    own = {"+12015550100": "the clinic's phone"}
    with pytest.raises(PhoneError) as info:
        patient_phone("(201) 555-0100", "US", own)
    assert str(info.value) == "the clinic's phone, not a patient's"
    assert patient_phone("201-555-0101", "US", own) == "+12015550101"


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


@pytest.mark.parametrize(
    ("phone", "number"),
    [
        ("+12015550123", "911"),  # US
        ("+14165550123", "911"),  # Canada shares +1: told apart by area code
        ("+447700900123", "999"),
        ("+61412345678", "000"),
        ("+4915123456789", "112"),
        ("+81312345678", "112"),
        ("+999123", None),  # no country
        ("not a number", None),
        (None, None),
    ],
)
def test_a_senders_number_tells_its_countrys_emergency_number(phone, number) -> None:
    assert emergency_number_of(phone) == number
