import type { Device } from '../model/device.js';
import { ALL_SCOPE } from '../registry/registry-tx.js';
import { matches, parseSelector, type Selector } from './selector.js';

/** Dirty scopes (Keys.dirty) read once, to test devices against them. */
export interface DirtyScopes {
  /** `*`: every device. */
  all: boolean;
  /** `d:<id>` scopes, plus ids added by the caller (e.g. unpublished devices). */
  devices: Set<string>;
  /** `s:<selector>` scopes. */
  selectors: Selector[];
  /** Whether any scope needs the whole fleet's labels to resolve. */
  needsLabels: boolean;
}

/**
 * Parses scope members. A selector that no longer parses (they were
 * validated when stored) marks nothing and is passed to `onInvalid`.
 */
export function parseScopes(members: Iterable<string>, extraDevices: Iterable<string> = [], onInvalid: (selector: string, err: unknown) => void = () => undefined): DirtyScopes {
  const out: DirtyScopes = { all: false, devices: new Set(extraDevices), selectors: [], needsLabels: false };
  for (const s of members) {
    if (s === ALL_SCOPE) out.all = true;
    else if (s.startsWith('d:')) out.devices.add(s.slice(2));
    else if (s.startsWith('s:')) {
      try {
        out.selectors.push(parseSelector(s.slice(2)));
      } catch (err) {
        onInvalid(s.slice(2), err);
      }
    }
  }
  out.needsLabels = out.all || out.selectors.length > 0;
  return out;
}

export function coveredBy(scopes: DirtyScopes, device: Pick<Device, 'id' | 'labels'>): boolean {
  return scopes.all || scopes.devices.has(device.id) || scopes.selectors.some((sel) => matches(sel, device.labels));
}
