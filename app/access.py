"""The UI's door: the sign-in form, the one check that refuses writes in a read-only UI, and what may be
downloaded.

The rule itself (who must sign in, with what) is `rag.access.decide`, made once per server process from the
address Streamlit listens on, the settings and the token `rag ui` passed. A session that has not signed in
sees only the sign-in form: the script stops before the sidebar, so no KB list, document or chat is sent.
A signed-in session stays signed in until its tab is closed or reloaded; Streamlit offers no way to set a
cookie, so a reload asks again (the token can be pasted into the form).

Failed attempts cost the session a pause. A new session gets a fresh start, so the real defence is the
secret itself: a 256-bit token, or a password behind argon2's deliberately slow hash.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Callable, Collection
from pathlib import Path
from time import sleep
from typing import ParamSpec, TypeVar

import streamlit as st
from streamlit import config

from app import state
from rag.access import TOKEN_ENV, Gate, decide

FAILED_SIGN_IN_PAUSE_S = 1.0
SIGNED_IN = "signed_in"
READ_ONLY = ("{action} is turned off: this UI is read-only (`rag ui --read-only` or the setting ui_read_only). "
             "Ask whoever runs it, or use `rag` in a terminal on the server.")

P = ParamSpec("P")
R = TypeVar("R")


@st.cache_resource(show_spinner=False)
def gate() -> Gate:
    """Decided once per server process. `server.address` unset means Streamlit listens on every interface."""
    return decide(config.get_option("server.address"), state.load_settings(), os.environ.get(TOKEN_ENV, ""))


def sign_in() -> None:
    """Let the session through, or show the sign-in form and stop the script."""
    door = gate()
    if door.open or st.session_state.get(SIGNED_IN):
        return
    given = st.query_params.get("token")
    if given is not None:
        del st.query_params["token"]  # out of the address bar, the history and screenshots
        if _try(door, given):
            return
    st.title("Knowledge base · 知识库")
    with st.form("sign_in"):
        secret = st.text_input(door.asks_for.capitalize(), type="password",
                               help="The password set with `rag password`." if door.password_hash else
                                    "The token in the link that `rag ui` printed when it started.")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted and _try(door, secret):
        st.rerun()
    st.stop()


def _try(door: Gate, secret: str) -> bool:
    if door.admits(secret):
        st.session_state[SIGNED_IN] = True
        return True
    sleep(FAILED_SIGN_IN_PAUSE_S)  # slows guessing in this session
    where = "" if door.password_hash else " for the link that `rag ui` printed"
    st.error(f"That {door.asks_for} is not right. Check it and try again, or ask whoever runs this "
             f"server{where}.", icon=":material/lock:")
    return False


def writable() -> bool:
    """Whether the controls that change a KB are drawn at all."""
    return not gate().read_only


def writes(action: str) -> Callable[[Callable[P, R]], Callable[P, R | None]]:
    """Mark a UI function that changes a KB: in a read-only UI it shows why and does nothing, even when it is
    reached without its control (a stale callback, a crafted widget message)."""
    def wrap(fn: Callable[P, R]) -> Callable[P, R | None]:
        @functools.wraps(fn)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R | None:
            if gate().read_only:
                st.error(READ_ONLY.format(action=action), icon=":material/lock:")
                return None
            return fn(*args, **kwargs)
        return guarded
    return wrap


def downloadable(source: str, documents: Collection[str]) -> Path | None:
    """The file behind a cited source, if it may be served: a document of the KB now, and a regular file
    itself (not a symlink that could have been pointed elsewhere since it was ingested)."""
    if source not in documents:
        return None
    path = Path(source)
    try:
        return path if stat.S_ISREG(path.lstat().st_mode) else None
    except OSError:
        return None
