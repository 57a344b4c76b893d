"""The request form of SPEC §6: fields ``contract``, ``scope``, ``agency`` and ``screenshot``.

It only checks the shape of the input; whether the perk may be used is the service's decision, and its
refusals are added to the form by ``add_refusal``."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from requests_app import domain
from requests_app.screenshots import InvalidScreenshot, check_screenshot

SCOPE_HELP = {
    domain.JSS_ONLY: (
        "Your public work history won't change: your profile still shows the client's rating, comment and any response."
    ),
    domain.HIDE_PROFILE_AND_JSS: (
        "We hide the rating, comment and any response from your work history and show "
        "“This feedback has been removed.” instead."
    ),
}


AGENCY_NOT_YOURS = (
    "We could not tell which agency you are asking for: you may no longer act for it, or the page is out of "
    "date. Choose again (yourself, or an agency you are the owner, business manager or admin of) and send the "
    "form again."
)


class ScreenshotFieldMixin:
    """A form's optional ``screenshot`` checked by content (screenshots.check_screenshot); the checked file is
    kept on ``checked_screenshot`` for the service."""

    checked_screenshot = None

    def clean_screenshot(self):
        upload = self.cleaned_data.get("screenshot")
        if not upload:
            return None
        try:
            self.checked_screenshot = check_screenshot(upload)
        except InvalidScreenshot as exc:
            raise ValidationError(str(exc), code="screenshot_invalid") from None
        return upload


class RemovalRequestForm(ScreenshotFieldMixin, forms.Form):
    contract = forms.CharField(
        label="Contract ID",
        max_length=20,
        help_text=(
            "The digits of the Contract ID. Find it on My contracts, or on the marketplace's Contracts page: "
            "open the contract, and the Contract ID is in the Contract Details on the right."
        ),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "class": "mono"}),
        error_messages={"required": "Enter the Contract ID of the contract whose feedback you want removed."},
    )
    scope = forms.ChoiceField(
        label="What should be removed?",
        choices=domain.SCOPE_CHOICES,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose “JSS only” or “Hide from profile and JSS”."},
    )
    agency = forms.ChoiceField(
        label="Asking for",
        required=False,
        help_text="For an agency's contract, choose the agency. You can also leave it: the contract decides.",
        error_messages={"invalid_choice": AGENCY_NOT_YOURS},
    )
    screenshot = forms.FileField(
        label="Screenshot of the status-loss email",
        required=False,
        help_text="",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,application/pdf,.png,.jpg,.jpeg,.pdf"}),
    )

    def __init__(self, *args, agencies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.agencies = {agency.public_id: agency for agency in agencies}
        self.fields["agency"].choices = [("", "Myself (my own contracts)")] + [
            (agency.public_id, f"{agency.name} (agency)") for agency in agencies
        ]
        if not agencies:
            self.fields["agency"].widget = forms.HiddenInput()
        megabytes = settings.SCREENSHOT_MAX_BYTES // (1024 * 1024)
        self.fields["screenshot"].help_text = (
            f"Required if you lost Top Rated for a JSS dip in the last {settings.PERK_GRACE_DAYS} days. "
            f"PNG, JPEG or PDF, at most {megabytes} MB."
        )
        self.fields["screenshot"].error_messages["too_large"] = (
            f"The screenshot is larger than {megabytes} MB. Nothing was sent; please attach a smaller one."
        )

    def clean_contract(self):
        number = "".join(self.cleaned_data["contract"].split())
        # ASCII digits only: str.isdigit() also accepts "²³" and Arabic-Indic digits, which are no Contract ID.
        if not (number.isascii() and number.isdigit()):
            raise ValidationError("A Contract ID is made of digits only, for example 31849001.", code="invalid")
        return number

    def clean_agency(self):
        public_id = self.cleaned_data["agency"]
        return self.agencies.get(public_id) if public_id else None

    def clean(self):
        cleaned_data = super().clean()
        if "agency" in self.errors and self.fields["agency"].widget.is_hidden:
            # A hidden field's error is shown nowhere: say it with the form's reasons, and send the form back
            # without the value so that sending it again works.
            self.add_error(None, ValidationError(AGENCY_NOT_YOURS, code="agency_not_yours"))
            self.data = self.data.copy()
            self.data["agency"] = ""
        return cleaned_data

    def scope_options(self):
        """The radio buttons with the policy's explanation under each (the template lays them out)."""
        return [(radio, SCOPE_HELP[radio.data["value"]]) for radio in self["scope"]]

    def add_refusal(self, refusal):
        """Every reason of a ``NotEligible`` as a form error carrying its code; the contract and
        screenshot fields are also marked when a reason is about them."""
        for reason in refusal.reasons:
            self.add_error(None, ValidationError(reason.message, code=reason.code))
        codes = set(refusal.codes())
        if "screenshot_required" in codes and "screenshot" not in self.errors:
            self.add_error(
                "screenshot",
                ValidationError("Attach a screenshot of the email about your status loss.", code="required"),
            )
        if "not_your_contract" in codes and "contract" not in self.errors:
            self.add_error("contract", ValidationError("Check the Contract ID.", code="not_your_contract"))


class ReplyForm(ScreenshotFieldMixin, forms.Form):
    """The freelancer's reply to an agent's question (SPEC §6: ``message``, optional ``screenshot``)."""

    message = forms.CharField(
        label="Your reply",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": "Write your answer to the support team's question."},
    )
    screenshot = forms.FileField(
        label="A new screenshot (optional)",
        required=False,
        help_text="PNG, JPEG or PDF. It replaces the one you attached before.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,application/pdf,.png,.jpg,.jpeg,.pdf"}),
    )
