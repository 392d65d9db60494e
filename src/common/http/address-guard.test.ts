import { describe, expect, it } from 'vitest';
import { guardedLookup, isBlockedAddress } from './address-guard.js';

describe(isBlockedAddress.name, () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
  ])('blocks %s', (address) => expect(isBlockedAddress(address)).toBe(true));
  it.each(['8.8.8.8', '172.32.0.1', '13.110.54.1', '2606:4700::1111', '::ffff:8.8.8.8'])(
    'allows %s',
    (address) => expect(isBlockedAddress(address)).toBe(false),
  );
});

describe(guardedLookup.name, () => {
  it('refuses a name that resolves to loopback', async () => {
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      guardedLookup('localhost', {}, (e) => resolve(e)),
    );
    expect(err?.code).toBe('ELATCHKEY_BLOCKED_ADDRESS');
  });
});
