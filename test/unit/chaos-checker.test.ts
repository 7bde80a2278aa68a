import { describe, expect, it } from 'vitest';
import { checkHistories, checkHistory } from '../../bench/chaos/checker.js';

describe('chaos history checker (issue 13)', () => {
  it('a device that ends at its latest version, applied once each, in order, is clean', () => {
    const r = checkHistory('d1', {
      published: [1, 2, 2, 3],
      applied: [null, 1, 1, 2, 3, 3],
      creates: [
        { workload: 'web', specHash: 'h1' },
        { workload: 'web', specHash: 'h2' },
        { workload: 'web', specHash: 'h3' },
      ],
    });
    expect(r).toEqual({ lost: 0, duplicated: 0, unexpected: 0, problems: [] });
  });

  it('lost: the device does not end at the latest version published to it', () => {
    expect(checkHistory('d1', { published: [1, 2, 3], applied: [1, 2] })).toMatchObject({ lost: 1, problems: ['d1: ends at v2, latest published v3'] });
    expect(checkHistory('d2', { published: [1], applied: [null] })).toMatchObject({ lost: 1, problems: ['d2: ends at nothing applied, latest published v1'] });
  });

  it('a version skipped on the way is not lost (latest wins); one never published, or an older after a newer, is unexpected', () => {
    expect(checkHistory('d1', { published: [1, 2, 3], applied: [1, 3] }).lost).toBe(0);
    expect(checkHistory('d1', { published: [1, 2], applied: [1, 7, 2] })).toMatchObject({ unexpected: 2 });
    expect(checkHistory('d1', { published: [1, 2, 3], applied: [1, 3, 2, 3] })).toMatchObject({ unexpected: 1, problems: ['d1: reported v2 after v3'] });
  });

  it('duplicated: a container created twice for one spec', () => {
    const r = checkHistory('d1', {
      published: [1, 2],
      applied: [1, 2],
      creates: [
        { workload: 'web', specHash: 'h2' },
        { workload: 'web', specHash: 'h2' },
        { workload: 'side', specHash: 'h2' },
      ],
    });
    expect(r).toMatchObject({ duplicated: 1, problems: ['d1: container for web@h2 created 2 times'] });
  });

  it('sums over devices and names each finding', () => {
    const r = checkHistories({
      b: { published: [1, 2], applied: [1] },
      a: { published: [1], applied: [1], creates: [{ workload: 'w', specHash: 'x' }, { workload: 'w', specHash: 'x' }, { workload: 'w', specHash: 'x' }] },
    });
    expect(r).toEqual({ devices: 2, lost: 1, duplicated: 2, unexpected: 0, problems: ['a: container for w@x created 3 times', 'b: ends at v1, latest published v2'] });
  });
});
