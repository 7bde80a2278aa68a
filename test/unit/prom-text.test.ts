import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parsePromText, sampleValue, valuesBy } from '../helpers/prom-text.js';

/** The strict exposition parser the /metrics tests rely on: it must read prom-client's output and refuse anything malformed. */
describe('Prometheus text parser (test helper)', () => {
  it('reads what prom-client writes: types, help, labels with escapes, histogram series', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'x_events_total', help: 'Events', labelNames: ['kind'], registers: [registry] });
    c.inc({ kind: 'a "quoted" \\ one\nline' }, 3);
    new Gauge({ name: 'x_level', help: 'Level', registers: [registry] }).set(-2.5);
    new Histogram({ name: 'x_seconds', help: 'Time', buckets: [0.1, 1], registers: [registry] }).observe(0.5);
    const families = parsePromText(await registry.metrics());
    expect(families.get('x_events_total')).toMatchObject({ type: 'counter', help: 'Events' });
    expect(sampleValue(families, 'x_events_total', { kind: 'a "quoted" \\ one\nline' })).toBe(3);
    expect(sampleValue(families, 'x_level')).toBe(-2.5);
    expect(valuesBy(families, 'x_seconds_bucket', 'le')).toEqual({ '0.1': 0, '1': 1, '+Inf': 1 });
    expect(sampleValue(families, 'x_seconds_count')).toBe(1);
    expect(families.get('x_seconds')?.type).toBe('histogram');
  });

  const head = '# HELP m A metric\n# TYPE m gauge\n';
  it.each([
    ['a value that is not a number', `${head}m abc\n`, /bad value/],
    ['a hexadecimal value', `${head}m 0x1f\n`, /bad value/],
    ['no value', `${head}m\n`, /expected " value/],
    ['an unterminated label value', `${head}m{a="x} 1\n`, /unterminated/],
    ['a label without quotes', `${head}m{a=x} 1\n`, /expected ="/],
    ['a bad escape', `${head}m{a="\\t"} 1\n`, /bad escape/],
    ['a repeated label', `${head}m{a="1",a="2"} 1\n`, /repeated/],
    ['a repeated series', `${head}m{a="1"} 1\nm{a="1"} 2\n`, /series repeated/],
    ['a sample of an undeclared metric', `${head}other 1\n`, /without a TYPE or HELP/],
    ['an unknown type', '# TYPE m thing\nm 1\n', /unknown type/],
    ['a TYPE after samples', `${head}m 1\n# TYPE m gauge\n`, /TYPE repeated or after samples/],
    ['a HELP line without a name', '# HELP\n', /malformed HELP\/TYPE/],
    ['a TYPE line without a type', '# TYPE m\n', /unknown type/],
    ['garbage', `${head}{a="1"} 1\n`, /not a sample/],
    ['trailing text after the timestamp', `${head}m 1 1700000000 extra\n`, /expected " value/],
    ['no final newline', `${head}m 1`, /end with a newline/],
    ['a negative counter', '# TYPE c_total counter\nc_total -1\n', /negative counter/],
    ['a bucket without le', '# TYPE h histogram\nh_bucket 1\n', /without le/],
  ])('rejects %s', (_what, text, error) => {
    expect(() => parsePromText(text)).toThrow(error);
  });

  it('accepts comments, blank lines, timestamps and special values', () => {
    const families = parsePromText(`# just a comment\n\n${head}m{a="1"} +Inf 1700000000\nm{a="2"} NaN\nm{a="3"} 1e-3\nm{a="4"} Nan\nm{a="5"} -Inf\n`);
    expect(valuesBy(families, 'm', 'a')).toEqual({ '1': Infinity, '2': NaN, '3': 0.001, '4': NaN, '5': -Infinity });
  });
});
