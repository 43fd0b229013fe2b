"""Sign-in for the read-only site: the login form, its defences, the response headers.

- Rate limit and temporary lockout, per user name and per client address:
  after ``USER_FAILURES`` wrong passwords for one name (or ``ADDRESS_FAILURES``
  from one address) within ``WINDOW`` seconds, that name (address) is locked for
  ``LOCKOUT`` seconds — even the right password is refused meanwhile, and no
  password is checked, so a locked account costs the server nothing.
- CSRF: the form's token must match the ``ds_csrftoken`` cookie Datasette set
  when it served the form (double submit). Datasette's own CSRF middleware lets
  a POST without any cookie through — exactly a cross-site login POST — so
  the login checks it itself, and refuses a browser's ``Sec-Fetch-Site:
  cross-site`` and a foreign ``Origin`` as well.
- Passwords are checked in a worker thread (PBKDF2 with 200,000 iterations
  takes ~0.1 s of CPU), so a burst of attempts never stalls the pages.
- Every response carries X-Frame-Options, a Content-Security-Policy (no inline
  or foreign scripts, no framing), nosniff and a referrer policy; behind HTTPS
  (``BROKERCRM_SITE_HTTPS=1``) cookies get ``Secure`` and browsers get HSTS.
"""

import asyncio
import os
import time

from brokercrm.site import auth


USER_FAILURES = 5
ADDRESS_FAILURES = 20
WINDOW = 15 * 60
LOCKOUT = 15 * 60
MAX_KEYS = 100_000  # memory bound: oldest entries go first

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000")


class Limiter:
    """Failures per key in a sliding window; a key with too many is locked for a while."""

    def __init__(self, max_failures, window=WINDOW, lockout=LOCKOUT, clock=time.monotonic):
        self.max_failures, self.window, self.lockout, self.clock = max_failures, window, lockout, clock
        self.failures = {}   # key -> [times]
        self.locked_until = {}

    def locked(self, key):
        """Seconds left on the key's lockout (0 when not locked)."""
        until = self.locked_until.get(key)
        if until is None:
            return 0
        left = until - self.clock()
        if left <= 0:
            del self.locked_until[key]
            return 0
        return left

    def failure(self, key):
        now = self.clock()
        times = [t for t in self.failures.get(key, []) if now - t < self.window] + [now]
        self.failures[key] = times
        if len(times) >= self.max_failures:
            self.locked_until[key] = now + self.lockout
            self.failures.pop(key, None)
        if len(self.failures) > MAX_KEYS:
            for old in list(self.failures)[: len(self.failures) - MAX_KEYS]:
                del self.failures[old]
        if len(self.locked_until) > MAX_KEYS:
            for old in list(self.locked_until)[: len(self.locked_until) - MAX_KEYS]:
                del self.locked_until[old]

    def success(self, key):
        self.failures.pop(key, None)


def limiters(datasette):
    found = getattr(datasette, "_brokercrm_limiters", None)
    if found is None:
        found = datasette._brokercrm_limiters = {"user": Limiter(USER_FAILURES), "address": Limiter(ADDRESS_FAILURES)}
    return found


def client_address(scope):
    """The client's address; behind a proxy named by BROKERCRM_SITE_TRUST_PROXY=1, its X-Forwarded-For."""
    if os.environ.get("BROKERCRM_SITE_TRUST_PROXY") == "1":
        for name, value in scope.get("headers", []):
            if name == b"x-forwarded-for":
                # The proxy appends the address it saw: the last entry is the one it vouches for.
                return value.decode("latin-1").split(",")[-1].strip()
    client = scope.get("client")
    return client[0] if client else "unknown"


def _header(request, name):
    return request.headers.get(name, "")


def cross_site(request):
    """True when the browser says the form was posted from another site."""
    if _header(request, "sec-fetch-site") == "cross-site":
        return True
    origin = _header(request, "origin")
    if origin and origin != "null":
        host = _header(request, "host")
        return origin.split("://", 1)[-1] != host
    return origin == "null"


def csrf_ok(datasette, request, token):
    cookie = request.cookies.get("ds_csrftoken")
    if not cookie or not token or cookie != token:
        return False
    try:
        datasette.unsign(cookie, "csrftoken")
    except Exception:
        return False
    return True


def _minutes(seconds):
    return max(1, int(seconds // 60) + (1 if seconds % 60 else 0))


async def login(request, datasette, users_of, config):
    """The /-/login page: GET shows the form, POST checks it (see the module docstring)."""
    from datasette.utils.asgi import Response

    error, status, username = None, 200, ""
    if request.method == "POST":
        post = await request.post_vars()
        username = (post.get("username") or "").strip()[:64]
        password = post.get("password") or ""
        lim = limiters(datasette)
        address = client_address(request.scope)
        if cross_site(request) or not csrf_ok(datasette, request, post.get("csrftoken")):
            error, status = "登录表单已失效或来自其他网站, 请刷新本页后重新登录 (stale or cross-site form: reload and retry)", 403
        else:
            locked = max(lim["user"].locked(username), lim["address"].locked(address))
            if locked:
                error, status = (f"登录失败次数过多, 已临时锁定, 请 {_minutes(locked)} 分钟后再试 "
                                 "(too many failed sign-ins: temporarily locked)"), 429
            else:
                user = users_of(config).get(username)
                loop = asyncio.get_running_loop()
                ok = await loop.run_in_executor(None, auth.verify_password, password,
                                                user["hash"] if user else auth.dummy_hash())
                if user and ok:
                    lim["user"].success(username)
                    return signed_in_response(datasette, user, config)
                lim["user"].failure(username)
                lim["address"].failure(address)
                error, status = "用户名或密码错误 (wrong user name or password)", 401
    page = await datasette.render_template(
        "brokercrm_login.html", {"error": error, "username": username}, request=request)
    return Response.html(page, status=status)


def signed_in_response(datasette, user, config):
    from datasette.utils import baseconv
    from datasette.utils.asgi import Response

    actor = {"id": user["id"], "role": user["role"], "branch": user["branch"], "site": "brokercrm"}
    expires = baseconv.base62.encode(int(time.time()) + auth.SESSION_HOURS * 3600)
    response = Response.redirect("/")
    response.set_cookie("ds_actor", datasette.sign({"a": actor, "e": expires}, "actor"), httponly=True,
                        samesite="lax", secure=bool(config.get("https")), max_age=auth.SESSION_HOURS * 3600)
    return response


def response_headers(headers, https):
    """The response's headers with the security headers added (and Secure cookies behind HTTPS)."""
    names = {name.lower() for name, _ in headers}
    out = []
    for name, value in headers:
        if https and name.lower() == b"set-cookie" and b"secure" not in value.lower():
            value += b"; Secure"
        out.append((name, value))
    out += [h for h in SECURITY_HEADERS if h[0] not in names]
    if https and HSTS[0] not in names:
        out.append(HSTS)
    return out
