import { tokenStore } from './api.js';
import type { FleetChange } from './types.js';

export type LiveState = 'connecting' | 'live' | 'reconnecting';

/**
 * The change stream (GET /v1/changes, server-sent events) read through
 * fetch, so the token goes in the Authorization header like every other call
 * (EventSource cannot send headers; DD-042). Reconnects with exponential
 * backoff and full jitter; `onOpen` fires on every (re)connect, since
 * nothing is replayed and the page must refetch what it shows.
 */
export class LiveChanges {
  private abort: AbortController | null = null;
  private stopped = true;
  private attempt = 0;

  constructor(
    private readonly handlers: {
      onChange: (change: FleetChange) => void;
      onOpen: () => void;
      onState: (state: LiveState) => void;
      onUnauthorized: () => void;
    },
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  private async loop(): Promise<void> {
    this.handlers.onState('connecting');
    while (!this.stopped) {
      try {
        await this.once();
        this.attempt = 0;
      } catch {
        this.attempt++;
      }
      if (this.stopped) return;
      this.handlers.onState('reconnecting');
      const capMs = Math.min(30_000, 500 * 2 ** Math.min(this.attempt, 6));
      await new Promise((r) => setTimeout(r, Math.random() * capMs));
    }
  }

  private async once(): Promise<void> {
    const token = tokenStore.get();
    if (!token) {
      this.stopped = true;
      return;
    }
    this.abort = new AbortController();
    const res = await fetch('/v1/changes', {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: this.abort.signal,
      cache: 'no-store',
    });
    if (res.status === 401) {
      this.stopped = true;
      this.handlers.onUnauthorized();
      return;
    }
    if (!res.ok || !res.body) throw new Error(`change stream: HTTP ${res.status}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        this.dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  private dispatch(block: string): void {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (event === 'hello') {
      this.handlers.onState('live');
      this.handlers.onOpen();
    } else if (event === 'change') {
      this.handlers.onChange(JSON.parse(data.join('\n')) as FleetChange);
    }
  }
}
