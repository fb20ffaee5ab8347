"""The admin pages' forms: a new staff account, a role, an article's rights, a decline reason.

They check the shape of what was typed (required, length, plain text, a known choice);
portal.staff.admin enforces the rules (the last admin, oneself, a reason when an article is
not licensable, unique titles).
"""

from wtforms import BooleanField, EmailField, IntegerField, PasswordField, SelectField
from wtforms.validators import (
    AnyOf,
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    ValidationError,
)

from portal.forms import PortalForm
from portal.licensing.forms import PlainText, _choices, _long_text, _strip, _text
from portal.licensing.pricing import PRICE_TIERS
from portal.staff.admin import DeclineReason, Rights
from portal.staff.auth import (
    PASSWORD_MIN_LENGTH,
    StaffAccountError,
    check_password_policy,
)
from portal.staff.models import StaffRole

ROLE_LABELS = {
    StaffRole.VIEWER.value: "Viewer",
    StaffRole.LICENSING.value: "Licensing",
    StaffRole.ADMIN.value: "Admin",
}
MAX_POSITION = 9999


def _role_field() -> SelectField:
    # A role outside the list gets a message of ours, not WTForms' "Not a valid choice".
    return SelectField(
        "Role", choices=_choices(ROLE_LABELS), validate_choice=False,
        validators=[AnyOf(list(ROLE_LABELS), message="Please choose viewer, licensing or admin.")],
    )


class RoleForm(PortalForm):
    role = _role_field()

    @property
    def chosen_role(self) -> StaffRole:
        return StaffRole(self.role.data)


class AddStaffForm(RoleForm):
    email = EmailField(
        "E-mail address (their sign-in name)",
        validators=[
            DataRequired(message="Please give their e-mail address."),
            Length(max=320, message="Please keep this under 320 characters."),
            Email(message="Please enter a valid e-mail address, like name@example.com."),
            PlainText(),
        ],
        filters=[_strip],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    name = _text("Name (optional)", 200, required=False)
    password = PasswordField(
        "Initial password",
        validators=[InputRequired(message="Please give them a first password.")],
        render_kw={"autocomplete": "new-password", "minlength": PASSWORD_MIN_LENGTH},
    )

    def validate_password(self, field: PasswordField) -> None:
        try:
            check_password_policy(field.data or "")
        except StaffAccountError as error:
            raise ValidationError(str(error)) from None


class ArticleRightsForm(PortalForm):
    is_licensable = BooleanField("Licensable: visitors may ask to republish it")
    # The columns' lengths.
    rights_holder = _text("Rights holder (when not the publisher)", 300, required=False)
    rights_reason = _long_text("Reason shown to visitors when it is not licensable", 1000)
    # Which tiers exist is the service's rule (set_rights), so the field takes any answer.
    price_tier = SelectField("Price tier", choices=_choices(PRICE_TIERS), validate_choice=False)

    def rights(self) -> Rights:
        """The rights as entered (call after validate() said yes)."""
        return Rights(
            is_licensable=bool(self.is_licensable.data),
            rights_holder=self.rights_holder.data or None,
            rights_reason=self.rights_reason.data or None,
            price_tier=self.price_tier.data or "",
        )


class DeclineTemplateForm(PortalForm):
    title = _text("Title (what staff pick from)", 200)
    body = _long_text("Text the requester reads", 4000, required="Please write the reason.")
    position = IntegerField(
        "Position in the list",
        validators=[
            InputRequired(message="Please give a whole number, like 10."),
            NumberRange(min=0, max=MAX_POSITION,
                        message=f"Please give a number from 0 to {MAX_POSITION}."),
        ],
        render_kw={"inputmode": "numeric"},
    )

    def reason(self) -> DeclineReason:
        """The reason as entered (call after validate() said yes)."""
        return DeclineReason(title=self.title.data, body=self.body.data,
                             position=self.position.data)


class WithdrawArticleForm(PortalForm):
    reason = _long_text("Why (told to every licensee, and shown on the article's page)", 500,
                        required="Please say why the article is withdrawn.",
                        id="withdraw-reason")
