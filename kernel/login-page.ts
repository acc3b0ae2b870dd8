// The /login page: a plain HTML form (no script), posting to /api/v1/auth/login, which
// redirects back to `next` on success and here with ?error=1 on failure.

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page's HTML; `next` must already be a safe same-site path (auth-routes.ts safeNext). */
export function loginPage(next: string, failed: boolean): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sign in · BMC Hub</title>
<style>body{font-family:system-ui,sans-serif;background:#f4f5f7;display:grid;place-items:center;min-height:100vh;margin:0}
form{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 2px 8px #0002;min-width:18rem}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;box-sizing:border-box}
button{margin-top:1.2rem;width:100%;padding:.6rem}.error{color:#b00020}</style></head>
<body><form method="post" action="/api/v1/auth/login">
<h1>BMC Hub</h1>
${failed ? '<p class="error" role="alert">Wrong username or password.</p>' : ''}
<input type="hidden" name="next" value="${escape(next)}">
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form></body></html>`;
}
