// A filter form generated from an event type's schema (GET /api/v1/schema/{event_type}):
// enums as choices, dates as date inputs, integer and float keys with a constraint operator
// and the schema's range, required keys marked. It yields the identifier both as JSON (for
// purge and subscriptions) and as query pairs (for browse and the live tail), so the two
// can never disagree.

import { el, field, select } from './ui.js';

const NUMBER_OPERATORS = [
  ['eq', '='], ['gte', '≥'], ['gt', '>'], ['lte', '≤'], ['lt', '<'], ['between', 'between'], ['in', 'one of'],
];

/** Keys with `required: true` first, then the rest, each group in name order. */
function orderedKeys(identifier) {
  const keys = Object.keys(identifier);
  const required = keys.filter((key) => identifier[key].required).sort();
  const optional = keys.filter((key) => !identifier[key].required).sort();
  return [...required, ...optional];
}

/**
 * Builds the form for `schema` (the `schema` member of the schema route's answer). Returns
 * `{node, identifier(), queryPairs(), isEmpty()}`.
 */
export function filterForm(schema, { idPrefix = 'filter', initial = {} } = {}) {
  const definition = (schema && schema.identifier) || {};
  const readers = [];
  const fields = [];
  for (const key of orderedKeys(definition)) {
    const rule = definition[key];
    const id = `${idPrefix}-${key}`;
    const made = control(key, rule, id, initial[key]);
    readers.push(made.read);
    fields.push(field(key, made.node, { hint: made.hint || rule.description, required: rule.required }));
  }
  if (definition.polygon) {
    const point = el('input', { id: `${idPrefix}-point`, name: 'point', placeholder: 'lat,lon', autocomplete: 'off' });
    readers.push(() => scalar('point', point.value.trim()));
    fields.push(field('point', point, { hint: 'instead of polygon: notifications whose polygon contains this point' }));
  }
  const node = el('div', { class: 'fields' }, fields);

  const entries = () => readers.flatMap((read) => read());
  return {
    node,
    /** The identifier as the JSON bodies take it: `{class: "od", step: {gte: 4}}`. */
    identifier() {
      const identifier = {};
      for (const [key, value] of entries()) identifier[key] = value.json;
      return identifier;
    },
    /** The identifier as query pairs: `class=od`, `step[gte]=4`, `step[between]=1,5`. */
    queryPairs() {
      return entries().map(([key, value]) => (value.operator ? [`${key}[${value.operator}]`, value.query] : [key, value.query]));
    },
    isEmpty() {
      return entries().length === 0;
    },
  };
}

/** Normalises a reader's result to [[key, {json, query, operator?}]]. */
function scalar(key, text) {
  return text === '' ? [] : [[key, { json: text, query: text }]];
}

function control(key, rule, id, initial) {
  const required = Boolean(rule.required) && key !== 'polygon';
  switch (rule.type) {
    case 'EnumHandler': {
      const node = select([['', required ? 'choose…' : '(any)'], ...(rule.values || [])], initial || '', { id, name: key, required });
      return { node, read: () => scalar(key, node.value) };
    }
    case 'DateHandler': {
      const node = el('input', { id, name: key, type: 'date', required, value: initial });
      return { node, read: () => scalar(key, node.value), hint: rule.description };
    }
    case 'IntHandler':
    case 'FloatHandler':
      return numberControl(key, rule, id, required);
    case 'TimeHandler': {
      const node = el('input', { id, name: key, placeholder: 'HH or HHMM', inputmode: 'numeric', required, value: initial, autocomplete: 'off' });
      return { node, read: () => scalar(key, node.value.trim()) };
    }
    case 'PolygonHandler': {
      const node = el('input', { id, name: key, placeholder: '(lat,lon,lat,lon,…)', autocomplete: 'off', value: initial });
      return {
        node,
        read: () => scalar(key, node.value.trim()),
        hint: rule.required ? 'required unless point is given' : 'notifications whose polygon intersects this one',
      };
    }
    default: {
      const node = el('input', {
        id, name: key, required, value: initial, autocomplete: 'off',
        maxlength: rule.max_length || null, placeholder: rule.default ? `default ${rule.default}` : null,
      });
      return { node, read: () => scalar(key, node.value.trim()) };
    }
  }
}

/** An operator choice and one or two operands, within the schema's range. */
function numberControl(key, rule, id, required) {
  const integer = rule.type === 'IntHandler';
  const [min, max] = Array.isArray(rule.range) ? rule.range : [null, null];
  const attributes = { type: 'number', min, max, step: integer ? 1 : 'any', inputmode: integer ? 'numeric' : 'decimal' };
  const operator = select(NUMBER_OPERATORS, 'eq', { 'aria-label': `${key} operator`, id: `${id}-op` });
  const first = el('input', { ...attributes, id, name: key, required, 'aria-label': key });
  const second = el('input', { ...attributes, id: `${id}-to`, 'aria-label': `${key} upper bound`, hidden: true });
  const list = el('input', { id: `${id}-in`, placeholder: '1,2,3', hidden: true, 'aria-label': `${key} values`, autocomplete: 'off' });
  const sync = () => {
    second.hidden = operator.value !== 'between';
    list.hidden = operator.value !== 'in';
    first.hidden = operator.value === 'in';
  };
  operator.addEventListener('change', sync);
  const parse = (text) => (integer ? Number.parseInt(text, 10) : Number(text));
  const read = () => {
    const op = operator.value;
    if (op === 'in') {
      const values = list.value.split(',').map((part) => part.trim()).filter(Boolean);
      return values.length ? [[key, { json: { in: values.map(parse) }, query: values.join(','), operator: 'in' }]] : [];
    }
    if (first.value === '') return [];
    if (op === 'between') {
      const upper = second.value === '' ? first.value : second.value;
      return [[key, { json: { between: [parse(first.value), parse(upper)] }, query: `${first.value},${upper}`, operator: 'between' }]];
    }
    if (op === 'eq') return [[key, { json: parse(first.value), query: first.value }]];
    return [[key, { json: { [op]: parse(first.value) }, query: first.value, operator: op }]];
  };
  const hint = min !== null && max !== null ? `${min} to ${max}` : null;
  return { node: el('div', { class: 'range' }, operator, first, second, list), read, hint };
}

/**
 * An event-type choice with its filter form below, rebuilt when the type changes. Returns
 * `{node, eventType(), form()}`; `form()` is the current filterForm.
 */
export function typedFilter(schemaAnswer, { idPrefix = 'filter', selected } = {}) {
  const types = schemaAnswer.event_types || [];
  const chosen = types.includes(selected) ? selected : types[0];
  const picker = select(types, chosen, { id: `${idPrefix}-event-type`, name: 'event_type' });
  const holder = el('div');
  let current = null;
  const build = () => {
    current = filterForm(schemaAnswer.schema[picker.value], { idPrefix });
    holder.replaceChildren(current.node);
  };
  picker.addEventListener('change', build);
  if (chosen) build();
  return {
    node: el('div', {}, el('div', { class: 'fields' }, field('Event type', picker)), holder),
    eventType: () => picker.value,
    form: () => current,
  };
}
