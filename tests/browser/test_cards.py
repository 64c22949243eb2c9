"""The records URL's HTML pages in headless Chromium, against the local stack.

What a person sees: records as cards, a name made of markup shown as text with no script run,
the next-page links walking every record once, and a pending approval approved with its button.
Screenshots of each page land in target/test-output/browser/.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from selenium.webdriver.common.by import By

from pages import ENDPOINTS, follow, no_alert, shoot

MARKUP_NAME = "<script>alert(1)</script>"
RECORDS = ENDPOINTS["RECORDS_URL"].rstrip("/") + "/"
ADMIN_KEY = ENDPOINTS["RECORDS_ADMIN_KEY"]


def call(method: str, url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def ingest(user_name: str, email: str, pincode: str) -> tuple[int, dict]:
    query = urllib.parse.urlencode(
        {"user_name": user_name, "email": email, "pincode": pincode}
    )
    return call("GET", f"{RECORDS}?{query}")


def card_names(driver) -> list[str]:
    return [card.text for card in driver.find_elements(By.CSS_SELECTOR, "li.card h2")]


def walk(browser, limit: int, on_page=None) -> list[str]:
    """Every card's text (name, email, pincode, created), following the next-page links from
    the first page to the last."""
    browser.get(f"{RECORDS}?format=html&limit={limit}")
    shown = []
    while True:
        names = card_names(browser)
        assert 1 <= len(names) <= limit, names
        if on_page:
            on_page(names)
        shown.extend(card.text for card in browser.find_elements(By.CSS_SELECTOR, "li.card"))
        links = browser.find_elements(By.CSS_SELECTOR, "a[rel=next]")
        if not links:
            return shown
        follow(browser, links[0])


def test_cards_show_every_record_once_with_markup_as_text(browser):
    run = uuid.uuid4().hex[:8]
    digits = int(run, 16) % 10_000
    # More than a page of ten, so the walk below crosses at least one page boundary.
    seeded = [f"Card {run} {n}" for n in range(11)] + [MARKUP_NAME]
    for n, name in enumerate(seeded):
        status, answer = ingest(name, f"card{n}x{run}@example.com", f"{n + 10}{digits:04d}")
        assert status in (200, 201), (name, answer)

    browser.get(f"{RECORDS}?format=html&limit=6")
    assert browser.title == "Records · Sluice"
    shoot(browser, "records-desktop")
    shoot(browser, "records-phone", width=390, height=844)

    markup_pages = []

    def markup_is_text(names):
        if MARKUP_NAME in names:
            markup_pages.append(names)
            assert browser.find_elements(By.TAG_NAME, "script") == [], "a value became markup"
            assert no_alert(browser)
            shoot(browser, "records-markup")

    # The style sheet is applied, so the policy lets its hash through.
    header = browser.find_element(By.TAG_NAME, "header")
    assert header.value_of_css_property("background-color") == "rgba(29, 35, 48, 1)"
    cards = browser.find_elements(By.CSS_SELECTOR, "li.card")
    assert cards[0].value_of_css_property("border-radius") == "12px"

    pages = []
    shown = walk(browser, 10, lambda names: (pages.append(names), markup_is_text(names)))
    assert len(pages) >= 2
    assert len(shown) == len(set(shown)), "a record appeared on two pages"
    for n, name in enumerate(seeded):
        email = f"card{n}x{run}@example.com"
        assert sum(email in card for card in shown) == 1, f"{name!r} is not on exactly one page"
        assert any(card.startswith(name + "\n") and email in card for card in shown)
    assert markup_pages, "the markup name was on no page"


def test_an_admin_approves_a_pending_submission_with_its_button(browser):
    run = uuid.uuid4().hex[:8]
    name = f"Pending {run}"
    status, answer = ingest(name, "not-an-email", "5601")
    assert status == 202, answer
    approval_id = answer["approval_id"]

    browser.get(f"{RECORDS}approvals?format=html")
    browser.find_element(By.ID, "admin_key").send_keys("not the key")
    browser.find_element(By.ID, "decided_by").send_keys("Browser Admin")
    follow(browser, browser.find_element(By.CSS_SELECTOR, "form.login button"))
    assert "That admin key is not right." in browser.find_element(By.CSS_SELECTOR, ".notice").text

    browser.find_element(By.ID, "admin_key").send_keys(ADMIN_KEY)
    browser.find_element(By.ID, "decided_by").send_keys("Browser Admin")
    shoot(browser, "approvals-key")
    follow(browser, browser.find_element(By.CSS_SELECTOR, "form.login button"))

    card = wait_for_card(browser, approval_id)
    assert name in card.text
    problem = card.find_element(By.CSS_SELECTOR, "dd.problem")
    assert problem.text == "not-an-email"
    shoot(browser, "approvals-pending")
    follow(browser, card.find_element(By.CSS_SELECTOR, "button.approve"))

    notice = browser.find_element(By.CSS_SELECTOR, ".notice")
    assert notice.text == f"Approved: {name}'s submission is being stored."
    assert "error" not in notice.get_attribute("class")
    shoot(browser, "approvals-approved")

    status, seen = call(
        "GET", f"{RECORDS}approvals/{approval_id}", {"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    assert status == 200, seen
    assert seen["approval"]["status"] == "approved"
    assert seen["approval"]["decision"]["decided_by"] == "Browser Admin"
    # Once the workflow stored it, the same submission answers with the stored record.
    deadline = time.monotonic() + 60
    while (answer := ingest(name, "not-an-email", "5601"))[0] != 200:
        assert time.monotonic() < deadline, f"the approved record was never stored: {answer}"
        time.sleep(1)
    assert answer[1]["record"]["user_name"] == name


def wait_for_card(browser, approval_id: str):
    """The pending card, on whichever page of the pending list it is, once the approval is
    stored (its workflow writes it asynchronously)."""
    deadline = time.monotonic() + 60
    selector = f'li.card[data-approval="{approval_id}"]'
    while True:
        cards = browser.find_elements(By.CSS_SELECTOR, selector)
        if cards:
            return cards[0]
        following = browser.find_elements(By.CSS_SELECTOR, "nav.pager button.next")
        if following:
            follow(browser, following[0])
            continue
        assert time.monotonic() < deadline, "the pending approval never showed"
        time.sleep(1)
        follow(browser, browser.find_element(By.CSS_SELECTOR, "nav.pager form button"))
