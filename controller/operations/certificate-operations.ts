import type { Logger } from '../../shared/logger.js';
import { ControllerError } from '../errors.js';
import { CertificateRequestError, issueDeviceCert } from '../pki/issue-device-cert.js';
import type { Issuer } from '../pki/issuer.js';
import { pemOf } from '../pki/x509.js';
import { readIssuer, type CaFiles } from '../pki/read-issuer.js';
import type { DeviceStore } from '../registry/device-store.js';

export interface CertificateOperationsDeps {
  devices: Pick<DeviceStore, 'require' | 'tombstone'>;
  /** The CA that signs device certificates (the broker's --tls-client-ca); none: issuing is refused. */
  ca?: CaFiles;
  logger: Logger;
  now: () => number;
}

export interface IssueCertificateInput {
  /** A PEM certificate request made on the device; without one a key is generated and returned once. */
  csr?: string;
  validityDays?: number;
}

export interface IssuedDeviceCertificateView {
  deviceId: string;
  /** PEM: the certificate, then any intermediate CA certificates. */
  certificate: string;
  /** PEM PKCS#8 key, returned this once; null when the key came with a request. */
  key: string | null;
  /** PEM: the CA certificate(s) that signed it — also what an `outpost up` broker's certificate chains to. */
  ca: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
}

/**
 * Device certificates from the control plane's CA (DD-027). The CA key stays
 * here; a device gets a certificate naming its id for as long as it is
 * enrolled (the broker also requires its credential record, DD-023, so
 * `device rm` locks a certificate out). Nothing about issued certificates
 * is stored: a certificate is only good with the enrolment behind it.
 */
export class CertificateOperations {
  #issuer: Issuer | undefined;

  constructor(private readonly deps: CertificateOperationsDeps) {}

  /** Reads and checks the CA files, so a bad CA fails the controller's start, not an operator's request. */
  async init(): Promise<void> {
    if (this.deps.ca === undefined) return;
    this.#issuer = await readIssuer(this.deps.ca);
    this.deps.logger.info({ ca: this.#issuer.certificate.subject, caFile: this.deps.ca.certFile, notAfter: this.#issuer.certificate.notAfter.toISOString() }, 'device CA loaded');
  }

  async issue(deviceId: string, input: IssueCertificateInput = {}): Promise<IssuedDeviceCertificateView> {
    const issuer = this.#issuer;
    if (issuer === undefined) {
      throw new ControllerError(
        'DEVICE_CA_NOT_CONFIGURED',
        'this controller has no device CA: start it with --device-ca-cert and --device-ca-key (outpost up has one), or issue device certificates with your own CA',
      );
    }
    await this.deps.devices.require(deviceId);
    const tomb = await this.deps.devices.tombstone(deviceId);
    if (tomb?.state === 'pending') throw new ControllerError('DEVICE_DECOMMISSIONING', `device ${deviceId} is being decommissioned (since ${tomb.requestedAt}); no certificate is issued`);
    let issued;
    try {
      issued = await issueDeviceCert(issuer, {
        deviceId,
        now: new Date(this.deps.now()),
        ...(input.validityDays !== undefined ? { validityDays: input.validityDays } : {}),
        ...(input.csr !== undefined ? { csrPem: input.csr } : {}),
      });
    } catch (err) {
      if (err instanceof CertificateRequestError) throw new ControllerError('REQUEST_INVALID', `csr: ${err.message}`, { cause: err });
      throw err;
    }
    this.deps.logger.info({ deviceId, serialNumber: issued.serialNumber, notAfter: issued.notAfter.toISOString(), keyFrom: input.csr ? 'request' : 'generated' }, 'device certificate issued');
    return {
      deviceId,
      certificate: issued.certPem,
      key: issued.keyPem,
      ca: pemOf(issuer.certificates),
      serialNumber: issued.serialNumber,
      notBefore: issued.notBefore.toISOString(),
      notAfter: issued.notAfter.toISOString(),
    };
  }
}
