import { describe, expect, it } from 'vitest';
import { newLines, splitLog } from '../../cli/logs/new-lines.js';

describe('newLines (outpost logs --follow)', () => {
  it.each([
    { name: 'first lines after an empty log', previous: [], current: ['a', 'b'], lines: ['a', 'b'], gap: false },
    { name: 'nothing new', previous: ['a', 'b'], current: ['a', 'b'], lines: [], gap: false },
    { name: 'appended, whole log fits', previous: ['a', 'b'], current: ['a', 'b', 'c'], lines: ['c'], gap: false },
    { name: 'appended, window slid', previous: ['1', '2', '3'], current: ['3', '4', '5'], lines: ['4', '5'], gap: false },
    { name: 'more new lines than the window: everything, with a gap', previous: ['1', '2', '3'], current: ['7', '8', '9'], lines: ['7', '8', '9'], gap: true },
    { name: 'log emptied (new container), nothing yet', previous: ['1'], current: [], lines: [], gap: false },
    { name: 'repeated lines: the longest overlap, never a line twice', previous: ['x', 'x'], current: ['x', 'x', 'y'], lines: ['y'], gap: false },
  ])('$name', ({ previous, current, lines, gap }) => {
    expect(newLines(previous, current)).toEqual({ lines, gap });
  });

  it('splits a log text into lines, an empty text into none', () => {
    expect(splitLog('')).toEqual([]);
    expect(splitLog('a\nb')).toEqual(['a', 'b']);
  });
});
