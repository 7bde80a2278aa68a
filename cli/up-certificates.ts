import { randomBytes, X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { chmod, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { writeFileAtomic } from '../agent/state/atomic-file.js';
import { createCa } from '../controller/pki/create-ca.js';
import { issueServerCert } from '../controller/pki/issue-server-cert.js';
import { readIssuer, type CaFiles } from '../controller/pki/read-issuer.js';
import type { Logger } from '../shared/logger.js';
import { SECRET_FILE_WARNING, secretFileWarning } from '../shared/secret-input.js';

/** The server certificate is renewed at start once less than this is left. */
export const RENEW_BEFORE_DAYS = 30;
const DAY_MS = 86_400_000;

export interface UpCertificatesOptions {
  dataDir: string;
  /** The operator's CA instead of <dataDir>/ca.pem + ca-key.pem (never created or changed). */
  ca?: CaFiles;
  /** The operator's broker certificate: none is generated. */
  serverProvided: boolean;
  /** Names the generated broker certificate must carry (host names and IP addresses). */
  names: readonly string[];
  now: Date;
  logger: Logger;
}

export interface UpCertificates {
  /** Signs device certificates; the broker's client CA. */
  ca: CaFiles;
  /** The generated broker certificate; undefined when the operator brought one. */
  server?: { certFile: string; keyFile: string };
}

/**
 * `outpost up` as its own CA (DD-027): on first start a private CA
 * (<dataDir>/ca.pem, ca-key.pem 0600) and a broker certificate signed by it
 * (server.pem, server-key.pem 0600) for `names`. Later starts keep the CA
 * and keep the broker certificate unless it is missing, no longer chains to
 * the CA, lacks one of `names` (a new --tls-san, a renamed host) or expires
 * within RENEW_BEFORE_DAYS: then a new one is issued. Devices trust the CA,
 * so a new broker certificate needs nothing on them.
 */
export async function ensureUpCertificates(opts: UpCertificatesOptions): Promise<UpCertificates> {
  const ca = opts.ca ?? (await ensureCa(opts));
  const issuer = await readIssuer(ca);
  const warning = secretFileWarning(ca.keyFile);
  if (warning) opts.logger.warn(warning, SECRET_FILE_WARNING);
  if (opts.serverProvided) return { ca };

  const server = { certFile: join(opts.dataDir, 'server.pem'), keyFile: join(opts.dataDir, 'server-key.pem') };
  const caCert = new X509Certificate(await readFile(ca.certFile));
  const why = await serverCertificateProblem(server, caCert, opts.names, opts.now);
  if (why !== null) {
    const issued = await issueServerCert(issuer, { names: opts.names, now: opts.now });
    await writeFileAtomic(server.keyFile, issued.keyPem);
    await writeFileAtomic(server.certFile, issued.certPem);
    await chmod(server.certFile, 0o644);
    opts.logger.info({ file: server.certFile, names: opts.names, notAfter: issued.notAfter.toISOString(), why }, 'broker certificate issued');
  }
  return { ca, server };
}

async function ensureCa(opts: UpCertificatesOptions): Promise<CaFiles> {
  const files = { certFile: join(opts.dataDir, 'ca.pem'), keyFile: join(opts.dataDir, 'ca-key.pem') };
  const [cert, key] = await Promise.all([exists(files.certFile), exists(files.keyFile)]);
  if (cert && key) return files;
  if (cert !== key) {
    const [present, missing] = cert ? [files.certFile, files.keyFile] : [files.keyFile, files.certFile];
    throw new Error(
      `${present} exists but ${missing} does not: restore it, or remove both to create a new CA ` +
        '(every device certificate, and every agent --ca file, then has to be issued again)',
    );
  }
  const created = await createCa({ commonName: `Outpost CA ${opts.names.find((n) => isIP(n) === 0 && n !== 'localhost') ?? 'local'} ${randomBytes(3).toString('hex')}`, now: opts.now });
  // The key first: a crash in between leaves a key without a certificate, which the check above reports.
  await writeFileAtomic(files.keyFile, created.keyPem);
  await writeFileAtomic(files.certFile, created.certPem);
  await chmod(files.certFile, 0o644);
  opts.logger.info({ file: files.certFile }, 'private CA created: devices trust it with --ca');
  return files;
}

/** Why the broker certificate on disk cannot stay, or null when it can. */
export async function serverCertificateProblem(
  files: { certFile: string; keyFile: string },
  ca: X509Certificate,
  names: readonly string[],
  now: Date,
): Promise<string | null> {
  let cert: X509Certificate;
  let keyPem: string;
  try {
    [cert, keyPem] = await Promise.all([readFile(files.certFile).then((b) => new X509Certificate(b)), readFile(files.keyFile, 'utf8')]);
  } catch {
    return 'missing or unreadable';
  }
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'not signed by the CA';
  const spki = (k: ReturnType<typeof createPublicKey>): Buffer => k.export({ type: 'spki', format: 'der' });
  try {
    if (!spki(cert.publicKey).equals(spki(createPublicKey(createPrivateKey(keyPem))))) return 'its key does not match';
  } catch {
    return 'its key is unreadable';
  }
  if (new Date(cert.validTo).getTime() - now.getTime() < RENEW_BEFORE_DAYS * DAY_MS) return `expires within ${RENEW_BEFORE_DAYS} days`;
  const dns = new Set((cert.subjectAltName ?? '').split(', ').flatMap((e) => (e.startsWith('DNS:') ? [e.slice(4).toLowerCase()] : [])));
  const missing = names.filter((n) => (isIP(n) === 0 ? !dns.has(n.toLowerCase()) : cert.checkIP(n) === undefined));
  return missing.length > 0 ? `lacks ${missing.join(', ')}` : null;
}

async function exists(file: string): Promise<boolean> {
  return readFile(file).then(
    () => true,
    (err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    },
  );
}

/** localhost, 127.0.0.1, ::1, this machine's host name, and the operator's extra names, each once. */
export function brokerNames(hostname: string, extra: readonly string[]): string[] {
  const all = ['localhost', '127.0.0.1', '::1', hostname.toLowerCase(), ...extra.map((n) => n.trim())].filter((n) => n !== '');
  return [...new Set(all)];
}
