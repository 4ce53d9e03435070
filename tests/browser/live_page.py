"""What the live-signal tests look at on the chat page, and the scripts they add
to a page before its own run (``context.add_init_script``): a record of the
socket's frames, a tab that can be hidden on demand, a record of desktop
notifications and of chimes."""

from playwright.sync_api import Locator, Page

from tests.browser.chat_page import WAIT_MS

# Every frame the page's sockets receive (window.__frames) and send (window.__sent).
RECORD_FRAMES = """
(() => {
  const Native = window.WebSocket;
  window.__frames = [];
  window.__sent = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        try { window.__frames.push(JSON.parse(event.data)); } catch (error) {}
      });
    }
    send(data) {
      try { window.__sent.push(JSON.parse(data)); } catch (error) {}
      return super.send(data);
    }
  };
})();
"""

# A tab the test hides and shows: window.__setHidden(true) changes
# document.hidden and visibilityState and fires visibilitychange, as a
# browser does when its tab goes to the background.
HIDDEN_TAB = """
(() => {
  let hidden = false;
  Object.defineProperty(Document.prototype, "hidden", {
    configurable: true, get: () => hidden,
  });
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true, get: () => (hidden ? "hidden" : "visible"),
  });
  window.__setHidden = (value) => {
    hidden = value;
    document.dispatchEvent(new Event("visibilitychange"));
  };
})();
"""

# Each Notification the page makes (window.__notifications), each time it
# asks for the permission (window.__permissionRequests), and each tone it
# plays (window.__tones).
RECORD_ALERTS = """
(() => {
  window.__notifications = [];
  window.__permissionRequests = 0;
  window.__tones = 0;
  const Native = window.Notification;
  if (Native) {
    window.Notification = class extends Native {
      constructor(title, options = {}) {
        window.__notifications.push({ title, body: options.body, tag: options.tag });
        super(title, options);
      }
      static requestPermission(...args) {
        window.__permissionRequests += 1;
        return Native.requestPermission(...args);
      }
    };
  }
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) {
    window.__tones += 1;
    return start.apply(this, args);
  };
})();
"""


def typing_line(page: Page) -> Locator:
    """'X is typing…' under the open conversation's messages."""
    return page.locator("#typing")


def seen_labels(page: Page) -> Locator:
    """Every 'Seen' in the open conversation (there is one at most)."""
    return page.locator("#messages .msg__seen")


def team_member(page: Page, username: str) -> Locator:
    """A colleague in the team strip over an admin's inbox."""
    return page.locator(f"#team .team__member[data-user='{username}']")


def availability(page: Page) -> Locator:
    """The admin's own Available / Away control (labelled "Your status")."""
    return page.locator("#availability")


def frames_of(page: Page, kind: str, direction: str = "__frames") -> list[dict]:
    """Frames of type ``kind`` the page received (or, with ``__sent``, sent)."""
    return page.evaluate(
        "([list, kind]) => window[list].filter((f) => f.type === kind)",
        [direction, kind],
    )


def watch_typing_as(page: Page, text: str) -> None:
    """Note whether the typing line was hidden at the moment the message
    ``text`` was put in the list (window.__typingWhenShown): hidden by the
    message itself, and not by its timer some time later."""
    page.evaluate(
        """(text) => {
          window.__typingWhenShown = null;
          const list = document.getElementById("messages");
          const observer = new MutationObserver(() => {
            for (const item of list.querySelectorAll("li[data-id] .msg__text")) {
              if (item.textContent !== text) continue;
              const line = document.getElementById("typing");
              window.__typingWhenShown = line.hidden ? "hidden" : line.textContent;
              observer.disconnect();
              return;
            }
          });
          observer.observe(list, { childList: true });
        }""",
        text,
    )


def typing_when_shown(page: Page) -> str:
    """What :func:`watch_typing_as` saw: "hidden", or the line's words."""
    page.wait_for_function("() => window.__typingWhenShown !== null", timeout=WAIT_MS)
    return page.evaluate("window.__typingWhenShown")
