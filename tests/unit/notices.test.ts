// HUB_NOTIFY_* settings (kernel/config.ts) and the notice ring's bound (kernel/notice-ring.ts).
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../kernel/config.js';
import { MESSAGE_MAX, NoticeRing, RING_SIZE } from '../../kernel/notice-ring.js';

describe('HUB_NOTIFY_URL', () => {
  it('takes one or more http(s) URLs, comma separated; none by default', () => {
    expect(loadConfig({}, '/tmp').notify).toEqual({ urls: [], queueMax: 1000, timeoutMs: 5000, retryMs: 1000 });
    const c = loadConfig({ HUB_NOTIFY_URL: ' https://hooks.example.com/a?x=1 , http://10.0.0.5:9000/hub ' }, '/tmp');
    expect(c.notify.urls).toEqual(['https://hooks.example.com/a?x=1', 'http://10.0.0.5:9000/hub']);
  });
  it('refuses anything but http(s) URLs without credentials, and a bad queue bound, one line each', () => {
    try {
      loadConfig({ HUB_NOTIFY_URL: 'https://ok.example.com, file:///etc/passwd, not a url, https://bot:pw@hooks.example.com/x', HUB_NOTIFY_QUEUE_MAX: '0' }, '/tmp');
      expect.unreachable('loadConfig accepted bad notify settings');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).problems).toEqual([
        'HUB_NOTIFY_URL: "file:///etc/passwd" is not an http(s) URL; give one or more, comma separated, e.g. https://hooks.example.com/hub',
        'HUB_NOTIFY_URL: "not a url" is not an http(s) URL; give one or more, comma separated, e.g. https://hooks.example.com/hub',
        'HUB_NOTIFY_URL: https://hooks.example.com carries a user name or password, which is not sent; put the receiver\'s secret in the path or query instead',
        'HUB_NOTIFY_QUEUE_MAX="0": expected a whole number from 1 to 100000 (default 1000)',
      ]);
    }
  });
});

describe('NoticeRing', () => {
  const fields = (i: number) => ({ type: 'module.crashed' as const, module: `m${i}`, state: 'restarting', message: 'x'.repeat(2000), actor: null, restarts: i });
  it(`keeps the newest ${RING_SIZE}, messages cut to ${MESSAGE_MAX} characters, listed newest first after an id`, () => {
    const ring = new NoticeRing();
    for (let i = 1; i <= RING_SIZE + 50; i++) ring.add(fields(i));
    const all = ring.list();
    expect(all).toHaveLength(RING_SIZE);
    expect(all[0]!.id).toBe(RING_SIZE + 50);
    expect(all.at(-1)!.id).toBe(51);
    expect(all[0]!.message).toHaveLength(MESSAGE_MAX);
    expect(ring.list(RING_SIZE + 47).map((n) => n.id)).toEqual([RING_SIZE + 50, RING_SIZE + 49, RING_SIZE + 48]);
    expect(ring.lastId).toBe(RING_SIZE + 50);
  });
});
