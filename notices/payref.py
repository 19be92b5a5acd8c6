"""Payment references with check digits: ISO 11649 "RF" creditor references (pure).

An RF reference is ``RF`` + two check digits + up to 21 letters and digits; the check digits
follow ISO 7064 MOD 97-10 (as in IBAN), so a mistyped character or two swapped neighbours
is caught by the bank or portal before the payment is booked to another notice.
"""

from __future__ import annotations

import re

_BODY = re.compile(r"[0-9A-Z]{1,21}\Z")
_REF = re.compile(r"RF[0-9]{2}[0-9A-Z]{1,21}\Z")


def _numeric(text: str) -> int:
    # letters count as 10..35 (A=10), as ISO 7064 MOD 97-10 prescribes
    return int("".join(str(int(ch, 36)) for ch in text))


def rf_reference(body: str) -> str:
    """The RF reference for ``body`` (1-21 upper-case letters or digits).

    Raises:
        ValueError: ``body`` is empty, too long or has other characters.
    """
    if not isinstance(body, str) or not _BODY.match(body):
        raise ValueError(f"payment reference body {body!r}: expected 1-21 characters 0-9 A-Z")
    check = 98 - _numeric(body + "RF00") % 97
    return f"RF{check:02d}{body}"


def is_valid_rf(reference: str) -> bool:
    """True when ``reference`` (spaces allowed, any case) is a well-formed RF reference."""
    ref = reference.replace(" ", "").upper() if isinstance(reference, str) else ""
    if not _REF.match(ref):
        return False
    return _numeric(ref[4:] + ref[:4]) % 97 == 1


def grouped(reference: str) -> str:
    """``reference`` in groups of four for printing (``RF18 SC20 2600 0012 3``)."""
    return " ".join(reference[i:i + 4] for i in range(0, len(reference), 4))
