import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { DomainError } from '../errors/domain-error.js';

/** Ciphertext as stored: `v1.<keyId>.<iv>.<ciphertext>.<tag>` (base64url parts). */
export type Encrypted = string & { readonly __brand: 'Encrypted' };

/** Where a ciphertext belongs. It decrypts only at the same table, row and field. */
export interface CipherContext {
  table: string;
  rowId: string;
  field: string;
}

const VERSION = 'v1';
const IV_BYTES = 12; // 96-bit IV, the GCM standard size
const TAG_BYTES = 16;

export class DecryptionError extends DomainError {
  constructor(reason: string) {
    super(
      'crypto.decryption_failed',
      'internal',
      `A stored secret could not be decrypted: ${reason}.`,
    );
  }
}

function aad(ctx: CipherContext): Buffer {
  // Length-prefixed so no two contexts serialise alike ("a|b","c" vs "a","b|c").
  return Buffer.from(
    [VERSION, ctx.table, ctx.rowId, ctx.field].map((p) => `${p.length}:${p}`).join('|'),
    'utf8',
  );
}

/**
 * AES-256-GCM with a ring of keys: the first key encrypts, every key decrypts. Each ciphertext
 * names its key id, and its associated data binds it to one table, row and field.
 */
export class KeyRing {
  private readonly keys: ReadonlyMap<string, Buffer>;
  readonly primaryKeyId: string;

  constructor(keys: ReadonlyArray<{ id: string; key: Buffer }>) {
    if (keys.length === 0) throw new Error('A key ring needs at least one key');
    const ids = new Set<string>();
    for (const { id, key } of keys) {
      // Ids are embedded in dot-separated ciphertexts: no dots, and each id names one key.
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) throw new Error(`Invalid encryption key id "${id}"`);
      if (ids.has(id)) throw new Error(`Duplicate encryption key id "${id}"`);
      ids.add(id);
      if (key.length !== 32) throw new Error(`Encryption key "${id}" is not 32 bytes`);
    }
    this.keys = new Map(keys.map(({ id, key }) => [id, key]));
    this.primaryKeyId = keys[0].id;
  }

  /** Parses `id:base64key,…` (already validated by the config schema). */
  static fromSpec(spec: string): KeyRing {
    return new KeyRing(
      spec.split(',').map((entry) => {
        const [id, key] = entry.trim().split(/:(.*)/s);
        return { id, key: Buffer.from(key, 'base64') };
      }),
    );
  }

  static generateKey(): Buffer {
    return randomBytes(32);
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  encrypt(plaintext: string, ctx: CipherContext): Encrypted {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.primaryKeyId)!, iv, {
      authTagLength: TAG_BYTES,
    });
    cipher.setAAD(aad(ctx));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      VERSION,
      this.primaryKeyId,
      iv.toString('base64url'),
      body.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
    ].join('.') as Encrypted;
  }

  decrypt(value: Encrypted | string, ctx: CipherContext): string {
    const parts = value.split('.');
    if (parts.length !== 5 || parts[0] !== VERSION)
      throw new DecryptionError('unrecognised format');
    const [, keyId, ivText, bodyText, tagText] = parts;
    const key = this.keys.get(keyId);
    if (!key) throw new DecryptionError(`key id "${keyId}" is not in the key ring`);
    const iv = Buffer.from(ivText, 'base64url');
    const tag = Buffer.from(tagText, 'base64url');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new DecryptionError('malformed');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(ctx));
      decipher.setAuthTag(tag);
      return Buffer.concat([
        decipher.update(Buffer.from(bodyText, 'base64url')),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new DecryptionError(
        'authentication failed (tampered, or moved from another row or field)',
      );
    }
  }

  /**
   * A 32-byte key for another purpose (named by `info`), derived with HKDF-SHA256 from one ring
   * key (the primary by default), or undefined when the ring no longer holds that key. Never the
   * encryption key itself, and a different key for each purpose.
   */
  deriveKey(info: string, keyId: string = this.primaryKeyId): Buffer | undefined {
    const key = this.keys.get(keyId);
    return key && Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `latchkey:${info}`, 32));
  }

  /** Key id a stored ciphertext was made with, without decrypting it. */
  static keyIdOf(value: string): string | undefined {
    const parts = value.split('.');
    return parts.length === 5 && parts[0] === VERSION ? parts[1] : undefined;
  }

  needsRotation(value: string): boolean {
    return KeyRing.keyIdOf(value) !== this.primaryKeyId;
  }
}
