// Issue 14, item 10 through another door: the per-client connection ceiling counts an IPv6
// client by its /64 (a host may use every address of its /64), an IPv4 one by its address,
// also when node reports it IPv4-mapped.
import { describe, expect, it } from 'vitest';
import { clientKey } from '../../kernel/auth-rate-limit.js';
import { clientAddressKey } from '../../kernel/client-address.js';

describe('clientAddressKey (the front door\'s connection ceiling)', () => {
  it('IPv4, plain or IPv4-mapped, is one client per address', () => {
    expect(clientAddressKey('127.0.0.1')).toBe('127.0.0.1');
    expect(clientAddressKey('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(clientAddressKey('::FFFF:10.1.2.3')).toBe('10.1.2.3');
    expect(clientAddressKey('127.0.0.2')).not.toBe(clientAddressKey('127.0.0.1'));
  });

  it('every address of one IPv6 /64 is the same client, whatever its spelling', () => {
    const k = clientAddressKey('2001:db8:1:2::5');
    expect(k).toBe('2001:db8:1:2::/64');
    for (const a of ['2001:db8:1:2:ffff:1:2:3', '2001:DB8:1:2::6%eth0', '2001:0db8:0001:0002:0:0:0:1', '2001:db8:1:2:0:0:1.2.3.4']) expect(clientAddressKey(a)).toBe(k);
    expect(clientAddressKey('2001:db8:1:3::5')).not.toBe(k);
    expect(clientAddressKey('2001:db8::1:2:3:4:5')).toBe('2001:db8:0:1::/64');
    expect(clientAddressKey('::1')).toBe('0:0:0:0::/64');
    expect(clientAddressKey('1:2:3:4:5:6:7:8')).toBe('1:2:3:4::/64');
  });

  it('no address at all is one client too', () => {
    expect(clientAddressKey(undefined)).toBe('?');
    expect(clientAddressKey('')).toBe('?');
  });
});

describe('clientKey (sign-in throttling) on top of it', () => {
  it('every loopback address is one client; other addresses as above', () => {
    for (const a of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) expect(clientKey(a)).toBe('loopback');
    expect(clientKey('::2')).toBe('0:0:0:0::/64');
    expect(clientKey('10.0.0.1')).toBe('10.0.0.1');
    expect(clientKey('2001:db8:1:2::7')).toBe('2001:db8:1:2::/64');
  });
});
