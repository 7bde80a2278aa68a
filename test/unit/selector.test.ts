import { describe, expect, it } from 'vitest';
import { formatSelector, matches, parseSelector } from '../../controller/desired-state/selector.js';

const kioskA = { site: 'a', role: 'kiosk', tier: 'canary' };
const kioskB = { site: 'b', role: 'kiosk' };
const sensorX = { site: 'x', role: 'sensor' };

describe('label selectors', () => {
  const table: [string, boolean[]][] = [
    // selector → matches [kioskA, kioskB, sensorX]
    ['role=kiosk', [true, true, false]],
    ['role==kiosk', [true, true, false]],
    ['role!=kiosk', [false, false, true]],
    ['site in (a,x)', [true, false, true]],
    ['site notin (a, x)', [false, true, false]],
    ['tier', [true, false, false]],
    ['!tier', [false, true, true]],
    ['role=kiosk,!tier', [false, true, false]],
    ['role=kiosk, site in (b)', [false, true, false]],
    ['missing!=x', [true, true, true]],
    ['missing notin (x)', [true, true, true]],
    ['missing in (x)', [false, false, false]],
    ['role=', [false, false, false]],
  ];
  it.each(table)('%s', (text, expected) => {
    const s = parseSelector(text);
    expect([kioskA, kioskB, sensorX].map((l) => matches(s, l))).toEqual(expected);
  });

  it.each(['', ' ', 'a=b,', ',a', 'site in ()', 'site in (a,)', 'site in (a', 'site in a)', 'Role=x', 'a=b=c', 'a b', 'a=(b)', '!!a', 'key=val ue'])(
    'rejects %j with a message',
    (text) => {
      expect(() => parseSelector(text)).toThrow(/selector|label|requirement|set/);
    },
  );

  it('formats back to an equivalent selector', () => {
    const s = parseSelector('role==kiosk , site notin (a,b), !tier, env');
    expect(formatSelector(s)).toBe('role=kiosk,site notin (a,b),!tier,env');
    expect(parseSelector(formatSelector(s))).toEqual(s);
  });
});
