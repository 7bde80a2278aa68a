import type { EventType } from '../../shared/schemas/event.js';

/** What a component tells the outside world; the reporter stamps id, time and device. */
export interface AgentEvent {
  type: EventType;
  level: 'info' | 'warn' | 'error';
  message: string;
  version?: number | null;
  workload?: string | null;
  code?: string | null;
  data?: Record<string, unknown>;
}

export interface EventSink {
  emit(event: AgentEvent): void;
}
