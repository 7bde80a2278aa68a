import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A partition of one container's link to `peer` (DD-049): iptables DROP on
 * INPUT and OUTPUT inside the container's network namespace, entered from
 * the host with nsenter (needs root; the image needs no iptables and no
 * NET_ADMIN). Packets are silently lost in both directions, no RST and no
 * ICMP, so neither end learns anything until its keepalive runs out; the
 * interface and address stay, unlike `docker network disconnect` (which
 * takes the route away and makes the kernel fail the agent's sends at once).
 * Only traffic to the peer is dropped: the Docker socket (a bind-mounted unix
 * socket) keeps working, so workloads run on.
 */
export interface LinkPartition {
  /** Drop everything between the container and the peer. Idempotent. */
  cut(): Promise<void>;
  /** Let it through again. Idempotent. */
  heal(): Promise<void>;
  readonly isCut: boolean;
}

export function linkPartition(containerPid: number, peer: string): LinkPartition {
  const rules = [
    ['INPUT', '-s', peer, '-j', 'DROP'],
    ['OUTPUT', '-d', peer, '-j', 'DROP'],
  ];
  const iptables = (op: '-I' | '-D', rule: string[]) =>
    run('nsenter', ['-t', String(containerPid), '-n', 'iptables', '-w', op, ...rule], { timeout: 15_000 });
  let cut = false;
  return {
    get isCut() {
      return cut;
    },
    async cut() {
      if (cut) return;
      for (const rule of rules) await iptables('-I', rule);
      cut = true;
    },
    async heal() {
      if (!cut) return;
      for (const rule of rules) await iptables('-D', rule);
      cut = false;
    },
  };
}
