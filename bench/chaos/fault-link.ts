import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A slow, lossy link (issue 13 F7). A TCP relay cannot drop bytes without
 * corrupting the stream, so a "lost" segment is modelled the way TCP
 * repairs one: it and everything behind it arrive `retransmitMs` late.
 */
export interface LinkShape {
  bitsPerSecond: number;
  delayMs: number;
  lossRate: number;
  retransmitMs: number;
}

/** One relayed connection: the device's socket and the broker's. */
interface Pair {
  client: Socket;
  upstream: Socket;
  /** Half-open: carries nothing more either way and neither end is told (no FIN, no RST). */
  dead: boolean;
}

/**
 * A loopback TCP relay between a group of simulated devices and one broker
 * node, whose faults the chaos run switches at will (tc netem is missing on
 * these machines): cut every connection (a flap), a silent partition (new
 * connections are accepted and then hear nothing, as when SYN-ACKs or
 * CONNACKs are lost), half-open connections, a frozen device that stops
 * reading its socket, and a shaped link.
 */
export class FaultLink {
  private readonly pairs = new Set<Pair>();
  private partitioned = false;
  private frozen = false;
  private shape: LinkShape | null = null;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly random: () => number,
  ) {}

  static async start(brokerPort: number, random: () => number): Promise<FaultLink> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const link = new FaultLink(server, `mqtt://127.0.0.1:${port}`, random);
    server.on('connection', (client) => link.relay(client, brokerPort));
    return link;
  }

  private relay(client: Socket, brokerPort: number): void {
    const upstream = connect(brokerPort, '127.0.0.1');
    const pair: Pair = { client, upstream, dead: this.partitioned };
    this.pairs.add(pair);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('close', drop).on('error', drop);
    upstream.on('close', drop).on('error', drop);
    if (this.frozen) upstream.pause();
    const toBroker = this.shaper((chunk) => upstream.destroyed || upstream.write(chunk));
    const toClient = this.shaper((chunk) => client.destroyed || client.write(chunk));
    client.on('data', (chunk: Buffer) => pair.dead || toBroker(chunk));
    upstream.on('data', (chunk: Buffer) => pair.dead || toClient(chunk));
  }

  /** One direction, in order: a chunk leaves once those before it have (bandwidth), arrives `delayMs` later, and now and then a retransmission late. */
  private shaper(deliver: (chunk: Buffer) => unknown): (chunk: Buffer) => void {
    let freeAt = 0;
    return (chunk) => {
      const shape = this.shape;
      if (!shape) {
        if (freeAt <= Date.now()) return void deliver(chunk);
        // Drain what a shape left queued before sending unshaped again: never reorder.
        setTimeout(() => deliver(chunk), freeAt - Date.now());
        return;
      }
      const start = Math.max(Date.now(), freeAt);
      const lost = this.random() < shape.lossRate ? shape.retransmitMs : 0;
      freeAt = start + lost + (chunk.length * 8 * 1000) / shape.bitsPerSecond;
      setTimeout(() => deliver(chunk), freeAt + shape.delayMs - Date.now());
    };
  }

  /** Every connection now open drops (a flap); the devices see their link go. */
  cut(): void {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pairs.clear();
  }

  /** Open connections stop carrying anything, silently; later ones work (F6). */
  halfOpen(): void {
    for (const p of this.pairs) p.dead = true;
  }

  /** Nothing gets through either way until heal(), and nobody is told (F4, F8). */
  partition(): void {
    this.partitioned = true;
    this.halfOpen();
  }

  /** The devices stop reading: what the broker sends piles up in its socket (F10). */
  freeze(): void {
    this.frozen = true;
    for (const p of this.pairs) p.upstream.pause();
  }

  slow(shape: LinkShape): void {
    this.shape = shape;
  }

  /** Back to a clean link. Connections that went silent are closed now, as a NAT would forget them. */
  heal(): void {
    this.partitioned = false;
    this.shape = null;
    if (this.frozen) {
      this.frozen = false;
      for (const p of this.pairs) p.upstream.resume();
    }
    for (const p of [...this.pairs]) {
      if (!p.dead) continue;
      p.client.destroy();
      p.upstream.destroy();
      this.pairs.delete(p);
    }
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
