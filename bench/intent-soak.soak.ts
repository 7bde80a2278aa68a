/**
 * Soak of the randomized intent model (issue 8, test 2) over many seeds:
 * two controllers, random operator mutations, kill -9 of either controller
 * (also mid-request), Redis and broker restarts. Prints one JSON document and
 * a markdown table; exits non-zero if any run lost, duplicated or did
 * anything unexpected.
 *
 * Usage: npm run bench:intent-soak [-- SEEDS STEPS]  (default 10 seeds × 80 steps, from seed 100)
 */
import { test } from 'vitest';
import { runIntentModel, type ModelResult } from '../test/helpers/intent-model.js';

const SEEDS = Number(process.env.SOAK_SEEDS ?? 10);
const STEPS = Number(process.env.SOAK_STEPS ?? 80);
const FIRST = Number(process.env.SOAK_FIRST_SEED ?? 100);

test(`intent soak: ${SEEDS} seeds × ${STEPS} steps`, async () => {
  const rows: ModelResult[] = [];
  for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
    const r = await runIntentModel({ seed, steps: STEPS });
    rows.push(r);
    process.stdout.write(`seed ${seed}: ${r.acknowledged} acknowledged, lost ${r.lost}, duplicated ${r.duplicated}, unexpected ${r.unexpected} (${Math.round(r.durationMs / 1000)} s)\n`);
  }
  const total = (k: 'lost' | 'duplicated' | 'unexpected' | 'acknowledged' | 'retried') => rows.reduce((n, r) => n + r[k], 0);
  const out = {
    benchmark: 'intent-soak',
    node: process.version,
    seeds: SEEDS,
    steps: STEPS,
    totals: { acknowledged: total('acknowledged'), retried: total('retried'), lost: total('lost'), duplicated: total('duplicated'), unexpected: total('unexpected') },
    runs: rows,
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n\n`);
  process.stdout.write('| seed | steps | acknowledged | retried | refused (correctly) | kills | kills mid-request | Redis restarts | broker restarts | lost | duplicated | unexpected | s |\n');
  process.stdout.write('|---|---|---|---|---|---|---|---|---|---|---|---|---|\n');
  for (const r of rows) {
    const f = r.faults;
    process.stdout.write(
      `| ${r.seed} | ${r.steps} | ${r.acknowledged} | ${r.retried} | ${r.definiteRefusals} | ${f.controllerKills} | ${f.killsMidRequest} | ${f.redisRestarts} | ${f.brokerRestarts} | ${r.lost} | ${r.duplicated} | ${r.unexpected} | ${Math.round(r.durationMs / 1000)} |\n`,
    );
  }
  for (const r of rows) for (const p of r.problems) process.stdout.write(`seed ${r.seed}: ${p}\n`);
  if (out.totals.lost + out.totals.duplicated + out.totals.unexpected > 0) throw new Error('the soak found lost, duplicated or unexpected outcomes (see above)');
}, 24 * 3600_000);
