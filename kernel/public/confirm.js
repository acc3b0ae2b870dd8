// Asks before Disable and Restart (issue 18 item 5): a real <dialog>, built here (the CSP runs
// no inline script). It listens in the capture phase, before dashboard.js's click handler: a
// first click on such a button is stopped and opens the dialog; "Disable"/"Restart" in the
// dialog clicks the button again, marked as confirmed, and dashboard.js does the rest.
(() => {
  'use strict';
  const ASK = new Set(['disable', 'restart']);
  const WHAT = {
    disable: (name) => `Disable ${name}? It stops serving at once and stays off, also after a kernel restart, until someone enables it.`,
    restart: (name) => `Restart ${name}? A new process starts, then takes over from the old one; requests in flight finish first.`,
  };
  let dialog = null;
  let pending = null;

  function build() {
    dialog = document.createElement('dialog');
    dialog.id = 'confirm';
    dialog.className = 'confirm';
    const form = document.createElement('form');
    form.method = 'dialog';
    const title = document.createElement('h2');
    title.id = 'confirm-title';
    const text = document.createElement('p');
    text.id = 'confirm-text';
    const buttons = document.createElement('div');
    buttons.className = 'confirm-buttons';
    const cancel = document.createElement('button');
    cancel.value = 'cancel';
    cancel.className = 'btn btn-ghost';
    cancel.textContent = 'Cancel';
    const ok = document.createElement('button');
    ok.value = 'ok';
    ok.className = 'btn';
    ok.id = 'confirm-ok';
    buttons.append(cancel, ok);
    form.append(title, text, buttons);
    dialog.append(form);
    dialog.setAttribute('aria-labelledby', 'confirm-title');
    document.body.append(dialog);
    dialog.addEventListener('close', () => {
      const btn = pending;
      pending = null;
      if (btn && dialog.returnValue === 'ok' && btn.isConnected) {
        btn.dataset.confirmed = '1';
        btn.click();
      }
    });
  }

  document.addEventListener('click', (ev) => {
    const btn = ev.target instanceof Element ? ev.target.closest('button[data-action]') : null;
    if (!btn || !ASK.has(btn.dataset.action)) return;
    const box = btn.closest('[data-actions-for]');
    if (!box) return;
    if (btn.dataset.confirmed === '1') {
      delete btn.dataset.confirmed;
      return; // confirmed: dashboard.js acts on this click
    }
    ev.stopImmediatePropagation();
    ev.preventDefault();
    if (!dialog) build();
    const action = btn.dataset.action;
    const name = box.dataset.actionsFor;
    dialog.querySelector('#confirm-title').textContent = `${action === 'disable' ? 'Disable' : 'Restart'} ${name}?`;
    dialog.querySelector('#confirm-text').textContent = WHAT[action](name);
    const ok = dialog.querySelector('#confirm-ok');
    ok.textContent = action === 'disable' ? 'Disable' : 'Restart';
    ok.dataset.tone = action;
    dialog.returnValue = '';
    pending = btn;
    dialog.showModal();
    ok.focus();
  }, true);
})();
