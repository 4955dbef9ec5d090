import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  sign as edSign,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";

const PREFIX = "whsec_";
/** An ed25519 secret key: `whsk_` + base64 of the 64-byte RFC 8032 form (32-byte seed ‖ 32-byte public key). */
export const SECRET_KEY_PREFIX = "whsk_";
/** An ed25519 public key: `whpk_` + base64 of the raw 32-byte public key. */
export const PUBLIC_KEY_PREFIX = "whpk_";

/** How an endpoint's deliveries are signed: `v1` HMAC-SHA256 (`whsec_`), `v1a` ed25519 (`whsk_`/`whpk_`). */
export type SignatureScheme = "v1" | "v1a";

/** A new endpoint secret: `whsec_` + base64 of 32 random bytes (the spec asks for 24–64). */
export function generateSecret(): string {
  return PREFIX + randomBytes(32).toString("base64");
}

/** A new ed25519 key pair as `whsk_…` (kept by Signalpost, encrypted) and `whpk_…` (given to the receiver). */
export function generateKeyPair(): { secretKey: string; publicKey: string } {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  if (!jwk.d || !jwk.x) throw new Error("ed25519 key export lacks d or x");
  const seed = Buffer.from(jwk.d, "base64url");
  const pub = Buffer.from(jwk.x, "base64url");
  return {
    secretKey: SECRET_KEY_PREFIX + Buffer.concat([seed, pub]).toString("base64"),
    publicKey: PUBLIC_KEY_PREFIX + pub.toString("base64"),
  };
}

/** A new signing key of the scheme: a `whsec_` secret (v1) or a `whsk_` secret key (v1a). */
export function generateSigningKey(scheme: SignatureScheme): string {
  return scheme === "v1a" ? generateKeyPair().secretKey : generateSecret();
}

/** What the receiver verifies with: the `whsec_` secret itself, or the `whpk_` public key of a `whsk_` key. */
export function verificationKey(signingKey: string): string {
  if (!signingKey.startsWith(SECRET_KEY_PREFIX)) return signingKey;
  return PUBLIC_KEY_PREFIX + ed25519Parts(signingKey).pub.toString("base64");
}

/** The HMAC key: the base64-decoded part after `whsec_`. */
export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, "base64");
}

function ed25519Parts(whsk: string): { seed: Buffer; pub: Buffer } {
  const raw = Buffer.from(whsk.slice(SECRET_KEY_PREFIX.length), "base64");
  if (raw.length !== 64) throw new Error("a whsk_ key must encode 64 bytes (seed and public key)");
  return { seed: raw.subarray(0, 32), pub: raw.subarray(32) };
}

/** The node:crypto private key of a `whsk_` key. */
export function ed25519PrivateKey(whsk: string): KeyObject {
  const { seed, pub } = ed25519Parts(whsk);
  return createPrivateKey({
    key: { kty: "OKP", crv: "Ed25519", d: seed.toString("base64url"), x: pub.toString("base64url") },
    format: "jwk",
  });
}

/** The node:crypto public key of a `whpk_` key (throws unless it encodes 32 bytes). */
export function ed25519PublicKey(whpk: string): KeyObject {
  const raw = Buffer.from(whpk.slice(PUBLIC_KEY_PREFIX.length), "base64");
  if (raw.length !== 32) throw new Error("a whpk_ key must encode 32 bytes");
  return createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") },
    format: "jwk",
  });
}

/**
 * One signature over `id.timestamp.body` (Standard Webhooks): `v1,<base64 HMAC-SHA256>` for a
 * `whsec_` secret, `v1a,<base64 ed25519>` for a `whsk_` secret key.
 */
export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const content = `${id}.${timestampSeconds}.${body}`;
  if (secret.startsWith(SECRET_KEY_PREFIX))
    return `v1a,${edSign(null, Buffer.from(content, "utf8"), keyObject(secret)).toString("base64")}`;
  const mac = createHmac("sha256", keyObject(secret)).update(content, "utf8").digest("base64");
  return `v1,${mac}`;
}

/**
 * Signing keys as KeyObjects, by secret: the HMAC key of a `whsec_`, the private key of a `whsk_`.
 * node:crypto turns a Buffer key into a KeyObject on every createHmac: 23–39 µs per signature
 * against 5–6 µs with one made once (measured on this machine, 600-byte bodies); an ed25519 key
 * was imported from JWK on every signature. Bounded: emptied when full and every 10 minutes, so a
 * worker that signs for more endpoints than it holds makes the objects again, and a rotated-out or
 * deleted secret leaves memory within minutes.
 */
const keyObjects = new Map<string, KeyObject>();
const KEY_OBJECTS_MAX = 10_000;
/** Emptied at least this often, so a secret that stopped signing does not stay in memory for long. */
const KEY_OBJECTS_MS = 10 * 60_000;
let keyObjectsSince = Date.now();

function keyObject(secret: string): KeyObject {
  const now = Date.now();
  if (now - keyObjectsSince >= KEY_OBJECTS_MS) {
    keyObjects.clear();
    keyObjectsSince = now;
  }
  let key = keyObjects.get(secret);
  if (!key) {
    if (keyObjects.size >= KEY_OBJECTS_MAX) keyObjects.clear();
    key = secret.startsWith(SECRET_KEY_PREFIX)
      ? ed25519PrivateKey(secret)
      : createSecretKey(secretKey(secret));
    keyObjects.set(secret, key);
  }
  return key;
}

/** The `webhook-signature` header: one signature per active secret, space-separated. */
export function signatureHeader(
  secrets: readonly string[],
  id: string,
  timestampSeconds: number,
  body: string,
): string {
  return secrets.map((s) => sign(s, id, timestampSeconds, body)).join(" ");
}
