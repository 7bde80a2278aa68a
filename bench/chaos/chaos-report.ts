import { FAULT_KINDS, FAULT_NUMBER } from './fault-plan.js';
import type { ChaosResult } from './chaos-run.js';

/** The counts that must all be 0. */
export function failures(r: ChaosResult): string[] {
  const out: string[] = [];
  if (r.checker.lost) out.push(`lost ${r.checker.lost}`);
  if (r.checker.duplicated) out.push(`duplicated ${r.checker.duplicated}`);
  if (r.checker.unexpected) out.push(`unexpected ${r.checker.unexpected}`);
  if (r.convergeAfterHealS === null) out.push('the fleet did not converge after the heal');
  return out;
}

/** The run as markdown: the faults injected, then the checker's table. */
export function chaosTables(r: ChaosResult): string {
  const lines = [
    `### Chaos run: seed ${r.seed}, ${r.durationS} s, ${r.devices} simulated devices (${r.groups} groups), ${r.brokers} broker nodes`,
    '',
    '| fault | kind | injected |',
    '|---|---|---:|',
    ...FAULT_KINDS.map((k) => `| ${FAULT_NUMBER[k]} | ${k} | ${r.faults[k]} |`),
    `| F9 | clock skew ±1 h (whole run) | ${r.skewedDevices} devices |`,
    '',
    '| devices | releases | deployments | rollouts | versions published | lost | duplicated | unexpected | converged after heal |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| ${r.checker.devices} | ${r.changes.releases} | ${r.changes.deployments} | ${r.changes.rollouts} | ${r.versionsPublished} | ${r.checker.lost} | ${r.checker.duplicated} | ${r.checker.unexpected} | ${r.convergeAfterHealS === null ? 'no' : `${r.convergeAfterHealS} s`} |`,
  ];
  if (r.unexpectedProcessExits.length) lines.push('', `Processes that exited unasked (restarted): ${r.unexpectedProcessExits.length}`);
  if (r.faultErrors.length) lines.push('', `Faults that failed to run: ${r.faultErrors.join('; ')}`);
  if (r.checker.problems.length) lines.push('', 'Problems:', ...r.checker.problems.map((p) => `- ${p}`));
  return lines.join('\n');
}
