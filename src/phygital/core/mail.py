"""E-mail through an SMTP server (`PHYGITAL_SMTP_URL`), with smtplib.

`smtp://user:pass@host:587?starttls=1` sends in the clear or upgrades with STARTTLS;
`smtps://…` speaks TLS from the first byte. User name and password are URL-decoded (a `@` in a
password is written `%40`). Ports default to 25 (`smtp`), 587 (`smtp` with `starttls=1`) and
465 (`smtps`); `?timeout=SECONDS` bounds every network wait (default 30).

Every failure comes out as a `MailError` that says whether trying again can help: a server that
is down, slow or answers 4xx is `RetryableMailError`; a 5xx answer (an address that does not
exist, credentials refused, a message rejected) or a configuration the server cannot serve is
`PermanentMailError`. Messages never contain the password.
"""

from __future__ import annotations

import contextlib
import html
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_TIMEOUT = 30.0
TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
FALSE_VALUES = frozenset({"0", "false", "no", "off", ""})


class MailError(Exception):
    """A message was not handed over. `permanent` says that trying again cannot help."""

    permanent: bool = False

    def __str__(self) -> str:
        kind = "permanent" if self.permanent else "retryable"
        return f"{kind}: {super().__str__()}"

    @property
    def reason(self) -> str:
        return super().__str__()


class RetryableMailError(MailError):
    """The server is down, slow or asked us to come back later (4xx)."""

    permanent = False


class PermanentMailError(MailError):
    """The server refused for good (5xx), or the configuration cannot work as written."""

    permanent = True


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to hand messages over, parsed from `PHYGITAL_SMTP_URL`."""

    host: str
    port: int
    tls: bool = False  # smtps://: TLS from the first byte
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpConfig:
    """Read `smtp[s]://[user[:pass]@]host[:port][?starttls=1&timeout=30]`; `ValueError` with a
    one-line reason (never the password) when it cannot work."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"PHYGITAL_SMTP_URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise ValueError("PHYGITAL_SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("PHYGITAL_SMTP_URL names no host")
    query = {k.lower(): v[-1].strip().lower() for k, v in parse_qs(parts.query).items()}
    starttls = _flag(query.get("starttls", ""), "starttls")
    if scheme == "smtps" and starttls:
        raise ValueError("PHYGITAL_SMTP_URL: smtps:// is TLS already; drop starttls=1")
    timeout = DEFAULT_TIMEOUT
    if "timeout" in query:
        try:
            timeout = float(query["timeout"])
        except ValueError:
            raise ValueError("PHYGITAL_SMTP_URL: timeout must be a number of seconds") from None
        if not 0 < timeout <= 600:
            raise ValueError("PHYGITAL_SMTP_URL: timeout must be between 0 and 600 seconds")
    if port is None:
        port = 465 if scheme == "smtps" else 587 if starttls else 25
    return SmtpConfig(
        host=parts.hostname,
        port=port,
        tls=scheme == "smtps",
        starttls=starttls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        timeout=timeout,
    )


def _flag(value: str, name: str) -> bool:
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise ValueError(f"PHYGITAL_SMTP_URL: {name} must be 1 or 0")


# -- building messages --------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    """One message to one person, in their language."""

    sender: str  # "Name <address>", the configured PHYGITAL_MAIL_FROM
    to_address: str
    to_name: str | None
    subject: str
    text: str
    date: datetime
    message_id: str  # "<…@…>", the same on every attempt at the same message
    language: str = "it"
    reply_to: str | None = None
    html: str | None = None  # None: a simple HTML version of the text is made


def message_id(reference: str, sender: str) -> str:
    """A Message-ID that stays the same for every attempt at one message (`reference` is the
    message's own id), in the sender's domain."""
    address = parseaddr(sender)[1]
    domain = address.rpartition("@")[2] if "@" in address else ""
    domain = domain or "localhost"
    return f"<{reference}@{domain}>"


def text_to_html(text: str, *, language: str = "it") -> str:
    """A plain HTML rendering of a text message: paragraphs at blank lines, line breaks kept,
    web addresses made links. Mail programs that prefer HTML show this one."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    blocks = []
    for paragraph in paragraphs:
        lines = [_line_html(line) for line in paragraph.splitlines()]
        blocks.append("<p>" + "<br>\n".join(lines) + "</p>")
    body = "\n".join(blocks)
    return (
        f'<!doctype html>\n<html lang="{html.escape(language)}">\n<head><meta charset="utf-8">'
        "</head>\n"
        '<body style="font-family: sans-serif; line-height: 1.45; color: #1c2421;">\n'
        f"{body}\n</body>\n</html>\n"
    )


_URL = re.compile(r"https://[^\s<>\"']+")


def _line_html(line: str) -> str:
    """One line, escaped, with its https addresses as links."""
    parts, pos = [], 0
    for match in _URL.finditer(line):
        url = html.escape(match.group())
        parts += [html.escape(line[pos : match.start()]), f'<a href="{url}">{url}</a>']
        pos = match.end()
    parts.append(html.escape(line[pos:]))
    return "".join(parts)


def build_message(mail: Mail) -> EmailMessage:
    """A standard message: text with an HTML alternative, Date, Message-ID, From, To with the
    person's name, Reply-To when given. `PermanentMailError` for an address that cannot be
    written in a header."""
    msg = EmailMessage()
    try:
        msg["From"] = mail.sender
        msg["To"] = Address(display_name=mail.to_name or "", addr_spec=mail.to_address)
        if mail.reply_to:
            msg["Reply-To"] = mail.reply_to
        msg["Subject"] = mail.subject
    except (ValueError, IndexError) as exc:  # the email package's header parser
        raise PermanentMailError(f"cannot write the message's addresses: {exc}") from None
    msg["Date"] = format_datetime(mail.date)
    msg["Message-ID"] = mail.message_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: vacation responders stay quiet
    msg.set_content(mail.text)
    msg.add_alternative(mail.html or text_to_html(mail.text, language=mail.language), "html")
    msg["Content-Language"] = mail.language  # after the body: set_content drops Content-*
    return msg


# -- sending ------------------------------------------------------------------------------------


def send(config: SmtpConfig | str, message: EmailMessage) -> None:
    """Hand `message` to the SMTP server. Returns once the server has accepted it; raises a
    `MailError` that says whether trying again can help."""
    if isinstance(config, str):
        try:
            config = parse_smtp_url(config)
        except ValueError as exc:
            raise PermanentMailError(str(exc)) from None
    try:
        smtp = _connect(config)
    except Exception as exc:
        raise classify(exc, config) from exc
    try:
        try:
            if config.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if config.username:
                smtp.login(config.username, config.password or "")
            smtp.send_message(message)
        except Exception as exc:
            raise classify(exc, config) from exc
        # Accepted: the message is the server's now. A failing goodbye must not make us send
        # it again, so errors past this point are ignored.
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
    finally:
        smtp.close()


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    if config.tls:
        return smtplib.SMTP_SSL(
            config.host,
            config.port,
            timeout=config.timeout,
            context=ssl.create_default_context(),
        )
    return smtplib.SMTP(config.host, config.port, timeout=config.timeout)


def classify(exc: BaseException, config: SmtpConfig) -> MailError:
    """What an smtplib or socket error means for the next attempt."""
    where = config.where
    if isinstance(exc, MailError):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        first = next(iter(exc.recipients.items()), None)
        if first is None:
            return RetryableMailError(f"{where} refused the recipients")
        address, (rcpt_code, rcpt_answer) = first
        text = f"{rcpt_code} {_answer(rcpt_answer)}"
        return _by_code(rcpt_code, f"{where} refused the recipient {address}: {text}")
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        said = f"{code} {_answer(exc.smtp_error)}"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return _by_code(code, f"{where} refused the login: {said}")
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return _by_code(code, f"{where} refused the sender {exc.sender!r}: {said}")
        return _by_code(code, f"{where} answered {said}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentMailError(f"{where} does not support what the URL asks: {exc}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        if isinstance(exc.__context__, TimeoutError):  # smtplib wraps a read that timed out
            return RetryableMailError(f"{where} did not answer within {config.timeout:g} s")
        return RetryableMailError(f"{where} closed the connection: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentMailError(f"{where}: the server's certificate is not valid: {exc}")
    if isinstance(exc, ConnectionRefusedError):
        return RetryableMailError(f"{where} refused the connection (is the server up?)")
    if isinstance(exc, TimeoutError):
        return RetryableMailError(f"{where} did not answer within {config.timeout:g} s")
    if isinstance(exc, OSError):  # unreachable network, name not resolved, TLS broken off, …
        return RetryableMailError(f"cannot reach {where}: {exc}")
    if isinstance(exc, smtplib.SMTPException):  # e.g. no authentication method in common
        return PermanentMailError(f"{where}: {exc}")
    if isinstance(exc, ValueError | UnicodeError):  # a header or address smtplib cannot send
        return PermanentMailError(f"cannot send this message: {exc}")
    return RetryableMailError(f"{where}: {type(exc).__name__}: {exc}")


def _by_code(code: int, text: str) -> MailError:
    if 500 <= code <= 599:
        return PermanentMailError(text)
    return RetryableMailError(text)  # 4xx, and the -1 smtplib uses for "no answer"


def _answer(answer: bytes | str) -> str:
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer
    return " ".join(text.split())
