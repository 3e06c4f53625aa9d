"""The demo end to end in a real headless Chromium: teach an intent, then chat with it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from demo.screenshot import CHROMIUM, CHROMIUM_ARGS, GIFT_CARD_EXAMPLES

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TIMEOUT_MS = 60_000  # the machine may be busy; these are limits, not expectations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason="Debian chromium missing: run `make chromium`"
    ),
]


@pytest.fixture(scope="module")
def demo(running_demo):
    return running_demo


@pytest.fixture(scope="module")
def page(demo):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(demo[1])
        yield page
        browser.close()


def text_box(page, elem_id: str):
    return page.locator(f"#{elem_id}").locator("textarea, input").first


def test_intent_taught_in_the_page_names_the_next_chat_reply(page):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Add intent").click()
    text_box(page, "add-name").fill("gift_card_balance")
    text_box(page, "add-examples").fill(GIFT_CARD_EXAMPLES)
    page.locator("#add-button").click()
    expect(page.locator("#add-status")).to_contain_text("added intent 'gift_card_balance'")

    page.get_by_role("tab", name="Chat").click()
    text_box(page, "chat-input").fill("how much is left on my gift card?")
    text_box(page, "chat-input").press("Enter")
    reply = page.locator("#chat").get_by_text("gift_card_balance")
    expect(reply.first).to_be_visible()
    expect(page.locator("#top")).to_contain_text("gift_card_balance")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo_browser.png"), full_page=True)


def test_the_reserved_intent_name_is_refused_in_the_page_with_a_message(page):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Add intent").click()
    text_box(page, "add-name").fill("OOS")
    text_box(page, "add-examples").fill("one\ntwo\nthree")
    page.locator("#add-button").click()
    expect(page.locator("#add-status")).to_contain_text("reserved for out-of-scope")


def test_wrong_prediction_corrected_in_the_page_teaches_a_new_intent(page):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Chat").click()
    text_box(page, "chat-input").fill("can I pay with bitcoin")
    text_box(page, "chat-input").press("Enter")
    expect(page.locator("#chat").get_by_text("can I pay with bitcoin").first).to_be_visible()
    page.get_by_text("Wrong? Correct the last prediction").click()
    text_box(page, "correct-to").fill("crypto_payment")
    text_box(page, "correct-to").press("Enter")
    page.locator("#correct-button").click()
    expect(page.locator("#correct-status")).to_contain_text(
        "message is now classified as crypto_payment"
    )


def test_intent_added_elsewhere_appears_when_the_manage_tab_opens(demo, page):
    from playwright.sync_api import expect

    demo[0].service.add_intent("loyalty_points", ["how many loyalty points do I have"])
    page.get_by_role("tab", name="Manage intents").click()
    expect(page.locator("#intent-table")).to_contain_text("loyalty_points")
