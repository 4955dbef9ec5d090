import ipaddr from "ipaddr.js";
import { ForbiddenError } from "../errors/index.ts";

/** Normalises IPv4-mapped IPv6 (`::ffff:1.2.3.4`) to IPv4 so v4 CIDRs match. */
export function parseIp(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  try {
    const addr = ipaddr.parse(text);
    if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
      return (addr as ipaddr.IPv6).toIPv4Address();
    }
    return addr;
  } catch {
    return null;
  }
}

/** True when `ip` lies in any of the CIDRs (v4 and v6). */
export function ipInCidrs(ip: string, cidrs: readonly string[]): boolean {
  const addr = parseIp(ip);
  if (!addr) return false;
  return cidrs.some((cidr) => {
    const c = parsedCidr(cidr);
    return c !== null && c.range.kind() === addr.kind() && addr.match(c.range, c.bits);
  });
}

type ParsedCidr = { range: ipaddr.IPv4 | ipaddr.IPv6; bits: number };

/**
 * CIDRs parsed once (every delivery checks its destination against the operator's allowlist, every
 * request of a key with an allowlist its client address): bounded, emptied when full. An
 * IPv4-mapped IPv6 range (`::ffff:10.0.0.0/104`) is kept as the IPv4 range it maps; null: unparsable.
 */
const cidrs = new Map<string, ParsedCidr | null>();

function parsedCidr(cidr: string): ParsedCidr | null {
  let parsed = cidrs.get(cidr);
  if (parsed === undefined) {
    try {
      const [range, bits] = ipaddr.parseCIDR(cidr);
      parsed =
        range.kind() === "ipv6" && (range as ipaddr.IPv6).isIPv4MappedAddress()
          ? { range: (range as ipaddr.IPv6).toIPv4Address(), bits: bits - 96 }
          : { range, bits };
    } catch {
      parsed = null;
    }
    if (cidrs.size >= 10_000) cidrs.clear();
    cidrs.set(cidr, parsed);
  }
  return parsed;
}

/** Throws 403 when a key has an allowlist and the client address is not in it. */
export function checkIpAllowed(allowlist: readonly string[] | null, clientIp: string | null): void {
  if (!allowlist || allowlist.length === 0) return;
  if (!clientIp || !ipInCidrs(clientIp, allowlist)) {
    throw new ForbiddenError("requests from this IP address are not allowed for this key");
  }
}

/** Validates a CIDR (or a bare address, read as /32 or /128). Returns the canonical form or null. */
export function normaliseCidr(text: string): string | null {
  try {
    if (!text.includes("/")) {
      const a = ipaddr.parse(text);
      return `${a.toString()}/${a.kind() === "ipv4" ? 32 : 128}`;
    }
    const [addr, bits] = ipaddr.parseCIDR(text);
    return `${addr.toString()}/${bits}`;
  } catch {
    return null;
  }
}
