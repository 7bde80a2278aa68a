import { randomBytes } from 'node:crypto';
import { get, request } from 'node:http';
import type { Socket } from 'node:net';
import { z } from 'zod';

/**
 * Reads a Node process's memory from outside, through the inspector protocol
 * (the process was started with --inspect=127.0.0.1:<port>): a full GC
 * (HeapProfiler.collectGarbage), then process.memoryUsage() evaluated in it.
 * No bench code runs in the measured process. Node 20 has no WebSocket
 * client, so this speaks the few frames it needs itself (RFC 6455: masked
 * text frames out, unmasked frames in).
 */
export interface MemoryUsage {
  rssBytes: number;
  heapUsedBytes: number;
}

const Targets = z.array(z.object({ webSocketDebuggerUrl: z.string() })).min(1);
const Reply = z.object({ id: z.number(), result: z.unknown().optional(), error: z.object({ message: z.string() }).optional() });
const Evaluated = z.object({ result: z.object({ value: z.string() }) });
const Usage = z.object({ rss: z.number(), heapUsed: z.number() });

function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    }).on('error', reject);
  });
}

function upgrade(wsUrl: string): Promise<Socket> {
  const url = new URL(wsUrl);
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64') },
    });
    req.on('upgrade', (_res, socket: Socket) => resolve(socket));
    req.on('response', (res) => reject(new Error(`inspector refused the websocket upgrade: HTTP ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x81, 0x80 | len]) : len < 65536 ? Buffer.from([0x81, 0x80 | 126, len >> 8, len & 0xff]) : Buffer.concat([Buffer.from([0x81, 0x80 | 127]), bigLength(len)]);
  for (let i = 0; i < len; i += 1) payload[i] = (payload[i] ?? 0) ^ (mask[i % 4] ?? 0);
  return Buffer.concat([head, mask, payload]);
}

function bigLength(len: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(len));
  return b;
}

/** Unmasked frames from the server → whole text messages. */
function frameReader(onMessage: (text: string) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  let parts: Buffer[] = [];
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const fin = ((buf[0] ?? 0) & 0x80) !== 0;
      let len = (buf[1] ?? 0) & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        at = 10;
      }
      if (buf.length < at + len) return;
      parts.push(buf.subarray(at, at + len));
      buf = buf.subarray(at + len);
      if (fin) {
        onMessage(Buffer.concat(parts).toString('utf8'));
        parts = [];
      }
    }
  };
}

/** process.memoryUsage() of the inspected process right after a full garbage collection. */
export async function memoryAfterGc(inspectPort: number, timeoutMs = 60_000): Promise<MemoryUsage> {
  const [target] = Targets.parse(await getJson(`http://127.0.0.1:${inspectPort}/json/list`));
  const socket = await upgrade(target?.webSocketDebuggerUrl ?? '');
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  socket.on(
    'data',
    frameReader((text) => {
      const reply = Reply.safeParse(JSON.parse(text));
      if (!reply.success) return; // events
      const w = waiting.get(reply.data.id);
      waiting.delete(reply.data.id);
      if (reply.data.error) w?.reject(new Error(`inspector: ${reply.data.error.message}`));
      else w?.resolve(reply.data.result);
    }),
  );
  socket.on('close', () => {
    for (const w of waiting.values()) w.reject(new Error('the inspector connection closed'));
    waiting.clear();
  });
  let next = 1;
  const call = (method: string, params: Record<string, unknown> = {}): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = next++;
      waiting.set(id, { resolve, reject });
      socket.write(textFrame(JSON.stringify({ id, method, params })));
    });
  const timer = setTimeout(() => socket.destroy(new Error('inspector did not answer in time')), timeoutMs);
  try {
    await call('HeapProfiler.collectGarbage');
    const evaluated = Evaluated.parse(await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true }));
    const usage = Usage.parse(JSON.parse(evaluated.result.value));
    return { rssBytes: usage.rss, heapUsedBytes: usage.heapUsed };
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}
