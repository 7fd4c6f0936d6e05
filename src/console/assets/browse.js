// Browse: an event type, a filter form from its schema, a time range; pages of notifications
// newest first; one notification's full CloudEvent and the curl command that fetches it; and,
// for admins, delete one, delete a selection, or purge what the filter matches, each after
// its dry run.

import { call, curlFor, segment } from './api.js';
import { previewThenRun } from './confirm.js';
import { typedFilter } from './filter_form.js';
import { busy, copyButton, el, field, fill, json, pager, select, showInfo, table, time } from './ui.js';

/** `2026-12-01T10:00` from a datetime-local input, as RFC 3339 in UTC. */
export function localToRfc3339(value) {
  if (!value) return null;
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? null : parsed.toISOString();
}

function identifierSummary(event) {
  const identifier = (event.data && event.data.identifier) || {};
  return el('span', { class: 'mono' }, Object.entries(identifier).map(([key, value]) => `${key}=${value}`).join(' '));
}

export async function render(view, context, [selectedType]) {
  const schema = await context.schema();
  const filter = typedFilter(schema, { idPrefix: 'browse', selected: selectedType });
  const from = el('input', { type: 'datetime-local', id: 'browse-from', step: 1 });
  const to = el('input', { type: 'datetime-local', id: 'browse-to', step: 1 });
  const limit = select(['10', '25', '50', '100', '250'], '25', { id: 'browse-limit' });
  const direction = select([['desc', 'newest first'], ['asc', 'oldest first']], 'desc', { id: 'browse-dir' });
  const show = el('button', { type: 'submit', class: 'primary' }, 'Show');
  const purge = context.admin ? el('button', { type: 'button', class: 'danger', id: 'browse-purge' }, 'Purge all matching…') : null;
  const results = el('section', { 'aria-live': 'polite', id: 'browse-results' });
  const detail = el('section', { id: 'browse-detail', 'aria-live': 'polite' });
  const form = el('form', { id: 'browse-form' },
    filter.node,
    el('div', { class: 'fields' },
      field('From', from, { hint: 'notification time, your time zone' }), field('To', to),
      field('Page size', limit), field('Order', direction)),
    el('div', { class: 'actions' }, show, purge));
  fill(view, el('h2', {}, 'Browse'), form, el('div', { class: 'split' }, results, detail));

  const selected = new Set();
  let lastQuery = null;

  const query = (cursor) => {
    const pairs = [...filter.form().queryPairs(), ['limit', limit.value], ['dir', direction.value]];
    const gte = localToRfc3339(from.value);
    const lte = localToRfc3339(to.value);
    if (gte) pairs.push(['time[gte]', gte]);
    if (lte) pairs.push(['time[lte]', lte]);
    if (cursor) pairs.push(cursor);
    return pairs;
  };

  const load = async (cursor) => {
    const eventType = filter.eventType();
    const pairs = query(cursor);
    const page = await call('GET', `/api/v1/notifications/${segment(eventType)}`, { query: pairs });
    lastQuery = { eventType, cursor };
    selected.clear();
    const bulk = context.admin ? el('button', { type: 'button', class: 'danger', disabled: true, id: 'browse-delete-selected' }, 'Delete selected') : null;
    const syncBulk = () => {
      if (!bulk) return;
      bulk.disabled = selected.size === 0;
      bulk.textContent = selected.size ? `Delete selected (${selected.size})…` : 'Delete selected';
    };
    if (bulk) bulk.addEventListener('click', () => busy(bulk, () => deleteMany([...selected]), 'Bulk delete'));
    const columns = [
      ['Id', (event) => el('button', { type: 'button', class: 'mono', onclick: () => open(event.id), 'aria-label': `Open ${event.id}` }, event.id)],
      ['Time', (event) => time(event.time)],
      ['Identifier', identifierSummary],
    ];
    if (context.admin) {
      columns.unshift(['', (event) => el('input', {
        type: 'checkbox', 'aria-label': `Select ${event.id}`,
        onchange: (change) => { if (change.target.checked) selected.add(event.id); else selected.delete(event.id); syncBulk(); },
      })]);
    }
    fill(results,
      el('h3', {}, `${eventType}: ${page.models.length} shown`),
      table(columns, page.models, { empty: 'No notification matches.' }),
      pager(page.pagination, (next) => busy(null, () => load(next), 'Browse')),
      el('div', { class: 'actions' }, bulk));
  };

  const open = async (id) => {
    const event = await busy(null, () => call('GET', `/api/v1/notification/${segment(id)}`), `Notification ${id}`);
    if (!event) return;
    const curl = curlFor('GET', `/api/v1/notification/${segment(id)}`);
    const remove = context.admin ? el('button', { type: 'button', class: 'danger', id: 'browse-delete-one' }, 'Delete…') : null;
    if (remove) remove.addEventListener('click', () => busy(remove, () => deleteOne(id), `Delete ${id}`));
    fill(detail,
      el('h3', {}, 'Notification ', el('span', { class: 'mono', id: 'browse-detail-id' }, event.id)),
      el('dl', { class: 'facts' }, el('dt', {}, 'Time'), el('dd', {}, time(event.time)), el('dt', {}, 'Type'), el('dd', { class: 'mono' }, event.type)),
      json(event),
      el('h3', {}, 'The same with curl'),
      el('pre', { class: 'mono', id: 'browse-curl' }, curl),
      el('div', { class: 'actions' }, copyButton(curl, 'Copy curl command'), copyButton(JSON.stringify(event, null, 2), 'Copy CloudEvent'), remove));
    detail.scrollIntoView({ block: 'nearest' });
  };

  const reload = () => (lastQuery ? load(lastQuery.cursor) : null);

  const deleteOne = async (id) => {
    const path = `/api/v1/admin/notification/${segment(id)}`;
    const done = await previewThenRun({
      title: `Delete ${id}?`,
      action: 'Delete',
      request: (dryRun) => call('DELETE', path, { query: [['dry_run', String(dryRun)]] }),
    });
    if (!done) return;
    showInfo(done.message || `Deleted ${id}`);
    fill(detail);
    await reload();
  };

  const deleteMany = async (ids) => {
    const done = await previewThenRun({
      title: `Delete ${ids.length} notification${ids.length === 1 ? '' : 's'}?`,
      action: 'Delete',
      request: (dryRun) => call('DELETE', '/api/v1/admin/notifications', { query: [['dry_run', String(dryRun)]], body: { ids } }),
      factsOf: (answer) => [['Would delete', answer.count], ['Ids', (answer.successful || []).join(', ') || '—'], ['Would fail', (answer.failed || []).map((item) => `${item.id} ${item.code}`).join(', ') || 'none']],
    });
    if (!done) return;
    showInfo(done.message);
    await reload();
  };

  if (purge) {
    purge.addEventListener('click', () => busy(purge, async () => {
      const eventType = filter.eventType();
      const identifier = filter.form().identifier();
      const done = await previewThenRun({
        title: `Purge the ${eventType} notifications matching this filter?`,
        action: 'Purge',
        typed: eventType,
        request: (dryRun) => call('DELETE', `/api/v1/admin/notifications/${segment(eventType)}`, { query: [['dry_run', String(dryRun)]], body: { identifier } }),
      });
      if (!done) return;
      showInfo(done.message);
      await reload();
    }, 'Purge'));
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(show, () => load(null), 'Browse');
  });
  // Straight from the overview's link: show the newest at once when no key is required.
  const rules = (schema.schema[filter.eventType()] || {}).identifier || {};
  if (selectedType && !Object.values(rules).some((rule) => rule.required)) await busy(show, () => load(null), 'Browse');
}
