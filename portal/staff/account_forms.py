"""The forms of a staff member's own account: changing the password, asking for a reset link,
and choosing a new password from that link. They check what was typed; the password rules
themselves (length, breached lists) are auth.check_password_policy's."""

from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length, ValidationError

from portal.forms import PortalForm
from portal.staff.auth import PASSWORD_MIN_LENGTH, StaffAccountError, check_password_policy


def _new_password() -> PasswordField:
    return PasswordField(
        "New password",
        validators=[InputRequired("Enter a new password.")],
        render_kw={"autocomplete": "new-password", "minlength": PASSWORD_MIN_LENGTH},
    )


def _repeat() -> PasswordField:
    return PasswordField(
        "New password again",
        validators=[InputRequired("Enter the new password a second time."),
                    EqualTo("new_password", "The two new passwords differ. Type them again.")],
        render_kw={"autocomplete": "new-password"},
    )


class NewPasswordForm(PortalForm):
    new_password = _new_password()
    repeat = _repeat()

    def validate_new_password(self, field: PasswordField) -> None:
        try:
            check_password_policy(field.data or "")
        except StaffAccountError as error:
            raise ValidationError(str(error)) from None


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField(
        "Current password",
        validators=[InputRequired("Enter your current password.")],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = _new_password()
    repeat = _repeat()


class ForgotPasswordForm(PortalForm):
    email = EmailField(
        "E-mail address",
        validators=[InputRequired("Enter your e-mail address."), Length(max=320)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )


class EnableTwoFactorForm(PortalForm):
    code = StringField(
        "Code from your app",
        validators=[InputRequired("Enter the 6-digit code your app shows."), Length(max=20)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class ConfirmPasswordForm(PortalForm):
    password = PasswordField(
        "Your password",
        validators=[InputRequired("Enter your password.")],
        render_kw={"autocomplete": "current-password"},
    )
