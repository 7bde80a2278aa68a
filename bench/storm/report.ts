import type { StormResult } from './measure.js';

const s = (ms: number): string => (ms / 1000).toFixed(2);
const orDash = (v: number | null, f: (v: number) => string): string => (v === null ? '—' : f(v));

interface Row {
  name: string;
  cell: (r: StormResult) => string;
  /** The number a ratio is taken of (lower is better), if any. */
  value?: (r: StormResult) => number | null;
}

const ROWS: Row[] = [
  { name: 'set-up (not timed in the storm): credentials / sessions / documents published while away', cell: (r) => `${r.setup.enrolS} s / ${r.setup.sessionsS} s / ${r.setup.publishS} s` },
  { name: 'all devices converged', cell: (r) => (r.allMs === null ? `not all (${r.converged}/${r.devices})` : `${s(r.allMs)} s`), value: (r) => r.allMs },
  { name: 'converged p50 / p99 / max', cell: (r) => `${s(r.p50Ms)} / ${s(r.p99Ms)} / ${s(r.maxMs)} s`, value: (r) => r.p99Ms },
  { name: 'document arrived p50 / p99', cell: (r) => `${s(r.receivedP50Ms)} / ${s(r.receivedP99Ms)} s`, value: (r) => r.receivedP99Ms },
  { name: 'lost / duplicated', cell: (r) => `${r.lost} / ${r.duplicated}` },
  { name: 'devices the document reached more than once', cell: (r) => String(r.deliveredMoreThanOnce) },
  { name: 'CONNACK time-outs / closed before CONNACK', cell: (r) => `${r.connackTimeouts} / ${r.closedBeforeConnack}` },
  { name: 'broker CPU (per device)', cell: (r) => `${r.brokerCpuS.toFixed(2)} s (${r.brokerCpuMsPerDevice.toFixed(2)} ms)`, value: (r) => r.brokerCpuS },
  { name: 'Redis commands per reconnect (incl. inside scripts) / sent by the broker', cell: (r) => orDash(r.redis?.commandsPerReconnect ?? null, (v) => `${v.toFixed(2)} / ${r.redis?.brokerCommandsPerReconnect.toFixed(2) ?? ''}`) },
  { name: 'Redis CPU per device', cell: (r) => orDash(r.redis?.cpuMsPerDevice ?? null, (v) => `${v.toFixed(3)} ms`) },
  { name: 'broker RSS: empty → sessions stored → all connected, idle', cell: (r) => `${r.memory.rssMB.empty} → ${r.memory.rssMB.stored} → ${r.memory.rssMB.connected} MB` },
  { name: 'broker heap after GC: empty → stored → connected', cell: (r) => (r.memory.heapUsedAfterGcMB ? `${r.memory.heapUsedAfterGcMB.empty} → ${r.memory.heapUsedAfterGcMB.stored} → ${r.memory.heapUsedAfterGcMB.connected} MB` : '—') },
  { name: 'per stored session (none connected): heap / RSS', cell: (r) => `${orDash(r.memory.heapKBPerStoredSession, (v) => v.toFixed(1))} / ${r.memory.rssKBPerStoredSession.toFixed(1)} KB` },
  {
    name: 'per idle connected device: heap / RSS',
    cell: (r) => `${orDash(r.memory.heapKBPerConnectedDevice, (v) => v.toFixed(1))} / ${r.memory.rssKBPerConnectedDevice.toFixed(1)} KB`,
    value: (r) => r.memory.rssKBPerConnectedDevice,
  },
];

export interface Ratio {
  clients: string;
  target: string;
  vs: 'mosquitto';
  allMs: number | null;
  p99Ms: number | null;
  brokerCpu: number | null;
  rssPerConnectedDevice: number | null;
}

function ratio(a: number | null, b: number | null): number | null {
  return a !== null && b !== null && b > 0 ? Number((a / b).toFixed(2)) : null;
}

/** Each target against plain Mosquitto, same client kind, same invocation. */
export function ratios(results: readonly StormResult[]): Ratio[] {
  return results.flatMap((r) => {
    const base = results.find((b) => b.target === 'mosquitto' && b.clients === r.clients);
    if (!base || r.target === 'mosquitto') return [];
    return [
      {
        clients: r.clients,
        target: r.label,
        vs: 'mosquitto' as const,
        allMs: ratio(r.allMs, base.allMs),
        p99Ms: ratio(r.p99Ms, base.p99Ms),
        brokerCpu: ratio(r.brokerCpuS, base.brokerCpuS),
        rssPerConnectedDevice: ratio(r.memory.rssKBPerConnectedDevice, base.memory.rssKBPerConnectedDevice),
      },
    ];
  });
}

/** One markdown table per client kind: a column per target, then each target's ratio to plain Mosquitto. */
export function tables(results: readonly StormResult[]): string {
  const kinds = [...new Set(results.map((r) => r.clients))];
  return kinds
    .map((kind) => {
      const rs = results.filter((r) => r.clients === kind);
      const base = rs.find((r) => r.target === 'mosquitto');
      const others = base ? rs.filter((r) => r !== base) : [];
      const head = `| ${kind} clients, ${rs[0]?.devices ?? 0} devices | ${rs.map((r) => r.label).join(' | ')} |${others.map((r) => ` ${r.label} / mosquitto |`).join('')}`;
      const sep = `|---|${rs.map(() => '---|').join('')}${others.map(() => '---|').join('')}`;
      const lines = ROWS.map((row) => {
        const ratioCells = others.map((r) => {
          const x = row.value && base ? ratio(row.value(r), row.value(base)) : null;
          return ` ${x === null ? '—' : `${x.toFixed(2)}×`} |`;
        });
        return `| ${row.name} | ${rs.map(row.cell).join(' | ')} |${ratioCells.join('')}`;
      });
      return [head, sep, ...lines].join('\n');
    })
    .join('\n\n');
}
