export * from './common.js';
export * from './workload.js';
export * from './desired-state.js';
export * from './reported-state.js';
export * from './presence.js';
export * from './event.js';
export * from './command.js';
export * from './telemetry.js';
