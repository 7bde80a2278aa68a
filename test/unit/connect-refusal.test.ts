import { describe, expect, it } from 'vitest';
import { connectRefusalHint, credentialSource } from '../../agent/mqtt/connect-refusal.js';

/** Issue 12: a refused device says what to check, naming its id and where its secret comes from. */
describe('connect refusal hint', () => {
  const ctx = { deviceId: 'kiosk-a', credential: 'the secret file /etc/outpost/kiosk-a.secret' };

  it('not authorized and bad credentials name the device, the credential and the commands to check them', () => {
    for (const code of [4, 5]) {
      const hint = connectRefusalHint(code, ctx) ?? '';
      expect(hint).toContain('device "kiosk-a"');
      expect(hint).toContain('/etc/outpost/kiosk-a.secret');
      expect(hint).toContain('outpost device show kiosk-a');
      expect(hint).toContain('outpost device rotate-secret kiosk-a');
    }
    expect(connectRefusalHint(2, ctx)).toMatch(/client id "kiosk-a"/);
  });

  it('anything else (network, TLS, server unavailable) has no hint', () => {
    for (const code of [undefined, 'ECONNREFUSED', 3, 0, 'ERR_TLS_CERT_ALTNAME_INVALID']) expect(connectRefusalHint(code, ctx)).toBeNull();
  });

  it('names the credential the agent was given', () => {
    expect(credentialSource({ secretFile: '/s/kiosk.secret', secret: 'x' })).toBe('the secret file /s/kiosk.secret');
    expect(credentialSource({ secret: 'x' })).toBe('OUTPOST_DEVICE_SECRET');
    expect(credentialSource({ certFile: '/c/kiosk.pem' })).toBe('the client certificate /c/kiosk.pem');
  });
});
