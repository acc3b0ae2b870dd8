// The price of "a child answers only its kernel": per request, the gateway stamps the
// kernel secret (and strips the hub's admin cookie), and the child checks the secret in
// constant time and removes it. Both halves timed in a tight loop on realistic headers.
import type { IncomingMessage } from 'node:http';
import { stampForModule } from '../kernel/proxy.js';
import { kernelSecretCheck, newKernelSecret } from '../shared/runtime/kernel-secret.js';
import { round } from './stats.js';

function request(cookie: boolean): IncomingMessage {
  const headers: Record<string, string> = {
    host: '127.0.0.1:8000',
    'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0',
    accept: 'application/json',
    'x-request-id': '0f8c3c2e-5b9e-4c53-9d1c-3c1d0e8f7a21',
    ...(cookie ? { cookie: 'theme=dark; hub_admin_session=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG; lang=da' } : {}),
  };
  return { headers, rawHeaders: Object.entries(headers).flat() } as unknown as IncomingMessage;
}

export function kernelSecretCost(iterations = 200_000) {
  const secret = newKernelSecret();
  const check = kernelSecretCheck(secret);
  const time = (fn: () => void) => {
    for (let i = 0; i < 10_000; i++) fn(); // warm up the JIT
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    return round(Number(process.hrtime.bigint() - t0) / 1000 / iterations, 2);
  };
  const gateway_us = time(() => stampForModule(request(false), secret));
  const gateway_with_cookie_us = time(() => stampForModule(request(true), secret));
  const child_us = time(() => {
    const req = request(false);
    stampForModule(req, secret);
    req.rawHeaders.push('x-hub-secret', secret);
    if (!check(req)) throw new Error('the secret did not check');
  });
  const baseline_us = time(() => void request(false)); // building the fake request alone
  return { iterations, baseline_us, gateway_us, gateway_with_cookie_us, gateway_and_child_us: child_us };
}
