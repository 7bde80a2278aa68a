import type { DeploymentBody, DeploymentDetailBody } from '../client/responses.js';
import { formatAgo, formatList, formatTarget, formatTime, plural, type ViewOptions } from './format.js';
import { renderFields, renderTable } from './table.js';

export function renderDeploymentList(deployments: readonly DeploymentBody[], o: ViewOptions): string {
  if (deployments.length === 0) return 'No deployments.';
  return renderTable(
    ['ID', 'RELEASE', 'PRIORITY', 'TARGET', 'APPLY', 'CREATED'],
    deployments.map((d) => [
      d.id,
      `${d.app}@${d.version}`,
      String(d.priority),
      formatTarget(d.target),
      d.apply ? formatApplyPolicy(d.apply) : 'at once',
      formatAgo(d.createdAt, o.now),
    ]),
    { color: o.color, align: ['left', 'left', 'right'] },
  );
}

/** A deployment's apply policy in one line, e.g. `in window "0 2 * * *" for 120 min (Europe/Berlin), after 2026-12-01T02:00:00.000Z, force`. */
export function formatApplyPolicy(p: NonNullable<DeploymentBody['apply']>): string {
  const parts: string[] = [];
  if (p.window) parts.push(`in window "${p.window.cron}" for ${p.window.durationMinutes} min (${p.window.timezone})`);
  if (p.after) parts.push(`after ${p.after}`);
  if (p.force) parts.push('force (over update locks)');
  return parts.length ? parts.join(', ') : 'at once';
}

export function deploymentCounts(d: DeploymentDetailBody): string {
  return `${d.targeted.length} targeted, ${d.applied.length} applied, ${d.shadowed.length} shadowed, ${d.pinned.length} pinned, ${d.running.length} running`;
}

export function renderDeploymentDetail(d: DeploymentDetailBody, o: ViewOptions): string {
  const list = (ids: readonly string[]): string => formatList(ids, 20);
  const head = renderFields(
    [
      ['Deployment', d.id],
      ['Release', `${d.app}@${d.version}`],
      ['Target', d.target.kind === 'selector' ? `selector ${formatTarget(d.target)}` : formatTarget(d.target)],
      ['Priority', String(d.priority)],
      ['Apply', d.apply ? formatApplyPolicy(d.apply) : 'at once (no window, no after, not forced)'],
      ['Created', formatTime(d.createdAt, o.now)],
    ],
    { color: o.color },
  );
  const devices = renderFields(
    [
      [`Targeted (${d.targeted.length})`, list(d.targeted)],
      [`Applied (${d.applied.length})`, { text: list(d.applied), style: d.applied.length ? 'green' : undefined }],
      [`Shadowed (${d.shadowed.length})`, { text: list(d.shadowed), style: d.shadowed.length ? 'yellow' : undefined }],
      [`Pinned (${d.pinned.length})`, list(d.pinned)],
      [`Running (${d.running.length})`, list(d.running)],
    ],
    { color: o.color, indent: '  ' },
  );
  return `${head}\n\nDevices\n${devices}`;
}

/**
 * What a new deployment probably did not mean to do (issue 12): a selector
 * that matches no device (a typo in a label), or every targeted device kept
 * on another deployment of the app with a higher priority (e.g. a rollout's).
 * `others`: the other deployments of the app.
 */
export function deploymentWarnings(d: DeploymentDetailBody, others: readonly DeploymentBody[]): string[] {
  const warnings: string[] = [];
  if (d.targeted.length === 0) {
    warnings.push(
      d.target.kind === 'selector'
        ? `the selector ${JSON.stringify(d.target.selector)} matches no device; check the labels with \`outpost device ls --selector ${JSON.stringify(d.target.selector)}\``
        : 'none of the listed devices is enrolled',
    );
  } else if (d.shadowed.length === d.targeted.length) {
    const higher = others.filter((o) => o.app === d.app && o.id !== d.id && o.priority >= d.priority).sort((a, b) => b.priority - a.priority);
    const who = higher.length ? `: ${higher.map((o) => `${o.id} (${o.app}@${o.version}, priority ${o.priority})`).join(', ')}` : '';
    const top = higher[0];
    warnings.push(
      `every targeted device (${d.targeted.length}) keeps ${d.app} from a deployment of higher priority${who}. ` +
        (top ? `Deploy with --priority ${top.priority + 1}, or remove it: \`outpost deployment rm ${top.id}\`` : 'Deploy with a higher --priority'),
    );
  }
  return warnings;
}
