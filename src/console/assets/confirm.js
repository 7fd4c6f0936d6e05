// The last step before anything is removed: the server's dry-run answer (what would go:
// stream, count, first and last sequence), then an explicit confirmation. Wipes also ask
// for the stream's name to be typed, so a slip of the mouse cannot empty a stream.

import { el, fill, json } from './ui.js';

/** The facts of a dry-run answer worth reading before confirming. */
export function dryRunFacts(answer) {
  const facts = [];
  const add = (label, value) => {
    if (value !== undefined && value !== null) facts.push([label, value]);
  };
  add('Stream', answer.stream);
  add('Would remove', answer.count);
  add('First sequence', answer.first_sequence);
  add('Last sequence', answer.last_sequence);
  add('Message', answer.message);
  return facts;
}

/**
 * Shows `facts` and `details` and asks to confirm. With `typed`, the confirm button works only
 * once that exact text is typed. Resolves true when confirmed.
 */
export function confirmAction({ title, facts = [], details, typed = null, action = 'Confirm', danger = true }) {
  const dialog = document.getElementById('confirm-dialog');
  const go = document.getElementById('confirm-go');
  const typedBox = document.getElementById('confirm-typed');
  const input = document.getElementById('confirm-input');
  document.getElementById('confirm-title').textContent = title;
  fill(document.getElementById('confirm-body'),
    facts.length ? el('dl', { class: 'facts' }, facts.flatMap(([label, value]) => [el('dt', {}, label), el('dd', { class: 'mono' }, String(value))])) : null,
    details === undefined ? null : el('details', {}, el('summary', {}, 'Full dry-run answer'), json(details)));
  go.textContent = action;
  go.className = danger ? 'danger' : 'primary';
  typedBox.hidden = typed === null;
  input.value = '';
  const sync = () => {
    go.disabled = typed !== null && input.value !== typed;
  };
  if (typed !== null) {
    typedBox.querySelector('label').textContent = `Type ${typed} to confirm`;
    input.setAttribute('aria-describedby', 'confirm-title');
  }
  input.oninput = sync;
  sync();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm' && !go.disabled), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    (typed !== null ? input : go).focus();
  });
}

/**
 * A destructive call in two steps: the dry run, its answer shown for confirmation, then the
 * real call. `request(dryRun)` makes the call. Resolves to the real answer, or null when the
 * user stepped back.
 */
export async function previewThenRun({ title, request, typed = null, action, factsOf = dryRunFacts }) {
  const preview = await request(true);
  const confirmed = await confirmAction({ title, facts: factsOf(preview), details: preview, typed, action });
  if (!confirmed) return null;
  return request(false);
}
