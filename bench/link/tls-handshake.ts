import { readFile } from 'node:fs/promises';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { connect as tlsConnect, createServer } from 'node:tls';
import type { TestPki } from '../../test/helpers/certs.js';

export interface HandshakeBytes {
  /** Client → server and server → client, TCP payload, including the session tickets TLS 1.3 sends after it. */
  up: number;
  down: number;
  total: number;
}

/**
 * One TLS handshake as Node (agent and broker) does it with the given
 * certificates, counted on the client's socket: what each reconnect of a
 * device adds on a TLS link. `clientCert` adds the device's certificate (mutual TLS).
 */
export async function measureTlsHandshake(pki: TestPki, clientCert?: { cert: string; key: string }): Promise<HandshakeBytes> {
  const [cert, key, ca] = await Promise.all([readFile(pki.server.cert), readFile(pki.server.key), readFile(pki.ca.cert)]);
  const server = createServer({ cert, key, ca, requestCert: clientCert !== undefined }, (s) => s.on('error', () => undefined));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const raw = netConnect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => raw.once('connect', resolve).once('error', reject));
    const client = tlsConnect({
      socket: raw,
      ca,
      servername: 'localhost',
      ...(clientCert ? { cert: await readFile(clientCert.cert), key: await readFile(clientCert.key) } : {}),
    });
    await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject));
    // TLS 1.3 session tickets follow the handshake: count until the socket has been quiet for 200 ms.
    for (let seen = -1; seen !== raw.bytesRead; ) {
      seen = raw.bytesRead;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const up = raw.bytesWritten;
    const down = raw.bytesRead;
    client.destroy();
    return { up, down, total: up + down };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
