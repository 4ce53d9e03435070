// The JSON API over fetch: same-origin cookies, CSRF header on POST, and the
// protocol's {"error": CODE} body turned into an ApiError.

export class ApiError extends Error {
  // body: the whole error body (a 409 carries the current state in it).
  constructor(status, code, detail, body = {}) {
    super(detail || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.body = body;
  }

  // True when the answer means "you are not signed in any more".
  get signedOut() {
    return this.status === 401 || (this.status === 403 && this.code === "invalid_token");
  }

  // The WebSocket close code that means the same, for the login page's reason.
  get closeCode() {
    return this.status === 401 ? 4001 : 4003;
  }
}

export function readCookie(name) {
  for (const part of document.cookie.split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) {
      return decodeURIComponent(part.slice(eq + 1).trim());
    }
  }
  return "";
}

async function failure(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // Not the API's error body (a proxy's page, a 405): the status says enough.
  }
  return new ApiError(response.status, body.error, body.detail, body);
}

export async function getJson(path) {
  const response = await fetch(path, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (!response.ok) throw await failure(response);
  return response.json();
}

async function csrfToken() {
  let token = readCookie("csrftoken");
  if (!token) {
    await fetch("/api/auth/csrf", { credentials: "same-origin" });
    token = readCookie("csrftoken");
  }
  return token;
}

// An unsafe request (POST, PATCH...) with a JSON body and the CSRF header.
export async function sendJson(method, path, body = {}) {
  const send = async () =>
    fetch(path, {
      method,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": await csrfToken(),
      },
      body: JSON.stringify(body),
    });
  let response = await send();
  if (response.status === 403) {
    // The csrftoken cookie may have been rotated or dropped: fetch a fresh
    // one and try once more.
    const problem = await failure(response.clone());
    if (problem.code === "csrf_failed") {
      await fetch("/api/auth/csrf", { credentials: "same-origin" });
      response = await send();
    }
  }
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

export function postJson(path, body = {}) {
  return sendJson("POST", path, body);
}

export function patchJson(path, body = {}) {
  return sendJson("PATCH", path, body);
}

// POST /api/auth/refresh: a new token cookie; resolves to the session body.
export function refreshSession() {
  return postJson("/api/auth/refresh");
}
