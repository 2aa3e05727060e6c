"""The OpenID Connect relying party: Suanli signing people in through an organization's OpenID
provider (Keycloak, Azure AD / Entra ID, Authing, an ``oidc-provider``...).

What it does, on authlib (OAuth 2.0 / OIDC, sans-I/O) and joserfc (JOSE; authlib's own successor
to ``authlib.jose``), over httpx:

- **Discovery**: ``{issuer}/.well-known/openid-configuration``, whose ``issuer`` must be the
  configured one exactly (a mix-up is refused), kept for ``cache_s``; the provider's keys
  (``jwks_uri``) likewise, fetched again at once when a token names a key not seen yet (rotation).
- **Authorization code flow with PKCE** (browsers): ``begin_login`` makes the provider's URL with
  a fresh ``state``, ``nonce`` and PKCE (S256) verifier, which the caller keeps until the
  callback; ``finish_login`` checks the ``iss`` of the answer (RFC 9207) when the provider sends
  one, exchanges the code with the verifier and validates the ID token.
- **Device flow** (RFC 8628, the CLI): ``start_device`` asks the provider for a user code and a
  verification URL; ``poll_device`` asks the token endpoint whether the person has signed in yet.
- **ID token validation**: the signature against the provider's keys (asymmetric algorithms it
  announces only: never ``none``, never a MAC), then ``iss``, ``aud`` (the client id), ``azp``,
  ``exp``/``iat`` (60 s of leeway), ``nonce`` and ``at_hash`` by authlib's ``CodeIDToken``.
- **Claims to Suanli**: the user name and the ``organization:role`` list come from the ID token;
  a provider that keeps them for the userinfo endpoint (as OIDC Core asks when an access token is
  issued, e.g. ``oidc-provider``) is asked there, and its answer must be about the same ``sub``.

Errors say what to fix in one line: ``ProviderUnavailable`` (502: the provider is unreachable,
or answers as no OpenID provider, or refuses Suanli's client: a setting to fix on this side),
``LoginRefused`` (401: the sign-in itself failed: declined, expired, a token that does not
verify), ``ClaimRefused`` (403, from the domain: the claims make the person no one here).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from suanli.domain.errors import InvalidSpec, NotFound, SuanliError, Unauthenticated
from suanli.domain.single_sign_on import ExternalIdentity, memberships_from_claim, user_name_from_claim
from suanli.settings import Settings

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CALLBACK_PATH = "/api/v1/auth/oidc/callback"
# Signatures by the provider's own keys only: no "none", no MAC keyed with the client secret.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY_S = 60
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_SETTINGS = "SUANLI_OIDC_ISSUER (oidc_issuer)"


class ProviderUnavailable(SuanliError):
    """The provider cannot be reached, answers as no OpenID provider, or refuses Suanli's own
    client: nothing the person signing in can fix."""

    http_status = 502
    title = "Single sign-on unavailable"


class LoginRefused(Unauthenticated):
    """The sign-in failed at or after the provider: declined, expired, or a token that does not
    verify. Sign in again."""

    title = "Sign-in refused"


class SingleSignOnOff(NotFound):
    title = "Single sign-on is off"

    def __init__(self) -> None:
        super().__init__(
            "single sign-on is not set up on this server: an admin sets oidc_issuer, oidc_client_id and "
            "oidc_client_secret (SUANLI_OIDC_*; docs/security.md); sign in with a token or a password meanwhile"
        )


@dataclass(frozen=True, slots=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    roles_claim: str = "suanli_roles"
    username_claim: str = "preferred_username"
    redirect_uri: str | None = None  # None: the server's callback as the request reached it
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcConfig | None:
        """The configuration the settings give; None when single sign-on is off (no issuer).
        InvalidSpec naming the setting when it is half set or malformed."""
        if not settings.oidc_issuer:
            return None
        issuer = settings.oidc_issuer.strip()
        check_issuer(issuer)
        if not settings.oidc_client_id:
            raise InvalidSpec(
                "missing while oidc_issuer is set: set SUANLI_OIDC_CLIENT_ID to Suanli's client id at the provider",
                field="oidc_client_id",
            )
        secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else ""
        if not secret:
            raise InvalidSpec(
                "missing while oidc_issuer is set: set SUANLI_OIDC_CLIENT_SECRET to the secret the provider gave "
                "Suanli's client",
                field="oidc_client_secret",
            )
        scopes = tuple(dict.fromkeys(["openid", *settings.oidc_scopes.split()]))
        if settings.oidc_redirect_uri:
            check_url(settings.oidc_redirect_uri, "oidc_redirect_uri")
        return cls(
            issuer=issuer,
            client_id=settings.oidc_client_id,
            client_secret=secret,
            scopes=scopes,
            roles_claim=settings.oidc_roles_claim,
            username_claim=settings.oidc_username_claim,
            redirect_uri=settings.oidc_redirect_uri,
        )


def check_url(url: str, setting: str) -> None:
    """https, or http on a loopback address (a lab); no query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    if parts is None or not host or parts.scheme not in ("https", "http") or parts.query or parts.fragment:
        raise InvalidSpec(f"must be an https URL with no query or fragment, not {url!r}", field=setting)
    if parts.scheme == "http" and host not in _LOOPBACK:
        raise InvalidSpec(
            f"must use https ({url!r} is plain http, which only a provider on this machine, "
            "127.0.0.1 or localhost, may use)",
            field=setting,
        )


def check_issuer(issuer: str) -> None:
    check_url(issuer, "oidc_issuer")


@dataclass(frozen=True, slots=True)
class LoginStart:
    """A browser sign-in under way: the URL to send the browser to, and what the callback needs
    back (keep it where only this sign-in finds it: Suanli signs it into a short-lived cookie)."""

    url: str
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str


@dataclass(frozen=True, slots=True)
class DeviceStart:
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: int
    interval: int


@dataclass(frozen=True, slots=True)
class DevicePending:
    """The person has not finished signing in yet: ask again after ``interval`` seconds."""

    reason: str  # authorization_pending, or slow_down (then the interval grew)
    interval: int


class _TokenError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


class OidcClient:
    """One provider, one client; safe to share between threads (the server's worker threads)."""

    def __init__(
        self,
        config: OidcConfig,
        *,
        http: httpx.Client | None = None,
        cache_s: float = 3600.0,
        now: Callable[[], int] | None = None,
    ) -> None:
        self.config = config
        self._http = http or httpx.Client(timeout=config.timeout_s, follow_redirects=False)
        self.cache_s = cache_s
        self._now = now  # the time ID tokens are checked at (epoch seconds); None: the clock's
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0

    def close(self) -> None:
        self._http.close()

    # discovery ----------------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (cached for ``cache_s``)."""
        with self._lock:
            if self._metadata is not None and time.monotonic() - self._metadata_at < self.cache_s:
                return self._metadata
        issuer = self.config.issuer
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        data = self._get_json(url, "its discovery document")
        named = data.get("issuer")
        if named != issuer:
            raise ProviderUnavailable(
                f"the OpenID provider at {url} names itself {named!r}, not {issuer!r}: set {_SETTINGS} to "
                "its issuer exactly"
            )
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(data.get(key), str):
                raise ProviderUnavailable(
                    f"the discovery document at {url} has no {key}; is {issuer} an OpenID provider?"
                )
        with self._lock:
            self._metadata, self._metadata_at = data, time.monotonic()
        return data

    def _key_set(self, *, fresh: bool = False) -> KeySet:
        with self._lock:
            if not fresh and self._keys is not None and time.monotonic() - self._keys_at < self.cache_s:
                return self._keys
        url = self.metadata()["jwks_uri"]
        data = self._get_json(url, "its keys (jwks_uri)")
        try:
            keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as error:
            raise ProviderUnavailable(f"the provider's keys at {url} cannot be read: {error}") from None
        with self._lock:
            self._keys, self._keys_at = keys, time.monotonic()
        return keys

    # the authorization code flow ----------------------------------------------------------------

    def begin_login(self, redirect_uri: str) -> LoginStart:
        """Where to send the browser, with a new state, nonce and PKCE verifier."""
        metadata = self.metadata()
        methods = metadata.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise ProviderUnavailable("the provider does not offer PKCE with S256, which Suanli requires")
        state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        url = prepare_grant_uri(
            metadata["authorization_endpoint"],
            client_id=self.config.client_id,
            response_type="code",
            redirect_uri=redirect_uri,
            scope=" ".join(self.config.scopes),
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        return LoginStart(str(url), state, nonce, verifier, redirect_uri)

    def finish_login(
        self,
        *,
        code: str,
        nonce: str,
        code_verifier: str,
        redirect_uri: str,
        issuer: str | None = None,
    ) -> ExternalIdentity:
        """The person behind an authorization code. ``issuer``: the ``iss`` parameter of the
        answer (RFC 9207), checked when the provider announces it or sends it. The caller has
        checked ``state`` against the one it kept."""
        metadata = self.metadata()
        announced = metadata.get("authorization_response_iss_parameter_supported") is True
        if (issuer is not None or announced) and issuer != self.config.issuer:
            raise LoginRefused(
                f"the sign-in answer came from issuer {issuer!r}, not {self.config.issuer!r}; sign in again"
            )
        tokens = self.exchange_code(code=code, code_verifier=code_verifier, redirect_uri=redirect_uri)
        return self.identity(tokens, nonce=nonce)

    def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> dict[str, Any]:
        """The provider's token response for an authorization code (with the PKCE verifier)."""
        try:
            return self._token_request(
                "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
            )
        except _TokenError as error:
            if error.error == "invalid_grant":
                raise LoginRefused(
                    f"the provider refused the sign-in code ({error}): it was used already, expired, or belongs to "
                    "another sign-in; sign in again"
                ) from None
            raise self._client_refused(error, "authorization_code") from None

    # the device flow ----------------------------------------------------------------------------

    def start_device(self) -> DeviceStart:
        metadata = self.metadata()
        endpoint = metadata.get("device_authorization_endpoint")
        if not isinstance(endpoint, str):
            raise ProviderUnavailable(
                "the provider offers no device flow (its discovery document has no device_authorization_endpoint); "
                "sign in in a browser, or with a token"
            )
        try:
            data = self._post_form(endpoint, urlencode({"scope": " ".join(self.config.scopes)}))
        except _TokenError as error:
            raise self._client_refused(error, DEVICE_GRANT) from None
        try:
            return DeviceStart(
                device_code=str(data["device_code"]),
                user_code=str(data["user_code"]),
                verification_uri=str(data["verification_uri"]),
                verification_uri_complete=str(data["verification_uri_complete"])
                if data.get("verification_uri_complete")
                else None,
                expires_in=int(data["expires_in"]),
                interval=int(data.get("interval") or 5),
            )
        except (KeyError, TypeError, ValueError):
            raise ProviderUnavailable(
                f"the provider's device authorization answer lacks what RFC 8628 asks for: {sorted(data)}"
            ) from None

    def poll_device(self, device_code: str, interval: int = 5) -> ExternalIdentity | DevicePending:
        """The person, once they have signed in at the provider; DevicePending until then."""
        try:
            tokens = self._token_request(DEVICE_GRANT, device_code=device_code)
        except _TokenError as error:
            if error.error == "authorization_pending":
                return DevicePending(error.error, interval)
            if error.error == "slow_down":
                return DevicePending(error.error, interval + 5)
            if error.error == "access_denied":
                raise LoginRefused(
                    "the sign-in was declined at the provider; start again if that was a mistake"
                ) from None
            if error.error == "expired_token":
                raise LoginRefused(
                    "the code expired before the sign-in was finished at the provider; start again "
                    "(`suanli login --oidc`)"
                ) from None
            if error.error == "invalid_grant":
                raise LoginRefused(
                    f"the provider does not know this device code ({error}): used already, or from another "
                    "server; start again (`suanli login --oidc`)"
                ) from None
            raise self._client_refused(error, DEVICE_GRANT) from None
        return self.identity(tokens, nonce=None)

    # ID tokens ----------------------------------------------------------------------------------

    def identity(self, tokens: Mapping[str, Any], *, nonce: str | None) -> ExternalIdentity:
        """The person a token response names, after validating its ID token."""
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise ProviderUnavailable(
                "the provider answered without an ID token; the scopes must include openid (oidc_scopes)"
            )
        access_token = tokens.get("access_token")
        claims = self.validate_id_token(
            id_token, nonce=nonce, access_token=access_token if isinstance(access_token, str) else None
        )
        wanted = (self.config.username_claim, self.config.roles_claim)
        if any(claim not in claims for claim in wanted) and isinstance(access_token, str):
            claims = {**self._userinfo(access_token, str(claims["sub"])), **claims}
        name = user_name_from_claim(claims.get(self.config.username_claim), self.config.username_claim)
        return ExternalIdentity(
            issuer=self.config.issuer,
            subject=str(claims["sub"]),
            name=name,
            display_name=str(claims.get("name") or ""),
            email=str(claims.get("email") or ""),
            memberships=memberships_from_claim(claims.get(self.config.roles_claim), self.config.roles_claim, name),
        )

    def validate_id_token(self, id_token: str, *, nonce: str | None, access_token: str | None = None) -> dict[str, Any]:
        """The claims of an ID token whose signature, issuer, audience, times and nonce hold;
        LoginRefused saying which does not."""
        announced = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in SIGNING_ALGORITHMS if a in announced]
        if not algorithms:
            raise ProviderUnavailable(
                f"the provider signs ID tokens only with {announced}; Suanli takes {', '.join(SIGNING_ALGORITHMS)}"
            )
        registry = JWSRegistry(algorithms=algorithms)
        try:
            try:
                token = jwt.decode(id_token, self._key_set(), algorithms=algorithms, registry=registry)
            except InvalidKeyIdError:  # a key the provider added since: fetch them again, once
                token = jwt.decode(id_token, self._key_set(fresh=True), algorithms=algorithms, registry=registry)
        except (JoseError, ValueError) as error:
            raise LoginRefused(
                f"the ID token does not verify with the provider's keys ({_jose(error)}); refused: sign in again"
            ) from None
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": self.config.issuer},
            "aud": {"essential": True, "value": self.config.client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
        }
        # nonce None (the device flow sent none): not checked
        params = {"nonce": nonce, "client_id": self.config.client_id, "access_token": access_token}
        claims = CodeIDToken(token.claims, token.header, options, params)
        try:
            claims.validate(now=self._now() if self._now else None, leeway=LEEWAY_S)
        except ExpiredTokenError:
            raise LoginRefused("the ID token has expired (or this server's clock is wrong); sign in again") from None
        except ClaimError as error:
            raise LoginRefused(
                f"the ID token's {error.claim!r} is wrong ({_jose(error)}): it was not made for this sign-in to "
                f"{self.config.client_id!r} at {self.config.issuer!r}; refused: sign in again"
            ) from None
        except JoseError as error:
            raise LoginRefused(f"the ID token is not valid ({_jose(error)}); refused: sign in again") from None
        return dict(claims)

    def _userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        endpoint = self.metadata().get("userinfo_endpoint")
        if not isinstance(endpoint, str):
            return {}
        data = self._get_json(endpoint, "its userinfo endpoint", headers={"Authorization": f"Bearer {access_token}"})
        if data.get("sub") != subject:
            raise LoginRefused("the provider's userinfo is about someone else than its ID token; refused")
        return data

    # HTTP ---------------------------------------------------------------------------------------

    def _token_request(self, grant_type: str, **params: str) -> dict[str, Any]:
        body = str(prepare_token_request(grant_type, **params))
        return self._post_form(self.metadata()["token_endpoint"], body)

    def _post_form(self, url: str, body: str) -> dict[str, Any]:
        """POSTs a form with the client's credentials; _TokenError for an OAuth error answer."""
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        auth = ClientAuth(self.config.client_id, self.config.client_secret, self._auth_method())
        url, headers, body = auth.prepare("POST", url, headers, body)
        response = self._send("POST", url, headers=headers, content=body.encode())
        data = _json(response)
        if data is None:
            raise ProviderUnavailable(
                f"{url} answered HTTP {response.status_code} without JSON; is it an OpenID provider?"
            )
        if response.status_code >= 400 or "error" in data:
            raise _TokenError(
                str(data.get("error") or f"HTTP {response.status_code}"), str(data.get("error_description") or "")
            )
        return data

    def _auth_method(self) -> str:
        supported = self.metadata().get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        return "client_secret_basic" if "client_secret_basic" in supported else "client_secret_post"

    def _get_json(self, url: str, what: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        response = self._send("GET", url, headers=dict(headers or {}))
        data = _json(response) if response.status_code < 400 else None
        if data is None:
            raise ProviderUnavailable(
                f"the OpenID provider at {self.config.issuer} answered HTTP {response.status_code} for {what} "
                f"({url}), not JSON; check {_SETTINGS}: it must be the issuer's URL exactly"
            )
        return data

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.TransportError as error:
            raise ProviderUnavailable(
                f"cannot reach the OpenID provider at {self.config.issuer} "
                f"({type(error).__name__}: {error or 'no answer'}); check {_SETTINGS} and that the provider is up"
            ) from None

    def _client_refused(self, error: _TokenError, grant: str) -> ProviderUnavailable:
        if error.error in ("invalid_client", "unauthorized_client"):
            return ProviderUnavailable(
                f"the provider refused Suanli's client ({error}); check oidc_client_id and oidc_client_secret, "
                f"and that the client may use the grant {grant}"
            )
        return ProviderUnavailable(f"the provider refused the request ({error})")


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _jose(error: Exception) -> str:
    if isinstance(error, JoseError):
        return error.description or error.error or type(error).__name__
    return str(error) or type(error).__name__
