import { h, replace, table } from '../dom.js';
import { time } from '../format.js';
import type { Deployment, DeploymentDetail, Release } from '../types.js';
import type { ViewFactory } from '../view.js';

/** Most deployments whose device counts are fetched one by one (GET /v1/deployments/{id}). */
const MAX_DETAILED = 50;

/** Releases and deployments: where each deployment is targeted, applied, shadowed and running. */
export const deploymentsView: ViewFactory = (root, { api }) => {
  const deployments = h('section', { id: 'deployments' });
  const releases = h('section', { id: 'releases' });
  root.replaceChildren(h('h1', {}, 'Releases and deployments'), deployments, releases);
  return {
    wants: () => true,
    async refresh() {
      const [{ deployments: list }, { releases: rels }] = await Promise.all([
        api.get<{ deployments: Deployment[] }>('/v1/deployments'),
        api.get<{ releases: Release[] }>('/v1/releases'),
      ]);
      const details = await Promise.all(list.slice(0, MAX_DETAILED).map((d) => api.get<DeploymentDetail>(`/v1/deployments/${encodeURIComponent(d.id)}`)));
      const byId = new Map(details.map((detail) => [detail.id, detail]));
      replace(
        deployments,
        h('h2', {}, 'Deployments'),
        list.length === 0
          ? h('p', { class: 'muted' }, 'No deployments yet.')
          : table(
              ['Deployment', 'Release', 'Target', 'Priority', 'Targeted', 'Applied', 'Shadowed', 'Running'],
              list.map((d) => {
                const detail = byId.get(d.id);
                const count = (ids: string[] | undefined): string => (ids === undefined ? '…' : String(ids.length));
                return [
                  h('code', {}, d.id),
                  `${d.app}@${d.version}`,
                  d.target.kind === 'selector' ? h('code', {}, d.target.selector ?? '') : plural(d.target.devices?.length ?? 0, 'device'),
                  d.priority,
                  count(detail?.targeted),
                  count(detail?.applied),
                  h('span', { title: detail?.shadowed.join(', ') ?? '' }, count(detail?.shadowed)),
                  count(detail?.running),
                ];
              }),
              { class: 'deployments' },
            ),
      );
      replace(
        releases,
        h('h2', {}, 'Releases'),
        rels.length === 0
          ? h('p', { class: 'muted' }, 'No releases yet.')
          : table(
              ['Release', 'Workloads', 'Created'],
              rels.map((r) => [
                h('code', {}, `${r.app}@${r.version}`),
                h('span', {}, ...Object.entries(r.workloads).map(([n, w]) => h('div', {}, h('code', {}, n), ' ', w.image))),
                time(r.createdAt),
              ]),
            ),
      );
    },
  };
};

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
