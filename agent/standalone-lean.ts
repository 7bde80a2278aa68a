import { applyLeanV8Flags } from './lean-v8.js';

// A module of its own, imported first by agent/standalone.ts: ES modules run in import order.
applyLeanV8Flags();
