"""A supplier's identity and contacts as Filiera keeps them: partita IVA without the
``IT`` prefix, e-mail checked for syntax only, phones in E.164, 5-digit postal codes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum.exceptions import ValidationError
from stdnum.it import iva

from .document import Address, Contact
from .errors import FieldError

_POSTAL_CODE = re.compile(r"[0-9]{5}")


def vat_number(text: str) -> str | None:
    """The partita IVA in ``text`` (an ``IT`` prefix dropped), or None if not valid."""
    try:
        return str(iva.validate(text))
    except ValidationError:
        return None


def email(text: str) -> str | None:
    try:
        return str(validate_email(text.strip(), check_deliverability=False).normalized)
    except EmailNotValidError:
        return None


def phone(text: str) -> str | None:
    """E.164 of an Italian or international number (``+39`` assumed without a prefix)."""
    try:
        number = phonenumbers.parse(text, "IT")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class ContactFields:
    """What a file says of a party's contact fields (None = not said, or not valid)."""

    email: str | None = None
    phone: str | None = None
    address: str | None = None
    postal_code: str | None = None
    municipality: str | None = None


def contact_fields(
    contacts: Sequence[Contact], address: Address, address_path: str
) -> tuple[ContactFields, list[FieldError]]:
    """The first valid contact of each kind; every invalid one is a warning."""
    warnings: list[FieldError] = []
    found: dict[str, str] = {}
    checks = {
        "emailAddress": ("email", email, "not a valid e-mail address"),
        # Filiera keeps one phone: a landline first, else a mobile.
        "phoneNumber": ("phone", phone, "not a valid phone number"),
        "mobileNumber": ("mobile", phone, "not a valid phone number"),
    }
    for contact in contacts:
        if contact.kind not in checks or not contact.value.strip():
            continue
        key, check, message = checks[contact.kind]
        value = check(contact.value)
        if value is None:
            warnings.append(FieldError(contact.path, message))
        else:
            found.setdefault(key, value)
    postal_code = address.zip_code.strip() or None
    if postal_code is not None and not _POSTAL_CODE.fullmatch(postal_code):
        warnings.append(FieldError(f"{address_path}.zipCode", "not a 5-digit postal code"))
        postal_code = None
    fields = ContactFields(
        email=found.get("email"),
        phone=found.get("phone", found.get("mobile")),
        address=address.street.strip() or None,
        postal_code=postal_code,
        municipality=address.locality.strip() or None,
    )
    return fields, warnings
