/** One JSON line of a Docker build/pull/push progress stream. */
export interface DockerStreamEvent {
  readonly stream?: string;
  readonly status?: string;
  readonly id?: string;
  readonly error?: string;
  readonly errorDetail?: { readonly message?: string; readonly code?: number };
  readonly aux?: Record<string, unknown>;
}

/**
 * Drains a Docker progress stream. Docker reports build/pull/push failures as an
 * `error` event inside an HTTP 200 stream, which dockerode's followProgress does
 * not turn into an error; this rejects on them, quoting the tail of the stream.
 */
export function followDockerStream(stream: NodeJS.ReadableStream): Promise<DockerStreamEvent[]> {
  return new Promise((resolve, reject) => {
    const events: DockerStreamEvent[] = [];
    let buffered = '';
    let settled = false;
    const tail = (): string =>
      events
        .slice(-15)
        .map((e) => (e.stream ?? e.status ?? e.error ?? JSON.stringify(e)).trimEnd())
        .join('\n');
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    const parse = (line: string): void => {
      const trimmed = line.trim();
      if (trimmed === '') return;
      let event: DockerStreamEvent;
      try {
        event = JSON.parse(trimmed) as DockerStreamEvent;
      } catch (err: unknown) {
        fail(new Error(`unparseable Docker stream line: ${trimmed.slice(0, 200)}`, { cause: err }));
        return;
      }
      events.push(event);
      if (event.error !== undefined || event.errorDetail !== undefined) {
        fail(new Error(`Docker reported: ${event.error ?? event.errorDetail?.message ?? 'unknown error'}\n${tail()}`));
      }
    };
    stream.on('data', (chunk: Buffer | string) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      lines.forEach(parse);
    });
    stream.once('error', (err: Error) => fail(err));
    stream.once('end', () => {
      parse(buffered);
      if (settled) return;
      settled = true;
      resolve(events);
    });
  });
}
