import { describe, expect, it } from 'vitest';
import { SimulatedRuntime } from '../../agent/runtime/simulated-runtime.js';
import { deviceSeed } from '../../shared/seeded-random.js';
import { programOf, runCheck } from '../../agent/runtime/simulation/sim-program.js';
import { simulatedProber } from '../../agent/runtime/simulation/sim-prober.js';
import { isOutpostError } from '../../shared/errors.js';
import { waitFor } from '../helpers/wait-for.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return isOutpostError(err) ? err.code : String(err);
  }
}

const create = (rt: SimulatedRuntime, name: string, options: Record<string, unknown> = {}) =>
  rt.createContainer({ name, options: { Image: 'sim/app:1', Labels: { 'io.outpost.managed': 'true', 'io.outpost.device': 'd1' }, ...options } });

/** What only the simulation has (faults, seeds, flaky health); what it shares with Docker is in the runtime contract. */
describe('SimulatedRuntime faults', () => {
  it('pull faults are sticky per image and drawn from the seed: the same seed fails the same images', async () => {
    const outcome = async (seed: number) => {
      const rt = new SimulatedRuntime({ seed, pullLatencyMs: 0, pullFailureRate: 0.5 });
      const codes: string[] = [];
      for (let i = 0; i < 12; i++) codes.push(await codeOf(rt.pullImage(`sim/app-${i}:1`)));
      for (let i = 0; i < 12; i++) expect(await codeOf(rt.pullImage(`sim/app-${i}:1`))).toBe(codes[i]);
      return codes;
    };
    const a = await outcome(42);
    expect(await outcome(42)).toEqual(a);
    expect(new Set(a)).toEqual(new Set(['resolved', 'IMAGE_PULL_FAILED']));
  });

  it('start faults raise CONTAINER_START_FAILED and leave the container created', async () => {
    const rt = new SimulatedRuntime({ startLatencyMs: 0, startFailureRate: 1, preloadedImages: ['sim/app:1'] });
    const id = await create(rt, 'c1');
    expect(await codeOf(rt.startContainer(id))).toBe('CONTAINER_START_FAILED');
    expect((await rt.listContainers('d1'))[0]?.state).toBe('created');
  });

  it('flaky health follows the configured sequence, one status per check interval, and probes fail once unhealthy', async () => {
    const rt = new SimulatedRuntime({ startLatencyMs: 0, flakyHealthRate: 1, flakyHealthSequence: ['starting', 'healthy', 'unhealthy'], preloadedImages: ['sim/app:1'] });
    const id = await create(rt, 'c1', { Healthcheck: { Test: ['CMD', 'true'], Interval: 100e6, Retries: 1 } });
    await rt.startContainer(id);
    const seen: string[] = [];
    await waitFor(async () => {
      const s = (await rt.inspectContainer(id))?.health.status ?? '';
      if (seen.at(-1) !== s) seen.push(s);
      return s === 'unhealthy';
    }, { intervalMs: 10, timeoutMs: 5000 });
    expect(seen).toEqual(['starting', 'healthy', 'unhealthy']);
    const address = (await rt.inspectContainer(id))?.address ?? '';
    expect(await simulatedProber(rt).tcp(address, 80, 1000)).toMatchObject({ ok: false });
  });

  it('pulls take the configured latency and can be aborted', async () => {
    const rt = new SimulatedRuntime({ pullLatencyMs: 200 });
    const started = Date.now();
    await rt.pullImage('sim/app:1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    const abort = new AbortController();
    const pull = codeOf(rt.pullImage('sim/app:2', { signal: abort.signal }));
    abort.abort();
    expect(await pull).toBe('RECONCILE_ABORTED');
  });

  it('device seeds differ per device and are stable', () => {
    expect(deviceSeed(1, 'sim-000')).toBe(deviceSeed(1, 'sim-000'));
    expect(deviceSeed(1, 'sim-000')).not.toBe(deviceSeed(1, 'sim-001'));
    expect(deviceSeed(1, 'sim-000')).not.toBe(deviceSeed(2, 'sim-000'));
  });

  it('reads commands as a tiny shell', () => {
    expect(programOf([])).toEqual([{ kind: 'forever' }]);
    expect(programOf(['sh', '-c', 'echo hi; exit 3'])).toEqual([{ kind: 'log', line: 'hi' }, { kind: 'status', code: 0 }, { kind: 'exit', code: 3 }]);
    expect(programOf(['sh', '-c', "trap 'exit 0' TERM; while :; do sleep 1; done"]).at(-1)).toEqual({ kind: 'forever' });
    expect(programOf(['sh', '-c', 'echo ok > /tmp/x; exec httpd -f'])).toEqual([{ kind: 'status', code: 0 }, { kind: 'forever' }]);
    expect(programOf(['false']).at(-1)).toEqual({ kind: 'exit', code: 1 });
    expect(runCheck(['CMD', 'wget', '-q', 'http://127.0.0.1/'])).toEqual({ code: 0, output: '' });
    expect(runCheck(['CMD-SHELL', 'echo bad; exit 2'])).toEqual({ code: 2, output: 'bad' });
  });
});
