"""E-mail over STARTTLS verifies the server's certificate before the password goes anywhere: a
real SMTP server (aiosmtpd) on 127.0.0.1 with a self-signed certificate made in the test."""

from __future__ import annotations

import datetime
import ipaddress
import ssl

import pytest
from aiosmtpd.smtp import SMTP, AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from glimpse_assets.publish.publishers import (
    EmailPublisher,
    PublishRejectedError,
    RefusedBeforeSendingError,
)
from glimpse_assets.storage.exactly_once import publish_once
from glimpse_assets_tests.support.publish_doubles import (
    DAY,
    LocalSMTPController,
    Mailbox,
    a_post,
    ledger_of,
    object_store_at,
)

USERNAME = "glimpse-mailer"
PASSWORD = "s3cret-smtp-Pa55word"


def self_signed_certificate(folder) -> tuple[str, str]:
    """A certificate for 127.0.0.1 signed by its own key: (certificate PEM path, key PEM path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Glimpse test SMTP server")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


class RecordingSMTP(SMTP):
    """aiosmtpd's server, keeping every command it receives and whether TLS was on at the time."""

    def __init__(self, *args, commands: list, **kwargs):
        super().__init__(*args, **kwargs)
        for command, method in list(self._smtp_methods.items()):
            self._smtp_methods[command] = self._recording(command, method, commands)

    def _recording(self, command, method, commands):
        async def recorded(arg):
            commands.append((command, arg, self._tls_protocol is not None))
            return await method(arg)

        return recorded


class StartTLSController(LocalSMTPController):
    def __init__(self, *args, commands: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.commands = commands

    def factory(self):
        return RecordingSMTP(self.handler, commands=self.commands, **self.SMTP_kwargs)


@pytest.fixture
def starttls_server(tmp_path):
    """An SMTP server that requires STARTTLS (self-signed certificate) and then a login."""
    cert_path, key_path = self_signed_certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_path, key_path)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        ok = (auth_data.login.decode(), auth_data.password.decode()) == (USERNAME, PASSWORD)
        return AuthResult(success=ok)

    mailbox = Mailbox()
    controller = StartTLSController(
        mailbox,
        hostname="127.0.0.1",
        port=0,
        commands=[],
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield controller, mailbox, logins, cert_path
    finally:
        controller.stop()


def tls_publisher(port: int, tmp_path, ca_file: str | None) -> EmailPublisher:
    return EmailPublisher(
        object_store=object_store_at(tmp_path / "storage"),
        host="127.0.0.1",
        port=port,
        starttls=True,
        username=USERNAME,
        password=PASSWORD,
        ca_file=ca_file,
        sender="glimpse@example.org",
        recipients=["reader@example.org"],
        timeout_seconds=10,
    )


def test_an_unverified_certificate_stops_before_the_login_with_a_one_line_error(
    tmp_path, starttls_server
):
    controller, mailbox, logins, _ = starttls_server
    publisher = tls_publisher(controller.port, tmp_path, ca_file=None)
    ledger = ledger_of(publisher.object_store)

    with pytest.raises(RefusedBeforeSendingError) as raised:
        publish_once(ledger, publisher, a_post(), owner="run tls-1")

    message = raised.value.description
    assert "\n" not in message
    assert f"SMTP 127.0.0.1:{controller.port}" in message
    assert "certificate could not be verified" in message
    assert "GLIMPSE_SMTP_CA_FILE" in message
    assert PASSWORD not in str(raised.value) and PASSWORD not in message
    assert raised.value.allow_retries is False
    # The client spoke up to STARTTLS and no further: no AUTH, no password, no message.
    assert [command for command, _, _ in controller.commands] == ["EHLO", "STARTTLS"]
    assert logins == []
    assert mailbox.envelopes == []
    # Known not to have gone out: the next attempt (once the CA is trusted) starts afresh.
    assert ledger.get(f"email/{DAY}")["status"] == "not sent"


def test_with_the_servers_ca_trusted_the_message_goes_out_over_tls(tmp_path, starttls_server):
    controller, mailbox, logins, cert_path = starttls_server
    ledger = ledger_of(object_store_at(tmp_path / "storage"))
    untrusted = tls_publisher(controller.port, tmp_path, ca_file=None)
    with pytest.raises(RefusedBeforeSendingError):
        publish_once(ledger, untrusted, a_post(), owner="run tls-1")

    trusted = tls_publisher(controller.port, tmp_path, ca_file=cert_path)
    record, action = publish_once(ledger, trusted, a_post(), owner="run tls-2")

    assert (action, record["status"]) == ("published", "published")
    assert logins == [(USERNAME, PASSWORD)]
    (envelope,) = mailbox.envelopes
    assert envelope.rcpt_tos == ["reader@example.org"]
    commands = controller.commands
    assert [command for command, _, _ in commands][-5:] == ["AUTH", "MAIL", "RCPT", "DATA", "QUIT"]
    assert all(tls for command, _, tls in commands if command in {"AUTH", "MAIL", "DATA"})


def test_an_unreadable_ca_file_fails_before_any_connection(tmp_path, starttls_server):
    controller, mailbox, logins, _ = starttls_server
    publisher = tls_publisher(controller.port, tmp_path, ca_file=str(tmp_path / "missing.pem"))
    ledger = ledger_of(publisher.object_store)

    with pytest.raises(RefusedBeforeSendingError, match="GLIMPSE_SMTP_CA_FILE"):
        publish_once(ledger, publisher, a_post(), owner="run tls-1")

    assert controller.commands == []
    assert (logins, mailbox.envelopes) == ([], [])
    assert ledger.get(f"email/{DAY}") is None


def test_a_login_without_starttls_is_refused_before_any_connection(tmp_path):
    publisher = EmailPublisher(
        object_store=object_store_at(tmp_path),
        host="127.0.0.1",
        port=9,  # nothing listens: a connection attempt would fail differently
        starttls=False,
        username=USERNAME,
        password=PASSWORD,
        sender="glimpse@example.org",
        recipients=["reader@example.org"],
    )
    with pytest.raises(PublishRejectedError, match="STARTTLS=false") as refused:
        publisher.validate(a_post())
    assert PASSWORD not in str(refused.value)
