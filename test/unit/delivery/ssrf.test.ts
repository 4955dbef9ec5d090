import { describe, expect, test } from "vitest";
import {
  blockedReason,
  checkUrl,
  type DestinationPolicy,
  type Resolver,
  resolveDestination,
} from "../../../src/delivery/ssrf.ts";

const NONE: readonly string[] = [];
const LOOPBACK_ONE = ["127.0.0.1/32"];
const dev: DestinationPolicy = { allowCidrs: NONE, requireHttps: false };
const tests: DestinationPolicy = { allowCidrs: LOOPBACK_ONE, requireHttps: false };

describe("blockedReason", () => {
  test.each([
    ["127.0.0.1", "loopback"],
    ["127.0.0.2", "loopback"],
    ["127.255.255.254", "loopback"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["10.0.0.1", "private"],
    ["10.255.255.255", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["169.254.169.254", "linkLocal"],
    ["100.64.0.1", "carrierGradeNat"],
    ["100.127.255.255", "carrierGradeNat"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast"],
    ["240.0.0.1", "reserved"],
    ["255.255.255.255", "broadcast"],
    ["192.0.2.1", "reserved"],
    ["198.18.0.1", "reserved"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fe80::1", "linkLocal"],
    ["fc00::1", "uniqueLocal"],
    ["fd12:3456::1", "uniqueLocal"],
    ["ff02::1", "multicast"],
    ["2001:db8::1", "reserved"],
    ["2001::1", "teredo"],
    ["100::1", "discard"],
    // IPv4 embedded in IPv6 is judged as the IPv4 address it reaches.
    ["::ffff:127.0.0.1", "ipv4 loopback"],
    ["::ffff:7f00:1", "ipv4 loopback"],
    ["::ffff:10.0.0.1", "ipv4 private"],
    ["::ffff:169.254.169.254", "ipv4 linkLocal"],
    ["::ffff:0:7f00:1", "ipv4 loopback"], // SIIT (used to throw inside ipaddr.js)
    ["64:ff9b::7f00:1", "ipv4 loopback"], // NAT64
    ["64:ff9b::a9fe:a9fe", "ipv4 linkLocal"],
    ["64:ff9b:1::808:808", "not decoded"], // local-use NAT64: blocked, not guessed
    ["2002:7f00:1::", "ipv4 loopback"], // 6to4
    ["2002:c0a8:101::1", "ipv4 private"],
    ["::127.0.0.1", "ipv4 loopback"], // deprecated IPv4-compatible
    ["::a00:1", "ipv4 private"],
    ["not-an-ip", "not a valid IP address"],
    ["127.0.0.1.1", "not a valid IP address"],
  ])("%s is blocked (%s)", (address, why) => {
    const r = blockedReason(address, NONE);
    expect(r).not.toBeNull();
    expect(r).toContain(why);
  });

  test.each([
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "172.32.0.1",
    "100.128.0.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:81b::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
  ])("%s (global unicast) passes", (address) => {
    expect(blockedReason(address, NONE)).toBeNull();
  });

  test("an allowlist of 127.0.0.1/32 opens exactly that address (in any IPv6 spelling of it)", () => {
    for (const a of ["127.0.0.1", "::ffff:127.0.0.1", "::ffff:7f00:1", "64:ff9b::7f00:1"])
      expect(blockedReason(a, LOOPBACK_ONE), a).toBeNull();
    for (const a of [
      "127.0.0.2",
      "127.0.0.0",
      "::1",
      "10.0.0.1",
      "169.254.169.254",
      "0.0.0.0",
      "::ffff:127.0.0.2",
    ])
      expect(blockedReason(a, LOOPBACK_ONE), a).not.toBeNull();
  });

  test("an IPv6 allowlist entry opens its range only", () => {
    expect(blockedReason("fd00::5", ["fd00::/120"])).toBeNull();
    expect(blockedReason("fd00::1:5", ["fd00::/120"])).not.toBeNull();
  });
});

describe("checkUrl", () => {
  test.each([
    // Alternate IPv4 spellings are normalised by the URL parser, so the check sees 127.0.0.x.
    ["http://127.0.0.2/", "127.0.0.2"],
    ["http://127.2/", "127.0.0.2"],
    ["http://2130706434/", "127.0.0.2"],
    ["http://0x7f000002/", "127.0.0.2"],
    ["http://0177.0.0.2/", "127.0.0.2"],
    ["http://0x7f.0.0.2/", "127.0.0.2"],
    ["http://127.000.000.002/", "127.0.0.2"],
    ["http://127.0.0.2./", "127.0.0.2"],
    ["http://%31%32%37.0.0.2/", "127.0.0.2"],
    ["http://0/", "0.0.0.0"],
    ["http://0.0.0.0:8080/", "0.0.0.0"],
    ["http://10.0.0.1/", "10.0.0.1"],
    ["http://172.16.0.1/", "172.16.0.1"],
    ["http://192.168.0.1/", "192.168.0.1"],
    ["http://169.254.169.254/latest/meta-data/", "169.254.169.254"],
    ["http://100.64.0.1/", "100.64.0.1"],
    ["http://224.0.0.1/", "224.0.0.1"],
    ["http://240.0.0.1/", "240.0.0.1"],
    ["http://255.255.255.255/", "255.255.255.255"],
    ["http://[::1]/", "::1"],
    ["http://[::]/", "::"],
    ["http://[fe80::1]/", "fe80::1"],
    ["http://[fc00::1]/", "fc00::1"],
    ["http://[::ffff:127.0.0.2]/", "::ffff:7f00:2"],
    ["http://[0:0:0:0:0:ffff:7f00:2]/", "::ffff:7f00:2"],
    ["http://[64:ff9b::7f00:2]/", "64:ff9b::7f00:2"],
    ["http://[2002:7f00:2::]/", "2002:7f00:2::"],
  ])("%s is blocked (address %s)", (url, address) => {
    const r = checkUrl(url, tests);
    expect(r).toEqual({ reason: expect.stringContaining(`the address ${address} is in a blocked range`) });
  });

  test.each([
    ["http://127.0.0.1:8080/hook", tests],
    ["http://127.1:8080/hook", tests],
    ["http://2130706433:8080/hook", tests],
    ["http://0x7f000001/hook", tests],
    ["http://[::ffff:127.0.0.1]/hook", tests],
    ["https://8.8.8.8/", dev],
    ["https://[2606:4700:4700::1111]/", dev],
    ["https://hooks.example.com/a?b=c", dev],
    ["http://hooks.example.com/", dev],
  ])("%s passes", (url, policy) => {
    expect(checkUrl(url, policy)).toEqual({ url: new URL(url) });
  });

  test("without an allowlist, 127.0.0.1 in any spelling is blocked", () => {
    for (const u of [
      "http://127.0.0.1/",
      "http://127.1/",
      "http://2130706433/",
      "http://0x7f000001/",
      "http://0177.0.0.1/",
    ])
      expect(checkUrl(u, dev), u).toEqual({
        reason: expect.stringContaining("127.0.0.1 is in a blocked range"),
      });
  });

  test.each([
    ["ftp://example.com/", "the ftp scheme is not allowed"],
    ["file:///etc/passwd", "the file scheme is not allowed"],
    ["javascript:alert(1)", "the javascript scheme is not allowed"],
    ["gopher://example.com/", "the gopher scheme is not allowed"],
    ["data:text/plain,hi", "the data scheme is not allowed"],
    ["ws://example.com/", "the ws scheme is not allowed"],
    ["not a url", "not a valid absolute URL"],
    ["/relative/path", "not a valid absolute URL"],
    ["", "not a valid absolute URL"],
    ["http://user:pass@example.com/", "must not carry credentials"],
    ["http://user@example.com/", "must not carry credentials"],
    ["http://:pass@example.com/", "must not carry credentials"],
    ["https://user:pass@8.8.8.8/", "must not carry credentials"],
    ["http://example.com:0/", "port 0"],
  ])("%j is refused: %s", (url, reason) => {
    expect(checkUrl(url, dev)).toEqual({ reason: expect.stringContaining(reason) });
  });

  test("production mode accepts only https", () => {
    const prod: DestinationPolicy = { allowCidrs: NONE, requireHttps: true };
    expect(checkUrl("http://hooks.example.com/", prod)).toEqual({
      reason: "only https URLs are allowed in production",
    });
    expect(checkUrl("https://hooks.example.com/", prod)).toHaveProperty("url");
  });
});

describe("resolveDestination", () => {
  const table: Record<string, { address: string; family: 4 | 6 }[]> = {
    "public.test": [{ address: "8.8.8.8", family: 4 }],
    "public6.test": [{ address: "2606:4700:4700::1111", family: 6 }],
    "private.test": [{ address: "10.0.0.7", family: 4 }],
    "metadata.test": [{ address: "169.254.169.254", family: 4 }],
    "loop6.test": [{ address: "::1", family: 6 }],
    "mapped.test": [{ address: "::ffff:127.0.0.2", family: 6 }],
    "mixed.test": [
      { address: "8.8.8.8", family: 4 },
      { address: "127.0.0.2", family: 4 },
    ],
    "mixed6.test": [
      { address: "2606:4700:4700::1111", family: 6 },
      { address: "fd00::1", family: 6 },
    ],
    "allowed.test": [{ address: "127.0.0.1", family: 4 }],
    "empty.test": [],
    "liar.test": [{ address: "127.0.0.1", family: 6 }],
  };
  const calls: string[] = [];
  const resolver: Resolver = async (host) => {
    calls.push(host);
    const a = table[host];
    if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    return a;
  };

  test("a public name resolves to its checked address", async () => {
    expect(await resolveDestination("https://public.test/x", dev, resolver)).toMatchObject({
      ok: true,
      address: "8.8.8.8",
      family: 4,
    });
    expect(await resolveDestination("https://public6.test/x", dev, resolver)).toMatchObject({
      ok: true,
      address: "2606:4700:4700::1111",
      family: 6,
    });
  });

  test.each([
    ["private.test", "10.0.0.7"],
    ["metadata.test", "169.254.169.254"],
    ["loop6.test", "::1"],
    ["mapped.test", "::ffff:127.0.0.2"],
    ["mixed.test", "127.0.0.2"],
    ["mixed6.test", "fd00::1"],
  ])("%s is blocked because it resolves to %s", async (host, address) => {
    const r = await resolveDestination(`https://${host}/`, tests, resolver);
    expect(r).toEqual({
      ok: false,
      kind: "blocked",
      reason: expect.stringContaining(`${host} resolves to ${address}, which is in a blocked range`),
    });
  });

  test("a name resolving to an allowlisted address passes; the family comes from the address", async () => {
    expect(await resolveDestination("http://allowed.test/", tests, resolver)).toMatchObject({
      ok: true,
      address: "127.0.0.1",
      family: 4,
    });
    expect(await resolveDestination("http://liar.test/", tests, resolver)).toMatchObject({ family: 4 });
  });

  test("resolution failures are dns errors, not blocks", async () => {
    expect(await resolveDestination("https://nx.test/", dev, resolver)).toEqual({
      ok: false,
      kind: "dns",
      reason: "could not resolve nx.test: ENOTFOUND",
    });
    expect(await resolveDestination("https://empty.test/", dev, resolver)).toEqual({
      ok: false,
      kind: "dns",
      reason: "empty.test has no addresses",
    });
  });

  test("IP literals are checked without asking the resolver", async () => {
    calls.length = 0;
    expect(await resolveDestination("http://2130706434/", tests, resolver)).toMatchObject({
      ok: false,
      kind: "blocked",
    });
    expect(await resolveDestination("http://[::1]:9/", tests, resolver)).toMatchObject({
      ok: false,
      kind: "blocked",
    });
    expect(await resolveDestination("http://127.0.0.1:9/", tests, resolver)).toMatchObject({
      ok: true,
      address: "127.0.0.1",
    });
    expect(calls).toEqual([]);
  });
});
