// Who a connection or a request comes from, for per-client limits (the front door's connection
// ceiling, sign-in throttling). An IPv4 address is one client, also when node reports it
// IPv4-mapped (`::ffff:1.2.3.4`); an IPv6 address counts by its /64, since one host is handed
// a whole /64 and may use any address in it: counted per address, a single IPv6 client would
// get a ceiling's worth from each of 2^64 addresses.
import { isIP } from 'node:net';

/** `1.2.3.4`, or `2001:db8:1:2::/64` for any address of that /64; `?` for none. */
export function clientAddressKey(address: string | undefined): string {
  let a = (address ?? '').trim().toLowerCase().replace(/%.*$/, '');
  if (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4) a = a.slice(7);
  if (a === '') return '?';
  if (!a.includes(':')) return a;
  const [head = '', tail] = a.split('::', 2) as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // an embedded IPv4 tail (`::1.2.3.4`) stands for two groups
  const last = right.length > 0 ? right[right.length - 1] : left[left.length - 1];
  const v4 = last !== undefined && last.includes('.') ? 1 : 0;
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length - v4)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(':')}::/64`;
}

/** 127/8 and ::1, in any spelling. */
export function isLoopback(address: string | undefined): boolean {
  const key = clientAddressKey(address);
  if (isIP(key) === 4) return key.startsWith('127.');
  if (key !== '0:0:0:0::/64') return false;
  const a = (address ?? '').trim().toLowerCase().replace(/%.*$/, '');
  return isIP(a) === 6 && a.split(':').filter(Boolean).every((g, i, all) => (i === all.length - 1 ? parseInt(g, 16) === 1 : parseInt(g, 16) === 0));
}
