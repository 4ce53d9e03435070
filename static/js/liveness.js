// Whether a socket is still alive. A link that died quietly (a laptop's
// Wi-Fi gone, a proxy that forgot the connection) may look open for minutes:
// the browser only notices when TCP gives up. So each socket pings every
// PING_EVERY_MS and counts as dead when nothing at all comes back within
// PONG_WAIT_MS; a socket that never says hello counts as dead too. The
// pings also keep the server from closing the socket as idle (it does so
// after 300 s without a frame from the client).

export const PING_EVERY_MS = 20000;
export const PONG_WAIT_MS = 5000;
// A handshake takes a database read or two: generous, for a loaded server.
export const HELLO_WAIT_MS = 15000;

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30000;

// Half fixed, half random ("equal jitter"): grows 0.5 s, 1 s, 2 s... up to
// 30 s, and clients dropped together do not come back together.
export function backoffDelay(attempt) {
  const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return cap / 2 + Math.random() * (cap / 2);
}

// A socket as the Connection keeps it, watched by a Heartbeat. hooks:
// message(handle, event); closed(handle, event); dead(handle) when the
// heartbeat gives up on it, after which its close event is not passed on.
export function openSocket(url, hooks) {
  const handle = {
    ws: new WebSocket(url),
    live: false, // hello received and caught up: sends may go out
    closingCode: null,
    dead: false,
    retired: false,
    abandoned: false, // judged dead before the browser said it closed
  };
  handle.heartbeat = new Heartbeat({
    ping: () => {
      if (handle.ws.readyState !== WebSocket.OPEN) return false;
      handle.ws.send(JSON.stringify({ type: "ping" }));
      return true;
    },
    dead: () => hooks.dead(handle),
  });
  handle.ws.addEventListener("message", (event) => {
    handle.heartbeat.heard();
    hooks.message(handle, event);
  });
  handle.ws.addEventListener("close", (event) => {
    handle.heartbeat.stop();
    if (!handle.abandoned) hooks.closed(handle, event);
  });
  return handle;
}

export class Heartbeat {
  // ping() sends a ping frame (false when it could not go); dead() is
  // called once, when the link is judged dead.
  constructor({ ping, dead }) {
    this.ping = ping;
    this.dead = dead;
    this.stopped = false;
    this.interval = null;
    this.deadline = setTimeout(() => this.#die(), HELLO_WAIT_MS);
  }

  // A frame came in: the link works. The first one starts the pings.
  heard() {
    if (this.stopped) return;
    clearTimeout(this.deadline);
    this.deadline = null;
    this.interval ??= setInterval(() => this.probe(), PING_EVERY_MS);
  }

  // Ping now, and expect an answer within PONG_WAIT_MS.
  probe() {
    if (this.stopped || this.deadline !== null) return;
    if (!this.ping()) return;
    this.deadline = setTimeout(() => this.#die(), PONG_WAIT_MS);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.deadline);
    clearInterval(this.interval);
  }

  #die() {
    if (this.stopped) return;
    this.stop();
    this.dead();
  }
}

// The browser's own idea of the network: false only when it knows it is off.
export function browserOffline() {
  return globalThis.navigator?.onLine === false;
}
