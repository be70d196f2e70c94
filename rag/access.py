"""Who may use the web UI, and what they may change: one decision from the bind address and the settings.

A UI on localhost is as private as the machine, so it is open unless a password is set. Bound to anything
else, anyone who reaches the port would be able to delete documents, rebuild the KB and download the sources,
so it needs one of: a password (`ui_password_hash`, an argon2 hash from `rag password`), an explicit read-only
mode (`ui_read_only`: anyone may ask, nobody may change anything), or else a random token that `rag ui`
prints in a sign-in link, the way Jupyter does. The token travels to the Streamlit process in RAG_UI_TOKEN.

No crypto of our own: argon2-cffi hashes and verifies passwords, `secrets` makes tokens, and tokens are
compared in constant time with `hmac.compare_digest`.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from dataclasses import dataclass

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

from rag.errors import ConfigError
from rag.settings import Settings

TOKEN_ENV = "RAG_UI_TOKEN"  # how `rag ui` hands its token to the Streamlit process; not a setting on purpose
MIN_PASSWORD = 8


@dataclass(frozen=True)
class Gate:
    """The UI's access rule for one server process; open when it holds neither a password hash nor a token."""

    password_hash: str = ""
    token: str = ""
    read_only: bool = False

    @property
    def open(self) -> bool:
        return not (self.password_hash or self.token)

    @property
    def asks_for(self) -> str:
        """What the sign-in form asks for."""
        return "password" if self.password_hash else "token"

    def admits(self, secret: str) -> bool:
        """Whether `secret` signs a session in: the password when a hash is set, else the token."""
        if self.password_hash:
            return verify_password(self.password_hash, secret)
        return bool(self.token) and hmac.compare_digest(secret.encode(), self.token.encode())


def is_local(host: str | None) -> bool:
    """Only this machine can connect. No address at all means every interface (Streamlit's default)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def needs_token(host: str | None, settings: Settings) -> bool:
    """A shared UI with neither a password nor read-only mode is reachable only through a sign-in token."""
    return not is_local(host) and not settings.ui_password_hash and not settings.ui_read_only


def decide(host: str | None, settings: Settings, token: str = "") -> Gate:
    """The gate for a UI bound to `host`. ConfigError when the hash is unusable or a needed token is missing."""
    if settings.ui_password_hash:
        check_hash(settings.ui_password_hash)
        return Gate(password_hash=settings.ui_password_hash, read_only=settings.ui_read_only)
    if needs_token(host, settings):
        if not token:
            raise ConfigError(f"this UI listens on {host or 'every interface'} without a password: start it "
                              "with `rag ui --host HOST`, which prints a sign-in link, or set ui_password_hash "
                              "(`rag password`), or ui_read_only = true")
        return Gate(token=token, read_only=settings.ui_read_only)
    return Gate(read_only=settings.ui_read_only)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    return PasswordHasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return PasswordHasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_hash(password_hash: str) -> None:
    """Refuse a hash that no password could ever match, rather than lock everyone out in silence."""
    try:
        extract_parameters(password_hash)
    except (InvalidHashError, ValueError) as exc:
        raise ConfigError("ui_password_hash is not an argon2 hash: make one with `rag password` and copy the "
                          "whole line it prints into rag.toml") from exc


def toml_line(password_hash: str) -> str:
    # A literal (single-quoted) string: the hash's `$` and `+` need no escaping there.
    return f"ui_password_hash = '{password_hash}'"


def sign_in_lines(host: str | None, port: int, gate: Gate) -> list[str]:
    """What `rag ui` prints: where to open the UI, and who can get in."""
    query = f"/?token={gate.token}" if gate.token else ""
    shown = "localhost" if not host or host in {"127.0.0.1", "0.0.0.0", "::"} else host
    lines = [f"open http://{shown}:{port}{query} in a browser."]
    if host in {"0.0.0.0", "::"}:
        lines.append(f"From other machines: http://{socket.gethostname()}:{port}{query}")
    if gate.token:
        lines.append("Anyone with this link can use the UI and change the knowledge base. For a password instead "
                     "run `rag password`; for a UI that only answers questions add --read-only.")
    elif gate.password_hash:
        lines.append("Visitors sign in with the password set in ui_password_hash.")
    elif gate.read_only and not is_local(host):
        lines.append(f"Read-only and without a password: anyone who reaches port {port} can ask questions and "
                     "download the documents the answers cite. Set a password with `rag password`.")
    return lines
