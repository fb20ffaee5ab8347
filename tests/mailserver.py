"""A real SMTP server on 127.0.0.1 (aiosmtpd) that records what it is sent, for tests."""

import email
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from portal.notifications.transports import SmtpTransport


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Mailbox:
    """An aiosmtpd handler: records accepted messages, answers with scripted refusals."""

    received: list[Received] = field(default_factory=list)
    #: RCPT TO:<address> is answered with this instead of 250
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    #: consumed one per DATA before messages are accepted again
    data_replies: list[str] = field(default_factory=list)
    #: while set, every DATA is answered with this (an outage: e.g. "451 4.3.0 try later")
    down: str | None = None
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.down is not None:
            return self.down
        if self.data_replies:
            return self.data_replies.pop(0)
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    def message_ids(self) -> list[str]:
        return [r.message["Message-ID"] for r in self.received]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class SmtpServer:
    mailbox: Mailbox
    port: int

    @property
    def transport(self) -> SmtpTransport:
        return SmtpTransport("127.0.0.1", self.port, timeout=5)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield SmtpServer(mailbox, controller.port)
    controller.stop()
