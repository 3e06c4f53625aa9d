"""Take the README's screenshot of the demo (``docs/demo.png``) in headless Chromium.

Run ``.venv/bin/python -m demo.screenshot [--out docs/demo.png]``; it needs Debian's chromium
(``make chromium``) and teaches the "gift_card_balance" intent through the page, as a user would.
"""

from __future__ import annotations

import argparse
import socket

from intentmeta import IntentClassifier

from .app import build_app

CHROMIUM = "/usr/bin/chromium"  # Debian's package; playwright cannot download browsers here
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUESTION = "how much is left on my gift card?"
GIFT_CARD_EXAMPLES = (
    "what is the balance on my gift card\n"
    "how much money is left on my gift voucher\n"
    "check the remaining value of my gift card"
)


def _send(page, text: str, replies: int) -> None:
    """Send a chat message and wait until the page shows ``replies`` assistant replies."""
    box = page.locator("#chat-input").locator("textarea, input").first
    box.fill(text)
    box.press("Enter")
    # The handler returns the message and its reply together, so the n-th copy of the
    # message on the page means the reply is there too.
    page.locator("#chat").get_by_text(text, exact=True).nth(replies - 1).wait_for()
    page.wait_for_timeout(300)


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def take_screenshot(out: str, chromium: str = CHROMIUM) -> None:
    """Serve the demo on a free loopback port, chat, teach an intent, chat again, screenshot."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    app = build_app(IntentClassifier.from_builtin("ecommerce"))
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(60_000)
            page.goto(f"http://127.0.0.1:{port}/")
            _send(page, QUESTION, 1)
            page.get_by_role("tab", name="Add intent").click()
            page.locator("#add-name").locator("input, textarea").first.fill("gift_card_balance")
            page.locator("#add-examples").locator("textarea").first.fill(GIFT_CARD_EXAMPLES)
            page.locator("#add-button").click()
            page.locator("#add-status").get_by_text("added intent").wait_for()
            page.get_by_role("tab", name="Chat").click()
            _send(page, QUESTION, 2)
            page.screenshot(path=out)
            browser.close()
    finally:
        app.close()


def main() -> None:
    """Parse ``--out`` and ``--chromium`` and take the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/demo.png", help="PNG to write")
    parser.add_argument("--chromium", default=CHROMIUM, help="browser executable")
    args = parser.parse_args()
    take_screenshot(args.out, args.chromium)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
