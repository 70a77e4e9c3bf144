"""The Jinja environment of the console's pages, and rendering one into a response.

Templates live in ``workers/console/templates``; GOV.UK Frontend's component macros
come from ``govuk-frontend-jinja`` under the ``govuk_frontend_jinja/`` prefix. Every
page extends ``base.html`` (on ``govuk_template.html``: GOV.UK's page template without
its inline script), which needs the signed-in person and the session's CSRF token:
:func:`render` supplies them from the request.
"""

from __future__ import annotations

from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, PrefixLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from workers.console import labels
from workers.console.sessions import navigation

environment = Environment(
    loader=ChoiceLoader(
        [
            PackageLoader("workers.console", "templates"),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]
    ),
    # The macros are written for Jinja's default whitespace handling (as Flask uses it).
    autoescape=select_autoescape(["html"]),
)
environment.filters.update(
    moment=labels.moment,
    short_moment=labels.short_moment,
    day=labels.day,
    duration=labels.duration,
    short_id=labels.short_id,
    nhs_number=labels.nhs_number,
    event_label=labels.event_label,
    stage=lambda code: labels.label(code, labels.STAGES),
    rag=lambda code: labels.label(code, labels.RAGS),
    outcome=lambda code: labels.label(code, labels.OUTCOMES),
    lawful_basis=lambda code: labels.label(code, labels.LAWFUL_BASES),
    condition=lambda code: labels.label(code, labels.CONDITIONS),
    consent=lambda code: labels.label(code, labels.CONSENT),
    family_step=lambda code: labels.label(code, labels.FAMILY_STEPS),
    role=lambda code: labels.label(code, labels.ROLES),
    sign_off_reason=lambda code: labels.label(code, labels.SIGN_OFF_REASONS),
)
environment.globals.update(
    STAGE_COLOURS=labels.STAGE_COLOURS,
    RAG_COLOURS=labels.RAG_COLOURS,
    LAWFUL_BASES=labels.LAWFUL_BASES,
    CONDITIONS=labels.CONDITIONS,
    CONSENT=labels.CONSENT,
    OUTCOMES=labels.OUTCOMES,
    RAGS=labels.RAGS,
    STAGES=labels.STAGES,
)


class FormValues(dict[str, Any]):
    """What a form shows in its fields: "" for a field without a value (never "None")."""

    def get(self, key: str, default: Any = "") -> Any:
        value = super().get(key, default)
        return default if value is None else value


def render(request: Request, template: str, status_code: int = 200, **page: Any) -> HTMLResponse:
    """``template`` with ``page``, as the signed-in person (if any) sees it."""
    session = getattr(request.state, "console_session", None)
    context: dict[str, Any] = {
        "request": request,
        "person": session.client if session else None,
        "csrf_token": session.csrf_token if session else "",
        "current_path": request.url.path,
        **page,
    }
    for name in ("values", "replay_values"):
        if isinstance(context.get(name), dict):
            context[name] = FormValues(context[name])
    context.setdefault("flash", getattr(request.state, "console_flash", None))
    context.setdefault("navigation", navigation(context["person"]))
    policy = getattr(getattr(request.app.state, "context", None), "policy", None)
    context.setdefault("policy", policy)
    html = environment.get_template(template).render(context)
    return HTMLResponse(html, status_code=status_code)
