import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createSecretKey,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";

export type KeyringKey = { id: string; key: Buffer };

/**
 * Encrypts endpoint secrets at rest with AES-256-GCM. Ciphertext format:
 * `v1.<base64 iv>.<base64 tag>.<base64 data>`; the key id is stored in its own column so old rows
 * can be found and re-encrypted after the operator rotates the key.
 */
export class Keyring {
  readonly current: KeyringKey;
  readonly #byId: Map<string, Buffer>;
  /** The same keys as KeyObjects, made once: a Buffer key is turned into one on every cipher. */
  readonly #objects: Map<string, KeyObject>;

  constructor(current: KeyringKey, old: KeyringKey[] = []) {
    this.current = current;
    this.#byId = new Map([...old.map((k) => [k.id, k.key] as const), [current.id, current.key]]);
    this.#objects = new Map([...this.#byId].map(([id, key]) => [id, createSecretKey(key)]));
  }

  /** Every configured key: the current one and the old ones (still decrypting). */
  keys(): KeyringKey[] {
    return [...this.#byId].map(([id, key]) => ({ id, key }));
  }

  encrypt(plaintext: string): { keyId: string; ciphertext: string } {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#objects.get(this.current.id) as KeyObject, iv);
    const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    const tag = cipher.getAuthTag();
    return {
      keyId: this.current.id,
      ciphertext: `v1.${iv.toString("base64")}.${tag.toString("base64")}.${data.toString("base64")}`,
    };
  }

  decrypt(keyId: string, ciphertext: string): string {
    const key = this.#objects.get(keyId);
    if (!key) throw new Error(`no encryption key with id ${keyId} is configured`);
    const [version, iv, tag, data] = ciphertext.split(".");
    if (version !== "v1" || !iv || !tag || !data) throw new Error("unrecognised ciphertext format");
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64"));
    decipher.setAuthTag(Buffer.from(tag, "base64"));
    return Buffer.concat([decipher.update(Buffer.from(data, "base64")), decipher.final()]).toString("utf8");
  }
}

/**
 * Identifies a key without revealing it: HMAC-SHA256 of a fixed label under the key. Two processes
 * agree on a key id's fingerprint exactly when they hold the same key.
 */
export function keyFingerprint(key: Buffer): string {
  return createHmac("sha256", key).update("signalpost encryption key fingerprint v1").digest("base64url");
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Constant-time comparison of two strings of any length. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** URL-safe random token material. */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString("base64url");
}
