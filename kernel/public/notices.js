// The header's Notices badge (issue 18 item 4): how many notices arrived since this browser
// last opened /notices. The last id seen is kept in localStorage (a number, no credential);
// the count comes from GET /api/v1/notices every 5 s. Text only, never markup.
(() => {
  'use strict';
  const KEY = 'hub.notices.seen';
  const badge = document.getElementById('notice-badge');
  const listPage = document.getElementById('notices-page');
  const seen = () => Number(localStorage.getItem(KEY)) || 0;
  if (listPage) localStorage.setItem(KEY, String(Math.max(seen(), Number(listPage.dataset.lastId) || 0)));
  if (!badge) return;
  async function refresh() {
    try {
      const res = await fetch(`/api/v1/notices?after=${seen()}`, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
      if (!res.ok) return;
      const body = await res.json();
      const n = Array.isArray(body.notices) ? body.notices.length : 0;
      badge.textContent = n > 99 ? '99+' : String(n);
      badge.hidden = n === 0 || Boolean(listPage);
      badge.dataset.count = String(n);
    } catch {
      // the hub did not answer: the live indicator says so; try again next round
    }
  }
  void refresh();
  setInterval(refresh, 5000);
})();
