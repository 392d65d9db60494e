import { createHmac, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { KeyRing } from '../../common/crypto/key-ring.js';
import { verifySecret } from '../../common/crypto/secret-hash.js';

const SCHEME = 'hmac-sha256';
const PURPOSE = 'oauth-app-client-secret';
const MAC_BYTES = 32;

export interface ClientSecretCheck {
  ok: boolean;
  /** Right, but stored in an older form (scrypt, or under a non-primary key): store `hash()` anew. */
  rehash: boolean;
}

/**
 * Hashes of OAuth App client secrets: `hmac-sha256$<keyId>$<mac>`, an HMAC keyed with a key derived
 * from the encryption key ring (the key id says which ring key, so hashes survive a rotation while
 * the old key stays in the ring). A fast keyed hash is enough because every client secret carries
 * at least 256 bits of entropy (ours) or is at least 32 characters (the bootstrap one), and without
 * the ring a stolen hash cannot even be tested offline. It costs no thread-pool time, so client
 * authentication cannot be turned into a way to stall the process; scrypt stays for passwords.
 */
@Injectable()
export class ClientSecretHasher {
  private readonly macKeys = new Map<string, Buffer>();
  /** Legacy scrypt checks run one at a time, so they can never occupy more than one pool thread. */
  private legacyQueue: Promise<unknown> = Promise.resolve();

  constructor(private readonly keyRing: KeyRing) {}

  hash(secret: string): string {
    const keyId = this.keyRing.primaryKeyId;
    return [SCHEME, keyId, this.mac(secret, keyId)!.toString('base64url')].join('$');
  }

  /**
   * Checks a secret against a stored hash; no stored hash (an unknown client id) costs the same
   * HMAC and never verifies. Hashes from before this scheme (scrypt) are still accepted.
   */
  async verify(secret: string, stored: string | undefined): Promise<ClientSecretCheck> {
    const parts = (stored ?? '').split('$');
    if (parts[0] === 'scrypt') {
      const check = this.legacyQueue.then(() => verifySecret(secret, stored!));
      this.legacyQueue = check.catch(() => undefined);
      const ok = await check;
      return { ok, rehash: ok };
    }
    const [scheme, keyId, mac] = parts.length === 3 ? parts : [];
    const known = scheme === SCHEME ? this.mac(secret, keyId) : undefined;
    // Unknown client ids and unusable hashes cost the same one HMAC as a real check.
    const actual = known ?? this.mac(secret, this.keyRing.primaryKeyId)!;
    const expected = known ? Buffer.from(mac, 'base64url') : undefined;
    const ok =
      expected !== undefined && expected.length === MAC_BYTES && timingSafeEqual(actual, expected);
    return { ok, rehash: ok && keyId !== this.keyRing.primaryKeyId };
  }

  /** The MAC under one ring key, or undefined when the ring no longer holds that key. */
  private mac(secret: string, keyId: string): Buffer | undefined {
    let key = this.macKeys.get(keyId);
    if (!key) {
      key = this.keyRing.deriveKey(PURPOSE, keyId);
      if (key) this.macKeys.set(keyId, key);
    }
    return key && createHmac('sha256', key).update(secret, 'utf8').digest();
  }
}
