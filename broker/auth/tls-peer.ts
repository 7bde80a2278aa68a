import type { PeerCertificate, TLSSocket } from 'node:tls';

/**
 * What the TLS handshake established about a client, as authenticate needs
 * it. The listener asks for a certificate but accepts connections without a
 * valid one (rejectUnauthorized false), so that password-only devices can
 * still connect; authenticate then refuses a CONNECT that came with a bad one.
 */
export type TlsPeer =
  | { certificate: false }
  | {
      certificate: true;
      /** Chains to the configured client CA and is within its validity period, for client use. */
      verified: boolean;
      /** OpenSSL's reason when not verified, e.g. CERT_HAS_EXPIRED, UNABLE_TO_GET_ISSUER_CERT. */
      verifyError?: string;
      /** Subject CN(s), then DNS and URI subject alternative names, as written in the certificate. */
      names: readonly string[];
    };

/** Reads the peer state of a TLS socket whose handshake has completed. */
export function tlsPeerOf(socket: Pick<TLSSocket, 'authorized' | 'authorizationError' | 'getPeerCertificate'>): TlsPeer {
  const cert = socket.getPeerCertificate();
  // Node returns an empty object when the client sent no certificate.
  if (!cert || Object.keys(cert).length === 0) return { certificate: false };
  const names = certificateNames(cert);
  if (socket.authorized) return { certificate: true, verified: true, names };
  return { certificate: true, verified: false, verifyError: reasonOf(socket.authorizationError), names };
}

/**
 * The names a certificate vouches for: its subject CN(s), DNS and URI subject
 * alternative names, exactly as written (no wildcard matching: a device id is
 * compared for equality, never as a host name pattern).
 */
export function certificateNames(cert: Pick<PeerCertificate, 'subject' | 'subjectaltname'>): string[] {
  const cn: unknown = cert.subject?.CN;
  const names = Array.isArray(cn) ? cn.filter((v): v is string => typeof v === 'string') : typeof cn === 'string' ? [cn] : [];
  // "DNS:a, URI:b, IP Address:c"; a value with a comma or quote is JSON-quoted
  // by Node and so can never equal a device id, which has neither.
  for (const entry of (cert.subjectaltname ?? '').split(', ')) {
    const match = /^(DNS|URI):(.*)$/.exec(entry);
    if (match?.[2] !== undefined) names.push(match[2]);
  }
  return names;
}

/** TLSSocket.authorizationError is typed as an Error but is OpenSSL's code as a string. */
function reasonOf(error: unknown): string {
  if (typeof error === 'string') return error;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? code : error.message;
  }
  return 'UNKNOWN';
}

/**
 * TLS peer state by the stream handed to aedes (its `client.conn`). A
 * WeakMap, like IdentityRegistry: an entry lives as long as its connection.
 */
export class TlsPeers {
  readonly #byConn = new WeakMap<object, TlsPeer>();

  set(conn: object, peer: TlsPeer): void {
    this.#byConn.set(conn, Object.freeze(peer));
  }

  /** undefined for a plain TCP connection. */
  get(conn: unknown): TlsPeer | undefined {
    return typeof conn === 'object' && conn !== null ? this.#byConn.get(conn) : undefined;
  }
}
