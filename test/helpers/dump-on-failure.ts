import { afterEach } from 'vitest';

/**
 * When a test fails, print the recent output of the processes it ran (agents,
 * brokers), so a failure in CI can be diagnosed from the log alone.
 */
export function dumpOnFailure(outputs: () => Record<string, string>): void {
  afterEach((ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    for (const [name, text] of Object.entries(outputs())) {
      process.stderr.write(`\n----- ${name} (last lines) -----\n${text.split('\n').slice(-300).join('\n')}\n`);
    }
  });
}
