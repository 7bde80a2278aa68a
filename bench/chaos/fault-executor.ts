import type { ChaosCluster } from './chaos-cluster.js';
import { pause } from './chaos-cluster.js';
import type { ChangeDriver } from './change-driver.js';
import type { FaultLink, LinkShape } from './fault-link.js';
import type { PlannedFault } from './fault-plan.js';

/** The cellular profile (F7): 64 kbit/s, 300 ms each way, 2 % of segments late by a retransmission. */
export const CELLULAR: LinkShape = { bitsPerSecond: 64_000, delayMs: 300, lossRate: 0.02, retransmitMs: 1_000 };

export interface FaultContext {
  cluster: ChaosCluster;
  /** links[group][broker]: the relays between a group of devices and each broker node. */
  links: readonly (readonly FaultLink[])[];
  driver: ChangeDriver;
  /** The brokers' queue cap: a long offline sees more versions than this published (F8). */
  maxQueuedMessages: number;
  random: () => number;
  /** Aborts when the chaos phase ends: every fault then heals at once. */
  signal: AbortSignal;
}

const each = (links: readonly FaultLink[] | undefined, f: (l: FaultLink) => void): void => {
  for (const l of links ?? []) f(l);
};

/** A group's links stay in one fault state for the fault's duration, then heal (also when the run ends first). */
async function linkFault(ctx: FaultContext, group: number, durationMs: number, apply: (l: FaultLink) => void, during?: () => Promise<void>): Promise<void> {
  const links = ctx.links[group];
  each(links, apply);
  try {
    await Promise.all([pause(durationMs, ctx.signal), during?.()]);
  } finally {
    each(links, (l) => l.heal());
  }
}

/** Carries out one planned fault, start to heal. Exhaustive over the fault kinds (style: plan purely, execute thinly). */
export async function executeFault(f: PlannedFault, ctx: FaultContext): Promise<void> {
  switch (f.kind) {
    case 'broker-kill':
      return ctx.cluster.killBroker(f.broker, f.durationMs, ctx.signal);
    case 'redis-restart':
      return ctx.cluster.restartRedis(f.durationMs, ctx.signal);
    case 'controller-kill':
      return ctx.cluster.killController(f.durationMs, ctx.signal);
    case 'partition':
      return linkFault(ctx, f.group, f.durationMs, (l) => l.partition());
    case 'half-open':
      return linkFault(ctx, f.group, f.durationMs, (l) => l.halfOpen());
    case 'slow-link':
      return linkFault(ctx, f.group, f.durationMs, (l) => l.slow(CELLULAR));
    case 'frozen-subscriber':
      return linkFault(ctx, f.group, f.durationMs, (l) => l.freeze());
    case 'long-offline':
      // More versions than the broker queues for the group while it is away: it must converge from the retained document.
      return linkFault(ctx, f.group, f.durationMs, (l) => l.partition(), () => ctx.driver.burst(f.group, ctx.maxQueuedMessages + 2, ctx.signal));
    case 'flapping': {
      const end = Date.now() + f.durationMs;
      try {
        await Promise.all(
          f.groups.map(async (g) => {
            while (Date.now() < end && !ctx.signal.aborted) {
              each(ctx.links[g], (l) => l.cut());
              await pause(1_000 + ctx.random() * 4_000, ctx.signal);
            }
          }),
        );
      } finally {
        for (const g of f.groups) each(ctx.links[g], (l) => l.heal());
      }
      return;
    }
  }
}
