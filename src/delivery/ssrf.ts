import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { ipInCidrs } from "../auth/ip-allowlist.ts";

export type ResolvedAddress = { address: string; family: 4 | 6 };
/** Resolves a host name to every A and AAAA answer. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (hostname) => {
  const answers = await lookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

export type DestinationPolicy = {
  /** CIDRs that may be reached although private/loopback/etc. */
  allowCidrs: readonly string[];
  /** Production: only https. */
  requireHttps: boolean;
};

export type UrlProblem = { reason: string };

/**
 * Static checks on an endpoint URL (at create/update, and again before each delivery): scheme,
 * credentials, and — when the host is an IP literal in any spelling — the address itself. (Length is
 * bounded by the API schema.) The WHATWG parser normalises `2130706433`, `0x7f000001`, `0177.0.0.1`,
 * `127.1` and `127.0.0.1.` to `127.0.0.1`, so the check sees the address that will be dialled.
 */
export function checkUrl(text: string, policy: DestinationPolicy): UrlProblem | { url: URL } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { reason: "not a valid absolute URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return { reason: `the ${url.protocol.replace(":", "")} scheme is not allowed; use https` };
  }
  if (policy.requireHttps && url.protocol !== "https:")
    return { reason: "only https URLs are allowed in production" };
  if (url.username || url.password)
    return { reason: "URLs must not carry credentials; use custom headers instead" };
  if (!url.hostname) return { reason: "the URL has no host" };
  if (url.port === "0") return { reason: "port 0 cannot be connected to" };
  const literal = hostLiteral(url.hostname);
  if (literal) {
    const why = blockedReason(literal, policy.allowCidrs);
    if (why) return { reason: `the address ${literal} is ${why}` };
  }
  return { url };
}

/** The IP address a URL hostname spells, if it is a literal (IPv6 comes bracketed). */
export function hostLiteral(hostname: string): string | null {
  const h = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  return isIP(h) ? h : null;
}

/**
 * Why an address may not be reached, or null if it may. Only global unicast passes; embedded IPv4
 * (IPv4-mapped, NAT64, 6to4) is unwrapped and judged as IPv4. The operator's allowlist wins.
 */
export function blockedReason(address: string, allowCidrs: readonly string[]): string | null {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.parse(address);
  } catch {
    return "not a valid IP address";
  }
  const v4 = embeddedIPv4(addr);
  if (v4 === "opaque") return "in a blocked range (ipv6 with an embedded IPv4 address that is not decoded)";
  const effective = v4 ?? addr;
  if (ipInCidrs(effective.toString(), allowCidrs)) return null;
  const range = effective.range();
  if (range === "unicast") return null;
  return `in a blocked range (${effective.kind()} ${range})`;
}

/** 64:ff9b::/96, the well-known NAT64 prefix (RFC 6052): the IPv4 address is the last 32 bits. */
const NAT64_WELL_KNOWN = ipaddr.parseCIDR("64:ff9b::/96");

/**
 * The IPv4 address an IPv6 address carries, when it is one of the forms that reach IPv4 hosts:
 * IPv4-mapped (::ffff:a.b.c.d), SIIT (::ffff:0:a.b.c.d), NAT64 (64:ff9b::a.b.c.d), 6to4
 * (2002:AABB:CCDD::) and the deprecated IPv4-compatible ::a.b.c.d. "opaque" for NAT64 forms whose
 * embedding is not decoded here (the local-use 64:ff9b:1::/48): blocked rather than guessed.
 */
function embeddedIPv4(addr: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | "opaque" | null {
  if (addr.kind() === "ipv4") return addr as ipaddr.IPv4;
  const v6 = addr as ipaddr.IPv6;
  const range = v6.range();
  const parts = v6.toByteArray();
  const last4 = () => ipaddr.fromByteArray(parts.slice(12, 16)) as ipaddr.IPv4;
  // ipaddr's toIPv4Address() accepts only ::ffff:0:0/96 (it threw on SIIT ::ffff:0:0:0/96).
  if (range === "ipv4Mapped" || range === "rfc6145") return last4();
  if (range === "rfc6052") return v6.match(NAT64_WELL_KNOWN) ? last4() : "opaque";
  if (range === "6to4") return ipaddr.fromByteArray(parts.slice(2, 6)) as ipaddr.IPv4; // 2002:AABB:CCDD::
  // IPv4-compatible (deprecated) ::a.b.c.d; `::` and `::1` keep their IPv6 meaning.
  if (parts.slice(0, 12).every((b) => b === 0) && !(parts[12] === 0 && parts[13] === 0 && parts[14] === 0)) {
    return last4();
  }
  return null;
}

export type Destination =
  | { ok: true; url: URL; address: string; family: 4 | 6 }
  | { ok: false; kind: "blocked" | "dns"; reason: string };

/**
 * Resolves the URL's host and checks every answer. The caller connects to the returned address
 * (never re-resolving), so a DNS answer that changes between check and connect cannot matter.
 * Mixed answers (one public, one private) are blocked as a whole.
 */
export async function resolveDestination(
  text: string,
  policy: DestinationPolicy,
  resolver: Resolver,
): Promise<Destination> {
  const checked = checkUrl(text, policy);
  if ("reason" in checked) return { ok: false, kind: "blocked", reason: checked.reason };
  const { url } = checked;
  const literal = hostLiteral(url.hostname);
  if (literal) return { ok: true, url, address: literal, family: isIP(literal) === 6 ? 6 : 4 };
  let answers: ResolvedAddress[];
  try {
    answers = await resolver(url.hostname);
  } catch (err) {
    return {
      ok: false,
      kind: "dns",
      reason: `could not resolve ${url.hostname}: ${(err as NodeJS.ErrnoException).code ?? "error"}`,
    };
  }
  if (answers.length === 0) return { ok: false, kind: "dns", reason: `${url.hostname} has no addresses` };
  for (const a of answers) {
    const why = blockedReason(a.address, policy.allowCidrs);
    if (why)
      return {
        ok: false,
        kind: "blocked",
        reason: `${url.hostname} resolves to ${a.address}, which is ${why}`,
      };
  }
  const first = answers[0] as ResolvedAddress;
  // The family comes from the address itself, not from what the resolver claimed.
  return { ok: true, url, address: first.address, family: isIP(first.address) === 6 ? 6 : 4 };
}
