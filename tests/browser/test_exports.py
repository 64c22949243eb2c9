"""The exports URL's pages in headless Chromium, against the local stack.

What a person sees: the form asks for an app's last seven days, the export's page reloads
itself until the CSV is ready and then links it, and the link downloads exactly the events
the callbacks stored. A refused form comes back with each problem marked and the values as
typed, markup shown as text. Screenshots land in target/test-output/browser/.
"""

from __future__ import annotations

import csv
import datetime
import io
import time
import urllib.parse
import urllib.request
import uuid

import boto3
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from pages import ENDPOINTS, follow, no_alert, shoot

FORM = ENDPOINTS["EXPORTS_URL"].rstrip("/") + "/"
PATIENCE_SECONDS = 180


def send_callbacks(app: str) -> list[str]:
    """Three install callbacks through the standalone bridge, today and yesterday (UTC); their
    event ids once events-sink stored them all."""
    now = datetime.datetime.now(datetime.timezone.utc)
    days = [now - datetime.timedelta(days=1), now, now]
    ids = []
    for n, day in enumerate(days):
        event_id = f"{app}-{n}"
        query = urllib.parse.urlencode({
            "key": ENDPOINTS["AD_NETWORK_KEY"], "version": "1", "event_id": event_id,
            "app_id": app, "occurred_at": day.strftime("%Y-%m-%dT00:00:0{}Z").format(n),
            "device_id": f"DEV-{n}", "campaign": "<b>winter</b>, \"sale\"",
        })
        url = f"{ENDPOINTS['BRIDGE_URL']}/api/v1/events/{ENDPOINTS['AD_NETWORK']}/install?{query}"
        with urllib.request.urlopen(url, timeout=60) as answer:
            assert answer.status == 200
        ids.append(event_id)
    dynamodb = boto3.client(
        "dynamodb", endpoint_url=ENDPOINTS["AWS_ENDPOINT_URL"], region_name=ENDPOINTS["AWS_REGION"],
        aws_access_key_id="local", aws_secret_access_key="local",
    )
    deadline = time.monotonic() + PATIENCE_SECONDS
    for pk in {f"{app}#{day:%Y-%m-%d}" for day in days}:
        want = sum(f"{app}#{day:%Y-%m-%d}" == pk for day in days)
        while dynamodb.query(
            TableName=ENDPOINTS["AD_EVENTS_TABLE"], KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}}, Select="COUNT",
        )["Count"] < want:
            assert time.monotonic() < deadline, f"events-sink did not store {pk}"
            time.sleep(0.5)
    return ids


def shown_status(driver) -> str | None:
    """The status on the export's page, read afresh: the page reloads itself meanwhile."""
    try:
        return driver.find_element(By.ID, "status").text
    except (NoSuchElementException, StaleElementReferenceException):
        return None


def test_the_form_exports_an_apps_last_week_and_its_page_links_the_csv(browser):
    app = f"browser.{uuid.uuid4().hex[:10]}"
    stored = send_callbacks(app)

    browser.get(FORM)
    assert browser.title == "Export ad events · Sluice"
    today = datetime.datetime.now(datetime.timezone.utc).date()
    assert browser.find_element(By.ID, "to").get_attribute("value") == today.isoformat()
    assert browser.find_element(By.ID, "from").get_attribute("value") == (
        today - datetime.timedelta(days=6)).isoformat()
    # The style sheet is applied, so the policy lets its hash through.
    header = browser.find_element(By.TAG_NAME, "header")
    assert header.value_of_css_property("background-color") == "rgba(29, 35, 48, 1)"
    browser.find_element(By.ID, "app_id").send_keys(app)
    browser.find_element(By.ID, "email").send_keys("browser@example.com")
    shoot(browser, "exports-form")
    shoot(browser, "exports-form-phone", width=390, height=844)
    follow(browser, browser.find_element(By.CSS_SELECTOR, "form button"))

    assert "/exports/" in browser.current_url
    assert shown_status(browser) in ("queued", "running", "ready")
    WebDriverWait(browser, PATIENCE_SECONDS, poll_frequency=1).until(
        lambda driver: shown_status(driver) in ("ready", "failed"))
    assert shown_status(browser) == "ready", browser.find_element(By.TAG_NAME, "main").text
    assert browser.find_element(By.ID, "rows").text == str(len(stored))
    shoot(browser, "exports-ready")

    link = browser.find_element(By.ID, "download").get_attribute("href")
    with urllib.request.urlopen(link, timeout=60) as answer:
        rows = list(csv.DictReader(io.StringIO(answer.read().decode("utf-8"))))
    assert sorted(row["event_id"] for row in rows) == sorted(stored)
    assert {row["campaign"] for row in rows} == {"<b>winter</b>, \"sale\""}

    follow(browser, browser.find_element(By.LINK_TEXT, "Ask for another export"))
    assert browser.title == "Export ad events · Sluice"


def test_a_refused_form_comes_back_with_each_problem_and_markup_as_text(browser):
    browser.get(FORM)
    markup = "<script>alert(1)</script>"
    browser.find_element(By.ID, "app_id").send_keys(markup)
    browser.find_element(By.ID, "email").send_keys("browser@example.com")
    today = datetime.datetime.now(datetime.timezone.utc).date()
    # Fifteen days: a date input takes its value as the browser's own picker would set it.
    browser.execute_script(
        "document.getElementById('from').value = arguments[0]",
        (today - datetime.timedelta(days=14)).isoformat(),
    )
    follow(browser, browser.find_element(By.CSS_SELECTOR, "form button"))

    assert browser.current_url.rstrip("/").endswith("/exports")
    assert browser.find_elements(By.TAG_NAME, "script") == [], "a value became markup"
    assert no_alert(browser)
    assert browser.find_element(By.ID, "app_id").get_attribute("value") == markup
    assert browser.find_element(By.ID, "app_id-problem").text == "1 to 64 of A-Z a-z 0-9 . _ -"
    assert browser.find_element(By.ID, "to-problem").text.startswith("the period is at most 14 days")
    assert browser.find_element(By.ID, "email").get_attribute("value") == "browser@example.com"
    assert "Nothing was queued" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    shoot(browser, "exports-refused")
