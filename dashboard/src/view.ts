import type { Api } from './api.js';
import type { FleetChange } from './types.js';

/** What the router needs of a page: draw it again, and say whether a change concerns it. */
export interface View {
  refresh(): Promise<void>;
  wants(change: FleetChange): boolean;
}

export interface ViewContext {
  api: Api;
  /** Shows an error or a notice at the top of the page. */
  flash(message: string, kind?: 'error' | 'info'): void;
}

export type ViewFactory = (root: HTMLElement, ctx: ViewContext, params: URLSearchParams, pathArgs: string[]) => View;
