import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { planInstall, systemdWord, type InstallInput } from '../../agent/install/install-plan.js';
import { execStartWords, unitValues } from '../helpers/systemd-unit.js';

const input: InstallInput = {
  root: '/',
  nodePath: '/usr/bin/node',
  entryPath: '/opt/outpost/outpost-agent.js',
  deviceId: 'kiosk-a',
  settings: { broker: 'mqtts://broker.example.com:8883', keepalive: '300', 'allow-volume': ['cache'] },
  secret: 's3cret',
  trust: 'PEM',
};
const file = (plan: ReturnType<typeof planInstall>, kind: string) => plan.files.find((f) => f.kind === kind);

describe('agent install plan (DD-043)', () => {
  it('root /: system paths, StateDirectory, the secret 0600, settings as a person writes them', () => {
    const plan = planInstall(input);
    expect(plan.files.map((f) => [f.kind, f.path, f.mode.toString(8)])).toEqual([
      ['unit', '/etc/systemd/system/outpost-agent.service', '644'],
      ['config', '/etc/outpost/agent.yaml', '644'],
      ['secret', '/etc/outpost/device.secret', '600'],
      ['trust', '/etc/outpost/signing-keys', '644'],
    ]);
    const unit = file(plan, 'unit')?.content ?? '';
    expect(execStartWords(unit)).toEqual(['/usr/bin/node', '/opt/outpost/outpost-agent.js', 'agent', '--config', '/etc/outpost/agent.yaml']);
    expect(unitValues(unit, 'StateDirectory')).toEqual(['outpost']);
    expect(unitValues(unit, 'Restart')).toEqual(['always']);
    expect(parse(file(plan, 'config')?.content ?? '')).toEqual({
      device: 'kiosk-a',
      broker: 'mqtts://broker.example.com:8883',
      keepalive: 300,
      'allow-volume': ['cache'],
      'state-dir': '/var/lib/outpost',
      'secret-file': '/etc/outpost/device.secret',
      trust: '/etc/outpost/signing-keys',
    });
    expect(file(plan, 'secret')?.content).toBe('s3cret\n');
  });

  it('another root: every path written or named lies under it, and no StateDirectory', () => {
    const plan = planInstall({ ...input, root: '/tmp/staging' });
    for (const f of plan.files) expect(f.path.startsWith('/tmp/staging/')).toBe(true);
    const unit = file(plan, 'unit')?.content ?? '';
    expect(execStartWords(unit).at(-1)).toBe('/tmp/staging/etc/outpost/agent.yaml');
    expect(unitValues(unit, 'StateDirectory')).toEqual([]);
    expect(plan.stateDir).toBe('/tmp/staging/var/lib/outpost');
    expect(parse(file(plan, 'config')?.content ?? '')).toMatchObject({ 'secret-file': '/tmp/staging/etc/outpost/device.secret' });
  });

  it('a certificate-only device: no secret file and no secret-file key', () => {
    const { secret: _secret, trust: _trust, ...rest } = input;
    const plan = planInstall(rest);
    expect(plan.files.map((f) => f.kind)).toEqual(['unit', 'config']);
    expect(parse(file(plan, 'config')?.content ?? '')).not.toHaveProperty('secret-file');
  });

  it('quotes ExecStart words with spaces, quotes or %, and reads back the same words', () => {
    expect(systemdWord('/opt/outpost/a.js')).toBe('/opt/outpost/a.js');
    expect(systemdWord('/opt/my apps/a.js')).toBe('"/opt/my apps/a.js"');
    const plan = planInstall({ ...input, nodePath: '/opt/node 20/bin/node', entryPath: '/srv/100%/"agent".js' });
    expect(execStartWords(file(plan, 'unit')?.content ?? '').slice(0, 2)).toEqual(['/opt/node 20/bin/node', '/srv/100%/"agent".js']);
  });
});
