import { readFile } from 'node:fs/promises';

export interface CodeBlock {
  readonly lang: string;
  readonly body: string;
}

/** The body of the `## title` section of a markdown file (up to the next `## ` heading). */
export function markdownSection(markdown: string, title: string): string {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === `## ${title}`);
  if (start < 0) throw new Error(`no "## ${title}" section`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** Fenced code blocks in order, with their indentation (list items) removed. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const re = /^([ \t]*)```(\w*)\n([\s\S]*?)^\1```[ \t]*$/gm;
  for (const m of markdown.matchAll(re)) {
    const indent = m[1] ?? '';
    const body = (m[3] ?? '')
      .split('\n')
      .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
      .join('\n');
    blocks.push({ lang: m[2] ?? '', body });
  }
  return blocks;
}

/** Shell lines of a block: comments and blank lines dropped, `\` continuations joined. */
export function shellCommands(block: CodeBlock): string[] {
  const joined = block.body.replace(/\\\n\s*/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

export async function readReadme(path: string): Promise<string> {
  return readFile(path, 'utf8');
}
