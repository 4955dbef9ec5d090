import net from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type SendRequest, sendWebhook } from "../../../src/delivery/send.ts";

/**
 * A receiver that answers the first request on each connection (keep-alive) and resets the
 * connection when a second request arrives on it: what a receiver's idle timeout firing just as
 * the sender reuses the socket looks like. Real sockets on 127.0.0.1, a real TCP RST.
 */
let server: net.Server;
let port = 0;
let requests = 0;
let resets = 0;
beforeAll(async () => {
  server = net.createServer((socket) => {
    let answered = false;
    socket.on("data", () => {
      requests++;
      if (answered) {
        resets++;
        socket.resetAndDestroy();
        return;
      }
      answered = true;
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as net.AddressInfo).port;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const request = (): SendRequest => ({
  url: new URL(`http://127.0.0.1:${port}/hook`),
  address: "127.0.0.1",
  family: 4,
  headers: { "content-type": "application/json", "webhook-id": "evt_stale" },
  body: "{}",
  timeoutMs: 2000,
  responseCapBytes: 1024,
});

test("a request reset on a reused keep-alive socket is sent once more on a new connection", async () => {
  const first = await sendWebhook(request());
  expect(first).toMatchObject({ kind: "response", status: 200, body: "ok" });
  // The pooled socket is reused and reset by the receiver; the resend gets a fresh connection.
  const second = await sendWebhook(request());
  expect(second).toMatchObject({ kind: "response", status: 200, body: "ok" });
  expect(resets).toBe(1);
  expect(requests).toBe(3);
});

test("a reset on a fresh connection is a failed attempt, not resent", async () => {
  const fresh = net.createServer((socket) => {
    socket.on("data", () => socket.resetAndDestroy());
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => fresh.listen(0, "127.0.0.1", () => r()));
  let connections = 0;
  fresh.on("connection", () => connections++);
  const freshPort = (fresh.address() as net.AddressInfo).port;
  const result = await sendWebhook({ ...request(), url: new URL(`http://127.0.0.1:${freshPort}/hook`) });
  expect(result).toMatchObject({ kind: "error", errorClass: "reset" });
  expect(connections).toBe(1);
  await new Promise((r) => fresh.close(r));
});
