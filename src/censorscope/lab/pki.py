"""The lab's certificate authorities and the certificates they issue.

The probe and the test helper trust ``LabPki.trusted_ca`` (passed as a CA
bundle); a second authority that nobody trusts signs the certificates of the
"unknown authority" sites.  Keys are ECDSA P-256: quick to generate, so a
fresh PKI is made for every lab run and nothing secret is kept on disk
longer than the run.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, both PEM-encoded."""

    cert_pem: bytes
    key_pem: bytes

    def write(self, folder: Path, stem: str) -> tuple[Path, Path]:
        """Write ``stem.pem`` and ``stem.key`` into ``folder``."""
        cert_path, key_path = folder / f"{stem}.pem", folder / f"{stem}.key"
        cert_path.write_bytes(self.cert_pem)
        key_path.write_bytes(self.key_pem)
        key_path.chmod(0o600)
        return cert_path, key_path


class Authority:
    """A self-signed certificate authority that issues server certificates."""

    def __init__(self, common_name: str) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = dt.datetime.now(dt.UTC)
        builder = _base_builder(name, name, self._key.public_key())
        builder = builder.not_valid_before(now - 3650 * _ONE_DAY)
        builder = builder.not_valid_after(now + 3650 * _ONE_DAY)
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        )
        self.certificate = builder.sign(self._key, hashes.SHA256())

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        names: list[str],
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> Issued:
        """A server certificate for DNS names and/or IP addresses in ``names``."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        builder = _base_builder(subject, self.certificate.subject, key.public_key())
        builder = builder.not_valid_before(not_before or now - _ONE_DAY)
        builder = builder.not_valid_after(not_after or now + 365 * _ONE_DAY)
        builder = builder.add_extension(_alt_names(names), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        certificate = builder.sign(self._key, hashes.SHA256())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return Issued(certificate.public_bytes(serialization.Encoding.PEM), key_pem)


def _base_builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
    )


def _alt_names(names: list[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


class LabPki:
    """The trusted lab CA plus an untrusted one, with a few issuing shortcuts.

    A third authority, ``pinned_ca``, stands for an app's own root (Signal
    pins its roots): it is not in the bundle, and only a test given its PEM
    trusts the certificates it issues.
    """

    def __init__(self) -> None:
        self.trusted_ca = Authority("censorscope lab root CA")
        self.untrusted_ca = Authority("censorscope lab untrusted CA")
        self.pinned_ca = Authority("censorscope lab pinned app root CA")

    def valid(self, names: list[str]) -> Issued:
        return self.trusted_ca.issue(names)

    def expired(self, names: list[str]) -> Issued:
        """Signed by the trusted CA but valid only in July 2017 (like badssl)."""
        start = dt.datetime(2017, 7, 17, tzinfo=dt.UTC)
        return self.trusted_ca.issue(names, start, start + 30 * _ONE_DAY)

    def untrusted(self, names: list[str]) -> Issued:
        return self.untrusted_ca.issue(names)

    def pinned(self, names: list[str]) -> Issued:
        return self.pinned_ca.issue(names)

    def write_bundle(self, path: Path) -> Path:
        """Write the trusted CA certificate, the bundle probes are given."""
        path.write_bytes(self.trusted_ca.cert_pem)
        return path
