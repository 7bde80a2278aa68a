/** Protocol limits (docs/protocol.md, "Limits"). Agents and brokers may be configured lower, never higher. */
export const LIMITS = {
  /** Largest desired document an agent accepts, in bytes of UTF-8 JSON. */
  desiredMaxBytes: 256 * 1024,
  /** Largest reported document. */
  reportedMaxBytes: 256 * 1024,
  /** Largest event. */
  eventMaxBytes: 64 * 1024,
  /**
   * Deepest nesting of objects and arrays in any message. No protocol
   * document needs more than a handful; JSON.stringify and every recursive
   * walk overflow the call stack a few thousand levels down, which a 64 KiB
   * event (`data`) could otherwise reach.
   */
  jsonMaxDepth: 64,
  /** Default broker cap on any PUBLISH payload. */
  brokerMaxPayloadBytes: 512 * 1024,
  /** Longest topic the broker routes, in bytes. */
  topicMaxBytes: 256,
  /** Deepest topic the broker routes. */
  topicMaxLevels: 12,
  maxWorkloads: 32,
  maxEnvEntries: 256,
  maxPorts: 64,
  maxVolumes: 64,
  maxLabels: 64,
} as const;
