/**
 * The newest part of a container log that fits a command result: at most
 * `tail` lines and `maxBytes` bytes of UTF-8, cut at a line boundary when one
 * is near (a partial first line only when a single line is larger than the
 * cap). JSON escaping can grow control characters six-fold, and the result
 * travels inside an event with its own size limit, so the escaped size is
 * capped too.
 */
export interface LogExcerpt {
  text: string;
  lines: number;
  /** Older lines or bytes were left out. */
  truncated: boolean;
}

export function logExcerpt(raw: string, tail: number, maxBytes: number): LogExcerpt {
  let text = raw.endsWith('\n') ? raw.slice(0, -1) : raw;
  let truncated = false;
  let lines = text === '' ? [] : text.split('\n');
  // The runtime cuts at maxBytes too, without regard for lines: a log that
  // reaches the cap probably starts mid-line.
  if ((raw.length >= maxBytes || Buffer.byteLength(raw) >= maxBytes) && lines.length > 1) {
    lines.shift();
    truncated = true;
  }
  if (lines.length > tail) {
    lines = lines.slice(lines.length - tail);
    truncated = true;
  }
  text = lines.join('\n');
  const escapedCap = Math.floor(maxBytes * 1.5);
  const escaped = (t: string): number => JSON.stringify(t).length - 2;
  while (text !== '' && (Buffer.byteLength(text) > maxBytes || escaped(text) > escapedCap)) {
    truncated = true;
    const newline = text.indexOf('\n');
    if (newline >= 0 && lines.length > 1) {
      text = text.slice(newline + 1);
      lines.shift();
      continue;
    }
    // One line larger than the cap: keep its end.
    const line = text;
    let bytes = maxBytes;
    text = newestBytes(line, bytes);
    while (text !== '' && escaped(text) > escapedCap) {
      bytes = Math.floor(bytes * 0.75);
      text = newestBytes(line, bytes);
    }
    break;
  }
  return { text, lines: text === '' ? 0 : text.split('\n').length, truncated };
}

/** The last `maxBytes` bytes of a string, never splitting a UTF-8 character. */
function newestBytes(text: string, maxBytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return text;
  let start = buf.length - maxBytes;
  // Skip continuation bytes (10xxxxxx) so the excerpt starts on a character.
  while (start < buf.length && ((buf[start] ?? 0) & 0xc0) === 0x80) start++;
  return buf.subarray(start).toString('utf8');
}
