// Delete and wipe (admins): delete one notification by id, wipe one stream, wipe every
// managed stream. Each shows the server's dry run first; wipes ask for the stream's name
// (wipe all: "wipe all") to be typed. Purging what a filter matches lives on the browse
// page, beside the filter form.

import { call, segment } from './api.js';
import { dryRunFacts, previewThenRun } from './confirm.js';
import { busy, el, field, fill, select, showInfo, table } from './ui.js';

const WIPE_ALL_PHRASE = 'wipe all';

export async function render(view, context) {
  if (!context.admin) {
    fill(view, el('h2', {}, 'Delete & wipe'), el('p', {}, 'These operations need admin rights.'));
    return;
  }
  const overview = await call('GET', '/api/v1/admin/streams');
  const streams = overview.streams.map((stream) => stream.name);

  const id = el('input', { id: 'admin-delete-id', placeholder: 'mars@42', autocomplete: 'off', required: true });
  const deleteButton = el('button', { type: 'submit', class: 'danger' }, 'Delete…');
  const deleteForm = el('form', { id: 'admin-delete-form' },
    el('h3', {}, 'Delete one notification'),
    el('div', { class: 'fields' }, field('Notification id', id, { hint: '<event type or stream>@<sequence>' })),
    el('div', { class: 'actions' }, deleteButton));
  deleteForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const target = id.value.trim();
    busy(deleteButton, async () => {
      const path = `/api/v1/admin/notification/${segment(target)}`;
      const done = await previewThenRun({
        title: `Delete ${target}?`,
        action: 'Delete',
        request: (dryRun) => call('DELETE', path, { query: [['dry_run', String(dryRun)]] }),
      });
      if (done) showInfo(done.message);
    }, `Delete ${target}`);
  });

  const stream = select(streams, streams[0], { id: 'admin-wipe-stream' });
  const wipeButton = el('button', { type: 'submit', class: 'danger' }, 'Wipe stream…');
  const wipeForm = el('form', { id: 'admin-wipe-form' },
    el('h3', {}, 'Wipe one stream'),
    el('p', { class: 'muted' }, 'Removes every notification of the stream; the stream and its settings stay.'),
    el('div', { class: 'fields' }, field('Stream', stream)),
    el('div', { class: 'actions' }, wipeButton));
  wipeForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const name = stream.value;
    busy(wipeButton, async () => {
      const done = await previewThenRun({
        title: `Wipe stream ${name}?`,
        action: 'Wipe stream',
        typed: name,
        request: (dryRun) => call('DELETE', '/api/v1/admin/wipe/stream', { query: [['dry_run', String(dryRun)]], body: { stream_name: name } }),
      });
      if (done) {
        showInfo(`${done.message}: ${done.count} removed`);
        await refreshCounts();
      }
    }, `Wipe ${name}`);
  });

  const wipeAllButton = el('button', { type: 'button', class: 'danger', id: 'admin-wipe-all' }, 'Wipe all streams…');
  wipeAllButton.addEventListener('click', () => busy(wipeAllButton, async () => {
    const done = await previewThenRun({
      title: 'Wipe every managed stream?',
      action: 'Wipe all',
      typed: WIPE_ALL_PHRASE,
      request: (dryRun) => call('DELETE', '/api/v1/admin/wipe/all', { query: [['dry_run', String(dryRun)]] }),
      factsOf: (answer) => [
        ...dryRunFacts(answer),
        ...(answer.streams || []).map((item) => [item.stream, `${item.count} (sequences ${item.first_sequence ?? '—'} to ${item.last_sequence ?? '—'})`]),
      ],
    });
    if (done) {
      showInfo(`${done.message}: ${done.count} removed`);
      await refreshCounts();
    }
  }, 'Wipe all'));

  const counts = el('section', { id: 'admin-counts' });
  const refreshCounts = async () => {
    const latest = await call('GET', '/api/v1/admin/streams');
    fill(counts, table([
      ['Stream', (s) => s.name],
      ['Messages', (s) => s.messages.toLocaleString(), { num: true }],
      ['First seq', (s) => (s.messages ? s.first_sequence : '—'), { num: true }],
      ['Last seq', (s) => (s.messages ? s.last_sequence : '—'), { num: true }],
    ], latest.streams));
  };
  await refreshCounts();

  fill(view,
    el('h2', {}, 'Delete & wipe'),
    el('p', { class: 'muted' }, 'Every operation shows its dry run first: what would be removed. To purge what an identifier matches, use the filter on ', el('a', { href: '#/browse' }, 'Browse'), '.'),
    counts, deleteForm, wipeForm,
    el('section', {}, el('h3', {}, 'Wipe all'), el('p', { class: 'muted' }, 'Every stream of the schema; never other streams, the audit trail or delivery records.'), el('div', { class: 'actions' }, wipeAllButton)));
}
