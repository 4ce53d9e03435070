// The chat socket, kept alive: reconnects with exponential back-off and
// jitter, resumes from the last message seen, refreshes the session before
// the token expires and moves to a new socket without a gap, re-sends the
// messages whose fate a drop left unknown, and gives up only when the server
// says the person is signed out (docs/api.md, section 3). A socket that stops
// answering pings, or the browser going offline, counts as a drop at once
// (liveness.js), rather than whenever TCP gives up.

import { refreshSession } from "./api.js";
import { backoffDelay, browserOffline, openSocket } from "./liveness.js";

export { backoffDelay };

// Close codes after which the same cookie will never work again.
export const SIGNED_OUT_CODES = new Set([4001, 4002, 4003, 4005]);
export const CLOSE_SESSION_EXPIRED = 4004;
// The server allows 2 resumes a second per person (bursts of 5).
const RESUME_RETRY_MS = 700;
// session.expiring comes at once on a socket opened less than 60 s before
// its token expires: never refresh more often than this.
const MIN_REFRESH_INTERVAL_MS = 10000;
const REFRESH_RETRY_MS = 3000;

export class Connection {
  // hooks: lastId() -> highest message id seen; frame(f, {replayed}) for
  // message, conversation and error frames; signal(f) for typing, seen and
  // presence frames; state(name): connecting, connected, reconnecting,
  // offline or signed-out; ready() once a socket has caught up; signedOut(code).
  constructor(url, hooks) {
    this.url = url;
    this.hooks = hooks;
    this.current = null; // the socket in use
    this.next = null; // a socket opened with a refreshed cookie, catching up
    this.attempt = 0;
    this.timer = null;
    this.refreshTimer = null;
    this.refreshing = false;
    this.lastRefreshAt = 0;
    this.expiresAt = 0;
    this.stopped = false;
    this.started = false;
    this.state = "connecting";
    // client_id -> {frame, sentOn}: sends not yet acknowledged by their echo.
    this.outbox = new Map();
    globalThis.addEventListener("online", () => this.#online());
    globalThis.addEventListener("offline", () => this.#offline());
  }

  start() {
    this.started = true;
    this.current = this.#open();
  }

  // Post a send frame (it has a client_id); re-sent after a drop until its
  // echo or an error about it arrives.
  post(frame) {
    const entry = { frame, sentOn: null };
    this.outbox.set(frame.client_id, entry);
    this.#transmit(entry);
  }

  forget(clientId) {
    this.outbox.delete(clientId);
  }

  // Best effort (read marks): dropped when no socket is ready.
  send(frame) {
    const handle = this.current;
    if (!handle || !handle.live) return false;
    handle.ws.send(JSON.stringify(frame));
    return true;
  }

  #transmit(entry) {
    if (this.send(entry.frame)) entry.sentOn = this.current;
  }

  #setState(state) {
    // Without a network, waiting for one is all a reconnection can do.
    if (state !== "connected" && state !== "signed-out" && browserOffline()) state = "offline";
    if (this.state === state || this.state === "signed-out") return;
    this.state = state;
    this.hooks.state(state);
  }

  #open() {
    return openSocket(this.url, {
      message: (handle, event) => this.#onMessage(handle, event),
      closed: (handle, event) => this.#onClose(handle, event),
      dead: (handle) => this.#abandon(handle),
    });
  }

  // A socket that stopped answering: handled as closed now, and closed. Its
  // close event, which may come minutes later, changes nothing then.
  #abandon(handle) {
    if (handle.dead || handle.retired || handle.abandoned) return;
    handle.heartbeat.stop();
    handle.abandoned = true;
    this.#onClose(handle, { code: 1006 });
    handle.ws.close(1000);
  }

  #offline() {
    for (const handle of [this.next, this.current]) if (handle) this.#abandon(handle);
    this.#setState("offline");
  }

  // Back online: straight away, whatever the back-off had in mind; a socket
  // that seems open is asked whether it still works.
  #online() {
    if (this.stopped || !this.started) return;
    this.attempt = 0;
    if (!this.current?.live) this.#setState("reconnecting");
    if (this.current) this.current.heartbeat.probe();
    else this.#reconnectNow();
  }

  #onMessage(handle, event) {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    switch (frame.type) {
      case "hello":
        this.expiresAt = Date.parse(frame.expires_at) || 0;
        this.#resume(handle, this.hooks.lastId());
        break;
      case "resumed":
        if (frame.has_more) this.#resume(handle, frame.last_id);
        else this.#caughtUp(handle);
        break;
      case "closing":
        handle.closingCode = frame.code;
        break;
      case "session.expiring":
        this.#scheduleRefresh();
        break;
      case "messages":
        // Several messages in one frame: the socket asked for coalescing.
        for (const message of frame.messages) this.#delivered(handle, message);
        break;
      case "error":
        if (!handle.live && frame.code === "rate_limited" && !frame.client_id) {
          // Resumes are limited per person: many tabs reconnecting at once
          // may be told to wait. Ask again shortly; the socket is not live
          // until it has caught up.
          const wait = RESUME_RETRY_MS * (1 + Math.random());
          setTimeout(() => this.#resume(handle, handle.resumeAfter), wait);
          break;
        }
        this.#delivered(handle, frame);
        break;
      case "message":
        this.#delivered(handle, frame);
        break;
      case "conversation":
        // A thread's desk state changed (admins): not replayed on resume,
        // so ready() is where a page catches up on what it missed.
        this.hooks.frame(frame, { replayed: false });
        break;
      case "typing":
      case "seen":
      case "presence":
        this.hooks.signal(frame);
        break;
      default:
        break;
    }
  }

  #delivered(handle, frame) {
    if (frame.client_id) this.outbox.delete(frame.client_id);
    // Until a socket has caught up, its messages are the replay.
    this.hooks.frame(frame, { replayed: !handle.live });
  }

  #resume(handle, after) {
    if (handle.dead || handle.retired) return;
    handle.resumeAfter = after;
    handle.ws.send(JSON.stringify({ type: "resume", after }));
  }

  #caughtUp(handle) {
    if (handle === this.next) {
      // The refreshed socket has everything: retire the old one. Sends in
      // flight on it still reach the server before its close, and their
      // echoes arrive here, so they are not sent again.
      const old = this.current;
      this.current = handle;
      this.next = null;
      if (old) {
        old.retired = true;
        old.ws.close(1000);
      }
    }
    if (handle !== this.current) return;
    handle.live = true;
    this.attempt = 0;
    this.#setState("connected");
    for (const entry of this.outbox.values()) {
      if (!entry.sentOn || entry.sentOn.dead) this.#transmit(entry);
    }
    this.hooks.ready();
  }

  #onClose(handle, event) {
    handle.live = false;
    if (handle.retired || this.stopped) return;
    handle.dead = true;
    const code = handle.closingCode ?? event.code;
    if (handle === this.next) {
      // The replacement failed. The current socket carries on and gets the
      // server's own verdict (a revocation closes it too); if it expires,
      // the page refreshes or signs in again then.
      this.next = null;
      return;
    }
    if (SIGNED_OUT_CODES.has(code)) {
      this.#signOut(code);
      return;
    }
    if (handle !== this.current) return;
    if (this.next) {
      this.current = this.next;
      this.next = null;
      return;
    }
    this.current = null;
    if (code === CLOSE_SESSION_EXPIRED) {
      this.#afterExpiry();
      return;
    }
    this.#setState("reconnecting");
    this.#scheduleReconnect();
  }

  async #afterExpiry() {
    this.#setState("reconnecting");
    try {
      await refreshSession();
    } catch (error) {
      if (error.status) {
        this.#signOut(CLOSE_SESSION_EXPIRED);
        return;
      }
      this.#scheduleReconnect(); // the network, not the session: try again
      return;
    }
    this.lastRefreshAt = Date.now();
    this.#reconnectNow();
  }

  #scheduleReconnect() {
    clearTimeout(this.timer);
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.timer = setTimeout(() => this.#reconnectNow(), delay);
  }

  #reconnectNow() {
    if (this.stopped || this.current) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.current = this.#open();
  }

  #scheduleRefresh(delay = null) {
    if (this.refreshing || this.stopped) return;
    this.refreshing = true;
    const wait = delay ?? Math.max(0, this.lastRefreshAt + MIN_REFRESH_INTERVAL_MS - Date.now());
    // At once when possible: a background tab's timers may be held back
    // for a minute, longer than the warning comes before expiry.
    if (wait === 0) this.#refresh();
    else this.refreshTimer = setTimeout(() => this.#refresh(), wait);
  }

  async #refresh() {
    this.refreshTimer = null;
    try {
      await refreshSession();
    } catch (error) {
      this.refreshing = false;
      // Refused (signed out elsewhere, expired): the server closes the
      // socket and says why. A network failure: try again before expiry.
      if (!error.status && Date.now() < this.expiresAt) {
        this.#scheduleRefresh(REFRESH_RETRY_MS);
      }
      return;
    }
    this.refreshing = false;
    this.lastRefreshAt = Date.now();
    if (this.current && !this.next && !this.stopped) this.next = this.#open();
  }

  #signOut(code) {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.refreshTimer);
    for (const handle of [this.current, this.next]) {
      if (handle) {
        handle.retired = true;
        handle.ws.close(1000);
      }
    }
    this.#setState("signed-out");
    this.hooks.signedOut(code);
  }

  // For pages that learn of a sign-out over HTTP (a 401 from the history API).
  signOut(code) {
    this.#signOut(code);
  }
}
