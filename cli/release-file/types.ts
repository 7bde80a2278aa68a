/** Shapes shared by the release-file converters. */
export type Path = readonly (string | number)[];
export type Json = Record<string, unknown>;
export type Issues = string[];
export type Resources = { memoryBytes?: number; cpus?: number; pidsLimit?: number };

export const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isScalar = (v: unknown): v is string | number | boolean => ['string', 'number', 'boolean'].includes(typeof v);
