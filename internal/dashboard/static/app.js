// The dashboard's only script (the CSP allows script-src 'self' and
// nothing inline). Every page works without it; it adds three things.
'use strict';

// 1. The repository selector switches on change (its button is for no-JS).
for (const sel of document.querySelectorAll('form.repo-select select')) {
  sel.addEventListener('change', () => sel.form.submit());
  const button = sel.form.querySelector('button');
  if (button) button.hidden = true;
}

// 2. A section with id "live" and data-refresh="ms" reloads itself: fetch
// this same URL (connect-src 'self') and swap the section for the new one.
// The server leaves data-refresh out when nothing will change any more.
function scheduleRefresh() {
  const live = document.getElementById('live');
  const ms = parseInt((live && live.dataset.refresh) || '0', 10);
  if (ms > 0) setTimeout(refresh, ms);
}

async function refresh() {
  const live = document.getElementById('live');
  try {
    const res = await fetch(location.href, { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'text/html' } });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
    const next = doc.getElementById('live');
    if (!next) throw new Error('no live section in the page');
    live.replaceWith(document.importNode(next, true));
    document.body.classList.remove('offline');
  } catch (e) {
    // The agent may be restarting: say so and keep trying.
    document.body.classList.add('offline');
  }
  scheduleRefresh();
}
scheduleRefresh();

// 3. The file browser remembers what is ticked while you move between
// folders (per repository and snapshot, for this tab only), and sends all
// of it with the quote form.
const picker = document.querySelector('form[data-selection]');
if (picker) {
  const key = 'icevault-selection:' + picker.dataset.selection;
  const load = () => { try { return new Set(JSON.parse(sessionStorage.getItem(key) || '[]')); } catch { return new Set(); } };
  const save = (set) => sessionStorage.setItem(key, JSON.stringify([...set]));
  const boxes = [...picker.querySelectorAll('input[type=checkbox][name=path]')];
  const all = picker.querySelector('input[data-select-all]');
  const count = picker.querySelector('[data-selected-count]');
  const elsewhere = picker.querySelector('[data-selected-elsewhere]');
  const submit = picker.querySelector('button[type=submit]');
  const clear = picker.querySelector('button[data-clear]');
  let selected = load();

  const show = () => {
    for (const b of boxes) b.checked = selected.has(b.value);
    const here = new Set(boxes.map((b) => b.value));
    const other = [...selected].filter((p) => !here.has(p)).sort();
    if (count) count.textContent = selected.size === 1 ? '1 item ticked' : selected.size + ' items ticked';
    if (elsewhere) {
      elsewhere.replaceChildren(...other.map((p) => { const li = document.createElement('li'); li.textContent = p; return li; }));
      elsewhere.hidden = other.length === 0;
    }
    if (all) all.checked = boxes.length > 0 && boxes.every((b) => b.checked);
    if (submit) submit.disabled = selected.size === 0;
    if (clear) clear.hidden = selected.size === 0;
  };
  for (const b of boxes) {
    b.addEventListener('change', () => { b.checked ? selected.add(b.value) : selected.delete(b.value); save(selected); show(); });
  }
  if (all) {
    all.addEventListener('change', () => { for (const b of boxes) all.checked ? selected.add(b.value) : selected.delete(b.value); save(selected); show(); });
  }
  if (clear) clear.addEventListener('click', () => { selected = new Set(); save(selected); show(); });
  picker.addEventListener('submit', () => {
    // Ticks made in other folders travel as hidden fields.
    const here = new Set(boxes.map((b) => b.value));
    for (const p of selected) {
      if (here.has(p)) continue;
      const h = document.createElement('input');
      h.type = 'hidden'; h.name = 'path'; h.value = p;
      picker.appendChild(h);
    }
  });
  // Ticks already in the page (the browser's back button) count too.
  for (const b of boxes) if (b.checked) selected.add(b.value);
  save(selected);
  show();
}

// A restore just started: what was ticked for it is done with.
if (document.querySelector('[data-restore-started]')) {
  for (const k of Object.keys(sessionStorage)) if (k.startsWith('icevault-selection:')) sessionStorage.removeItem(k);
}
