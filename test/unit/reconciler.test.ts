import { describe, expect, it } from 'vitest';
import { Reconciler } from '../../agent/reconcile/reconciler.js';
import { OutpostError } from '../../shared/errors.js';
import { systemClock } from '../../shared/clock.js';
import { silentLogger } from '../../shared/logger.js';

interface Doc {
  version: number;
}

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function harness(
  runPass: (doc: Doc, signal: AbortSignal) => Promise<void>,
  { retry = { baseMs: 10, capMs: 10, factor: 2 }, random = () => 0 }: { retry?: { baseMs: number; capMs: number; factor: number }; random?: () => number } = {},
) {
  const log: string[] = [];
  const r = new Reconciler<Doc>({
    runPass: async (doc, signal) => {
      log.push(`run ${doc.version}`);
      await runPass(doc, signal);
    },
    onStart: () => undefined,
    onSuccess: (doc) => log.push(`ok ${doc.version}`),
    onFailure: (doc, err) => log.push(`fail ${doc.version} ${err.code}`),
    clock: systemClock,
    random, // 0: retry immediately
    retry,
    logger: silentLogger(),
  });
  return { r, log };
}

describe('Reconciler: single flight, latest wins', () => {
  it('a newer target aborts the running pass and the newest is applied', async () => {
    const gate = deferred();
    const { r, log } = harness(async (doc, signal) => {
      if (doc.version === 1) {
        await new Promise<void>((resolve, reject) => {
          signal.addEventListener('abort', () => reject(new OutpostError('RECONCILE_ABORTED', 'x')));
          void gate.promise.then(resolve);
        });
      }
    });
    r.setTarget({ version: 1 });
    r.setTarget({ version: 2 });
    r.setTarget({ version: 3 });
    await new Promise((res) => setTimeout(res, 20));
    await r.idle();
    expect(log).toEqual(['run 1', 'run 3', 'ok 3']);
    await r.close();
  });

  it('never runs two passes at once', async () => {
    let active = 0;
    let maxActive = 0;
    const { r } = harness(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise((res) => setTimeout(res, 5));
      active--;
    });
    r.setTarget({ version: 1 });
    for (let i = 0; i < 10; i++) r.requestPass();
    await new Promise((res) => setTimeout(res, 50));
    await r.idle();
    expect(maxActive).toBe(1);
    await r.close();
  });

  it('retries a failed pass with backoff until it succeeds', async () => {
    let failures = 2;
    const { r, log } = harness(async () => {
      if (failures-- > 0) throw new OutpostError('IMAGE_PULL_FAILED', 'registry down');
    });
    r.setTarget({ version: 5 });
    for (let i = 0; i < 50 && !log.includes('ok 5'); i++) await new Promise((res) => setTimeout(res, 10));
    expect(log).toEqual(['run 5', 'fail 5 IMAGE_PULL_FAILED', 'run 5', 'fail 5 IMAGE_PULL_FAILED', 'run 5', 'ok 5']);
    await r.close();
  });

  it('a retry for a superseded version never runs', async () => {
    const { r, log } = harness(async (doc) => {
      if (doc.version === 1) throw new OutpostError('IMAGE_NOT_FOUND', 'nope');
    });
    r.setTarget({ version: 1 });
    await r.idle();
    r.setTarget({ version: 2 });
    await new Promise((res) => setTimeout(res, 40));
    await r.idle();
    expect(log).toEqual(['run 1', 'fail 1 IMAGE_NOT_FOUND', 'run 2', 'ok 2']);
    await r.close();
  });

  it('retryNow drops the backoff of a pending retry (the missing credentials arrived)', async () => {
    let credentials = false;
    const hour = { baseMs: 3_600_000, capMs: 3_600_000, factor: 2 };
    const { r, log } = harness(async () => {
      if (!credentials) throw new OutpostError('REGISTRY_AUTH', 'no basic auth credentials');
    }, { retry: hour, random: () => 0.99 });
    r.setTarget({ version: 1 });
    await r.idle();
    expect(log).toEqual(['run 1', 'fail 1 REGISTRY_AUTH']);
    r.requestPass(); // a resync tick still waits for the retry
    await r.idle();
    expect(log).toHaveLength(2);
    credentials = true;
    r.retryNow();
    await r.idle();
    expect(log).toEqual(['run 1', 'fail 1 REGISTRY_AUTH', 'run 1', 'ok 1']);
    await r.close();
  });

  it('retryNow during a pass runs one more pass after it', async () => {
    const gate = deferred();
    let runs = 0;
    const { r, log } = harness(async () => {
      if (++runs === 1) await gate.promise;
    });
    r.setTarget({ version: 1 });
    r.retryNow();
    gate.resolve();
    await new Promise((res) => setTimeout(res, 10));
    await r.idle();
    expect(log).toEqual(['run 1', 'ok 1', 'run 1', 'ok 1']);
    await r.close();
  });
});
