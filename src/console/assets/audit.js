// The audit trail (admins): every destructive request, dry runs and refusals too, newest
// first, filtered by operation, outcome and dry-run flag on the server, in pages.

import { call } from './api.js';
import { badge, busy, el, field, fill, json, pager, select, table, time } from './ui.js';

const OUTCOMES = [['', '(any)'], 'success', 'refused', 'failed'];
const DRY_RUNS = [['', '(any)'], ['true', 'dry runs'], ['false', 'real calls']];

export async function render(view, context) {
  if (!context.admin) {
    fill(view, el('h2', {}, 'Audit'), el('p', {}, 'The audit trail needs admin rights.'));
    return;
  }
  const operation = el('input', { id: 'audit-operation', placeholder: 'wipe_stream', autocomplete: 'off', list: 'audit-operations' });
  const operations = el('datalist', { id: 'audit-operations' });
  const outcome = select(OUTCOMES, '', { id: 'audit-outcome' });
  const dryRun = select(DRY_RUNS, '', { id: 'audit-dry-run' });
  const show = el('button', { type: 'submit', class: 'primary' }, 'Show');
  const results = el('section', { 'aria-live': 'polite' });
  const form = el('form', {},
    el('div', { class: 'fields' }, field('Operation', operation, { hint: 'empty: all' }), operations, field('Outcome', outcome), field('Dry run', dryRun)),
    el('div', { class: 'actions' }, show));
  fill(view, el('h2', {}, 'Audit trail'), form, results);

  const load = async (cursor) => {
    const query = [['limit', '50']];
    if (operation.value.trim()) query.push(['operation', operation.value.trim()]);
    if (outcome.value) query.push(['outcome', outcome.value]);
    if (dryRun.value) query.push(['dry_run', dryRun.value]);
    if (cursor) query.push(cursor);
    const page = await call('GET', '/api/v1/admin/audit', { query });
    const seen = new Set([...operations.children].map((option) => option.value));
    for (const record of page.models) {
      if (!seen.has(record.data.operation)) {
        seen.add(record.data.operation);
        operations.append(el('option', { value: record.data.operation }));
      }
    }
    fill(results, table([
      ['Time', (r) => time(r.time)],
      ['Operation', (r) => el('span', { class: 'mono' }, r.data.operation)],
      ['Target', (r) => el('span', { class: 'mono' }, r.data.target)],
      ['Dry run', (r) => (r.data.dry_run ? 'yes' : 'no')],
      ['Outcome', (r) => badge(r.data.outcome)],
      ['Count', (r) => (r.data.count ?? '—'), { num: true }],
      ['Who', (r) => r.data.actor || r.data.client_address || '—'],
      ['Record', (r) => el('details', {}, el('summary', {}, r.data.request_id.slice(0, 8)), json(r.data))],
    ], page.models, { empty: 'No audit record matches.' }),
    pager(page.pagination, (next) => busy(null, () => load(next), 'Audit')));
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(show, () => load(null), 'Audit');
  });
  await load(null);
}
