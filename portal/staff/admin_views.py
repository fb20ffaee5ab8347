"""The back office's admin pages: staff accounts, the article catalogue with each article's
rights, and the reusable decline reasons. Admins only.

Views read a form, call one service of portal.staff.admin and commit. Bad input is a 422
with the message next to its field; a change the rules refuse (an admin's own account, the
last admin) is a 409; either way nothing is stored. A change that worked flashes what it did
and sends the browser back to the page (303).
"""

from typing import TypeVar

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal import db as database
from portal.articles.models import Article
from portal.db import Base
from portal.licensing.models import DeclineTemplate
from portal.licensing.pricing import PRICE_TIERS
from portal.staff import admin
from portal.staff.admin_forms import (
    MAX_POSITION,
    ROLE_LABELS,
    AddStaffForm,
    ArticleRightsForm,
    DeclineTemplateForm,
    RoleForm,
    WithdrawArticleForm,
)
from portal.staff.auth import (
    PASSWORD_MIN_LENGTH,
    StaffAccountError,
    current_staff,
    role_required,
)
from portal.staff.models import StaffRole, StaffUser
from portal.uow import unit_of_work
from portal.workflows import takedown

Page = str | tuple[str, int] | Response
Row = TypeVar("Row", bound=Base)

CHECK_THE_FORM = "Nothing was saved: please check the form below."


def _get_or_404(model: type[Row], row_id: int) -> Row:
    # The URL converter takes any number of digits; ids are 32-bit integers in the database.
    found = database.session().get(model, row_id) if 0 < row_id < 2**31 else None
    if found is None:
        abort(404)
    return found


def _back(endpoint: str, message: str, **values: object) -> Response:
    """Commit the change, say what it did, and send the browser back to the page."""
    with unit_of_work():
        pass  # the view staged its change in the session: commit it (or roll it back)
    flash(message, "success")
    return redirect(url_for(endpoint, **values), code=303)


def _forget(message: str) -> None:
    """Drop whatever the refused change left in the session, and say why on the page."""
    database.session().rollback()
    flash(message, "error")


# --- staff --------------------------------------------------------------------------------

def _role_form(user: StaffUser) -> RoleForm:
    # Each row's form has its own prefix, so that the page's field ids stay unique.
    return RoleForm(formdata=None, prefix=f"user-{user.id}", data={"role": user.role.value})


def _users_page(status: int = 200, *, add_form: AddStaffForm | None = None,
                failed_role: tuple[int, RoleForm] | None = None) -> tuple[str, int]:
    users = database.session().scalars(
        select(StaffUser).order_by(StaffUser.is_active.desc(), StaffUser.email)).all()
    role_forms = {user.id: _role_form(user) for user in users}
    if failed_role is not None:
        role_forms[failed_role[0]] = failed_role[1]
    return render_template(
        "staff/users.html", users=users, role_forms=role_forms, role_labels=ROLE_LABELS,
        add_form=add_form or AddStaffForm(formdata=None, data={"role": StaffRole.VIEWER.value}),
        me=current_staff().id, password_min_length=PASSWORD_MIN_LENGTH,
    ), status


@role_required(StaffRole.ADMIN)
def users_page() -> Page:
    return _users_page()


@role_required(StaffRole.ADMIN)
def add_user() -> Page:
    form = AddStaffForm()
    if not form.validate():
        _forget(CHECK_THE_FORM)
        return _users_page(422, add_form=form)
    try:
        user = admin.add_staff(database.session(), email=form.email.data, name=form.name.data,
                               role=form.chosen_role, password=form.password.data,
                               actor=current_staff())
    except StaffAccountError as error:
        # The form has checked the password, so what is left to refuse is the address.
        form.email.errors = [str(error)]
        _forget(CHECK_THE_FORM)
        return _users_page(422, add_form=form)
    return _back("staff.users", f"Added {user.email} with the role {ROLE_LABELS[user.role]}. "
                                "Give them their password in person or by phone, not by "
                                "e-mail.")


@role_required(StaffRole.ADMIN)
def change_role(user_id: int) -> Page:
    user = _get_or_404(StaffUser, user_id)
    form = RoleForm(prefix=f"user-{user.id}")
    if not form.validate():
        _forget(CHECK_THE_FORM)
        return _users_page(422, failed_role=(user.id, form))
    try:
        admin.change_role(database.session(), user, form.chosen_role, actor=current_staff())
    except admin.ChangeRefused as error:
        _forget(str(error))
        return _users_page(409)
    return _back("staff.users", f"{user.email} now has the role {ROLE_LABELS[user.role]}, "
                                "from their next page on.")


@role_required(StaffRole.ADMIN)
def deactivate_user(user_id: int) -> Page:
    user = _get_or_404(StaffUser, user_id)
    try:
        admin.deactivate(database.session(), user, actor=current_staff())
    except admin.ChangeRefused as error:
        _forget(str(error))
        return _users_page(409)
    return _back("staff.users", f"{user.email} is deactivated and signed out everywhere.")


@role_required(StaffRole.ADMIN)
def reactivate_user(user_id: int) -> Page:
    user = _get_or_404(StaffUser, user_id)
    admin.reactivate(database.session(), user, actor=current_staff())
    return _back("staff.users", f"{user.email} can sign in again, with the role "
                                f"{ROLE_LABELS[user.role]}.")


# --- articles -----------------------------------------------------------------------------

@role_required(StaffRole.ADMIN)
def articles_page() -> Page:
    filters = admin.ArticleFilters.from_args(request.args)
    page = admin.load_articles(database.session(), filters)
    return render_template("staff/articles.html", page=page, filters=filters,
                           tiers=PRICE_TIERS)


def _rights_page(article: Article, form: ArticleRightsForm,
                 status: int = 200, withdraw_form: WithdrawArticleForm | None = None
                 ) -> tuple[str, int]:
    return render_template("staff/article_rights.html", article=article, form=form,
                           withdraw_form=withdraw_form or WithdrawArticleForm(formdata=None),
                           ), status


@role_required(StaffRole.ADMIN)
def article_rights(article_id: int) -> Page:
    article = _get_or_404(Article, article_id)
    return _rights_page(article, ArticleRightsForm(formdata=None, obj=article))


@role_required(StaffRole.ADMIN)
def save_article_rights(article_id: int) -> Page:
    article = _get_or_404(Article, article_id)
    form = ArticleRightsForm()
    if not form.validate():
        _forget(CHECK_THE_FORM)
        return _rights_page(article, form, 422)
    try:
        admin.set_rights(database.session(), article, form.rights(), actor=current_staff())
    except admin.RightsError as error:
        form[error.field].errors = [str(error)]
        _forget(CHECK_THE_FORM)
        return _rights_page(article, form, 422)
    return _back("staff.article_rights", "Rights saved. They apply to new requests; requests "
                 "already made are not changed.", article_id=article.id)


@role_required(StaffRole.ADMIN)
def withdraw_article(article_id: int) -> Page:
    """Take the article down for legal reasons: its licences are revoked with notice."""
    article = _get_or_404(Article, article_id)
    form = WithdrawArticleForm()
    if not form.validate():
        _forget(CHECK_THE_FORM)
        return _rights_page(article, ArticleRightsForm(formdata=None, obj=article), 422,
                            withdraw_form=form)
    db = database.session()
    with unit_of_work(db):
        revoked = takedown.withdraw_article(db, article.id, reason=form.reason.data,
                                            actor=current_staff().actor)
    return _back("staff.article_rights", f"Article withdrawn. {revoked} licence"
                 f"{'' if revoked == 1 else 's'} revoked; each holder has been told to take "
                 "the copy down.", article_id=article.id)


# --- decline reasons ----------------------------------------------------------------------

def _template_form(template: DeclineTemplate) -> DeclineTemplateForm:
    # Each reason's form has its own prefix, so that the page's field ids stay unique.
    return DeclineTemplateForm(formdata=None, obj=template, prefix=f"reason-{template.id}")


def _templates_page(status: int = 200, *, add_form: DeclineTemplateForm | None = None,
                    failed: tuple[int, DeclineTemplateForm] | None = None) -> tuple[str, int]:
    templates = database.session().scalars(
        select(DeclineTemplate).order_by(DeclineTemplate.position, DeclineTemplate.title)).all()
    forms = {template.id: _template_form(template) for template in templates}
    if failed is not None:
        forms[failed[0]] = failed[1]
    if add_form is None:
        # New reasons go to the end of the list unless the admin says otherwise.
        last = max((template.position for template in templates), default=0)
        add_form = DeclineTemplateForm(formdata=None,
                                       data={"position": min(last + 10, MAX_POSITION)})
    return render_template("staff/decline_templates.html", templates=templates, forms=forms,
                           add_form=add_form), status


@role_required(StaffRole.ADMIN)
def decline_templates_page() -> Page:
    return _templates_page()


@role_required(StaffRole.ADMIN)
def add_decline_template() -> Page:
    form = DeclineTemplateForm()
    if not form.validate():
        _forget(CHECK_THE_FORM)
        return _templates_page(422, add_form=form)
    try:
        template = admin.add_decline_template(database.session(), form.reason(),
                                              actor=current_staff())
    except admin.DuplicateTitle as error:
        form.title.errors = [str(error)]
        _forget(CHECK_THE_FORM)
        return _templates_page(422, add_form=form)
    return _back("staff.decline_templates", f"Added the reason “{template.title}”.")


@role_required(StaffRole.ADMIN)
def edit_decline_template(template_id: int) -> Page:
    template = _get_or_404(DeclineTemplate, template_id)
    form = DeclineTemplateForm(prefix=f"reason-{template.id}")
    if not form.validate():
        _forget(CHECK_THE_FORM)
        return _templates_page(422, failed=(template_id, form))
    try:
        admin.update_decline_template(database.session(), template, form.reason(),
                                      actor=current_staff())
    except admin.DuplicateTitle as error:
        form.title.errors = [str(error)]
        _forget(CHECK_THE_FORM)
        return _templates_page(422, failed=(template_id, form))
    return _back("staff.decline_templates", f"Saved the reason “{template.title}”.")


@role_required(StaffRole.ADMIN)
def delete_decline_template(template_id: int) -> Page:
    template = _get_or_404(DeclineTemplate, template_id)
    admin.delete_decline_template(database.session(), template, actor=current_staff())
    return _back("staff.decline_templates", f"Deleted the reason “{template.title}”. "
                                            "Requests declined with it keep their text.")
