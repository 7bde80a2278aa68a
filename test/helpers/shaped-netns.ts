import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A device's own network: a network namespace joined to the host by a veth
 * pair whose two ends are rate-limited by `tc tbf`, so only this device's link
 * is shaped (the host's loopback and every other test are untouched). A
 * process started with `launcher` (the agent) lives in the namespace and
 * reaches the host at `hostAddress`. Needs root and iproute2 (ip, tc).
 */
export interface ShapedNetns {
  readonly name: string;
  /** The host's end of the veth: listen here for the device. */
  readonly hostAddress: string;
  readonly deviceAddress: string;
  /** Runs a command inside the namespace; `ip netns exec` execs it, so its PID is the command's. */
  readonly launcher: readonly string[];
  /** Bytes on the device's link, from the kernel's counters of the host's end (Ethernet frames: headers, ACKs, everything). */
  wireBytes(): Promise<{ up: number; down: number }>;
  /** Deletes the namespace and the veth pair. Idempotent; stop the processes inside first. */
  close(): Promise<void>;
}

export interface ShapedNetnsOptions {
  /** Each direction's rate. */
  readonly rateKbit: number;
  /** tbf's bucket: at least one full frame. */
  readonly burstBytes?: number;
  /** tbf's queue; a cellular modem buffers deeply, so the default (64 KiB, 8 s at 64 kbit/s) makes the rate queue rather than drop. */
  readonly limitBytes?: number;
}

export async function startShapedNetns(opts: ShapedNetnsOptions): Promise<ShapedNetns> {
  const id = randomBytes(3).toString('hex');
  const name = `outpost-${id}`;
  // Interface names: at most 15 characters.
  const hostIf = `oph${id}`;
  const deviceIf = `opd${id}`;
  // A random /30 in 10.200.0.0/13, so parallel test files do not collide.
  const base = `10.${200 + randomInt(8)}.${randomInt(256)}.${randomInt(64) * 4}`;
  const octets = base.split('.').map(Number);
  const at = (n: number): string => `${octets[0]}.${octets[1]}.${octets[2]}.${(octets[3] ?? 0) + n}`;
  const hostAddress = at(1);
  const deviceAddress = at(2);
  const inNs = ['ip', 'netns', 'exec', name];
  const tbf = ['root', 'tbf', 'rate', `${opts.rateKbit}kbit`, 'burst', String(opts.burstBytes ?? 1600), 'limit', String(opts.limitBytes ?? 65_536)];
  const sh = async (argv: readonly string[]): Promise<void> => {
    const [cmd, ...args] = argv;
    await run(cmd as string, args);
  };
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await sh(['ip', 'netns', 'del', name]).catch(() => undefined);
      await sh(['ip', 'link', 'del', hostIf]).catch(() => undefined);
    })());
  try {
    await sh(['ip', 'netns', 'add', name]);
    await sh(['ip', 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', deviceIf]);
    await sh(['ip', 'link', 'set', deviceIf, 'netns', name]);
    await sh(['ip', 'addr', 'add', `${hostAddress}/30`, 'dev', hostIf]);
    await sh(['ip', 'link', 'set', hostIf, 'up']);
    await sh([...inNs, 'ip', 'addr', 'add', `${deviceAddress}/30`, 'dev', deviceIf]);
    await sh([...inNs, 'ip', 'link', 'set', deviceIf, 'up']);
    await sh([...inNs, 'ip', 'link', 'set', 'lo', 'up']);
    await sh(['tc', 'qdisc', 'add', 'dev', hostIf, ...tbf]);
    await sh([...inNs, 'tc', 'qdisc', 'add', 'dev', deviceIf, ...tbf]);
  } catch (err: unknown) {
    await close();
    throw err;
  }
  const counter = async (which: 'rx_bytes' | 'tx_bytes'): Promise<number> => Number((await readFile(`/sys/class/net/${hostIf}/statistics/${which}`, 'utf8')).trim());
  return {
    name,
    hostAddress,
    deviceAddress,
    launcher: inNs,
    // The host's end receives what the device sends.
    wireBytes: async () => ({ up: await counter('rx_bytes'), down: await counter('tx_bytes') }),
    close,
  };
}
