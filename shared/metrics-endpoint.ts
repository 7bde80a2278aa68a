import { collectDefaultMetrics, Registry } from 'prom-client';

/** What the HTTP route serves at /metrics (DD-039). */
export interface MetricsEndpoint {
  /** Prometheus text format 0.0.4. */
  readonly contentType: string;
  /** Collects the scrape-time gauges, then renders the whole registry. */
  render(): Promise<string>;
}

/** A registry of its own per controller or broker (never prom-client's global one), with the process metrics. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Renders `registry`, and the registries `collect` returns (scrape-time
 * parts that could be read), after `collect` ran. Scrapes run one at a
 * time: a second scrape's collect would otherwise reset gauges while the
 * first renders.
 */
export function createMetricsEndpoint(registry: Registry, collect: () => Promise<Registry[]> = async () => []): MetricsEndpoint {
  let last: Promise<unknown> = Promise.resolve();
  return {
    contentType: registry.contentType,
    render() {
      const next = last.catch(() => undefined).then(async () => {
        const parts = await collect();
        return parts.length === 0 ? registry.metrics() : Registry.merge([registry, ...parts]).metrics();
      });
      last = next;
      return next;
    },
  };
}
