import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir } from './temp-dir.js';

const run = promisify(execFile);

/** Paths of a PEM certificate and its key. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

export interface DeviceCertOptions {
  /** Where the id goes: the subject CN (default), a DNS SAN or a URI SAN (the CN is then something else). */
  readonly nameIn?: 'cn' | 'dns' | 'uri';
  /** Valid from 2020-01-01 to 2020-01-02 only. */
  readonly expired?: boolean;
}

export interface TestCa {
  /** The CA certificate (PEM). */
  readonly cert: string;
  /** A client certificate (extendedKeyUsage clientAuth) for a device id. */
  device(deviceId: string, options?: DeviceCertOptions): Promise<CertFiles>;
  /** A server certificate for 127.0.0.1, ::1 and localhost (extendedKeyUsage serverAuth). */
  server(name: string): Promise<CertFiles>;
}

export interface TestPki {
  readonly dir: string;
  /** The fleet's CA: signs the broker's and the API's certificates and the device certificates. */
  readonly ca: TestCa;
  /** A CA nobody configured: its certificates must be refused. */
  readonly otherCa: TestCa;
  /** Server certificate (127.0.0.1, localhost) from `ca`, for the broker and the API. */
  readonly server: CertFiles;
  remove(): Promise<void>;
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  try {
    await run('openssl', [...args], { cwd });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`);
  }
}

/**
 * A CA made with `openssl` in its own directory. Certificates are signed by
 * `openssl ca`, which (unlike `openssl x509 -req` in OpenSSL 3.0) takes an
 * explicit validity period, so an expired certificate can be made without
 * faking the clock. Issuing is serialised: `openssl ca` keeps a database.
 */
async function makeCa(dir: string, name: string): Promise<TestCa> {
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'ca.cnf'),
    [
      '[ ca ]',
      'default_ca = test_ca',
      '[ test_ca ]',
      `database = ${join(dir, 'index.txt')}`,
      `new_certs_dir = ${dir}`,
      `serial = ${join(dir, 'serial')}`,
      'default_md = sha256',
      'policy = any_name',
      'unique_subject = no',
      'copy_extensions = none',
      '[ any_name ]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'serial'), '1000\n');
  const caCert = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  await openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caCert, '-days', '3', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );

  let queue: Promise<unknown> = Promise.resolve();
  let n = 0;
  const issue = (cn: string, extensions: readonly string[], validity: readonly string[]): Promise<CertFiles> => {
    const result = queue.then(async () => {
      const base = join(dir, `cert-${++n}`);
      await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${cn}`], dir);
      await writeFile(`${base}.ext`, ['[ ext ]', 'basicConstraints = CA:FALSE', 'keyUsage = critical,digitalSignature,keyEncipherment', ...extensions, ''].join('\n'));
      await openssl(
        ['ca', '-batch', '-config', join(dir, 'ca.cnf'), '-cert', caCert, '-keyfile', caKey, '-in', `${base}.csr`, '-out', `${base}.pem`, '-notext',
          '-extfile', `${base}.ext`, '-extensions', 'ext', ...validity],
        dir,
      );
      return { cert: `${base}.pem`, key: `${base}.key` };
    });
    queue = result.catch(() => undefined);
    return result;
  };

  return {
    cert: caCert,
    device(deviceId, options = {}) {
      const nameIn = options.nameIn ?? 'cn';
      const san = nameIn === 'dns' ? [`subjectAltName = DNS:${deviceId}`] : nameIn === 'uri' ? [`subjectAltName = URI:${deviceId}`] : [];
      const validity = options.expired ? ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z'] : ['-days', '2'];
      return issue(nameIn === 'cn' ? deviceId : 'a device', ['extendedKeyUsage = clientAuth', ...san], validity);
    },
    server(cn) {
      return issue(cn, ['extendedKeyUsage = serverAuth', 'subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost'], ['-days', '2']);
    },
  };
}

/** Two CAs and a server certificate in a temp dir, made with the `openssl` command line. */
export async function makeTestPki(): Promise<TestPki> {
  const tmp = await makeTempDir('pki');
  try {
    const ca = await makeCa(join(tmp.path, 'fleet-ca'), 'Outpost test fleet CA');
    const otherCa = await makeCa(join(tmp.path, 'other-ca'), 'Somebody else');
    const server = await ca.server('outpost-broker');
    return { dir: tmp.path, ca, otherCa, server, remove: () => tmp.remove() };
  } catch (err) {
    await tmp.remove();
    throw err;
  }
}
