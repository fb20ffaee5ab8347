"""The licence lifecycle: issued active; suspended while its payment is disputed, then
restored or revoked; revoked (full refund, lost dispute, takedown); expired (term ended).

Only set_licence_status() assigns a licence's status, and it writes the audit event.
Revoked and expired are final.
"""

from enum import StrEnum
from typing import TYPE_CHECKING

from portal.audit import record_event
from portal.licences.models import LicenceStatus
from portal.lifecycle import Lifecycle

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from portal.licences.models import Licence


class LicenceAction(StrEnum):
    ISSUE = "issue"
    SUSPEND = "suspend"
    RESTORE = "restore"
    REVOKE = "revoke"
    EXPIRE = "expire"


L, LA = LicenceStatus, LicenceAction
TRANSITIONS: dict[tuple[LicenceStatus | None, LicenceAction], LicenceStatus] = {
    (None, LA.ISSUE): L.ACTIVE,
    (L.ACTIVE, LA.SUSPEND): L.SUSPENDED,
    (L.SUSPENDED, LA.RESTORE): L.ACTIVE,
    (L.ACTIVE, LA.REVOKE): L.REVOKED,
    (L.SUSPENDED, LA.REVOKE): L.REVOKED,
    (L.ACTIVE, LA.EXPIRE): L.EXPIRED,
}
LICENCES: Lifecycle[LicenceStatus, LicenceAction] = Lifecycle("licence", TRANSITIONS)

#: the action that leads to each status (what a late report asks for, by its outcome)
ACTION_TO = {L.SUSPENDED: LA.SUSPEND, L.ACTIVE: LA.RESTORE, L.REVOKED: LA.REVOKE,
             L.EXPIRED: LA.EXPIRE}
#: the audit log's names, as before the table existed
_AUDIT_NAMES = {LA.ISSUE: "issue_licence"}


def set_licence_status(db: "Session", licence: "Licence", action: LicenceAction, *,
                       actor: str, reason: str | None = None) -> LicenceStatus:
    """Move the licence on by `action` (InvalidTransition if the table has no such move)."""
    before = licence.status if licence.id is not None else None
    after = LICENCES.next_state(before, action)
    licence.status = after
    record_event(db, licence.request, "licence",
                 _AUDIT_NAMES.get(action, f"licence_{after.value}"), actor=actor,
                 before=before.value if before else None, after=after.value, reason=reason)
    return after
