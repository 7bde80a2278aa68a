/**
 * What an operator should check when the broker refuses a device's CONNECT
 * (issue 12: an agent with a wrong secret or an unknown id used to retry
 * forever logging only "Connection refused: Not authorized"). MQTT 3.1.1
 * CONNACK return codes: 2 identifier rejected, 4 bad user name or password,
 * 5 not authorized (Outpost's broker and Mosquitto answer 5 for an unknown
 * device or a wrong secret). Other errors (network, TLS) have no hint here.
 */
export interface RefusalContext {
  deviceId: string;
  /** Where the device's credential comes from, e.g. "the secret file /etc/outpost/kiosk-a.secret". */
  credential: string;
}

export function connectRefusalHint(code: unknown, ctx: RefusalContext): string | null {
  const { deviceId, credential } = ctx;
  const enrolled = `that device "${deviceId}" is enrolled under exactly this id (\`outpost device show ${deviceId}\`)`;
  switch (code) {
    case 2:
      return `the broker rejected the client id "${deviceId}": device ids are 1–64 characters of a-z, 0-9, '-', '_' and '.'; check --device`;
    case 4:
    case 5:
      return (
        `the broker refused device "${deviceId}": check ${enrolled}, that ${credential} holds its current secret ` +
        `(\`outpost device rotate-secret ${deviceId}\` issues a new one; the agent reads the secret file again before every attempt), ` +
        'and that the broker is the one the device was enrolled on. The agent keeps retrying with backoff.'
      );
    default:
      return null;
  }
}

/** How the agent's configuration names its credential, for the hint. */
export function credentialSource(config: { secretFile?: string | undefined; certFile?: string | undefined; secret?: string | undefined }): string {
  if (config.certFile !== undefined && config.secret === undefined) return `the client certificate ${config.certFile}`;
  if (config.secretFile !== undefined) return `the secret file ${config.secretFile}`;
  return 'OUTPOST_DEVICE_SECRET';
}
