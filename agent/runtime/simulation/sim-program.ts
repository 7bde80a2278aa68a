/**
 * What a simulated container "runs": its command read as a tiny shell, enough
 * for the commands releases and tests use (`sh -c "echo x; exit 3"`, a service
 * that runs until stopped, `trap … TERM; while :; …`). Anything not known to
 * finish is a service that runs until it is stopped.
 */
export type ProgramOp = { kind: 'log'; line: string } | { kind: 'sleep'; ms: number } | { kind: 'status'; code: number } | { kind: 'exit'; code: number } | { kind: 'forever' };

const SHELLS = new Set(['sh', 'ash', 'bash', 'dash']);
/** Utilities that finish at once with status 0 (output ignored). */
const QUICK = new Set(['mkdir', 'cp', 'mv', 'rm', 'touch', 'chmod', 'chown', 'cat', 'ln', 'test', '[', 'env', 'id', 'date', 'ls', 'hostname', 'wget', 'curl', 'export', 'cd', 'set', 'trap', 'true', ':', 'wait']);

const basename = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

function words(statement: string): string[] {
  const out: string[] = [];
  for (const m of statement.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}

function statementOps(argv: readonly string[], mode: 'run' | 'check'): ProgramOp[] {
  const [first, ...rest] = argv;
  if (first === undefined) return [];
  const name = basename(first);
  if (SHELLS.has(name) && rest[0] === '-c' && rest[1] !== undefined) return scriptOps(rest[1], mode);
  switch (name) {
    case 'exit':
      return [{ kind: 'exit', code: Number.parseInt(rest[0] ?? '0', 10) & 0xff }];
    case 'false':
      return [{ kind: 'status', code: 1 }];
    case 'echo':
    case 'printf':
      return rest.some((w) => w.startsWith('>')) ? [{ kind: 'status', code: 0 }] : [{ kind: 'log', line: rest.join(' ') }, { kind: 'status', code: 0 }];
    case 'sleep': {
      const seconds = Number(rest[0]);
      return Number.isFinite(seconds) ? [{ kind: 'sleep', ms: seconds * 1000 }, { kind: 'status', code: 0 }] : [{ kind: 'forever' }];
    }
    case 'exec': {
      const ops = statementOps(rest, mode);
      const last = ops.at(-1);
      return last?.kind === 'status' ? [...ops.slice(0, -1), { kind: 'exit', code: last.code }] : ops;
    }
    case 'while':
    case 'until':
    case 'for':
      return [{ kind: 'forever' }];
    default:
      // A check that is not understood passes; a program that is not understood is a service.
      return QUICK.has(name) || mode === 'check' ? [{ kind: 'status', code: 0 }] : [{ kind: 'forever' }];
  }
}

function scriptOps(script: string, mode: 'run' | 'check'): ProgramOp[] {
  const ops: ProgramOp[] = [];
  for (const statement of script.split(/\s*(?:;|&&|\|\||\n)\s*/)) {
    if (!statement.trim()) continue;
    const step = statementOps(words(statement), mode);
    ops.push(...step);
    if (step.some((op) => op.kind === 'exit' || op.kind === 'forever')) break;
  }
  return ops;
}

/** The program of a container: entrypoint + command; neither means the image's own long-running default. */
export function programOf(argv: readonly string[]): ProgramOp[] {
  if (argv.length === 0) return [{ kind: 'forever' }];
  const ops = statementOps(argv, 'run');
  const last = ops.at(-1);
  if (last?.kind === 'exit' || last?.kind === 'forever') return ops;
  return [...ops, { kind: 'exit', code: last?.kind === 'status' ? last.code : 0 }];
}

/** One health-check run: exit code and output, at once (sleeps are not waited for). */
export function runCheck(test: readonly string[]): { code: number; output: string } {
  const [kind, ...rest] = test;
  const argv = kind === 'CMD-SHELL' ? ['sh', '-c', rest.join(' ')] : kind === 'CMD' ? rest : [...test];
  const lines: string[] = [];
  let code = 0;
  for (const op of statementOps(argv, 'check')) {
    if (op.kind === 'log') lines.push(op.line);
    else if (op.kind === 'status') code = op.code;
    else if (op.kind === 'exit') return { code: op.code, output: lines.join('\n') };
  }
  return { code, output: lines.join('\n') };
}
