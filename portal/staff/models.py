"""Staff accounts of the back office and their sign-in sessions."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, utcnow


class StaffRole(StrEnum):
    #: reads everything
    VIEWER = "viewer"
    #: also quotes and decides
    LICENSING = "licensing"
    #: also manages staff, the rate card and articles' rights
    ADMIN = "admin"


ROLE_RANK = {StaffRole.VIEWER: 0, StaffRole.LICENSING: 1, StaffRole.ADMIN: 2}


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: lowercased; the sign-in name
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    #: argon2id hash (argon2-cffi's encoded form)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[StaffRole] = mapped_column(
        Enum(StaffRole, native_enum=False, length=16,
             values_callable=lambda roles: [r.value for r in roles])
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    #: base32 TOTP secret while two-factor sign-in is on (portal/staff/two_factor.py), else None
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    #: the last TOTP time step accepted, so that no code is accepted twice
    totp_last_step: Mapped[int | None]
    #: sha256 of each unused recovery code, space-separated ("" when none)
    recovery_code_hashes: Mapped[str] = mapped_column(Text, default="")

    def can(self, role: StaffRole) -> bool:
        """True when this user's role includes `role` (admin > licensing > viewer)."""
        return self.is_active and ROLE_RANK[self.role] >= ROLE_RANK[role]

    @property
    def actor(self) -> str:
        """How the audit log names this user."""
        return f"staff:{self.id}"


class StaffSession(Base):
    """One sign-in. The cookie holds a random token; only its hash is stored here, and
    signing out ends the row, so a copied or replayed cookie is refused afterwards."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"),
                                         index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: set at sign-out (or when an admin deactivates the user); the session is dead from then
    ended_at: Mapped[datetime | None]

    user: Mapped[StaffUser] = relationship()
