"""`suanli login --oidc`: single sign-on from a terminal, with the OpenID provider's device flow
(RFC 8628) run by the server (routes/oidc.py): the CLI shows where to go and the code to enter
there, then asks the server every few seconds until the person has signed in, and gets a new
API token (12 hours by default), which `suanli login` keeps as it keeps any token."""

from __future__ import annotations

import time

from rich.markup import escape

from suanli.adapters.cli.output import EXIT_BAD_INPUT, err, error
from suanli.client import SuanliClient


def device_login(server: str | None) -> str:
    """Runs the device flow through ``server``; the new API token."""
    with SuanliClient(server) as client:
        start = client.oidc_device_start()
        where = start.verification_uri_complete or start.verification_uri
        err.print(f"To sign in, open {escape(where)} in a browser", soft_wrap=True)
        err.print(f"and check that it shows the code {escape(start.user_code)}", soft_wrap=True)
        if start.verification_uri_complete:
            err.print(f"(or open {escape(start.verification_uri)} and enter it)", soft_wrap=True)
        err.print(f"Waiting for the sign-in (up to {start.expires_in // 60} minutes; Ctrl-C to give up)...")
        interval = max(1, start.interval)
        deadline = time.monotonic() + start.expires_in
        while time.monotonic() < deadline:
            time.sleep(interval)
            answer = client.oidc_device_token(start.device_code)
            if answer.status == "done" and answer.signed_in is not None and answer.signed_in.token:
                return answer.signed_in.token
            interval = max(interval, answer.interval or interval)
    raise error(
        f"nobody finished the sign-in at the provider within {start.expires_in // 60} minutes; "
        "run `suanli login --oidc` again",
        code=EXIT_BAD_INPUT,
    )
