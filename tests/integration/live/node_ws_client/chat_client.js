// One chat round trip with Node's ws client: connect with the token cookie,
// wait for hello, send a message, read its echo, close. Reads its settings
// as JSON on stdin ({url, origin, cookie, text, clientId}) and prints what it
// saw as JSON on stdout; any failure or timeout exits non-zero.
"use strict";

const WebSocket = require("ws");

const TIMEOUT_MS = 10000;

function main(settings) {
  const seen = { frames: [], closeCode: null, closeReason: null };
  const ws = new WebSocket(settings.url, {
    origin: settings.origin,
    headers: { Cookie: settings.cookie },
    perMessageDeflate: false,
  });
  const timer = setTimeout(() => fail("timed out", seen), TIMEOUT_MS);

  ws.on("message", (data, isBinary) => {
    if (isBinary) return fail("a binary frame", seen);
    const frame = JSON.parse(data.toString("utf8"));
    if (frame.type === "presence") return;
    seen.frames.push(frame);
    if (frame.type === "hello") {
      ws.send(
        JSON.stringify({ type: "send", text: settings.text, client_id: settings.clientId }),
      );
    } else if (frame.client_id === settings.clientId) {
      ws.close(1000, "done");
    }
  });
  ws.on("close", (code, reason) => {
    clearTimeout(timer);
    seen.closeCode = code;
    seen.closeReason = reason.toString("utf8");
    process.stdout.write(JSON.stringify(seen));
  });
  ws.on("error", (error) => fail(String(error), seen));
}

function fail(why, seen) {
  process.stderr.write(`${why}: ${JSON.stringify(seen)}\n`);
  process.exit(1);
}

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => main(JSON.parse(input)));
