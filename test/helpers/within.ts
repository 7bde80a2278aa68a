/**
 * Resolves as `promise` does, or rejects once `ms` have passed, naming `what`.
 * For awaits that have no time-out of their own (an MQTT.js PUBACK or SUBACK,
 * a socket's close), so a test that hangs says where instead of running into
 * its own time-out.
 */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
