// The Host guard in isolation (pure): while an origin listens on loopback, only loopback names
// and HUB_ALLOWED_HOSTS pass, and a Host header that is not a plain host[:port] passes never.
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { hostGuard, hostName } from '../kernel/request-guards.js';

const req = (host: string | undefined) => ({ headers: host === undefined ? {} : { host } }) as IncomingMessage;

describe('the Host guard', () => {
  const guard = hostGuard('127.0.0.1', ['hub.example.org'])!;

  it.each(['127.0.0.1:8000', 'localhost', 'LOCALHOST:8000', '[::1]:8000', 'hub.example.org', 'hub.example.org:443', '127.0.0.2'])('accepts %s', (host) => {
    expect(guard(req(host))).toBeNull();
  });

  it.each(['evil.example', 'localhost.evil.example', '127.0.0.1:80@evil.example', 'localhost:18300,evil.example', '127.0.0.1 evil', '', '[::1', 'hub.example.org.evil'])(
    'answers 421 to %j (red team: odd Host values)', (host) => {
      expect(guard(req(host))).toMatchObject({ code: 'misdirected_request', status: 421 });
    });

  it('answers 421 without a Host header', () => {
    expect(guard(req(undefined))).toMatchObject({ code: 'misdirected_request' });
  });

  it('parses only plain host[:port]', () => {
    expect(hostName('[::1]:8000')).toBe('[::1]');
    expect(hostName('Example.org:80')).toBe('example.org');
    expect(hostName('a@b')).toBe('');
  });

  it('guards nothing on a public bind without HUB_ALLOWED_HOSTS, and accepts anything with *', () => {
    expect(hostGuard('0.0.0.0', [])).toBeNull();
    expect(hostGuard('127.0.0.1', ['*'])).toBeNull();
  });
});
