"""The base of every form of the console: the text rules of console.text, applied to each field.

A form built on `Form` or `ModelForm` (or mixing in `TextRules`) gets, on every text field:
- a maximum length, `LINE_MAX` for one line and `TEXT_MAX` for a text area, unless the field names its own;
- for one line (any widget but a text area or a password box), the refusal of control characters.
A walker test holds every form of the console to this base, so no field can be left out.
"""

from django import forms
from django.core.validators import MaxLengthValidator

from .text import LINE_MAX, TEXT_MAX, refuse_control_characters


def is_multiline(field: forms.Field) -> bool:
    return isinstance(field.widget, forms.Textarea)


def apply_text_rules(field: forms.Field) -> None:
    if not isinstance(field, forms.CharField):
        return
    if field.max_length is None:
        field.max_length = TEXT_MAX if is_multiline(field) else LINE_MAX
        field.validators.append(MaxLengthValidator(field.max_length))
        field.widget.attrs.update(field.widget_attrs(field.widget))  # the browser's maxlength too
    # A password may hold any character the person chose; it never reaches a header or a page.
    if not is_multiline(field) and not isinstance(field.widget, forms.PasswordInput):
        if refuse_control_characters not in field.validators:
            field.validators.append(refuse_control_characters)


class TextRules:
    """Applies the text rules to the form's own copy of its fields (fields added later in a subclass's
    __init__ are covered too: the rules run again in full_clean)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.apply_text_rules()

    def apply_text_rules(self) -> None:
        for field in self.fields.values():
            apply_text_rules(field)

    def full_clean(self):
        self.apply_text_rules()
        super().full_clean()


class Form(TextRules, forms.Form):
    pass


class ModelForm(TextRules, forms.ModelForm):
    pass
