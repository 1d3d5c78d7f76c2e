"""Number fields of the billing forms that read plain numbers only: the digits 0-9, and for decimals one dot.

Python's Decimal() and int() also read the digits of other scripts ("١٢٣" is 123) and full-width digits
("１２３"), and Decimal() reads exponents ("1e3") and "Infinity". A figure of money that shows one thing
on the screen and another in the ledger has no place in a bill, so these fields refuse them with a message.
"""

import re

from django import forms
from django.core.exceptions import ValidationError

PLAIN_DECIMAL = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
PLAIN_INTEGER = re.compile(r"[-+]?[0-9]+")
OTHER_DIGITS = "Type the number with the digits 0-9; other digits (such as ١٢٣ or １２３) are not accepted."


class PlainNumberMixin:
    pattern: re.Pattern
    invalid = "Enter a number."

    def to_python(self, value):
        if isinstance(value, str) and value.strip() not in self.empty_values:
            text = value.strip()
            if not text.isascii():
                raise ValidationError(OTHER_DIGITS, code="other_digits")
            if not self.pattern.fullmatch(text):
                raise ValidationError(self.invalid, code="invalid")
            value = text
        return super().to_python(value)


class MoneyField(PlainNumberMixin, forms.DecimalField):
    """Amounts, prices and thresholds: digits 0-9 with an optional dot and decimals, such as 1234.50."""

    pattern = PLAIN_DECIMAL
    invalid = "Enter a number. Use the digits 0-9 and a dot before the decimals, for example 1234.50."


class WholeNumberField(PlainNumberMixin, forms.IntegerField):
    """Counts (free minutes): digits 0-9 only."""

    pattern = PLAIN_INTEGER
    invalid = "Enter a whole number with the digits 0-9."
