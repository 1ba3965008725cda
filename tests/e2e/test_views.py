"""The view registry (frontend/static/js/views.js) is the one list of views: the tab bar shows exactly its entries,
in its order, and each view opens both from its tab and from its `?view=` address."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Tab

pytestmark = pytest.mark.browser

REGISTRY = "async () => (await import('/static/js/views.js')).VIEWS.map((v) => [v.id, v.title])"


def assert_only_view_shown(tab: Tab, view_id: str, title: str) -> None:
    page = tab.page
    page.wait_for_function("(id) => new URLSearchParams(location.search).get('view') === id", arg=view_id)
    visible = page.evaluate(
        "() => [...document.querySelectorAll('section.view')].filter((s) => !s.hidden).map((s) => s.dataset.view)"
    )
    assert visible == [view_id]
    current = page.locator("nav.tabs .tab[aria-current=page]")
    assert current.count() == 1 and current.get_attribute("data-view") == view_id
    assert page.title() == f"LatentCT · {title}"


def test_the_tab_bar_lists_the_registry_and_each_view_opens_by_click_and_address(tab: Tab) -> None:
    tab.open()
    page = tab.page
    registry = [tuple(entry) for entry in page.evaluate(REGISTRY)]
    assert {"explore", "label", "review", "compare"} <= {view_id for view_id, _ in registry}
    tabs = page.locator("nav.tabs .tab")
    shown = [(tabs.nth(i).get_attribute("data-view"), tabs.nth(i).inner_text()) for i in range(tabs.count())]
    assert shown == registry
    assert page.evaluate("() => document.querySelectorAll('section.view').length") == len(registry)

    for view_id, title in reversed(registry):  # by click, ending on the default view (a real change each time)
        page.locator(f"nav.tabs .tab[data-view={view_id}]").click()
        assert_only_view_shown(tab, view_id, title)
        assert page.locator(f"nav.tabs .tab[data-view={view_id}]").get_attribute("href") == f"?view={view_id}"
    page.go_back()  # each click made a history entry: Back returns to the view clicked before
    assert_only_view_shown(tab, *registry[1])
    for view_id, title in registry:  # by address
        tab.open(f"?view={view_id}")
        assert_only_view_shown(tab, view_id, title)
    assert tab.console.errors == []
