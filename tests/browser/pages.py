"""What the browser suites share: the local stack's endpoints, screenshots, and waiting for
the next page after a click."""

from __future__ import annotations

import pathlib

from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "target" / "test-output" / "browser"


def endpoints() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".local" / "endpoints.env").read_text().splitlines():
        name, _, value = line.partition("=")
        if name and not name.startswith("#"):
            values[name.strip()] = value.strip()
    return values


ENDPOINTS = endpoints()


def shoot(driver, name: str, width: int = 1280, height: int = 900) -> None:
    driver.set_window_size(width, height)
    full = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]["height"]
    driver.set_window_size(width, max(height, min(int(full) + 40, 4000)))
    driver.save_screenshot(str(OUTPUT / f"{name}.png"))


def follow(driver, element) -> None:
    """Clicks a link or a form's button and waits until the next page has replaced this one."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 60).until(expected_conditions.staleness_of(page))


def no_alert(driver) -> bool:
    try:
        driver.switch_to.alert
    except NoAlertPresentException:
        return True
    return False
