// Server-Sent Events over fetch. A browser's EventSource cannot send an Authorization header,
// so with auth on it could only authenticate through a token in the URL (which lands in
// logs and history) or a cookie (which opens the door to cross-site requests). Reading the
// stream with fetch sends the same bearer header as every other call, and resumes with
// Last-Event-ID exactly as EventSource does.

import { ApiError, apiUrl, authHeaders } from './api.js';

const MAX_RECONNECT_DELAY_MS = 10_000;

/**
 * One logical stream, reconnecting by itself. `handlers.onFrame({event, id, data})` gets every
 * frame; `handlers.onState(state, detail)` gets 'connecting', 'open', 'reconnecting',
 * 'closed' (the server ended it for good, or stop()) and 'error' (with an ApiError).
 * `endsOnClose`: a replay ends with its connection-closing frame; a watch reconnects.
 */
export class EventStream {
  constructor(path, query, handlers, { endsOnClose = false } = {}) {
    this.path = path;
    this.query = query;
    this.handlers = handlers;
    this.endsOnClose = endsOnClose;
    this.lastEventId = null;
    this.retryMs = 1000;
    this.controller = null;
    this.running = false;
    /** Bumped by every start(), so a loop left over from before a stop() ends by itself. */
    this.generation = 0;
  }

  /** Opens the stream; with `lastEventId` it continues strictly after that id. */
  start(lastEventId = this.lastEventId) {
    this.lastEventId = lastEventId;
    this.running = true;
    this.failures = 0;
    this.generation += 1;
    this.loop(this.generation);
  }

  /** Closes the connection; start() again continues after the last id received. */
  stop() {
    this.running = false;
    if (this.controller) this.controller.abort();
    this.controller = null;
  }

  async loop(generation) {
    const current = () => this.running && generation === this.generation;
    while (current()) {
      const ended = await this.connectOnce();
      if (!current()) break;
      if (ended) {
        this.running = false;
        this.handlers.onState('closed');
        break;
      }
      const delay = Math.min(this.retryMs * 2 ** Math.min(this.failures, 4), MAX_RECONNECT_DELAY_MS);
      this.handlers.onState('reconnecting', { delayMs: delay, lastEventId: this.lastEventId });
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** Whether the stream is open or reconnecting. */
  get active() {
    return this.running;
  }

  /** One connection. Resolves true when the stream is over for good, false to reconnect. */
  async connectOnce() {
    this.controller = new AbortController();
    const headers = { Accept: 'text/event-stream', ...authHeaders() };
    if (this.lastEventId) headers['Last-Event-ID'] = this.lastEventId;
    this.handlers.onState('connecting');
    let response;
    try {
      response = await fetch(apiUrl(this.path, this.query), {
        headers, signal: this.controller.signal, cache: 'no-store', credentials: 'omit',
      });
    } catch (error) {
      this.failures += 1;
      return false;
    }
    if (!response.ok) {
      let body = null;
      try { body = await response.json(); } catch { body = null; }
      const error = new ApiError(response.status, body, response.headers.get('X-Request-ID'));
      this.handlers.onState('error', error);
      // Busy (503) and server failures are worth another try; a refusal is not.
      if (response.status >= 500) {
        this.failures += 1;
        return false;
      }
      return true;
    }
    this.failures = 0;
    this.handlers.onState('open');
    let closedForGood = false;
    try {
      for await (const frame of frames(response.body)) {
        if (frame.retry !== null) this.retryMs = frame.retry;
        if (frame.id !== null) this.lastEventId = frame.id;
        if (frame.event === null && frame.data === null) continue;
        if (frame.event === 'connection-closing' && this.endsOnClose) closedForGood = true;
        this.handlers.onFrame(frame);
      }
    } catch (error) {
      if (error.name === 'AbortError') return true;
      this.failures += 1;
    }
    return closedForGood;
  }
}

/** The frames of an SSE body, per the HTML standard's parsing rules (fields, blank lines). */
async function* frames(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let frame = blank();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, end);
      const width = buffer.startsWith('\r\n', end) ? 2 : 1;
      // A lone \r at the end of a chunk may be the first half of \r\n: wait for more.
      if (buffer[end] === '\r' && end + 1 === buffer.length) break;
      buffer = buffer.slice(end + width);
      if (line === '') {
        if (frame.event !== null || frame.data !== null || frame.id !== null || frame.retry !== null) yield frame;
        frame = blank();
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') frame.event = value;
      else if (field === 'data') frame.data = frame.data === null ? value : `${frame.data}\n${value}`;
      else if (field === 'id' && !value.includes('\0')) frame.id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) frame.retry = Number(value);
    }
  }
}

function blank() {
  return { event: null, data: null, id: null, retry: null };
}
