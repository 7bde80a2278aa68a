import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decideLocks, decideWindow } from '../../agent/apply/apply-decision.js';
import { UpdateLockClaim } from '../../agent/apply/update-lock-claim.js';
import { AGENT_LOCK_MARK, LOCK_FILE, UpdateLocks } from '../../agent/apply/update-locks.js';
import { silentLogger } from '../../shared/logger.js';
import { DesiredState, type DesiredStateInput } from '../../shared/schemas/desired-state.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const doc = (over: Partial<DesiredStateInput> = {}): DesiredState =>
  DesiredState.parse({ protocol: 1, deviceId: 'kiosk-a', version: 2, issuedAt: '2026-11-23T10:00:00Z', workloads: { web: { image: 'busybox:1' } }, ...over });

describe('decideWindow (time only, decided before the download)', () => {
  const now = new Date('2026-11-23T10:00:00Z');
  it.each([
    ['no constraint', doc(), { apply: true }],
    ['apply.after in the past', doc({ apply: { after: '2026-11-23T09:00:00Z' } }), { apply: true }],
    ['apply.after in the future', doc({ apply: { after: '2026-11-23T11:00:00Z' } }), { apply: false, reason: 'window', until: new Date('2026-11-23T11:00:00Z') }],
    [
      'outside a window',
      doc({ apply: { window: { cron: '0 3 * * *', durationMinutes: 60, timezone: 'UTC' } } }),
      { apply: false, reason: 'window', until: new Date('2026-11-24T03:00:00Z') },
    ],
    ['inside a window', doc({ apply: { window: { cron: '0 9 * * *', durationMinutes: 120, timezone: 'UTC' } } }), { apply: true }],
  ])('%s', (_name, d, expected) => {
    expect(decideWindow(d, now)).toEqual(expected);
  });
});

describe('decideLocks (decided after the download, DD-018)', () => {
  it.each([
    ['nothing locked', doc(), [], { apply: true }],
    ['locked workloads defer, sorted', doc(), ['web', 'db'], { apply: false, reason: 'locked', workloads: ['db', 'web'] }],
    ['force overrides locks', doc({ force: true }), ['web'], { apply: true }],
  ])('%s', (_name, d, locked, expected) => {
    expect(decideLocks(d, locked)).toEqual(expected);
  });
});

describe('update locks taken by the agent (DD-018)', () => {
  let dir: TempDir;
  let locks: UpdateLocks;
  const file = (w: string) => join(dir.path, w, LOCK_FILE);
  /** What a workload does: O_EXCL create. */
  const workloadTakes = async (w: string): Promise<boolean> => {
    try {
      await (await open(file(w), 'wx')).close();
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  };
  const claimFor = (handOver: string[] = []) => new UpdateLockClaim(locks, { keepUntilEnd: (w) => handOver.includes(w), logger: silentLogger() });

  beforeEach(async () => {
    dir = await makeTempDir('locks-unit');
    locks = new UpdateLocks(dir.path);
    for (const w of ['web', 'db', 'cache']) await locks.dirFor(w);
  });
  afterEach(() => dir.remove());

  it('takes free locks with O_EXCL and a mark; the workload then cannot take its lock', async () => {
    const claim = claimFor();
    expect(await claim.claim(['web', 'db'], new Set(['web', 'db']))).toEqual([]);
    expect(claim.workloads).toEqual(['db', 'web']);
    expect(await readFile(file('web'), 'utf8')).toMatch(new RegExp(`^${AGENT_LOCK_MARK} pid=\\d+`));
    expect(await workloadTakes('web')).toBe(false);
    await claim.releaseAll();
    expect(existsSync(file('web')) || existsSync(file('db'))).toBe(false);
    expect(await workloadTakes('web')).toBe(true);
  });

  it('a running workload holding its lock wins: reported locked, its file untouched', async () => {
    await writeFile(file('web'), '42\n');
    const claim = claimFor();
    expect(await claim.claim(['web', 'db'], new Set(['web', 'db']))).toEqual(['web']);
    expect(claim.workloads).toEqual(['db']);
    await claim.releaseAll();
    expect(await readFile(file('web'), 'utf8')).toBe('42\n');
    expect(existsSync(file('db'))).toBe(false);
  });

  it('a lock left by a container that no longer runs is stale: replaced by the agent\'s', async () => {
    await writeFile(file('web'), '42\n');
    const claim = claimFor();
    expect(await claim.claim(['web'], new Set())).toEqual([]);
    expect(await locks.heldByAgent('web')).toBe(true);
  });

  it('a lock the agent left earlier counts as its own', async () => {
    await writeFile(file('web'), `${AGENT_LOCK_MARK} pid=1\n`);
    const claim = claimFor();
    expect(await claim.claim(['web'], new Set(['web']))).toEqual([]);
    expect(claim.workloads).toEqual(['web']);
  });

  it('gives a lock back just before the new container starts, except for hand-over', async () => {
    const claim = claimFor(['db']);
    await claim.claim(['web', 'db'], new Set(['web', 'db']));
    await claim.beforeStep({ kind: 'stop', workload: 'web', container: 'old', timeoutSeconds: 1, reason: 'spec changed' });
    expect(existsSync(file('web'))).toBe(true);
    await claim.beforeStep({ kind: 'start', workload: 'web', container: 'new' });
    expect(existsSync(file('web'))).toBe(false);
    await claim.beforeStep({ kind: 'start', workload: 'db', container: 'new' });
    expect(existsSync(file('db'))).toBe(true);
    await claim.releaseAll();
    expect(existsSync(file('db'))).toBe(false);
  });

  it('never removes a lock a workload took after the agent gave its own back', async () => {
    const claim = claimFor();
    await claim.claim(['web'], new Set(['web']));
    await claim.beforeStep({ kind: 'start', workload: 'web', container: 'new' });
    expect(await workloadTakes('web')).toBe(true);
    await claim.releaseAll();
    await locks.release('web');
    expect(existsSync(file('web'))).toBe(true);
  });

  it('seize (force, rollback) replaces a workload\'s lock with the agent\'s', async () => {
    await writeFile(file('web'), '42\n');
    const claim = claimFor();
    expect(await claim.claim(['web'], new Set(['web']))).toEqual(['web']);
    await claim.seize(['web']);
    expect(await locks.heldByAgent('web')).toBe(true);
    await claim.releaseAll();
    expect(existsSync(file('web'))).toBe(false);
  });

  it('at start, removes only the locks a previous agent process left', async () => {
    await writeFile(file('web'), `${AGENT_LOCK_MARK} pid=1\n`);
    await writeFile(file('db'), '42\n');
    await writeFile(join(dir.path, 'not-a-workload'), 'x');
    expect(await locks.releaseLeftovers()).toEqual(['web']);
    expect(existsSync(file('web'))).toBe(false);
    expect(existsSync(file('db'))).toBe(true);
    expect(await new UpdateLocks(join(dir.path, 'missing')).releaseLeftovers()).toEqual([]);
  });
});
