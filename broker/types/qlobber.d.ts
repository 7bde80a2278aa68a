// qlobber 8 ships no type declarations; this covers what broker/persistence uses.
declare module 'qlobber' {
  export interface QlobberOptions {
    separator?: string;
    wildcard_one?: string;
    wildcard_some?: string;
    match_empty_levels?: boolean;
  }
  /** A set of topic patterns; test() says whether a topic matches one. */
  export class QlobberTrue {
    constructor(options?: QlobberOptions);
    add(pattern: string): this;
    test(topic: string): boolean;
  }
}

declare module 'qlobber/aedes/qlobber-sub.js' {
  import type { QlobberOptions } from 'qlobber';
  /** aedes's subscription trie: one entry per (clientId, topic), keeping qos, rh, rap, nl. */
  export interface TrieSub {
    clientId: string;
    topic: string;
    qos?: number;
    rh?: number;
    rap?: boolean;
    nl?: boolean;
  }
  export default class QlobberSub {
    constructor(options?: QlobberOptions);
    readonly subscriptionsCount: number;
    add(topic: string, sub: TrieSub): this;
    remove(topic: string, sub: { clientId: string; topic: string }): this;
    match(topic: string): TrieSub[];
    match(topic: string, context: string): Iterable<{ clientId: string }>;
  }
}
