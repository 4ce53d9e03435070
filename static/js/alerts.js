// Being told while looking elsewhere. The tab's title counts what waits:
// for the team, the conversations that need a reply ("(3) Inbox"); for a
// customer, the replies that came while the tab was hidden ("(1) Chat with
// support"), cleared when they look. The team may also opt in, per
// browser, to a sound and a desktop notification for a customer's message
// while the tab is hidden; the browser's permission is asked for only when
// they tick the box.

import { gettext, interpolate } from "./i18n.js";
import { el } from "./render.js";

const SOUND_KEY = "support.alerts.sound";
const NOTIFY_KEY = "support.alerts.notify";
// A burst of messages makes one chime, not a chord.
const CHIME_GAP_MS = 2000;
const NOTIFICATION_CHARS = 140;

// The tab's title: the page's own, with a count before it when there is one.
export class TitleCount {
  constructor() {
    this.base = document.title;
  }

  set(count) {
    document.title = count > 0
      ? interpolate(gettext("(%(count)s) %(title)s"), { count, title: this.base })
      : this.base;
  }
}

// A customer's count: replies that came while the tab was hidden.
export function replyCounter() {
  const title = new TitleCount();
  let count = 0;
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && count) title.set((count = 0));
  });
  return {
    reply() {
      if (document.hidden) title.set((count += 1));
    },
  };
}

function stored(key) {
  try {
    return globalThis.localStorage?.getItem(key) === "1";
  } catch {
    return false; // storage refused (a privacy setting): nothing is remembered
  }
}

function store(key, on) {
  try {
    if (on) globalThis.localStorage?.setItem(key, "1");
    else globalThis.localStorage?.removeItem(key);
  } catch {
    // Not remembered; the choice still holds for this page.
  }
}

function checkbox(id, text) {
  const label = el("label", "alerts__option");
  const box = el("input");
  box.type = "checkbox";
  box.id = id;
  label.append(box, document.createTextNode(` ${text}`));
  return { label, box };
}

// The team's opt-ins, in a small menu of the team strip.
export class TeamAlerts {
  // root: the team strip, where the menu goes; open(user) shows a conversation.
  constructor(root, { open }) {
    this.open = open;
    this.audio = null;
    this.lastChime = 0;
    const menu = el("details", "alerts");
    menu.id = "alerts";
    const summary = el("summary", "alerts__summary", gettext("Alerts"));
    const panel = el("div", "alerts__panel");
    const sound = checkbox("alert-sound", gettext("Play a sound for new messages"));
    const notify = checkbox("alert-notify", gettext("Show desktop notifications"));
    this.notice = el("p", "alerts__notice");
    this.notice.setAttribute("role", "status");
    panel.append(sound.label, notify.label, this.notice);
    menu.append(summary, panel);
    root.append(menu);
    this.sound = sound.box;
    this.notify = notify.box;
    this.sound.checked = stored(SOUND_KEY);
    this.notify.checked = stored(NOTIFY_KEY) && globalThis.Notification?.permission === "granted";
    this.sound.addEventListener("change", () => this.#soundChanged());
    this.notify.addEventListener("change", () => this.#notifyChanged());
    // An AudioContext may start only after a gesture on the page: the
    // first one after a reload, should the sound be on from before.
    const wake = () => {
      if (this.sound.checked) this.#audioContext();
    };
    document.addEventListener("pointerdown", wake, { once: true });
    document.addEventListener("keydown", wake, { once: true });
  }

  // A customer's live message: a chime and a notification if the tab is hidden.
  customerMessage(message) {
    if (!document.hidden) return;
    if (this.sound.checked) this.#chime();
    if (this.notify.checked && globalThis.Notification?.permission === "granted") {
      this.#notification(message);
    }
  }

  #soundChanged() {
    store(SOUND_KEY, this.sound.checked);
    // The tick is the gesture that lets the page make sounds at all.
    if (this.sound.checked) this.#play();
  }

  async #notifyChanged() {
    this.notice.textContent = "";
    if (!this.notify.checked) {
      store(NOTIFY_KEY, false);
      return;
    }
    const Notification = globalThis.Notification;
    let permission = Notification?.permission ?? "denied";
    if (permission === "default") permission = await Notification.requestPermission();
    const granted = permission === "granted";
    this.notify.checked = granted;
    store(NOTIFY_KEY, granted);
    // Refused, or the question dismissed: either way the browser decides.
    if (!granted) {
      this.notice.textContent = Notification
        ? gettext("Notifications stay off until this browser allows them for this site.")
        : gettext("This browser cannot show notifications.");
    }
  }

  #audioContext() {
    const AudioContext = globalThis.AudioContext ?? globalThis.webkitAudioContext;
    if (!AudioContext) return null;
    this.audio ??= new AudioContext();
    if (this.audio.state === "suspended") this.audio.resume().catch(() => {});
    return this.audio;
  }

  #chime() {
    const now = Date.now();
    if (now - this.lastChime < CHIME_GAP_MS) return;
    this.lastChime = now;
    this.#play();
  }

  // Two short sine notes, made here: no sound file to fetch or to license.
  #play() {
    const audio = this.#audioContext();
    if (!audio) return;
    const start = audio.currentTime + 0.01;
    [880, 1318.5].forEach((frequency, i) => {
      const at = start + i * 0.13;
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.18, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.35);
      tone.connect(gain).connect(audio.destination);
      tone.start(at);
      tone.stop(at + 0.4);
    });
  }

  #notification(message) {
    let body = message.text.replace(/\s+/g, " ").trim();
    if (body.length > NOTIFICATION_CHARS) body = body.slice(0, NOTIFICATION_CHARS) + "…";
    const notification = new globalThis.Notification(
      interpolate(gettext("New message from %(name)s"), { name: message.name }),
      {
        body,
        // One per conversation: a newer message replaces the older one.
        tag: `support-${message.thread}`,
        icon: document.querySelector("link[rel=icon]")?.href,
      },
    );
    notification.addEventListener("click", () => {
      globalThis.focus();
      this.open(message.thread);
      notification.close();
    });
  }
}

// How many conversations need a reply, among those the page knows.
export function needingReply(conversations) {
  let count = 0;
  for (const conv of conversations.values()) {
    if (!conv.partial && conv.status === "open" && conv.needs_reply) count += 1;
  }
  return count;
}
