/**
 * Reads a systemd unit as systemd would for what tests need: a key's value
 * and ExecStart split into words (double quotes, backslash escapes, `%%`).
 */
export function unitValues(unit: string, key: string): string[] {
  return unit
    .split('\n')
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1));
}

export function execStartWords(unit: string): string[] {
  const lines = unitValues(unit, 'ExecStart');
  if (lines.length !== 1) throw new Error(`expected one ExecStart line, found ${lines.length}`);
  const line = lines[0] as string;
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === '%' && line[i + 1] === '%') {
      word += '%';
      inWord = true;
      i++;
    } else if (c === '%') {
      throw new Error(`unit uses specifier %${line[i + 1] ?? ''}, which this reader does not expand`);
    } else if (quoted && c === '\\') {
      word += line[++i] ?? '';
    } else if (c === '"') {
      quoted = !quoted;
      inWord = true;
    } else if (!quoted && /\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quoted) throw new Error('unterminated quote in ExecStart');
  if (inWord) words.push(word);
  return words;
}
