"""The web UI's access rule: who must sign in, with what, and how passwords and tokens are checked."""

from __future__ import annotations

import pytest

from rag.access import Gate, check_hash, decide, hash_password, is_local, needs_token, sign_in_lines, toml_line
from rag.errors import ConfigError
from rag.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("RAG_CONFIG", "RAG_UI_PASSWORD_HASH", "RAG_UI_READ_ONLY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("host, local", [
    ("127.0.0.1", True), ("::1", True), ("[::1]", True), ("localhost", True), ("LOCALHOST", True),
    ("127.0.0.2", True), ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("myhost", False),
    ("", False), (None, False),  # no address: Streamlit listens on every interface
])
def test_only_loopback_addresses_are_local(host, local):
    assert is_local(host) is local


def test_a_shared_ui_needs_a_password_read_only_or_a_token():
    plain, read_only = Settings.load(), Settings.load(ui_read_only=True)
    assert decide("127.0.0.1", plain).open and not needs_token("127.0.0.1", plain)
    assert needs_token("0.0.0.0", plain) and not needs_token("0.0.0.0", read_only)
    with pytest.raises(ConfigError, match="rag ui --host HOST"):
        decide("0.0.0.0", plain)
    assert decide("0.0.0.0", plain, "tok") == Gate(token="tok")
    assert decide("0.0.0.0", read_only) == Gate(read_only=True)  # an explicit choice: anyone may ask


def test_a_password_is_needed_everywhere_once_set():
    settings = Settings.load(ui_password_hash=hash_password("correct horse"))
    for host in ("127.0.0.1", "0.0.0.0"):
        gate = decide(host, settings, "stray-token")
        assert not gate.open and gate.asks_for == "password" and not gate.token
        assert gate.admits("correct horse") and not gate.admits("stray-token") and not gate.admits("")


def test_a_token_admits_only_itself():
    gate = Gate(token="abc123")
    assert gate.admits("abc123") and not gate.admits("abc12") and not gate.admits("abc1234")
    assert not gate.admits("") and not Gate().admits("")  # an open gate has no secret to match


def test_unusable_hashes_and_short_passwords_are_refused():
    with pytest.raises(ConfigError, match="rag password"):
        check_hash("correct horse")  # the password itself, pasted where its hash belongs
    with pytest.raises(ConfigError, match="rag password"):
        decide("127.0.0.1", Settings.load(ui_password_hash="$argon2id$broken"))
    with pytest.raises(ConfigError, match="at least 8 characters"):
        hash_password("short")


def test_the_printed_line_is_toml_the_settings_read_back(tmp_path):
    config = tmp_path / "rag.toml"
    password_hash = hash_password("correct horse")
    config.write_text(toml_line(password_hash) + "\n", encoding="utf-8")
    assert Settings.load(config).ui_password_hash == password_hash


def test_the_sign_in_link_carries_the_token_only_when_there_is_one():
    lines = sign_in_lines("0.0.0.0", 8600, Gate(token="tok"))
    assert lines[0] == "open http://localhost:8600/?token=tok in a browser."
    assert lines[1].startswith("From other machines: http://") and lines[1].endswith(":8600/?token=tok")
    assert sign_in_lines("127.0.0.1", 8600, Gate())[0] == "open http://localhost:8600 in a browser."
    assert "anyone who reaches port 8600" in sign_in_lines("0.0.0.0", 8600, Gate(read_only=True))[-1]
