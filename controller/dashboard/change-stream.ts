import type { ServerResponse } from 'node:http';
import type { FleetChange } from './change-feed.js';

/**
 * One server-sent-events stream to one browser (DD-042). It ends by itself
 * after `maxMs`, so a revoked token stops receiving within that time: the
 * browser reconnects and is authenticated again.
 */
export class ChangeStream {
  private heartbeat: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly opts: { heartbeatMs: number; maxMs: number; onEnd: () => void },
  ) {}

  start(): void {
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // A reverse proxy must pass events on at once, not buffer them.
      'x-accel-buffering': 'no',
    });
    this.res.on('close', () => this.end());
    this.write(`retry: 2000\nevent: hello\ndata: {}\n\n`);
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), this.opts.heartbeatMs);
    this.heartbeat.unref();
    this.deadline = setTimeout(() => this.end(), this.opts.maxMs);
    this.deadline.unref();
  }

  send(change: FleetChange): void {
    this.write(`event: change\ndata: ${JSON.stringify(change)}\n\n`);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.deadline);
    if (!this.res.writableEnded) this.res.end();
    this.opts.onEnd();
  }

  private write(chunk: string): void {
    if (this.ended || this.res.writableEnded) return;
    this.res.write(chunk);
  }
}
