"""Sends outbox mail through the configured SMTP server (stdlib ``smtplib`` in a worker thread,
so the event loop never waits on the mail server)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ..domain.mail import decode_mail
from ..domain.outbox import DeliveryFailed, OutboxItem, PermanentFailure


class SmtpSettings:
    def __init__(self, *, host: str, port: int, user: str | None, password: str | None, security: str,
                 sender: str, timeout: float) -> None:
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.security = security
        self.sender = sender
        self.timeout = timeout


class SmtpMailer:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def _message(self, item: OutboxItem) -> EmailMessage:
        mail = decode_mail(item)
        message = EmailMessage()
        message["From"] = self.settings.sender
        message["To"] = item.target
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        # The outbox id makes a resent mail recognizable as the same one.
        message["Message-ID"] = make_msgid(idstring=item.id, domain=self.settings.sender.rpartition("@")[2] or None)
        message.set_content(mail.body, subtype="plain", charset="utf-8")
        return message

    def _send_blocking(self, message: EmailMessage) -> None:
        s = self.settings
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if s.security == "tls":
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        with client:
            if s.security == "starttls":
                client.starttls(context=context)
            if s.user:
                client.login(s.user, s.password or "")
            client.send_message(message)

    async def send(self, item: OutboxItem) -> None:
        """Raise ``DeliveryFailed`` when the mail should be tried again, ``PermanentFailure`` when
        the server refused the recipient for good."""
        try:
            message = self._message(item)
        except (ValueError, TypeError) as exc:
            raise PermanentFailure(f"mail cannot be built: {type(exc).__name__}") from exc
        try:
            await asyncio.to_thread(self._send_blocking, message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(500 <= code < 600 for code in codes):
                raise PermanentFailure(f"recipient refused ({codes[0]})") from exc
            raise DeliveryFailed(f"recipient refused for now ({codes[0] if codes else '?'})") from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"SMTP {exc.smtp_code}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"SMTP: {type(exc).__name__}") from exc
