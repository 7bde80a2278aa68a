/** What a password in a URL becomes in logs and messages. */
const MASK = '***';
// scheme://user:password@ — the password runs to the last @ before the path, so an unencoded @ in it is masked too.
const WITH_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#@\s:]*):[^/?#\s]*@/gi;

/**
 * A URL (or any text holding URLs) fit for a log line: passwords
 * (redis://:pass@host, mqtt://user:pass@host) masked, users kept. Text
 * without such a URL comes back unchanged.
 */
export function redactUrl(text: string): string {
  return text.replace(WITH_PASSWORD, `$1$2:${MASK}@`);
}
