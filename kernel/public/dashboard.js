// Keeps the server-rendered dashboard pages live: module records over SSE (/api/v1/events),
// the log tail over SSE, and the enable/disable/restart buttons, which call the admin API.
// Everything from the hub is written with textContent, never parsed as HTML: module names,
// errors and log lines are data, not markup. This script never holds a credential: the
// browser's HttpOnly session cookie (from /login) goes with its same-origin requests, and
// nothing is kept in sessionStorage, localStorage or a script-readable cookie.
(() => {
  'use strict';
  document.documentElement.classList.add('js');

  // state → tone, from shared/module-states.ts (rendered into the page by the server): one vocabulary
  let TONES = {};
  try { TONES = JSON.parse(document.body.dataset.tones || '{}'); } catch { TONES = {}; }
  // summary tile → the states it counts (running: those taking traffic; failed: those given up on)
  let COUNTED = {};
  try { COUNTED = JSON.parse(document.body.dataset.counted || '{}'); } catch { COUNTED = {}; }
  const MAX_LOG_LINES = 1000;
  const page = document.body.dataset.page;
  const publicUrl = document.body.dataset.publicUrl || '';
  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- formatting (as the server does)
  function uptime(ms) {
    if (!ms || ms < 0) return '—';
    const s = Math.floor(ms / 1000);
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d > 0) return `${d}d ${h}h`;
    if (h > 0) return `${h}h ${m}m`;
    if (m > 0) return `${m}m ${s % 60}s`;
    return `${s}s`;
  }
  function bytes(n) {
    if (n === null || n === undefined) return '—';
    if (n < 1024) return `${n} B`;
    const units = ['KB', 'MB', 'GB', 'TB'];
    let v = n / 1024, i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
  }
  function levelName(l) {
    if (l >= 60) return 'fatal';
    if (l >= 50) return 'error';
    if (l >= 40) return 'warn';
    if (l >= 30) return 'info';
    if (l >= 20) return 'debug';
    return 'trace';
  }
  const stateClass = (s) => `badge tone-${Object.hasOwn(TONES, s) ? TONES[s] : 'bad'}`;
  /** What went wrong, if anything: the last error, else a failed hot reload (the old code keeps serving). */
  const problemOf = (rec) => rec.last_error || (rec.reload_error ? `reload failed, the previous version keeps serving: ${rec.reload_error}` : '');

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') e.textContent = v;
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c) e.append(c);
    return e;
  }

  // ---------------------------------------------------------------- toast
  let toastTimer;
  function toast(text, kind) {
    const box = $('toast');
    box.textContent = text;
    box.dataset.kind = kind || 'info';
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (box.hidden = true), kind === 'error' ? 9000 : 3500);
  }

  // ---------------------------------------------------------------- records → page
  const records = new Map();
  const byData = (attr, name) => [...document.querySelectorAll(`[data-${attr}]`)].filter((n) => n.getAttribute(`data-${attr}`) === name);

  function setField(root, field, text) {
    for (const n of root.querySelectorAll(`[data-field="${field}"]`)) if (n.textContent !== text) n.textContent = text;
  }

  function applyRecord(rec) {
    if (!rec || typeof rec.name !== 'string') return;
    records.set(rec.name, rec);
    let roots = byData('module', rec.name);
    if (roots.length === 0 && page === 'dashboard') roots = [addRow(rec)];
    for (const root of roots) {
      for (const badge of root.querySelectorAll('[data-field="state"]')) {
        badge.textContent = rec.state;
        badge.className = stateClass(rec.state);
      }
      setField(root, 'version', rec.version ? `v${rec.version}` : '');
      setField(root, 'description', rec.description || '');
      setField(root, 'restarts', String(rec.restarts));
      setField(root, 'uptime', uptime(rec.uptime_ms));
      setField(root, 'memory', bytes(rec.memory_rss_bytes));
      setField(root, 'enabled', rec.enabled ? 'yes' : 'no');
      setField(root, 'pid', rec.pid === null ? '—' : `pid ${rec.pid}, port ${rec.port}`);
      setField(root, 'last_error', problemOf(rec));
      for (const n of root.querySelectorAll('.row-error[data-field="last_error"]')) n.hidden = !problemOf(rec);
    }
    const errorCard = $('last-error');
    if (errorCard && page === 'module' && $('module-page').dataset.module === rec.name) errorCard.hidden = !problemOf(rec);
    for (const box of byData('actions-for', rec.name)) updateActions(box, rec);
    for (const badge of byData('dep-state', rec.name)) {
      badge.textContent = rec.state;
      badge.className = stateClass(rec.state);
    }
  }

  function updateActions(box, rec) {
    if (box.dataset.busy === '1') return;
    const toggle = box.querySelector('[data-action="enable"], [data-action="disable"]');
    const restart = box.querySelector('[data-action="restart"]');
    const action = rec.enabled ? 'disable' : 'enable';
    if (toggle && toggle.dataset.action !== action) {
      toggle.dataset.action = action;
      toggle.textContent = rec.enabled ? 'Disable' : 'Enable';
    }
    if (toggle) toggle.disabled = false;
    if (restart) restart.disabled = !rec.enabled;
  }

  function actionsBox(rec) {
    return el('div', { class: 'actions js-only', dataset: { actionsFor: rec.name } },
      el('button', { type: 'button', class: 'btn', dataset: { action: rec.enabled ? 'disable' : 'enable' }, text: rec.enabled ? 'Disable' : 'Enable' }),
      el('button', { type: 'button', class: 'btn btn-ghost', dataset: { action: 'restart' }, text: 'Restart' }));
  }

  /** A module that appeared after the page was rendered (hot reload): the same row the server renders. */
  function addRow(rec) {
    const tbody = document.querySelector('#modules tbody');
    for (const empty of tbody.querySelectorAll('tr.empty')) empty.remove();
    const name = encodeURIComponent(rec.name);
    const docs = `${publicUrl}/api/docs#/${encodeURIComponent((rec.tags && rec.tags[0]) || rec.name)}`;
    const tr = el('tr', { dataset: { module: rec.name } },
      el('td', { class: 'mod' },
        el('a', { class: 'mod-name', href: `/modules/${name}`, text: rec.name }), ' ',
        el('span', { class: 'version', dataset: { field: 'version' } }),
        el('div', { class: 'desc', dataset: { field: 'description' } }),
        el('div', { class: 'row-error', dataset: { field: 'last_error' } })),
      el('td', {}, el('span', { class: stateClass(rec.state), dataset: { field: 'state' } })),
      el('td', { class: 'num', dataset: { field: 'restarts' } }),
      el('td', { class: 'num', dataset: { field: 'uptime' } }),
      el('td', { class: 'num', dataset: { field: 'memory' } }),
      el('td', {}, el('code', { text: rec.api_prefix || '—' })),
      el('td', { class: 'links' },
        el('a', { href: `${publicUrl}/${name}`, text: 'UI' }), ' ',
        el('a', { href: docs, text: 'Docs' }), ' ',
        el('a', { href: `/modules/${name}#log`, text: 'Logs' })),
      el('td', { class: 'js-only' }, actionsBox(rec)));
    tbody.append(tr);
    return tr;
  }

  function applySnapshot(list) {
    if (!Array.isArray(list)) return;
    for (const rec of list) applyRecord(rec);
    if (page === 'dashboard') {
      const names = new Set(list.map((r) => r.name));
      for (const tr of document.querySelectorAll('#modules tbody tr[data-module]')) {
        if (!names.has(tr.dataset.module)) {
          tr.remove();
          records.delete(tr.dataset.module);
        }
      }
    }
    updateStats();
  }

  function updateStats() {
    if (page !== 'dashboard') return;
    const all = [...records.values()];
    const stat = (k, v) => { const n = document.querySelector(`[data-stat="${k}"]`); if (n) n.textContent = String(v); };
    stat('total', all.length);
    const count = (tile) => all.filter((r) => (COUNTED[tile] || []).includes(r.state)).length;
    stat('running', count('running'));
    stat('failed', count('failed'));
    stat('restarts', all.reduce((n, r) => n + r.restarts, 0));
  }

  // ---------------------------------------------------------------- live records
  const live = $('live');
  function setLive(state, text) {
    live.dataset.state = state;
    live.textContent = text;
  }
  const events = new EventSource('/api/v1/events');
  events.addEventListener('open', () => setLive('open', 'Live'));
  events.addEventListener('error', () => setLive('error', 'Reconnecting…'));
  events.addEventListener('modules', (e) => applySnapshot(JSON.parse(e.data)));
  events.addEventListener('module', (e) => {
    applyRecord(JSON.parse(e.data));
    updateStats();
  });

  // ---------------------------------------------------------------- buttons
  const DONE = { enable: 'enabled', disable: 'disabled', restart: 'restarted' };
  document.addEventListener('click', async (ev) => {
    const btn = ev.target instanceof Element ? ev.target.closest('button[data-action]') : null;
    const box = btn && btn.closest('[data-actions-for]');
    if (!btn || !box) return;
    const name = box.dataset.actionsFor;
    const action = btn.dataset.action;
    box.dataset.busy = '1';
    for (const b of box.querySelectorAll('button')) b.disabled = true;
    const original = btn.textContent;
    btn.textContent = `${original}…`;
    try {
      const res = await fetch(`/api/v1/modules/${encodeURIComponent(name)}/${encodeURIComponent(action)}`, {
        method: 'POST',
        headers: { accept: 'application/json' },
        credentials: 'same-origin',
      });
      const body = await res.json().catch(() => ({}));
      btn.textContent = original;
      delete box.dataset.busy;
      if (res.ok) {
        applyRecord(body);
        toast(`${name} ${DONE[action] || action}`);
      } else {
        if (res.status === 401) window.location.assign('/login');
        if (body && body.details && body.details.record) applyRecord(body.details.record);
        toast(`${name}: ${(body && body.message) || `HTTP ${res.status}`}`, 'error');
      }
    } catch (e) {
      btn.textContent = original;
      delete box.dataset.busy;
      toast(`${name}: the hub did not answer (${e.message})`, 'error');
    } finally {
      const rec = records.get(name);
      if (rec) updateActions(box, rec);
      else for (const b of box.querySelectorAll('button')) b.disabled = false;
    }
  });

  // ---------------------------------------------------------------- log tail (module page)
  const modulePage = $('module-page');
  const logBox = $('log-lines');
  if (modulePage && logBox) {
    const name = modulePage.dataset.module;
    const lines = Number(modulePage.dataset.logLines) || 200;
    const atBottom = () => logBox.scrollHeight - logBox.scrollTop - logBox.clientHeight < 40;
    const append = (entry) => {
      const stick = atBottom();
      for (const empty of logBox.querySelectorAll('.log-empty')) empty.remove();
      const level = levelName(Number(entry.level));
      const time = String(entry.time || '');
      logBox.append(el('div', { class: `log-line lvl-${level}` },
        el('time', { datetime: time, text: time.slice(11, 23) }),
        el('span', { class: 'lvl', text: level }),
        el('span', { class: 'msg', text: String(entry.msg ?? '') })));
      while (logBox.childElementCount > MAX_LOG_LINES) logBox.firstElementChild.remove();
      if (stick) logBox.scrollTop = logBox.scrollHeight;
    };
    logBox.scrollTop = logBox.scrollHeight;
    const tail = new EventSource(`/api/v1/modules/${encodeURIComponent(name)}/logs?follow=1&lines=${lines}`);
    // each (re)connection sends the recent lines again before the live ones: start over
    tail.addEventListener('open', () => {
      logBox.replaceChildren();
      logBox.dataset.following = 'true';
    });
    tail.addEventListener('error', () => (logBox.dataset.following = 'false'));
    tail.addEventListener('message', (e) => {
      try { append(JSON.parse(e.data)); } catch { /* not a log entry */ }
    });
  }
})();
