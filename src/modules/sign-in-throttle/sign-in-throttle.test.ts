import { describe, expect, it } from 'vitest';
import { addressKey } from './sign-in-throttle.service.js';

describe('addressKey', () => {
  it('counts an IPv4 address as itself, also when IPv4-mapped', () => {
    expect(addressKey('203.0.113.9')).toBe('203.0.113.9');
    expect(addressKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(addressKey('::FFFF:203.0.113.9')).toBe('203.0.113.9');
  });

  it('counts an IPv6 address under its /64, however it is written', () => {
    const key = '2001:db8:1:2::/64';
    for (const address of [
      '2001:db8:1:2::a',
      '2001:0db8:0001:0002:0000:0000:0000:000b',
      '2001:DB8:1:2:ffff:ffff:ffff:ffff',
      '2001:db8:1:2::1.2.3.4',
    ]) {
      expect(addressKey(address)).toBe(key);
    }
    expect(addressKey('2001:db8:1:3::a')).toBe('2001:db8:1:3::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });

  it('keeps anything else as it is', () => {
    expect(addressKey('unknown')).toBe('unknown');
  });
});
