"""First run and signing in, in a real browser against a real server."""
from __future__ import annotations

import re

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or, under CI, fails them)
    expect = None


def test_first_run_setup_then_demo_from_the_cli(live_server, page, helpers):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    expect(page.locator("#username")).to_be_focused()  # autofocus

    page.fill("#username", helpers.ADMIN)
    page.fill("#password", helpers.PASSWORD)
    page.fill("#confirm", helpers.PASSWORD)
    page.get_by_role("button", name="Create admin").click()

    expect(page).to_have_url(live_server.url + "/")
    expect(page.get_by_role("heading", name="Projects", level=1)).to_be_visible()
    expect(page.locator(".flash")).to_contain_text("You are the admin")
    expect(page.locator(".whoami")).to_have_text(f"{helpers.ADMIN} · admin")
    expect(page.locator(".empty")).to_contain_text("No projects yet")

    output = live_server.cli("load-demo")
    assert "4 articles added" in output, output
    page.reload()
    expect(page.get_by_role("link", name="demo", exact=True)).to_be_visible()
    expect(page.get_by_role("progressbar", name="Overall progress")).to_contain_text("0 / 124 paragraphs")

    # Setup is shown once: now that an admin exists it is gone.
    assert page.request.get("/setup", max_redirects=0).status == 404


def test_sign_out_and_in_again_with_the_keyboard(admin_page, live_server, helpers):
    page = admin_page
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))

    page.goto("/")  # signed out: the projects page sends us to sign in, and back afterwards
    expect(page).to_have_url(re.compile(r"/login\?next=(%2F|/)$"))
    expect(page.locator("#username")).to_be_focused()
    page.keyboard.type(helpers.ADMIN)
    page.keyboard.press("Tab")
    expect(page.locator("#password")).to_be_focused()
    page.keyboard.type(helpers.PASSWORD)
    page.keyboard.press("Enter")

    expect(page).to_have_url(live_server.url + "/")
    expect(page.get_by_role("link", name="demo", exact=True)).to_be_visible()
    expect(page.locator(".whoami")).to_have_text(f"{helpers.ADMIN} · admin")


def test_a_wrong_password_is_refused(admin_page, helpers):
    page = admin_page
    page.get_by_role("button", name="Sign out").click()
    page.fill("#username", helpers.ADMIN)
    page.fill("#password", "not the password")
    page.keyboard.press("Enter")
    expect(page.locator(".flash-error")).to_have_text("Wrong username or password.")
    expect(page).to_have_url(re.compile(r"/login"))
