import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { PacketSizeGuard, refusalError, type PacketRefusal } from './packet-size-guard.js';

export interface GuardedConnectionOptions {
  maxRemainingLength: number;
  /** Told once, just before the connection is destroyed for an oversized or malformed packet. */
  onRefuse?: (refusal: PacketRefusal) => void;
}

/**
 * The stream aedes handles for one client: reads are the socket's chunks,
 * each passed on only once the PacketSizeGuard accepted it; writes go to the
 * socket, and everything written while the stream is corked leaves as ONE
 * socket write (`_writev`). mqtt-packet corks around each packet it writes
 * piece by piece (header, length, topic, payload), so a packet — and the
 * packets aedes writes in the same tick — become one write and one TCP
 * segment instead of several. (A `Duplex.from({ readable, writable })`
 * wrapper forwards each piece on its own, and with a Transform and
 * `pipeline` in front costs several streams, an AbortController and an
 * AbortError per connection.) Destroying either side destroys the other.
 */
export class GuardedConnection extends Duplex {
  readonly socket: Socket;

  constructor(socket: Socket, options: GuardedConnectionOptions) {
    super({ allowHalfOpen: false });
    this.socket = socket;
    const guard = new PacketSizeGuard(options.maxRemainingLength);
    socket.on('data', (chunk: Buffer) => {
      const refusal = guard.scan(chunk);
      if (refusal) {
        options.onRefuse?.(refusal);
        this.destroy(refusalError(refusal));
        return;
      }
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.write(chunk, callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.socket.write(chunks.length === 1 ? (chunks[0] as { chunk: Buffer }).chunk : Buffer.concat(chunks.map((c) => c.chunk)), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }
}
