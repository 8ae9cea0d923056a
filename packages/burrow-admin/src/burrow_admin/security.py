"""The admin's guards: who may enter, that every write comes from its own forms, and the
headers that keep a hostile payload from ever running as script.

Each guard is a plain ASGI middleware, so it covers every route, also ones added later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import secrets
from collections.abc import Callable
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from burrow_admin.forms import parse_form
from burrow_admin.i18n import N_
from burrow_admin.types import AccessRule

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "DEFAULT_CSP",
    "AccessMiddleware",
    "CsrfMiddleware",
    "CsrfSigner",
    "SecurityHeadersMiddleware",
    "csrf_token",
]

CSRF_COOKIE = "burrow_admin_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# An action form is a few short fields; anything bigger is not ours.
MAX_FORM_BYTES = 64 * 1024
_NEW_TOKEN_KEY = "burrow_admin_new_csrf"

DEFAULT_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)

# Renders an error page for a guard: (request, status code, message id) -> response.
ErrorRenderer = Callable[[Request, int, str], Response]


def cookie_path(scope: Scope) -> str:
    """The admin's own path, so its cookies never travel to the rest of the host app."""
    root = str(scope.get("root_path", "")).rstrip("/")
    return root or "/"


class CsrfSigner:
    """Makes and checks double-submit tokens: a random value and its HMAC under the secret.

    The signature means a value planted in the cookie by someone else (a sibling subdomain,
    a network attacker on plain HTTP) is refused: only this admin can mint a valid token.
    """

    def __init__(self, secret_key: str | bytes) -> None:
        key = secret_key.encode() if isinstance(secret_key, str) else secret_key
        if len(key) < 16:
            raise ValueError(
                "secret_key must be at least 16 bytes long; generate one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        self._key = key

    def _sign(self, nonce: str) -> str:
        digest = hmac.new(self._key, b"burrow-admin-csrf:" + nonce.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")

    def new_token(self) -> str:
        nonce = secrets.token_urlsafe(24)
        return f"{nonce}.{self._sign(nonce)}"

    def is_valid(self, token: str | None) -> bool:
        # A token we minted is ASCII; compare_digest raises TypeError on other str, and a
        # cookie planted by someone else may hold anything.
        if not token or not token.isascii() or token.count(".") != 1:
            return False
        nonce, signature = token.split(".")
        return hmac.compare_digest(signature, self._sign(nonce))


def csrf_token(request: Request, signer: CsrfSigner) -> str:
    """The token for this request's forms: the cookie's when valid, else a new one that the
    CSRF middleware sets as the cookie on the way out."""
    state = request.scope.setdefault("state", {})
    new = state.get(_NEW_TOKEN_KEY)
    if isinstance(new, str):
        return new
    existing = request.cookies.get(CSRF_COOKIE)
    if signer.is_valid(existing):
        assert existing is not None
        return existing
    token = signer.new_token()
    state[_NEW_TOKEN_KEY] = token
    return token


class AccessMiddleware:
    """Lets a request in only when the access rule says so: 401 for a request with no
    authenticated user (or a redirect to ``login_url``), 403 for a user the rule refuses."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        rule: AccessRule | None,
        render_error: ErrorRenderer,
        login_url: str | None = None,
    ) -> None:
        self.app = app
        self.rule = rule
        self.render_error = render_error
        self.login_url = login_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.rule is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        verdict = self.rule(request)
        allowed = await verdict if inspect.isawaitable(verdict) else verdict
        if allowed is True:
            await self.app(scope, receive, send)
            return
        if allowed is not False:
            raise TypeError(f"the admin's access rule must return a bool, got {allowed!r}")
        user = scope.get("user")
        authenticated = bool(getattr(user, "is_authenticated", False))
        response: Response
        if authenticated:
            response = self.render_error(
                request, 403, N_("You are not allowed to use the jobs admin.")
            )
        elif self.login_url is not None and request.method in SAFE_METHODS:
            back = request.url.path
            if request.url.query:
                back += "?" + request.url.query  # the operator lands on the filtered page
            joiner = "&" if "?" in self.login_url else "?"
            target = f"{self.login_url}{joiner}{urlencode({'next': back})}"
            response = RedirectResponse(target, status_code=303)
        else:
            response = self.render_error(request, 401, N_("Please sign in to use the jobs admin."))
        await response(scope, receive, send)


class CsrfMiddleware:
    """Double-submit CSRF: every POST (and any other unsafe method) must carry the signed token
    of the ``burrow_admin_csrf`` cookie in its form field ``csrf_token`` or the
    ``X-CSRF-Token`` header. Safe methods get the cookie set when they handed out a new token.
    """

    def __init__(self, app: ASGIApp, *, signer: CsrfSigner, render_error: ErrorRenderer) -> None:
        self.app = app
        self.signer = signer
        self.render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in SAFE_METHODS:
            refusal, receive = await self._check(scope, receive)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, self._setting_cookie(scope, send))

    async def _check(self, scope: Scope, receive: Receive) -> tuple[Response | None, Receive]:
        request = Request(scope, receive)
        if request.headers.get("sec-fetch-site", "same-origin") not in (
            "same-origin",
            "none",
        ):
            return self._refuse(request), receive
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_FORM_BYTES:
                return self.render_error(request, 413, N_("The form is too large.")), receive
        cookie = request.cookies.get(CSRF_COOKIE)
        submitted = request.headers.get(CSRF_HEADER)
        if submitted is None:
            submitted = parse_form(body, request.headers.get("content-type", "")).get(CSRF_FIELD)
        valid = (
            self.signer.is_valid(cookie)
            and submitted is not None
            and cookie is not None
            and hmac.compare_digest(submitted.encode(), cookie.encode())
        )
        replayed = False

        async def replay() -> Message:
            # The endpoint reads the same body again: hand it back once, then whatever follows.
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return (None if valid else self._refuse(request)), replay

    def _refuse(self, request: Request) -> Response:
        return self.render_error(
            request,
            403,
            N_("The form has expired or did not come from this admin. Reload and try again."),
        )

    def _setting_cookie(self, scope: Scope, send: Send) -> Send:
        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                token = scope.get("state", {}).get(_NEW_TOKEN_KEY)
                if isinstance(token, str):
                    cookie: SimpleCookie = SimpleCookie()
                    cookie[CSRF_COOKIE] = token
                    morsel = cookie[CSRF_COOKIE]
                    morsel["path"] = cookie_path(scope)
                    morsel["httponly"] = True
                    morsel["samesite"] = "Strict"
                    if scope.get("scheme") == "https":
                        morsel["secure"] = True
                    headers = MutableHeaders(scope=message)
                    headers.append("set-cookie", morsel.OutputString())
            await send(message)

        return send_with_cookie


class SecurityHeadersMiddleware:
    """Adds the CSP and friends to every response that did not set its own."""

    def __init__(self, app: ASGIApp, *, content_security_policy: str = DEFAULT_CSP) -> None:
        self.app = app
        self.headers: dict[str, str] = {
            "content-security-policy": content_security_policy,
            "x-content-type-options": "nosniff",
            "referrer-policy": "same-origin",
            "x-frame-options": "DENY",
            "cross-origin-opener-policy": "same-origin",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                # Job data changes all the time and may be private: never cache a page.
                if not str(scope.get("path", "")).startswith(_static_prefix(scope)):
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _static_prefix(scope: Scope) -> str:
    return str(scope.get("root_path", "")).rstrip("/") + "/static/"
