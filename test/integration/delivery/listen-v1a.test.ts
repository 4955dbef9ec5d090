import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, expect, test } from "vitest";
import { generateKeyPair, sign } from "../../../src/delivery/sign.ts";
import { freePort } from "../../helpers/ports.ts";

let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill("SIGTERM");
});

test("`signalpost listen --secret whpk_…` accepts a v1a-signed delivery and rejects a tampered one", async () => {
  const { secretKey, publicKey } = generateKeyPair();
  const port = await freePort();
  child = spawn(
    process.execPath,
    ["src/cli/main.ts", "listen", "--secret", publicKey, "--port", String(port), "--quiet"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child?.stderr?.on("data", (d: Buffer) => {
      if (d.toString().includes("listening on")) resolve();
    });
    child?.on("exit", (code) => reject(new Error(`listen exited with ${code}`)));
  });
  const ts = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({ type: "webhook.test" });
  const post = (b: string) =>
    fetch(`http://127.0.0.1:${port}/`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "webhook-id": "evt_1",
        "webhook-timestamp": String(ts),
        "webhook-signature": sign(secretKey, "evt_1", ts, body),
      },
      body: b,
    });
  expect((await post(body)).status).toBe(200);
  expect((await post(`${body} `)).status).toBe(401);
});
