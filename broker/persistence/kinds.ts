/** The aedes persistences the broker can run on (DD-028); `outpost` is the default. */
export const PERSISTENCE_KINDS = ['outpost', 'legacy'] as const;
export type PersistenceKind = (typeof PERSISTENCE_KINDS)[number];
