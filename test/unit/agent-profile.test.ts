import { describe, expect, it } from 'vitest';
import { AGENT_PROFILES, parseAgentConfig } from '../../agent/config.js';
import { agentConfigFromFlags } from '../../agent/main.js';

/** Issue 11: link profiles set defaults; what the operator sets explicitly wins. */
describe('agent link profiles', () => {
  const base = { deviceId: 'dev-a', stateDir: '/tmp/outpost-test-state', acceptUnsigned: true, brokerUrl: 'mqtt://127.0.0.1:1883', secret: 's3cret-s3cret' };

  it('default: keepalive 60 s, telemetry every 5 minutes, progress reports gathered over 1 s', () => {
    expect(parseAgentConfig(base)).toMatchObject({ profile: 'default', keepaliveSeconds: 60, telemetryIntervalSeconds: 300, reportDelayMs: 1000, eventDetail: 'summary' });
  });

  it('cellular: keepalive 300 s, telemetry hourly, reports paced over 5 s, one event per update; compact reports in both', () => {
    expect(parseAgentConfig({ ...base, profile: 'cellular' })).toMatchObject({
      keepaliveSeconds: 300,
      telemetryIntervalSeconds: 3600,
      reportDelayMs: 5000,
      eventDetail: 'outcome',
      reportFormat: 'compact',
    });
    expect(parseAgentConfig(base).reportFormat).toBe('compact');
    expect(AGENT_PROFILES.cellular.keepaliveSeconds).toBeGreaterThanOrEqual(300);
  });

  it('an explicit setting wins over its profile, including 0', () => {
    expect(parseAgentConfig({ ...base, profile: 'cellular', keepaliveSeconds: 600, telemetryIntervalSeconds: 0 })).toMatchObject({
      keepaliveSeconds: 600,
      telemetryIntervalSeconds: 0,
      reportDelayMs: 5000,
    });
  });

  it('refuses an unknown profile with a clear error', () => {
    expect(() => parseAgentConfig({ ...base, profile: 'satellite' })).toThrow(/invalid agent configuration: .*profile/);
  });

  it('from flags and environment', () => {
    const flags = { allowHostPath: [], allowCapability: [], allowVolume: [], device: 'dev-a', broker: 'mqtt://127.0.0.1:1883', stateDir: '/tmp/x', acceptUnsigned: true };
    const env = { OUTPOST_DEVICE_SECRET: 's3cret-s3cret' };
    expect(agentConfigFromFlags({ ...flags, profile: 'cellular', keepalive: '900' }, env)).toMatchObject({ profile: 'cellular', keepaliveSeconds: 900, telemetryIntervalSeconds: 3600 });
    expect(agentConfigFromFlags(flags, { ...env, OUTPOST_AGENT_PROFILE: 'cellular' })).toMatchObject({ keepaliveSeconds: 300 });
    expect(agentConfigFromFlags({ ...flags, profile: 'cellular', eventDetail: 'summary', reportFormat: 'full' }, env)).toMatchObject({ eventDetail: 'summary', reportFormat: 'full' });
    expect(agentConfigFromFlags(flags, { ...env, OUTPOST_REPORT_FORMAT: 'full' }).reportFormat).toBe('full');
    expect(() => agentConfigFromFlags({ ...flags, reportFormat: 'tiny' }, env)).toThrow(/reportFormat/);
  });

  describe('telemetry deltas (DD-038)', () => {
    const flags = { allowHostPath: [], allowCapability: [], allowVolume: [], device: 'dev-a', broker: 'mqtt://127.0.0.1:1883', stateDir: '/tmp/x', acceptUnsigned: true };
    const env = { OUTPOST_DEVICE_SECRET: 's3cret-s3cret' };

    it('on in both profiles', () => {
      expect(parseAgentConfig(base).telemetryDeltas).toBe(true);
      expect(parseAgentConfig({ ...base, profile: 'cellular' }).telemetryDeltas).toBe(true);
      expect(AGENT_PROFILES.default.telemetryDeltas).toBe(true);
      expect(AGENT_PROFILES.cellular.telemetryDeltas).toBe(true);
    });

    it('--telemetry-deltas on|off, over the profile and over the environment', () => {
      expect(agentConfigFromFlags({ ...flags, telemetryDeltas: 'off' }, env).telemetryDeltas).toBe(false);
      expect(agentConfigFromFlags({ ...flags, profile: 'cellular', telemetryDeltas: 'off' }, env)).toMatchObject({ telemetryDeltas: false, telemetryIntervalSeconds: 3600 });
      expect(agentConfigFromFlags({ ...flags, telemetryDeltas: 'on' }, { ...env, OUTPOST_TELEMETRY_DELTAS: 'off' }).telemetryDeltas).toBe(true);
      expect(agentConfigFromFlags(flags, { ...env, OUTPOST_TELEMETRY_DELTAS: 'off' }).telemetryDeltas).toBe(false);
      expect(agentConfigFromFlags(flags, env).telemetryDeltas).toBe(true);
    });

    it('refuses anything but on or off, naming the setting', () => {
      expect(() => agentConfigFromFlags({ ...flags, telemetryDeltas: 'yes' }, env)).toThrow(/invalid agent configuration: telemetryDeltas/);
    });
  });
});
