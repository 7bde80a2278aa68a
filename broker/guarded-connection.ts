import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { OutpostError } from '../shared/errors.js';
import { PacketSizeGuard, refusalError, type PacketRefusal } from './packet-size-guard.js';

export interface GuardedConnectionOptions {
  maxRemainingLength: number;
  /** Told once, just before the connection is destroyed for an oversized or malformed packet. */
  onRefuse?: (refusal: PacketRefusal) => void;
  /**
   * DD-050: bytes written for this client and not yet taken by its socket
   * beyond which a new packet cuts the connection instead of being queued.
   */
  maxOutgoingBufferBytes: number;
  /** Told once, just before the connection is destroyed because the client stopped reading (DD-050). */
  onTooSlow?: (bufferedBytes: number) => void;
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
  readonly #maxOutgoingBufferBytes: number;
  readonly #onTooSlow: ((bufferedBytes: number) => void) | undefined;

  constructor(socket: Socket, options: GuardedConnectionOptions) {
    // DD-050: write() says "full" (aedes then waits for 'drain') only at the
    // outgoing bound, not at Node's 16 KiB. aedes holds one of its emitter's
    // `concurrency` slots for every message it waits on, so a client that
    // stopped reading would otherwise take all of them within a few hundred
    // messages and stall delivery to every other client until drainTimeout.
    super({ allowHalfOpen: false, writableHighWaterMark: options.maxOutgoingBufferBytes });
    this.socket = socket;
    this.#maxOutgoingBufferBytes = options.maxOutgoingBufferBytes;
    this.#onTooSlow = options.onTooSlow;
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

  /**
   * mqtt-packet corks the stream before each packet it writes
   * (writeToStream.js `generate`), so this runs once per outgoing packet. A
   * packet that starts while the bound is already reached is one the client
   * has no room for: the connection is cut (its persistent session keeps the
   * queue in Redis). Packets written only after a 'drain' — aedes's replay
   * of a queue, retained messages — always start below the bound, so a slow
   * but reading client is never cut by them.
   */
  override cork(): void {
    const buffered = this.writableLength;
    if (buffered >= this.#maxOutgoingBufferBytes && !this.destroyed) {
      this.#onTooSlow?.(buffered);
      this.destroy(new OutpostError('CLIENT_TOO_SLOW', `client left ${buffered} bytes unread (bound ${this.#maxOutgoingBufferBytes})`));
      return;
    }
    super.cork();
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
