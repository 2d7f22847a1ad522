from django import forms
from django.utils.translation import gettext_lazy as _

from scheduler.validators import (
    no_control_characters,
    no_control_characters_but_newlines,
    no_links,
    no_markup,
    phone_characters,
)


class BookingForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=200,
        validators=[no_control_characters, no_markup, no_links],
    )
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        validators=[no_control_characters, phone_characters],
    )
    notes = forms.CharField(
        label=_("Note (optional)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[no_control_characters_but_newlines],
    )
    consent = forms.BooleanField(
        label=_("I agree that the practice stores these details to handle my appointment."),
        required=True,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.update(autocomplete="name")
        self.fields["email"].widget.attrs.update(autocomplete="email")
        self.fields["phone"].widget.attrs.update(autocomplete="tel", inputmode="tel")


class QuestionForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=200, validators=[no_control_characters, no_markup]
    )
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    message = forms.CharField(
        label=_("Your question"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        validators=[no_control_characters_but_newlines],
    )
    # A field people never see: only robots fill it in.
    website = forms.CharField(required=False, label=_("Leave this field empty"))
