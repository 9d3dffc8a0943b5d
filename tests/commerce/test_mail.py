"""The SMTP transport against a real SMTP server (aiosmtpd on 127.0.0.1): the URL, the message,
login, and which failures are worth retrying."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from phygital.core import mail
from phygital.core.mail import (
    Mail,
    PermanentMailError,
    RetryableMailError,
    SmtpConfig,
    build_message,
    parse_smtp_url,
)

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

# -- a real SMTP server for the tests -----------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on (until someone is started on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it receives; `refuse_rcpt` answers RCPT with a
    reply of our choice (e.g. 550 or 451)."""

    refuse_rcpt: str | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd's Controller on 127.0.0.1, optionally asking for a login."""

    def __init__(
        self,
        port: int | None = None,
        *,
        inbox: Inbox | None = None,
        credentials: tuple[str, str] | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.port = port or free_port()
        self.inbox = inbox or Inbox()
        self.credentials = credentials
        options: dict[str, Any] = {"auth_require_tls": False}
        if credentials:
            options["authenticator"] = self._authenticate
            options["auth_required"] = True
        if tls_context is not None:
            options["tls_context"] = tls_context
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, ready_timeout=5, **options
        )

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login, password = data.login.decode(), data.password.decode()
        self.inbox.logins.append((login, password))
        # handled=False: the server answers a failure with 535 itself.
        return AuthResult(success=(login, password) == self.credentials, handled=False)

    @property
    def messages(self) -> list[EmailMessage]:
        return self.inbox.messages

    def url(self, query: str = "", userinfo: str = "") -> str:
        return f"smtp://{userinfo}127.0.0.1:{self.port}{query}"

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def a_mail(**changes: Any) -> Mail:
    values: dict[str, Any] = {
        "sender": "Negozio Milano <no-reply@shop.example>",
        "to_address": "maria@example.com",
        "to_name": "Maria Bianchi",
        "subject": "Il tuo ordine #1043 è pronto",
        "text": "Ciao Maria,\n\nil tuo ordine è pronto.\nVia Dante 5 <Milano> & dintorni\n",
        "date": datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        "message_id": "<abc123@shop.example>",
        "language": "it",
        "reply_to": "milano@shop.example",
    }
    values.update(changes)
    return Mail(**values)


# -- the URL ------------------------------------------------------------------------------------


def test_url_defaults_ports_by_scheme_and_starttls() -> None:
    assert parse_smtp_url("smtp://mail.example.com") == SmtpConfig("mail.example.com", 25)
    starttls = parse_smtp_url("smtp://mail.example.com?starttls=1")
    assert (starttls.port, starttls.starttls, starttls.tls) == (587, True, False)
    tls = parse_smtp_url("smtps://mail.example.com")
    assert (tls.port, tls.starttls, tls.tls) == (465, False, True)
    assert parse_smtp_url("smtp://mail.example.com:2525?starttls=0").port == 2525


def test_url_user_and_password_are_url_decoded_and_never_shown() -> None:
    config = parse_smtp_url(
        "smtp://shop%40example.com:p%40ss%3Aw0rd@smtp.example.com:587?starttls=1"
    )
    assert config.username == "shop@example.com"
    assert config.password == "p@ss:w0rd"
    assert (config.host, config.port, config.starttls) == ("smtp.example.com", 587, True)
    assert "p@ss" not in repr(config)


def test_url_timeout_is_read_in_seconds() -> None:
    assert parse_smtp_url("smtp://h?timeout=5").timeout == 5.0
    assert parse_smtp_url("smtp://h").timeout == mail.DEFAULT_TIMEOUT


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://mail.example.com", "smtp:// or smtps://"),
        ("smtp://", "no host"),
        ("smtps://h?starttls=1", "TLS already"),
        ("smtp://h?timeout=soon", "timeout"),
        ("smtp://h?timeout=0", "timeout"),
        ("smtp://h?starttls=maybe", "starttls"),
        ("smtp://h:99999", "PHYGITAL_SMTP_URL"),
    ],
)
def test_url_that_cannot_work_is_refused_with_a_reason(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_smtp_url(url)


def test_a_bad_url_is_a_permanent_error_without_the_password() -> None:
    with pytest.raises(PermanentMailError) as caught:
        mail.send("smtp://user:s3cret@h:99999", build_message(a_mail()))
    assert "s3cret" not in str(caught.value)
    assert str(caught.value).startswith("permanent: ")


# -- the message --------------------------------------------------------------------------------


def test_message_has_text_and_html_and_standard_headers() -> None:
    msg = build_message(a_mail())
    assert msg["From"] == "Negozio Milano <no-reply@shop.example>"
    assert msg["To"] == "Maria Bianchi <maria@example.com>"
    assert msg["Reply-To"] == "milano@shop.example"
    assert msg["Subject"] == "Il tuo ordine #1043 è pronto"
    assert msg["Message-ID"] == "<abc123@shop.example>"
    assert msg["Date"] == "Fri, 20 Nov 2026 09:00:00 +0000"
    assert msg["Content-Language"] == "it"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    assert "il tuo ordine è pronto." in text.get_content()
    html_text = html.get_content()
    assert '<html lang="it">' in html_text
    assert "Via Dante 5 &lt;Milano&gt; &amp; dintorni" in html_text  # escaped, never markup
    assert "<p>Ciao Maria,</p>" in html_text


def test_html_version_links_web_addresses_and_nothing_else() -> None:
    html = mail.text_to_html('See https://shop.example/o?a=1&b=2 or "javascript:alert(1)"\nBye')
    link = "https://shop.example/o?a=1&amp;b=2"
    assert f'<a href="{link}">{link}</a> or &quot;javascript' in html
    assert "javascript:alert(1)" in html and 'href="javascript' not in html
    assert "<br>" in html


def test_a_name_with_accents_and_commas_is_encoded_in_the_to_header() -> None:
    msg = build_message(a_mail(to_name="Niccolò, detto Nico"))
    raw = msg.as_bytes()
    assert b"maria@example.com" in raw
    reparsed = message_from_bytes(raw, policy=policy.default)
    assert reparsed["To"].addresses[0].display_name == "Niccolò, detto Nico"


def test_an_address_that_cannot_be_written_is_a_permanent_error() -> None:
    with pytest.raises(PermanentMailError):
        build_message(a_mail(to_address="not an address"))


def test_message_id_is_stable_and_in_the_senders_domain() -> None:
    first = mail.message_id("n1", "Shop <no-reply@shop.example>")
    assert first == mail.message_id("n1", "Shop <no-reply@shop.example>") == "<n1@shop.example>"
    assert mail.message_id("n1", "nobody") == "<n1@localhost>"


# -- sending to a real server -------------------------------------------------------------------


def test_the_server_receives_the_message(smtp_server: SmtpServer) -> None:
    mail.send(smtp_server.url(), build_message(a_mail()))
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received["Subject"] == "Il tuo ordine #1043 è pronto"
    assert received["To"] == "Maria Bianchi <maria@example.com>"
    assert smtp_server.inbox.envelopes == [("no-reply@shop.example", ["maria@example.com"])]


def test_login_uses_the_decoded_user_and_password() -> None:
    with SmtpServer(credentials=("shop@example.com", "p@ss:w0rd")) as server:
        mail.send(server.url(userinfo="shop%40example.com:p%40ss%3Aw0rd@"), build_message(a_mail()))
        assert server.inbox.logins == [("shop@example.com", "p@ss:w0rd")]
        assert len(server.messages) == 1


def test_wrong_password_is_permanent() -> None:
    with SmtpServer(credentials=("shop", "right")) as server:
        with pytest.raises(PermanentMailError, match="refused the login: 535"):
            mail.send(server.url(userinfo="shop:wrong@"), build_message(a_mail()))
        assert server.messages == []


def test_server_down_is_retryable() -> None:
    port = free_port()
    with pytest.raises(RetryableMailError, match="refused the connection"):
        mail.send(f"smtp://127.0.0.1:{port}", build_message(a_mail()))


def test_server_that_never_answers_is_retryable_after_the_timeout() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # accepts connections, never says hello
        port = listener.getsockname()[1]
        with pytest.raises(RetryableMailError, match=r"did not answer within 0\.3 s"):
            mail.send(f"smtp://127.0.0.1:{port}?timeout=0.3", build_message(a_mail()))


def test_recipient_refused_with_550_is_permanent() -> None:
    inbox = Inbox(refuse_rcpt="550 5.1.1 <maria@example.com>: mailbox unavailable")
    with SmtpServer(inbox=inbox) as server:
        with pytest.raises(PermanentMailError, match=r"550 5\.1\.1") as caught:
            mail.send(server.url(), build_message(a_mail()))
        assert "maria@example.com" in str(caught.value)
        assert server.messages == []


def test_recipient_deferred_with_451_is_retryable() -> None:
    inbox = Inbox(refuse_rcpt="451 4.3.0 try again later")
    with SmtpServer(inbox=inbox) as server, pytest.raises(RetryableMailError, match=r"451 4\.3\.0"):
        mail.send(server.url(), build_message(a_mail()))


def test_starttls_to_a_server_without_it_is_permanent(smtp_server: SmtpServer) -> None:
    with pytest.raises(PermanentMailError, match="does not support"):
        mail.send(smtp_server.url("?starttls=1"), build_message(a_mail()))
    assert smtp_server.messages == []


@pytest.fixture
def certificate(tmp_path: Any) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (cert file, key file)."""
    pytest.importorskip("cryptography")
    import ipaddress
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


def _tls_server(certificate: tuple[str, str], **options: Any) -> SmtpServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return SmtpServer(tls_context=context, **options)


def test_starttls_with_an_untrusted_certificate_is_permanent(
    certificate: tuple[str, str],
) -> None:
    with _tls_server(certificate) as server:
        with pytest.raises(PermanentMailError, match="certificate is not valid"):
            mail.send(server.url("?starttls=1"), build_message(a_mail()))
        assert server.messages == []


def test_starttls_upgrades_the_connection_before_the_login(
    certificate: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    trusting = ssl.create_default_context(cafile=certificate[0])
    monkeypatch.setattr(mail.ssl, "create_default_context", lambda: trusting)
    with _tls_server(certificate, credentials=("shop", "secret")) as server:
        mail.send(server.url("?starttls=1", userinfo="shop:secret@"), build_message(a_mail()))
        assert server.inbox.logins == [("shop", "secret")]
        assert len(server.messages) == 1


def test_errors_say_whether_they_are_permanent() -> None:
    assert str(RetryableMailError("x")) == "retryable: x"
    assert str(PermanentMailError("x")) == "permanent: x"
    assert RetryableMailError("x").reason == "x"
