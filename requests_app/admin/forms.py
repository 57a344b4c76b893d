"""The forms of the queue's pick pages (reject, reassign) and the ticket page's note."""

from django import forms

from requests_app import domain, selectors
from requests_app.services.decisions import display_name

# --- forms ------------------------------------------------------------------------------------------


class RejectForm(forms.Form):
    reason = forms.ChoiceField(
        choices=[(code, domain.REJECTION_REASONS[code][0]) for code in domain.AGENT_REJECTION_REASONS],
        widget=forms.RadioSelect,
        help_text="The freelancer receives the reason's standard message.",
    )
    message = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Message to the freelancer",
        help_text="Added below the standard message. Required for “Other”.",
    )

    def clean(self):
        data = super().clean()
        if data.get("reason") == domain.OTHER and not (data.get("message") or "").strip():
            self.add_error("message", "Tell the freelancer why: “Other” has no standard explanation.")
        return data


class NoteForm(forms.Form):
    message = forms.CharField(
        max_length=5000, widget=forms.Textarea(attrs={"rows": 3}), label="Internal note", strip=True
    )


class ReassignForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=None, required=False, empty_label="— nobody (back to the queue) —")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = selectors.queue_workers()
        self.fields["assignee"].label_from_instance = display_name


class ApproveForm(forms.Form):
    """The confirmation of an approval: ``confirm`` says the agent saw what will happen (there is no undo); the
    public message is a canned one, an own text, or both (canned first)."""

    confirm = forms.CharField()
    canned = forms.ChoiceField(
        choices=[(code, label) for code, (label, _) in domain.APPROVAL_MESSAGES.items()],
        required=False,
        widget=forms.RadioSelect,
    )
    message = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))

    def clean_confirm(self):
        if self.cleaned_data["confirm"] != "yes":
            raise forms.ValidationError("Confirm the approval on this page.")
        return "yes"

    def public_message(self) -> str:
        canned = domain.APPROVAL_MESSAGES.get(self.cleaned_data.get("canned") or "", ("", ""))[1]
        own = (self.cleaned_data.get("message") or "").strip()
        return "\n\n".join(part for part in (canned, own) if part)


class AskForm(forms.Form):
    message = forms.CharField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        label="Question to the freelancer",
        error_messages={"required": "Write the question the freelancer should answer."},
    )
