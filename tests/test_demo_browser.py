"""The demo end to end in a real headless Chromium, one shared server, tests in page order.

Each test is what a support lead does: teach, correct, delete and undo, edit one example, import
and export, review the out-of-scope queue, run a labelled test set, and open a planted attack.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from demo.screenshot import CHROMIUM, CHROMIUM_ARGS, GIFT_CARD_EXAMPLES

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TIMEOUT_MS = 60_000  # the machine may be busy; these are limits, not expectations
PLANTED_URLS = ("evil.invalid", "pixel.invalid")  # nothing may ever be fetched from these
PAYLOADS = (
    '<a href="http://evil.invalid/" style="position:fixed;top:0;left:0;width:100%;'
    'height:100%;z-index:9999" id="planted-link">x</a>',
    "![b](http://pixel.invalid/t.png) <img src=http://pixel.invalid/i.png id=planted-img> **bold**",
)

PLANTED_NAME = "<img src=http://pixel.invalid/n.png id=planted-name>"  # names may hold any text

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
def requests_made():
    return []


@pytest.fixture(scope="module")
def page(demo, requests_made):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        page = context.new_page()
        page.on("request", lambda request: requests_made.append(request.url))
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(demo[1])
        yield page
        browser.close()


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=TIMEOUT_MS)
    return playwright_expect(locator)


def box(page, elem_id: str):
    """The text input inside a Gradio component."""
    return page.locator(f"#{elem_id}").locator("textarea, input").first


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def choose(page, elem_id: str, option: str) -> None:
    """Pick ``option`` in a Gradio dropdown."""
    box(page, elem_id).click()
    page.get_by_role("option", name=option, exact=True).click()


def chat(page, text: str) -> None:
    tab(page, "Chat")
    box(page, "chat-input").fill(text)
    page.locator("#send").click()


def last_reply(page):
    return page.locator("#chat .message-row, #chat [data-testid='bot']").last


def undo(page, expected: str) -> None:
    page.locator("#undo-button").click()
    expect(page.locator("#undo-status")).to_contain_text(expected)


# --------------------------------------------------------------------------- chat
def test_warnings_come_before_saving_and_cancel_changes_nothing(demo, page):
    tab(page, "Add intent")
    box(page, "add-name").fill("coupon_help")
    box(page, "add-examples").fill("how do i use a discount code")  # apply_coupon's own example
    page.locator("#add-button").click()
    expect(page.locator("#add-confirm").first).to_contain_text("already looks like 'apply_coupon'")
    assert "coupon_help" not in demo[0].service.classifier  # a preview saves nothing
    page.locator("#add-no").click()
    expect(page.locator("#add-confirm").first).to_be_hidden()
    assert "coupon_help" not in demo[0].service.classifier


def test_intent_taught_in_the_page_names_the_next_chat_reply(page):
    tab(page, "Add intent")
    box(page, "add-name").fill("gift_card_balance")
    box(page, "add-examples").fill(GIFT_CARD_EXAMPLES)
    page.locator("#add-button").click()
    added = page.locator("#add-status").get_by_text("added intent 'gift_card_balance'")
    save_anyway = page.locator("#add-yes")  # "gift voucher" may read like a coupon
    expect(added.or_(save_anyway).first).to_be_visible()
    if save_anyway.is_visible():
        save_anyway.click()
    expect(added).to_be_visible()

    chat(page, "how much is left on my gift card?")
    expect(page.locator("#chat").get_by_text("gift_card_balance").first).to_be_visible()
    expect(page.locator("#top")).to_contain_text("gift_card_balance")
    expect(page.locator("#nearest")).to_contain_text("gift_card_balance")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo_browser.png"), full_page=True)


def test_the_reserved_intent_name_is_refused_in_the_page_with_a_message(page):
    tab(page, "Add intent")
    box(page, "add-name").fill("OOS")
    box(page, "add-examples").fill("one\ntwo\nthree")
    page.locator("#add-button").click()
    expect(page.locator("#add-status")).to_contain_text("reserved for out-of-scope")


def test_empty_and_overlong_messages_get_a_visible_message(page):
    chat(page, "   ")
    expect(page.locator("#chat-status")).to_contain_text("Type a message first")
    chat(page, "where is my parcel " * 300)  # 5,700 characters
    expect(page.locator("#chat-status")).to_contain_text("5,700 characters long")
    expect(page.locator("#chat-status")).to_contain_text("up to 2,000")


def test_correction_with_no_intent_chosen_is_refused_with_a_message(demo, page):
    before = demo[0].service.classifier.examples("track_order")
    chat(page, "do you ship to Canada?")
    expect(page.locator("#chat").get_by_text("do you ship to Canada?").first).to_be_visible()
    page.get_by_text("Wrong? Correct the last prediction").click()
    expect(box(page, "correct-to")).to_have_value("")
    page.locator("#correct-button").click()
    expect(page.locator("#correct-status")).to_contain_text("pick the right intent")
    assert demo[0].service.classifier.examples("track_order") == before


def test_wrong_prediction_corrected_in_the_page_teaches_a_new_intent(page):
    chat(page, "can I pay with bitcoin")
    expect(page.locator("#chat").get_by_text("can I pay with bitcoin").first).to_be_visible()
    box(page, "correct-to").fill("crypto_payment")
    box(page, "correct-to").press("Enter")
    page.locator("#correct-button").click()
    status = page.locator("#correct-status")
    expect(status).to_contain_text("message is now classified as crypto_payment")
    expect(status).not_to_contain_text("Warning")  # the mistake it fixes is no warning


# --------------------------------------------------------------------------- destructive actions
def test_delete_needs_confirming_names_what_is_lost_and_can_be_undone(demo, page):
    service = demo[0].service
    count = len(service.classifier.examples("track_order"))
    tab(page, "Manage intents")
    expect(box(page, "manage-pick")).to_have_value("")  # nothing preselected
    page.locator("#delete-button").click()
    expect(page.locator("#manage-status")).to_contain_text("pick an intent")
    choose(page, "manage-pick", "track_order")
    page.locator("#delete-button").click()
    expect(page.locator("#delete-confirm").first).to_contain_text(
        f"Delete intent 'track_order' and its {count} examples?"
    )
    assert "track_order" in service.classifier  # asking deleted nothing
    page.locator("#delete-yes").click()
    expect(page.locator("#manage-status")).to_contain_text("deleted intent 'track_order'")
    assert "track_order" not in service.classifier
    undo(page, "track_order")
    assert len(service.classifier.examples("track_order")) == count
    chat(page, "where is my parcel")
    expect(page.locator("#top")).to_contain_text("track_order")


def test_restore_asks_and_can_be_undone(demo, page):
    service = demo[0].service
    service.add_intent("loyalty_points", ["how many loyalty points do I have"], confirm=True)
    tab(page, "Settings")
    page.locator("#restore-button").click()
    expect(page.locator("#restore-confirm").first).to_contain_text("'loyalty_points'")
    assert "loyalty_points" in service.classifier  # asking changed nothing
    page.locator("#restore-yes").click()
    expect(page.locator("#settings-status")).to_contain_text("restored the 20 built-in")
    assert "loyalty_points" not in service.classifier
    undo(page, "restored the built-in intents")
    assert "loyalty_points" in service.classifier


def test_settings_survive_a_reload(demo, page):
    tab(page, "Settings")
    page.locator("#settings-head").get_by_label("matching").check()
    page.locator("#settings-apply").click()
    expect(page.locator("#settings-status")).to_contain_text("matching head")
    page.reload()
    tab(page, "Settings")
    expect(page.locator("#settings-head").get_by_label("matching")).to_be_checked()
    expect(page.locator("#settings-explain")).to_contain_text("auto")
    page.locator("#settings-head").get_by_label("prototypical").check()
    page.locator("#settings-apply").click()
    expect(page.locator("#settings-status")).to_contain_text("prototypical head")
    assert demo[0].service.classifier.config.head == "prototypical"


def test_the_share_of_out_of_scope_traffic_is_set_from_the_settings(demo, page):
    tab(page, "Settings")
    expect(page.locator("#settings-explain")).to_contain_text("about 40% out of scope")
    page.locator("#settings-share input[type=number]").fill("0.6")
    page.locator("#settings-share input[type=number]").press("Enter")
    page.locator("#settings-apply").click()
    expect(page.locator("#settings-status")).to_contain_text("about 60% out of scope")
    assert demo[0].service.classifier.oos.expected_share == pytest.approx(0.6)
    page.reload()
    tab(page, "Settings")
    expect(page.locator("#settings-explain")).to_contain_text("about 60% out of scope")
    undo(page, "settings")
    assert demo[0].service.classifier.oos.expected_share == pytest.approx(0.4)


# --------------------------------------------------------------------------- example-level control
def test_editing_a_single_example_changes_the_next_prediction(demo, page):
    service = demo[0].service
    service.add_intent("store_hours", ["when does your shop open", "opening hours of the shop"])
    tab(page, "Examples")
    box(page, "example-search").fill("opening hours of the shop")
    table = page.locator("#example-table")
    expect(table).to_contain_text("store_hours")
    table.get_by_text("opening hours of the shop").filter(visible=True).first.click()
    expect(box(page, "example-text")).to_have_value("opening hours of the shop")
    box(page, "example-text").fill("is there a loyalty card with bonus points")
    page.locator("#example-save").click()
    expect(page.locator("#example-status")).to_contain_text("changed")
    assert "is there a loyalty card with bonus points" in service.classifier.examples("store_hours")
    chat(page, "do you have a loyalty card with points?")
    expect(page.locator("#top")).to_contain_text("store_hours")


def test_csv_import_and_export_round_trip(demo, page, tmp_path):
    upload = tmp_path / "intents.csv"
    with upload.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["intent", "example"])
        for text in ("do you deliver on sundays", "sunday delivery please", "weekend delivery"):
            writer.writerow(["sunday_delivery", text])
    tab(page, "Examples")
    page.locator("#import-file input[type=file]").set_input_files(str(upload))
    page.locator("#import-button").click()
    expect(page.locator("#import-status")).to_contain_text("imported 3 example(s)")
    assert demo[0].service.classifier.examples("sunday_delivery")[-1] == "weekend delivery"

    page.locator("#export-button").click()
    link = page.locator("#export-file a").filter(visible=True).first
    with page.expect_download() as download:
        link.click()
    with open(download.value.path(), encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    exported = {(row["intent"], row["example"]) for row in rows}
    assert ("sunday_delivery", "weekend delivery") in exported
    assert len(rows) == sum(
        len(demo[0].service.classifier.examples(n)) for n in demo[0].service.classifier.intents
    )


# --------------------------------------------------------------------------- review and test run
REVIEW_MESSAGES = (  # each out of scope for the built-in intents
    "do you offer gift wrapping",
    "can my order come gift wrapped",
    "is gift wrapping available for presents",
    "please wrap it as a gift",
)


def test_review_queue_groups_out_of_scope_messages_into_a_new_intent(demo, page):
    for text in REVIEW_MESSAGES:
        chat(page, text)
        expect(page.locator("#chat").get_by_text(text, exact=True).first).to_be_visible()
    tab(page, "Review")
    page.locator("#review-refresh").click()
    group = page.locator(".review-group").filter(has_text=REVIEW_MESSAGES[0], visible=True).first
    for text in REVIEW_MESSAGES[1:]:
        expect(group).to_contain_text(text)
    group.locator("input, textarea").first.fill("gift_wrap")
    group.get_by_role("button", name="New intent from these").click()
    expect(page.locator("#review-status")).to_contain_text("added intent 'gift_wrap'")
    ARTIFACTS.mkdir(exist_ok=True)
    chat(page, "could you wrap my present in gift paper?")
    expect(page.locator("#top")).to_contain_text("gift_wrap")


def test_test_run_upload_shows_the_confusion_matrix(page, tmp_path):
    labelled = tmp_path / "labelled.csv"
    rows = [
        ("where has my package got to", "track_order"),
        ("I want to cancel the order I just placed", "cancel_order"),
        ("my refund has not arrived yet", "refund_status"),
        ("the item came broken", "damaged_item"),
        ("hello!", "greeting"),
        ("thanks a lot", "thanks"),
    ]
    with labelled.open("w", newline="") as file:
        csv.writer(file).writerows([("text", "intent"), *rows])
    tab(page, "Test")
    page.locator("#test-file input[type=file]").set_input_files(str(labelled))
    page.locator("#test-button").click()
    expect(page.locator("#test-summary")).to_contain_text("accuracy")
    expect(page.locator("#test-matrix img")).to_be_visible()
    expect(page.locator("#test-table")).to_contain_text("track_order")


# --------------------------------------------------------------------------- planted HTML
def test_planted_html_renders_as_text_and_fetches_nothing(demo, page, requests_made):
    service = demo[0].service
    service.add_intent("planted", [*PAYLOADS, "planted example three"], confirm=True)
    service.add_intent(PLANTED_NAME, ["planted name example"], confirm=True)
    for payload in PAYLOADS:
        chat(page, payload)
    expect(page.locator("#chat").get_by_text("evil.invalid").first).to_be_visible()
    tab(page, "Manage intents")
    choose(page, "manage-pick", "planted")
    expect(page.locator("#manage-examples")).to_contain_text("evil.invalid")
    choose(page, "manage-pick", PLANTED_NAME)
    expect(page.locator("#manage-examples")).to_contain_text("planted name example")
    chat(page, "planted name example")
    expect(page.locator("#top")).to_contain_text(PLANTED_NAME)
    tab(page, "Examples")
    box(page, "example-search").fill("planted")
    expect(page.locator("#example-table")).to_contain_text("evil.invalid")
    tab(page, "Review")
    page.locator("#review-refresh").click()
    page.wait_for_timeout(500)
    for selector in (
        "#planted-link",
        "#planted-img",
        "#planted-name",
        "a[href*='evil']",
        "img[src*='pixel']",
    ):
        assert page.locator(selector).count() == 0, selector
    tab(page, "Chat")  # every tab still clickable: nothing covers the page
    expect(page.locator("#chat-input")).to_be_visible()
    assert not [url for url in requests_made if any(bad in url for bad in PLANTED_URLS)]
