import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { createBrokerMetrics } from '../../broker/broker-metrics.js';
import { ControllerCounters } from '../../controller/metrics/controller-counters.js';
import { FleetGauges } from '../../controller/metrics/fleet-gauges.js';
import { silentLogger } from '../../shared/logger.js';
import { createMetricsRegistry } from '../../shared/metrics-endpoint.js';

const read = (path: string): string => readFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)), 'utf8');

/** Every series name the controller and broker register (histograms expanded to their series). */
async function registeredSeries(): Promise<Set<string>> {
  const registry = createMetricsRegistry();
  new ControllerCounters(registry);
  const unused = (): Promise<never> => Promise.reject(new Error('not collected in this test'));
  const gauges = new FleetGauges(registry, { snapshot: unused, rollouts: unused, ping: unused, logger: silentLogger() });
  createBrokerMetrics(registry);
  const names = new Set<string>();
  for (const m of await Registry.merge([registry, ...gauges.partRegistries()]).getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${m.name}${suffix}`);
  }
  return names;
}

interface Panel {
  title?: string;
  type: string;
  targets?: { expr?: string }[];
}

/** The Grafana dashboard in compose/ and the Prometheus example must only use metrics the code registers (DD-039). */
describe('compose/grafana/outpost-dashboard.json', () => {
  const dashboard = JSON.parse(read('compose/grafana/outpost-dashboard.json')) as { panels: Panel[]; uid: string };

  it('is a dashboard whose every query names only registered metrics', async () => {
    const series = await registeredSeries();
    const queries = dashboard.panels.filter((p) => p.type !== 'row').flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr ?? '' })));
    expect(queries.length).toBeGreaterThan(20);
    const used = new Set<string>();
    for (const q of queries) {
      const names = q.expr.match(/\b(outpost|process|nodejs)_[a-zA-Z0-9_]+/g) ?? [];
      expect(names.length, `${q.title}: ${q.expr}`).toBeGreaterThan(0);
      for (const name of names) {
        expect(series.has(name), `${q.title}: ${name} is not registered`).toBe(true);
        used.add(name);
      }
    }
    // Every Outpost metric has a panel (histograms through their buckets).
    const outpost = [...series].filter((n) => n.startsWith('outpost_') && !/_(sum|count)$/.test(n) && !(series.has(`${n}_bucket`)));
    expect(outpost.filter((n) => !used.has(n))).toEqual([]);
  });

  it('has unique panel ids and no hard-wired data source', () => {
    const text = read('compose/grafana/outpost-dashboard.json');
    const ids = (dashboard.panels as unknown as { id: number }[]).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(text).not.toMatch(/"uid":\s*"(?!\$\{DS_PROMETHEUS\}|outpost-fleet)/);
  });

  it('compose/prometheus.yml scrapes the controller with a token and the broker', () => {
    const config = parseYaml(read('compose/prometheus.yml')) as { scrape_configs: { job_name: string; metrics_path: string; authorization?: { credentials_file?: string } }[] };
    const jobs = Object.fromEntries(config.scrape_configs.map((j) => [j.job_name, j]));
    expect(jobs['outpost-controller']?.metrics_path).toBe('/metrics');
    expect(jobs['outpost-controller']?.authorization?.credentials_file).toBeTruthy();
    expect(jobs['outpost-broker']?.metrics_path).toBe('/metrics');
  });
});
