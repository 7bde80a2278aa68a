/** A valid desired document (DesiredState, unsigned fleet) of about 500 bytes: one workload, no health check. */
export function stormDocument(deviceId: string, version: number, issuedAt: string): string {
  return JSON.stringify({
    protocol: 1,
    deviceId,
    version,
    issuedAt,
    workloads: { app: { image: `registry.example.com/storm/app@sha256:${'5'.repeat(64)}`, env: { PAD: 'x'.repeat(250) } } },
  });
}
