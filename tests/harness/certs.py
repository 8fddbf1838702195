"""Test certificates made with the `openssl` command: a CA, and certificates
it signs for servers (tandem, MariaDB) and clients, with the subjectAltNames
a test asks for. EC P-256 keys, so a whole set takes well under a second.

Nothing here is fit for production; it exists so TLS tests verify real
chains instead of turning verification off.
"""

import subprocess
from dataclasses import dataclass
from pathlib import Path

OPENSSL = "/usr/bin/openssl"


@dataclass
class CertFiles:
    cert: Path
    key: Path


def _run(*args: str) -> None:
    subprocess.run([OPENSSL, *args], check=True, capture_output=True, timeout=60)


def _key(path: Path) -> None:
    _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path))
    path.chmod(0o600)


def make_ca(directory, name: str = "ca", cn: str = "tandem test CA") -> CertFiles:
    """A self-signed CA certificate and its key under directory."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    key, cert = d / f"{name}.key", d / f"{name}.pem"
    _key(key)
    _run("req", "-x509", "-new", "-key", str(key), "-out", str(cert), "-days", "2",
         "-subj", f"/CN={cn}", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return CertFiles(cert, key)


def make_cert(ca: CertFiles, directory, name: str, sans=("IP:127.0.0.1",),
              cn: str | None = None, client: bool = False) -> CertFiles:
    """A certificate signed by ca, with the given subjectAltNames
    ("IP:127.0.0.1", "DNS:db.example"); client=True makes a client cert."""
    d = Path(directory)
    key, csr, cert = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.pem"
    _key(key)
    _run("req", "-new", "-key", str(key), "-out", str(csr), "-subj", f"/CN={cn or name}")
    ext = d / f"{name}.ext"
    lines = ["basicConstraints=CA:FALSE",
             f"extendedKeyUsage={'clientAuth' if client else 'serverAuth'}"]
    if sans:
        lines.append("subjectAltName=" + ",".join(sans))
    ext.write_text("\n".join(lines) + "\n")
    _run("x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
         "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return CertFiles(cert, key)
