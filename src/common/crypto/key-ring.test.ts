import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors/domain-error.js';
import { DecryptionError, KeyRing, type CipherContext } from './key-ring.js';

const KEYS = { old: randomBytes(32), new: randomBytes(32), other: randomBytes(32) };
type KeyId = keyof typeof KEYS;

/** A ring of the named keys; the first one encrypts. */
const ringOf = (...ids: KeyId[]): KeyRing => new KeyRing(ids.map((id) => ({ id, key: KEYS[id] })));

const CTX: CipherContext = { table: 'signing_keys', rowId: 'sk_123', field: 'privateJwk' };
const PLAINTEXT = '{"kty":"EC","d":"super-secret-private-scalar"}';

/** Flips one bit of one byte in a dot-separated part (2 = iv, 3 = body, 4 = tag). */
function flipByte(value: string, part: 2 | 3 | 4, index = 0): string {
  const parts = value.split('.');
  const bytes = Buffer.from(parts[part], 'base64url');
  bytes[index] ^= 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

function decryptionErrorOf(fn: () => unknown): DecryptionError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DecryptionError) return error;
    throw error;
  }
  return expect.fail('expected a DecryptionError');
}

/** Key material in every form it could leak in. */
const keyForms = (key: Buffer): string[] => [
  key.toString('base64'),
  key.toString('base64url'),
  key.toString('hex'),
];

describe(KeyRing.name, () => {
  describe('constructor', () => {
    it('rejects an empty ring', () => {
      expect(() => new KeyRing([])).toThrow('A key ring needs at least one key');
    });

    it.each([0, 16, 31, 33, 64])(
      'rejects a %i-byte key, naming its id but not its bytes',
      (length) => {
        const key = randomBytes(length);
        let message = '';
        try {
          new KeyRing([
            { id: 'new', key: KEYS.new },
            { id: 'short', key },
          ]);
        } catch (error) {
          message = (error as Error).message;
        }

        expect(message).toBe('Encryption key "short" is not 32 bytes');
        if (length > 0) for (const form of keyForms(key)) expect(message).not.toContain(form);
      },
    );

    it('makes the first key the primary key', () => {
      const ring = ringOf('new', 'old');

      expect(ring.primaryKeyId).toBe('new');
      expect(ring.keyIds).toEqual(['new', 'old']);
    });
  });

  describe('fromSpec', () => {
    it('parses id:base64 entries separated by commas, the first being primary', () => {
      const ring = KeyRing.fromSpec(
        `new:${KEYS.new.toString('base64')}, old:${KEYS.old.toString('base64')}`,
      );

      expect(ring.keyIds).toEqual(['new', 'old']);
      expect(ring.primaryKeyId).toBe('new');
      // The parsed key bytes are the real ones: data from rings built from the raw keys decrypts.
      expect(ring.decrypt(ringOf('old').encrypt(PLAINTEXT, CTX), CTX)).toBe(PLAINTEXT);
      expect(ringOf('new').decrypt(ring.encrypt(PLAINTEXT, CTX), CTX)).toBe(PLAINTEXT);
    });

    it('rejects a spec whose key is not 32 bytes', () => {
      expect(() => KeyRing.fromSpec(`k1:${randomBytes(16).toString('base64')}`)).toThrow(
        'Encryption key "k1" is not 32 bytes',
      );
    });
  });

  describe('generateKey', () => {
    it('returns a fresh 32-byte key each time', () => {
      const a = KeyRing.generateKey();
      const b = KeyRing.generateKey();

      expect(a).toHaveLength(32);
      expect(b).toHaveLength(32);
      expect(a.equals(b)).toBe(false);
    });
  });

  describe('encrypt', () => {
    it.each([
      ['ascii', PLAINTEXT],
      ['unicode', 'clé 🔑 секрет 鍵 \u0000 \u{10FFFF}'],
      ['an empty string', ''],
      ['a large value', 'x'.repeat(256 * 1024)],
    ])('round trips %s', (_description, plaintext) => {
      const ring = ringOf('new');

      expect(ring.decrypt(ring.encrypt(plaintext, CTX), CTX)).toBe(plaintext);
    });

    it('writes v1.<keyId>.<iv>.<body>.<tag> with the primary key id', () => {
      const value = ringOf('new', 'old').encrypt(PLAINTEXT, CTX);
      const [version, keyId, iv, body, tag] = value.split('.');

      expect(value.split('.')).toHaveLength(5);
      expect(version).toBe('v1');
      expect(keyId).toBe('new');
      expect(Buffer.from(iv, 'base64url')).toHaveLength(12);
      expect(Buffer.from(tag, 'base64url')).toHaveLength(16);
      expect(Buffer.from(body, 'base64url')).toHaveLength(Buffer.byteLength(PLAINTEXT));
      expect(value).toMatch(/^v1\.new\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    });

    it('uses a fresh IV each time, so equal plaintexts give different ciphertexts', () => {
      const ring = ringOf('new');
      const values = Array.from({ length: 50 }, () => ring.encrypt(PLAINTEXT, CTX));

      expect(new Set(values).size).toBe(50);
      expect(new Set(values.map((v) => v.split('.')[2])).size).toBe(50);
      for (const value of values) expect(ring.decrypt(value, CTX)).toBe(PLAINTEXT);
    });

    it('does not reveal the plaintext', () => {
      const value = ringOf('new').encrypt(PLAINTEXT, CTX);

      expect(value).not.toContain('super-secret');
      expect(value).not.toContain(Buffer.from(PLAINTEXT).toString('base64url').slice(0, 16));
    });
  });

  describe('decrypt', () => {
    it.each([
      ['the iv', 2, 0],
      ['the last byte of the iv', 2, 11],
      ['the body', 3, 0],
      ['the last byte of the body', 3, Buffer.byteLength(PLAINTEXT) - 1],
      ['the tag', 4, 0],
      ['the last byte of the tag', 4, 15],
    ] as const)('rejects a ciphertext with a flipped byte in %s', (_description, part, index) => {
      const ring = ringOf('new');
      const tampered = flipByte(ring.encrypt(PLAINTEXT, CTX), part, index);

      const error = decryptionErrorOf(() => ring.decrypt(tampered, CTX));
      expect(error).toBeInstanceOf(DomainError);
      expect(error.code).toBe('crypto.decryption_failed');
      expect(error.kind).toBe('internal');
      expect(error.message).not.toContain('super-secret');
    });

    it('rejects a ciphertext with its body truncated', () => {
      const ring = ringOf('new');
      const parts = ring.encrypt(PLAINTEXT, CTX).split('.');
      parts[3] = parts[3].slice(0, -4);

      expect(decryptionErrorOf(() => ring.decrypt(parts.join('.'), CTX)).code).toBe(
        'crypto.decryption_failed',
      );
    });

    it.each([
      ['another row', { ...CTX, rowId: 'sk_124' }],
      ['another field', { ...CTX, field: 'publicJwk' }],
      ['another table', { ...CTX, table: 'connections' }],
    ])('rejects a ciphertext moved to %s', (_description, ctx) => {
      const ring = ringOf('new');
      const value = ring.encrypt(PLAINTEXT, CTX);

      expect(decryptionErrorOf(() => ring.decrypt(value, ctx)).message).toMatch(
        /authentication failed/,
      );
      expect(ring.decrypt(value, CTX)).toBe(PLAINTEXT);
    });

    it('keeps contexts apart even when their parts shift across a separator', () => {
      const ring = ringOf('new');
      const value = ring.encrypt(PLAINTEXT, { table: 'a|b', rowId: 'c', field: 'f' });

      expect(() => ring.decrypt(value, { table: 'a', rowId: 'b|c', field: 'f' })).toThrow(
        DecryptionError,
      );
      expect(() => ring.decrypt(value, { table: 'a|b|c', rowId: '', field: 'f' })).toThrow(
        DecryptionError,
      );
    });

    it('rejects a ciphertext relabelled with another key id of the ring', () => {
      const ring = ringOf('new', 'old');
      const relabelled = ring.encrypt(PLAINTEXT, CTX).replace(/^v1\.new\./, 'v1.old.');

      expect(decryptionErrorOf(() => ring.decrypt(relabelled, CTX)).code).toBe(
        'crypto.decryption_failed',
      );
    });

    it('rejects a key id missing from the ring, naming the key id but not the plaintext', () => {
      const value = ringOf('old').encrypt(PLAINTEXT, CTX);

      const error = decryptionErrorOf(() => ringOf('new').decrypt(value, CTX));
      expect(error.message).toContain('"old"');
      expect(error.message).toContain('not in the key ring');
      expect(error.message).not.toContain('super-secret');
    });

    it.each([
      ['a plaintext value', PLAINTEXT],
      ['an empty string', ''],
      ['another version', 'v2.new.aaaa.bbbb.cccc'],
      ['too few parts', 'v1.new.aaaa.bbbb'],
      ['too many parts', 'v1.new.aaaa.bbbb.cccc.dddd'],
    ])('rejects %s as an unrecognised format', (_description, value) => {
      expect(decryptionErrorOf(() => ringOf('new').decrypt(value, CTX)).message).toBe(
        'A stored secret could not be decrypted: unrecognised format.',
      );
    });

    it.each([
      ['a short iv', 2],
      ['a short tag', 4],
    ] as const)('rejects a ciphertext with %s as malformed', (_description, part) => {
      const ring = ringOf('new');
      const parts = ring.encrypt(PLAINTEXT, CTX).split('.');
      parts[part] = parts[part].slice(0, -3);

      expect(decryptionErrorOf(() => ring.decrypt(parts.join('.'), CTX)).message).toBe(
        'A stored secret could not be decrypted: malformed.',
      );
    });

    it('never puts the plaintext or key bytes in an error message', () => {
      const ring = ringOf('new');
      const value = ring.encrypt(PLAINTEXT, CTX);
      const failures = [
        () => ring.decrypt(flipByte(value, 3), CTX),
        () => ring.decrypt(flipByte(value, 4), CTX),
        () => ring.decrypt(value, { ...CTX, rowId: 'other' }),
        () => ringOf('old').decrypt(value, CTX),
        () => ringOf('other', 'old').decrypt(value.replace('.new.', '.other.'), CTX),
        () => ring.decrypt(PLAINTEXT, CTX),
      ];

      for (const fail of failures) {
        const error = decryptionErrorOf(fail);
        const text = `${error.message} ${JSON.stringify(error.details ?? {})} ${error.stack ?? ''}`;
        expect(text).not.toContain('super-secret');
        for (const key of Object.values(KEYS))
          for (const form of keyForms(key)) expect(text).not.toContain(form);
      }
    });
  });

  describe('rotation', () => {
    it('decrypts data made under the old key once a new first key is added', () => {
      const before = ringOf('old').encrypt(PLAINTEXT, CTX);
      const rotated = ringOf('new', 'old');

      expect(rotated.decrypt(before, CTX)).toBe(PLAINTEXT);
      expect(KeyRing.keyIdOf(rotated.encrypt(PLAINTEXT, CTX))).toBe('new');
    });

    it('cannot decrypt old data once the old key is removed', () => {
      const before = ringOf('old').encrypt(PLAINTEXT, CTX);

      expect(() => ringOf('new').decrypt(before, CTX)).toThrow(DecryptionError);
    });
  });

  describe('keyIdOf', () => {
    it('returns the key id of a ciphertext without needing the key', () => {
      expect(KeyRing.keyIdOf(ringOf('old').encrypt(PLAINTEXT, CTX))).toBe('old');
    });

    it.each([PLAINTEXT, '', 'v2.old.a.b.c', 'v1.old.a.b'])('returns undefined for %j', (value) => {
      expect(KeyRing.keyIdOf(value)).toBeUndefined();
    });
  });

  describe('needsRotation', () => {
    it('is true for a ciphertext under an older key and false under the primary key', () => {
      const ring = ringOf('new', 'old');

      expect(ring.needsRotation(ringOf('old').encrypt(PLAINTEXT, CTX))).toBe(true);
      expect(ring.needsRotation(ring.encrypt(PLAINTEXT, CTX))).toBe(false);
    });

    it('is true for a ciphertext under a key the ring does not hold', () => {
      expect(ringOf('new').needsRotation(ringOf('other').encrypt(PLAINTEXT, CTX))).toBe(true);
    });
  });
});
