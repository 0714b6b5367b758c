"""The README and docs/ link only to files inside the repository, and docs/api.md names
every route of the API."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_is_a_file_inside_the_repository(page):
    for target in LINK.findall(page.read_text("utf-8")):
        if re.match(r"[a-z]+:|#", target):
            continue  # a web address or an anchor on the same page
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT), f"{page.name} links outside the repository: {target}"
        assert path.exists(), f"{page.name} links to a missing file: {target}"


def test_the_api_reference_names_every_api_route(app):
    reference = (ROOT / "docs" / "api.md").read_text("utf-8")
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "<id>", rule.rule)
            assert f"{route}" in reference, f"docs/api.md does not describe {route}"
