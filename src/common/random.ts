import { randomBytes, randomUUID } from 'node:crypto';

/** Injected source of randomness (ids, tokens, jitter), so tests can make it predictable. */
export class RandomSource {
  uuid(): string {
    return randomUUID();
  }
  /** URL-safe random string carrying `bytes` bytes of entropy. */
  token(bytes = 32): string {
    return randomBytes(bytes).toString('base64url');
  }
  /** Uniform in [0, 1). */
  fraction(): number {
    return randomBytes(4).readUInt32BE(0) / 2 ** 32;
  }
}
