"""TLS on the secure client port (`secureClientPort`, `ssl.*`), ZooKeeper 3.8.0 and Corral
with the same JKS stores: the Java client (ZooKeeperMain over Netty, with a client
certificate) and kazoo connect and work; the certificate's subject is the connection's
`x509` id (whoami, x509 ACLs, `X509AuthenticationProvider.superUser`); clients without a
certificate, with one from an untrusted CA, or speaking plain text to the TLS port are
refused, and the server keeps serving.

Certificates are made here with openssl (leaf certificates as X.509 version 1, as kazoo's
own harness makes them) and put in JKS stores with keytool."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from harness import kz, raw, zkcli
from harness.scenario import run_differential
from harness.servers import FREE_PORT, four_letter

PASSWORD = "apassword"
PKI = Path(tempfile.gettempdir()) / f"corral-interop-pki-{os.getpid()}"
CONFIG = {
    "secureClientPort": FREE_PORT,
    "secureClientPortAddress": "127.0.0.1",
    "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
    "ssl.keyStore.location": str(PKI / "server.jks"),
    "ssl.keyStore.password": PASSWORD,
    "ssl.trustStore.location": str(PKI / "trust.jks"),
    "ssl.trustStore.password": PASSWORD,
    "X509AuthenticationProvider.superUser": "CN=interop-admin",
}
CLIENTS = ("interop-client", "other-client", "interop-admin")


def _run(*args: str) -> None:
    subprocess.run(args, check=True, cwd=PKI, capture_output=True, timeout=60)


def _leaf(name: str, signer: str) -> None:
    """A version 1 certificate (no extensions) for CN=name, signed by `signer`, and a JKS
    key store holding it (keytool reads the key through PKCS#12)."""
    _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem",
         "-out", f"{name}.csr", "-subj", f"/CN={name}")
    _run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", f"{signer}.pem", "-CAkey",
         f"{signer}-key.pem", "-CAcreateserial", "-days", "2", "-out", f"{name}.pem")
    _run("openssl", "pkcs12", "-export", "-in", f"{name}.pem", "-inkey", f"{name}-key.pem",
         "-name", name, "-out", f"{name}.p12", "-passout", f"pass:{PASSWORD}")
    _run("keytool", "-importkeystore", "-srckeystore", f"{name}.p12", "-srcstoretype", "PKCS12",
         "-srcstorepass", PASSWORD, "-destkeystore", f"{name}.jks", "-deststoretype", "JKS",
         "-deststorepass", PASSWORD, "-noprompt")


@pytest.fixture(scope="module")
def pki():
    if shutil.which("openssl") is None or shutil.which("keytool") is None:
        pytest.fail("openssl and keytool are needed to make the test certificates", pytrace=False)
    shutil.rmtree(PKI, ignore_errors=True)
    PKI.mkdir(parents=True)
    try:
        for ca in ("ca", "other-ca"):
            _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                 f"{ca}-key.pem", "-out", f"{ca}.pem", "-days", "2", "-subj", f"/CN={ca}",
                 "-addext", "basicConstraints=critical,CA:TRUE")
        _leaf("localhost", "ca")
        shutil.copy(PKI / "localhost.jks", PKI / "server.jks")
        for name in CLIENTS:
            _leaf(name, "ca")
        _leaf("stranger", "other-ca")
        _run("keytool", "-importcert", "-alias", "ca", "-file", "ca.pem", "-keystore",
             "trust.jks", "-storetype", "JKS", "-storepass", PASSWORD, "-noprompt")
        yield PKI
    finally:
        shutil.rmtree(PKI, ignore_errors=True)


def _java(name: str) -> list[str]:
    return zkcli.tls_properties(str(PKI / f"{name}.jks"), str(PKI / "trust.jks"), PASSWORD)


def _x509_identity(t) -> list[str]:
    r = t.root
    out = zkcli.session(t, ["whoami", f"create {r} secret", f"get {r}",
                            f"setAcl {r} x509:CN=interop-client:cdrwa", f"getAcl {r}",
                            f"get {r}"], tls=_java("interop-client"))
    out += ["-- in clear, no certificate"]
    out += zkcli.session(t, [f"get {r}", "whoami"])
    out += ["-- another client certificate from the same CA"]
    out += zkcli.session(t, ["whoami", f"get {r}"], tls=_java("other-client"))
    out += ["-- the x509 super user"]
    out += zkcli.session(t, ["whoami", f"get {r}", f"delete {r}"], tls=_java("interop-admin"))
    return out


def _probe(addr: str, cert: str | None, use_tls: bool = True) -> str:
    """Handshake (when `use_tls`), then a ConnectRequest: whether a session came back."""
    try:
        with raw.open_socket(addr, timeout=10) as plain:
            sock: socket.socket = plain
            if use_tls:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.load_verify_locations(str(PKI / "ca.pem"))
                if cert is not None:
                    ctx.load_cert_chain(str(PKI / f"{cert}.pem"), str(PKI / f"{cert}-key.pem"))
                sock = ctx.wrap_socket(plain)
            _timeout, sid = raw.connect(sock)
            return "session established" if sid != 0 else "refused (session 0)"
    except (OSError, ValueError):
        # How it fails (an alert, a reset, a close) differs between TLS stacks; that it
        # fails is the point.
        return "refused"


def _refusals(t) -> list[str]:
    out = [
        f"client certificate from the CA: {_probe(t.secure_addr, 'interop-client')}",
        f"no client certificate: {_probe(t.secure_addr, None)}",
        f"certificate from another CA: {_probe(t.secure_addr, 'stranger')}",
        f"plain text to the TLS port: {_probe(t.secure_addr, None, use_tls=False)}",
        f"plain port still serves: {_probe(t.addr, None, use_tls=False)}",
        f"TLS port still serves: {_probe(t.secure_addr, 'other-client')}",
    ]
    conf = four_letter(t.host, t.port, "conf")
    out += [t.norm.text(line) for line in conf.splitlines() if line.startswith("secureClientPort=")]
    client = KazooClient(hosts=t.secure_addr, use_ssl=True, verify_certs=True,
                         ca=str(PKI / "ca.pem"), certfile=str(PKI / "interop-client.pem"),
                         keyfile=str(PKI / "interop-client-key.pem"))
    try:
        client.start(timeout=15)
        client.create(f"{t.root}-kazoo", b"over TLS")
        data, stat = client.get(f"{t.root}-kazoo")
        out.append(f"kazoo over TLS: {data!r}, version {stat.version}")
        client.delete(f"{t.root}-kazoo")
    finally:
        kz.stop_client(client)
    return out


def test_tls_x509_identity(interop_servers, pki):
    run_differential("tls_x509_identity", _x509_identity, interop_servers, CONFIG)


def test_tls_refusals(interop_servers, pki):
    run_differential("tls_refusals", _refusals, interop_servers, CONFIG)
