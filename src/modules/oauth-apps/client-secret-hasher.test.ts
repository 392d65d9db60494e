import { describe, expect, it } from 'vitest';
import { KeyRing } from '../../common/crypto/key-ring.js';
import { hashSecret } from '../../common/crypto/secret-hash.js';
import { ClientSecretHasher } from './client-secret-hasher.js';

const SECRET = 'lks_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';
const key = (id: string) => ({ id, key: KeyRing.generateKey() });

describe(ClientSecretHasher.name, () => {
  const k1 = key('k1');
  const k2 = key('k2');

  it('hashes as hmac-sha256$<primary key id>$<mac>, and verifies only the same secret', async () => {
    const hasher = new ClientSecretHasher(new KeyRing([k1]));
    const stored = hasher.hash(SECRET);
    expect(stored).toMatch(/^hmac-sha256\$k1\$[A-Za-z0-9_-]{43}$/);
    expect(stored).not.toContain(SECRET);
    expect(await hasher.verify(SECRET, stored)).toEqual({ ok: true, rehash: false });
    expect(await hasher.verify(`${SECRET}x`, stored)).toEqual({ ok: false, rehash: false });
  });

  it('never verifies without a stored hash, or with a malformed one', async () => {
    const hasher = new ClientSecretHasher(new KeyRing([k1]));
    const stored = hasher.hash(SECRET);
    for (const bad of [
      undefined,
      '',
      'hmac-sha256$k1',
      `${stored}$x`,
      stored.replace('k1', 'k9'),
      stored.slice(0, -2),
      `md5$k1$${stored.split('$')[2]}`,
    ]) {
      expect((await hasher.verify(SECRET, bad)).ok).toBe(false);
    }
  });

  it('uses a key derived from the ring key, not the ring key itself, and depends on it', async () => {
    const stored = new ClientSecretHasher(new KeyRing([k1])).hash(SECRET);
    expect(
      (
        await new ClientSecretHasher(
          new KeyRing([{ id: 'k1', key: KeyRing.generateKey() }]),
        ).verify(SECRET, stored)
      ).ok,
    ).toBe(false);
  });

  it('still verifies a hash under an older ring key after a rotation, asking for a re-hash under the new one', async () => {
    const stored = new ClientSecretHasher(new KeyRing([k1])).hash(SECRET);
    const rotated = new ClientSecretHasher(new KeyRing([k2, k1]));
    expect(await rotated.verify(SECRET, stored)).toEqual({ ok: true, rehash: true });
    expect(rotated.hash(SECRET)).toMatch(/^hmac-sha256\$k2\$/);
    // Once the old key leaves the ring, hashes made under it no longer verify.
    expect((await new ClientSecretHasher(new KeyRing([k2])).verify(SECRET, stored)).ok).toBe(false);
  });

  it('accepts a scrypt hash from before, asking for a re-hash', async () => {
    const hasher = new ClientSecretHasher(new KeyRing([k1]));
    const legacy = await hashSecret(SECRET);
    expect(await hasher.verify(SECRET, legacy)).toEqual({ ok: true, rehash: true });
    expect(await hasher.verify('lks_wrong', legacy)).toEqual({ ok: false, rehash: false });
  });
});
