"""The console works under its Content-Security-Policy, which allows no inline script.

GOV.UK Frontend's ``js-enabled`` line is a file (``/static/js-enabled.js``), and its
components start from ``/static/console.js``: in a real browser the page must show
that both ran, and no refusal may reach the browser's console.
"""

from __future__ import annotations

from playwright.async_api import expect

from tests.workers.console.conftest import Console


async def test_pages_load_under_the_policy_with_their_scripts_running(console: Console) -> None:
    c = console.api.callers
    anonymous = await console.visitor(c.anonymous)
    response = await anonymous.page.goto("/sign-in")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "nonce-" not in policy
    inline = await anonymous.page.locator("script:not([src])").count()
    assert inline == 0, "a page carries an inline script, which the policy refuses"
    body = anonymous.page.locator("body")
    await expect(body).to_have_class("govuk-template__body js-enabled govuk-frontend-supported")
    await anonymous.checked()

    officer = await console.visitor(c.officer)  # signed in through the page, scripts on
    await officer.open("/queue")
    await expect(officer.page.get_by_role("heading", name="Queue")).to_be_visible()
    # GOV.UK Frontend's components started (console.js): the navigation is initialised.
    navigation = officer.page.locator("[data-module='govuk-service-navigation']")
    await expect(navigation).to_have_attribute("data-govuk-service-navigation-init", "")
    await officer.checked()


async def test_an_inline_script_is_refused_by_the_browser(console: Console) -> None:
    """The policy is not just sent, it holds: a script slipped into a page does not run."""
    visitor = await console.visitor(console.api.callers.anonymous)
    await visitor.open("/sign-in")
    await visitor.page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.appendChild(script);
        }"""
    )
    assert await visitor.page.evaluate("() => window.injected === true") is False
    assert any("Content Security Policy" in error for error in visitor.console_errors)
