"""The permission matrix, walked: every role against every endpoint, allowed or 403."""

from __future__ import annotations

import re
import uuid

from api.auth import PUBLIC_ENDPOINTS, PUBLIC_PATHS, PUBLIC_PREFIXES
from api.permissions import ALL, PERMISSIONS
from storage.accounts import ROLES

from .api_helpers import caller

# Endpoints any authenticated account may call.
OPEN_TO_ALL = {
    "/api/me",
    "/api/me/password",
    "/api/me/totp",
    "/api/me/totp/confirm",
    "/api/me/totp/recovery-codes",
    "/api/auth/revoke",
    "/api/auth/session",
}
# Endpoints that revoke the token they are called with: each is walked last, with a token of its own.
LOG_OUT = {("POST", "/api/auth/revoke"), ("DELETE", "/api/auth/session")}


def _endpoints(app):
    """(method, rule, permissions) for every route, read from the views themselves: any of the permissions
    lets a role in (most views name one; the pickers take `tasks:work` or `instances:start`)."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule in PUBLIC_PATHS or rule.rule.startswith("/api/docs"):
            continue
        if rule.endpoint.startswith("web_app."):  # the browser app's static files (test_web_app_serving)
            continue
        if rule.rule.startswith(PUBLIC_PREFIXES):  # public by design (a survey's link: test_surveys)
            continue
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (method, rule.rule) in PUBLIC_ENDPOINTS:
                continue
            handler = getattr(view_class, method.lower()) if view_class else view
            found.append((method, rule.rule, getattr(handler, "atrium_permissions", None)))
    return found


def _url(rule: str) -> str:
    """The rule with a value that names nothing in each placeholder."""
    url = re.sub(r"<uuid:\w+>", lambda _: str(uuid.uuid4()), rule)
    url = re.sub(r"<(int|id):\w+>", "987654", url)
    return re.sub(r"<\w+>", "nothing", url)


def test_every_endpoint_declares_a_permission(app):
    for method, rule, permissions in _endpoints(app):
        assert (permissions and all(p in PERMISSIONS for p in permissions)) or rule in OPEN_TO_ALL, (
            f"{method} {rule} has no permission"
        )


def test_each_role_is_allowed_or_refused_each_endpoint_as_the_matrix_says(app):
    client = app.test_client()
    endpoints = sorted(_endpoints(app), key=lambda e: (e[0], e[1]) in LOG_OUT)  # log-outs last
    for role in ROLES:
        person = caller(client, role)
        for method, rule, permissions in endpoints:
            if (method, rule) in LOG_OUT:
                person = caller(client, role)
            allowed = role in (set().union(*(PERMISSIONS[p] for p in permissions)) if permissions else ALL)
            response = getattr(person, method.lower())(_url(rule), json={})
            refused = response.status_code == 403
            assert refused != allowed, f"{role} {method} {rule}: {response.status_code} {response.json}"
            assert response.status_code != 401, f"{role} {method} {rule}: token rejected"
            assert response.status_code < 500, f"{role} {method} {rule}: {response.status_code}"


def test_the_readme_matrix_matches_the_code():
    from atrium.settings import PROJECT_ROOT

    readme = (PROJECT_ROOT / "README.md").read_text()
    for permission, roles in PERMISSIONS.items():
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{permission}`")), None)
        assert row is not None, f"README lacks {permission}"
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        assert [role for role, cell in zip(ROLES, cells, strict=True) if cell == "✓"] == [
            r for r in ROLES if r in roles
        ], permission
