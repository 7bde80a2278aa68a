import { describe, expect, it } from 'vitest';
import { checkBrokerConfig } from '../../broker/config.js';
import { controllerConfigFromFlags } from '../../controller/main.js';

const broker = (extra: Record<string, unknown>) => checkBrokerConfig({ redisUrl: 'redis://127.0.0.1:6379', ...extra });

/** DD-039: where metrics are served and who may read them, from flags and environment. */
describe('metrics configuration', () => {
  it('broker: no metrics listener unless a port is given; loopback by default', () => {
    const off = broker({});
    expect(off.ok && off.config.metricsPort).toBeUndefined();
    const on = broker({ metricsPort: '9464' });
    expect(on.ok && [on.config.metricsPort, on.config.metricsHost]).toEqual([9464, '127.0.0.1']);
  });

  it.each([
    [{ metricsPort: 'abc' }, 'metricsPort', /whole number/],
    [{ metricsPort: '70000' }, 'metricsPort', /at most 65535/],
    [{ metricsPort: '0', workers: '2' }, 'metricsPort', /fixed port with workers above 1/],
    [{ metricsPort: '65535', workers: '2' }, 'metricsPort', /room for 2 workers/],
    [{ metricsHost: '' }, 'metricsHost', /./],
  ])('broker refuses %o', (input, key, message) => {
    const result = broker(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues.find((i) => i.key === key)?.message).toMatch(message);
  });

  const base = { REDIS_URL: 'redis://127.0.0.1:6379', OUTPOST_BROKER_URL: 'mqtt://127.0.0.1:1883', OUTPOST_SERVICE_PASSWORD: 'p'.repeat(32), OUTPOST_ADMIN_TOKEN: 'a'.repeat(32) };
  it('controller: /metrics needs a token unless --metrics-public or OUTPOST_METRICS_PUBLIC=true', () => {
    expect(controllerConfigFromFlags({}, base).metricsPublic).toBe(false);
    expect(controllerConfigFromFlags({ metricsPublic: true }, base).metricsPublic).toBe(true);
    expect(controllerConfigFromFlags({}, { ...base, OUTPOST_METRICS_PUBLIC: 'true' }).metricsPublic).toBe(true);
    expect(() => controllerConfigFromFlags({}, { ...base, OUTPOST_METRICS_PUBLIC: 'yes' })).toThrow(/metricsPublic/);
  });
});
