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
    try {
      const [range, bits] = ipaddr.parseCIDR(cidr);
      const r =
        range.kind() === "ipv6" && (range as ipaddr.IPv6).isIPv4MappedAddress()
          ? (range as ipaddr.IPv6).toIPv4Address()
          : range;
      if (r.kind() !== addr.kind()) return false;
      const effBits = r.kind() === range.kind() ? bits : bits - 96;
      return addr.match(r, effBits);
    } catch {
      return false;
    }
  });
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
