/**
 * Named fault-injection points (like etcd's gofail or TiKV's fail-rs): code
 * calls `await failpoints.hit('name')` between two steps whose interruption
 * must be survivable, and tests make a point kill the process or throw.
 * Inert unless configured; production code never configures any.
 */
export type FailAction = 'kill' | 'throw';

export class FailpointError extends Error {
  constructor(readonly point: string) {
    super(`failpoint ${point}`);
    this.name = 'FailpointError';
  }
}

export class Failpoints {
  private readonly actions: Map<string, FailAction>;

  constructor(
    actions: Iterable<[string, FailAction]> = [],
    private readonly kill: () => void = () => process.kill(process.pid, 'SIGKILL'),
  ) {
    this.actions = new Map(actions);
  }

  /** Parses `name=kill,other=throw` (the OUTPOST_FAILPOINTS format); a bare name means kill. */
  static parse(spec: string | undefined, kill?: () => void): Failpoints {
    const entries: [string, FailAction][] = [];
    for (const part of (spec ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
      const [name, action = 'kill'] = part.split('=');
      if (!name || (action !== 'kill' && action !== 'throw')) throw new Error(`invalid failpoint ${JSON.stringify(part)}: use name=kill or name=throw`);
      entries.push([name, action]);
    }
    return new Failpoints(entries, kill);
  }

  get active(): boolean {
    return this.actions.size > 0;
  }

  set(name: string, action: FailAction | null): void {
    if (action === null) this.actions.delete(name);
    else this.actions.set(name, action);
  }

  /** Kills the process or throws when `name` is configured; nothing otherwise. */
  async hit(name: string): Promise<void> {
    const action = this.actions.get(name);
    if (action === undefined) return;
    if (action === 'kill') {
      this.kill();
      // SIGKILL is asynchronous: never let the next step run meanwhile.
      await new Promise<never>(() => undefined);
    }
    throw new FailpointError(name);
  }
}

export const NO_FAILPOINTS = new Failpoints();
