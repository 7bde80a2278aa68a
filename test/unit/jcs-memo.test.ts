import { describe, expect, it } from 'vitest';
import { jcs } from '../../shared/jcs.js';
import { memoJcs } from '../../shared/jcs-memo.js';

describe('memoJcs', () => {
  it('gives exactly jcs for documents sharing members, with keys jcs orders specially', () => {
    const canonical = memoJcs();
    const shared = { z: { b: 1, a: [1, { y: 'é', x: null }] }, '10': 'ten', '9': 'nine' };
    const docs = [
      { deviceId: 'a', version: 3, workloads: shared, trust: { keys: [{ keyId: 'k', publicKey: 'p' }] }, skip: undefined },
      { version: 4, deviceId: 'b', workloads: JSON.parse(JSON.stringify(shared)) as unknown, trust: { keys: [{ keyId: 'k', publicKey: 'p' }] } },
      { deviceId: 'c', workloads: { other: true }, list: [3, 2, 1], n: null },
    ];
    for (const d of docs) expect(canonical(d)).toBe(jcs(d));
    expect(canonical([1, 2])).toBe(jcs([1, 2]));
    expect(canonical('s')).toBe(jcs('s'));
  });
});
