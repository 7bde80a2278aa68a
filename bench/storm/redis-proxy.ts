import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Redis } from 'ioredis';

/**
 * Counts the commands the broker sends to Redis: a TCP proxy between them
 * that parses the client-to-server RESP stream (arrays of bulk strings, what
 * ioredis writes). A Lua script counts once here, while INFO commandstats
 * also counts every redis.call inside it.
 */
export class CommandCountingProxy {
  commands = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(targetPort: number) {
    this.#server = createServer((inbound) => {
      const outbound = createConnection({ port: targetPort, host: '127.0.0.1' });
      this.#sockets.add(inbound).add(outbound);
      const parse = respCommandCounter(() => {
        this.commands += 1;
      });
      inbound.on('data', (chunk: Buffer) => {
        parse(chunk);
        outbound.write(chunk);
      });
      outbound.pipe(inbound);
      const close = (): void => {
        inbound.destroy();
        outbound.destroy();
      };
      inbound.on('error', close).on('close', close);
      outbound.on('error', close).on('close', close);
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve((this.#server.address() as { port: number }).port)));
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** A streaming parser of RESP command arrays; calls `onCommand` at the start of each. */
export function respCommandCounter(onCommand: () => void): (chunk: Buffer) => void {
  let line = '';
  let bulks = 0;
  let skip = 0;
  return (chunk) => {
    let i = 0;
    while (i < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        continue;
      }
      const end = chunk.indexOf(0x0a, i);
      if (end === -1) {
        line += chunk.toString('latin1', i);
        return;
      }
      line += chunk.toString('latin1', i, end + 1);
      i = end + 1;
      const header = line.trimEnd();
      line = '';
      if (header.startsWith('*')) {
        onCommand();
        bulks = Number(header.slice(1));
      } else if (header.startsWith('$') && bulks > 0) {
        bulks -= 1;
        skip = Number(header.slice(1)) + 2;
      }
    }
  };
}

export interface RedisSnapshot {
  calls: Map<string, number>;
  cpuS: number;
  /** Commands the broker sent so far (through the proxy). */
  sent: number;
}

export async function redisCounters(redis: Redis): Promise<{ calls: Map<string, number>; cpuS: number }> {
  const stats = await redis.info('commandstats');
  const calls = new Map<string, number>();
  for (const m of stats.matchAll(/cmdstat_([a-z|_-]+):calls=(\d+)/g)) calls.set(m[1] ?? '', Number(m[2]));
  const cpu = await redis.info('cpu');
  const num = (name: string): number => Number(new RegExp(`${name}:([0-9.]+)`).exec(cpu)?.[1] ?? 0);
  return { calls, cpuS: num('used_cpu_sys') + num('used_cpu_user') };
}

export interface RedisFigures {
  commandsPerReconnect: number;
  brokerCommandsPerReconnect: number;
  cpuMsPerDevice: number;
  byCommand: Record<string, number>;
}

/** Per-device Redis figures between two snapshots (the two INFO calls of each snapshot are not counted). */
export function redisFigures(before: RedisSnapshot, after: RedisSnapshot, n: number): RedisFigures {
  let commands = 0;
  const byCommand: Record<string, number> = {};
  for (const [cmd, calls] of after.calls) {
    const delta = calls - (before.calls.get(cmd) ?? 0) - (cmd === 'info' ? 2 : 0);
    if (delta <= 0) continue;
    commands += delta;
    if (delta / n >= 0.01) byCommand[cmd] = Number((delta / n).toFixed(2));
  }
  return {
    commandsPerReconnect: Number((commands / n).toFixed(2)),
    brokerCommandsPerReconnect: Number(((after.sent - before.sent) / n).toFixed(2)),
    cpuMsPerDevice: Number((((after.cpuS - before.cpuS) * 1000) / n).toFixed(3)),
    byCommand: Object.fromEntries(Object.entries(byCommand).sort((a, b) => b[1] - a[1])),
  };
}
