import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PolicyBuilder } from '../../../src/core/policy/builder.js';
import { formatDuration, parseDuration } from '../../../src/core/policy/duration.js';
import { PolicyError } from '../../../src/core/policy/errors.js';
import { loadPolicy, loadPolicyFile } from '../../../src/agent/policy-file.js';
import { parsePolicy, serializePolicy } from '../../../src/core/policy/parse.js';
import { And, ComplexityBelow, IsSeverity, IsType, Or } from '../../../src/core/policy/predicates.js';
import { developmentPolicy, policyPresets, productionPolicy } from '../../../src/core/policy/presets.js';
import { ESCALATION_ACTIONS, type Policy } from '../../../src/core/policy/types.js';
import { policyFromDocument } from '../../../src/core/policy/validate.js';
import { STRATEGIES } from '../../../src/core/resolve/types.js';
import { complexityArb, FIELD_POOL, predicateArb } from './fixtures.js';

const configPath = (name: string): string => fileURLToPath(new URL(`../../../config/policies/${name}.yaml`, import.meta.url));

/** The spec's examples, transcribed call for call from "Policy Configuration" → "Example Policies". */
const specProduction = (): Policy =>
  new PolicyBuilder('production')
    .withDefaultStrategy('last_write_wins')
    .withFieldStrategy('power_state', 'highest_priority')
    .withRule('concurrent_safe', And(IsType('concurrent_update'), ComplexityBelow(0.5)), 'multi_value_register', 50)
    .withEscalation('critical_conflicts', Or(IsSeverity('critical'), IsType('invariant_violation')), 'manual', 100)
    .withMaxRetries(5)
    .withManualThreshold(0.7)
    .withTimeout(30 * 1000)
    .withFallback('last_write_wins')
    .build();
const specDevelopment = (): Policy =>
  new PolicyBuilder('development')
    .withDefaultStrategy('multi_value_register')
    .withMaxRetries(3)
    .withManualThreshold(0.9)
    .withTimeout(60 * 1000)
    .build();

function policyError(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).code).toBe('ERR_POLICY');
    return err as PolicyError;
  }
  throw new Error('expected a PolicyError');
}

describe('presets', () => {
  it('config/policies/*.yaml equal the spec examples built with PolicyBuilder', async () => {
    expect(await loadPolicyFile(configPath('production'))).toEqual(specProduction());
    expect(await loadPolicyFile(configPath('development'))).toEqual(specDevelopment());
    expect(productionPolicy).toEqual(specProduction());
    expect(developmentPolicy).toEqual(specDevelopment());
  });

  it('loadPolicy resolves preset names and file paths', async () => {
    expect(await loadPolicy('production')).toBe(policyPresets.production);
    expect(await loadPolicy('development')).toBe(policyPresets.development);
    expect(await loadPolicy(configPath('production'))).toEqual(productionPolicy);
  });

  it('a missing file is a PolicyError naming it', async () => {
    const err = await loadPolicy('/nonexistent/policy.yaml').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyError);
    expect(err).toMatchObject({ code: 'ERR_POLICY', meta: { file: '/nonexistent/policy.yaml', path: '', got: 'ENOENT' } });
    expect((err as Error).message).toContain('/nonexistent/policy.yaml: expected a readable policy file');
  });

  it('the shipped files parse the same from text as from disk', () => {
    const text = readFileSync(configPath('production'), 'utf8');
    expect(parsePolicy(text, 'production.yaml')).toEqual(productionPolicy);
  });
});

describe('YAML round trip', () => {
  it('serializePolicy then parsePolicy gives the presets back', () => {
    for (const p of [productionPolicy, developmentPolicy]) expect(parsePolicy(serializePolicy(p), 'x.yaml')).toEqual(p);
  });

  const nameArb = fc.stringMatching(/^[a-z][a-z0-9_]{0,11}$/);
  const strategyArb = fc.constantFrom(...STRATEGIES);
  const durationArb = fc.oneof(fc.integer({ min: 1, max: 10_000_000 }), fc.constantFrom('500ms', '30s', '5m', '1h', '1.5s'));
  const documentArb = fc
    .record({
      name: nameArb,
      defaultStrategy: strategyArb,
      fieldStrategies: fc.dictionary(fc.constantFrom(...FIELD_POOL, 'document content', 'a.b'), strategyArb),
      rules: fc.uniqueArray(fc.record({ name: nameArb, predicate: predicateArb, strategy: strategyArb, priority: fc.integer({ min: -100, max: 100 }) }), {
        selector: (r) => r.name,
        maxLength: 4,
      }),
      escalations: fc.uniqueArray(
        fc.record({ name: nameArb.map((n) => `esc_${n}`), predicate: predicateArb, action: fc.constantFrom(...ESCALATION_ACTIONS), priority: fc.integer({ min: -100, max: 100 }) }),
        { selector: (e) => e.name, maxLength: 3 },
      ),
      maxRetries: fc.integer({ min: 0, max: 100 }),
      manualThreshold: complexityArb,
      timeout: durationArb,
      fallback: strategyArb,
      maxClockSkew: fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constantFrom('0ms', '250ms')),
      skewAction: fc.constantFrom('siblings' as const, 'escalate' as const),
    })
    .filter((d) => d.rules.every((r) => !d.escalations.some((e) => e.name === r.name)));

  it('holds for random valid policies (property)', () => {
    fc.assert(
      fc.property(documentArb, (doc) => {
        const p = policyFromDocument(doc, 'doc');
        const text = serializePolicy(p);
        expect(parsePolicy(text, 'round.yaml')).toEqual(p);
        expect(serializePolicy(parsePolicy(text, 'round.yaml'))).toBe(text);
      }),
    );
  });

  it('custom predicates round-trip by name when their functions are supplied again', () => {
    const fn = (): boolean => true;
    const p = new PolicyBuilder('c').withRule('multi_region', fn, 'consensus_vote', 70).build();
    const text = serializePolicy(p);
    expect(text).toContain('custom: multi_region');
    expect(parsePolicy(text, 'c.yaml', { customPredicates: { multi_region: fn } })).toEqual(p);
    expect(policyError(() => parsePolicy(text, 'c.yaml')).meta.path).toBe('rules[0].predicate.custom');
  });
});

describe('bad policy files', () => {
  const base = 'name: p\n';
  const rule = (predicate: string, extra = ''): string =>
    `${base}rules:\n  - name: r\n    predicate: ${predicate}\n    strategy: semantic_merge\n    priority: 1\n${extra}`;

  it.each<[string, string, string, string?]>([
    ['an unknown top-level key', `${base}strategy: last_write_wins\n`, 'strategy', 'no unknown keys'],
    ['an unknown rule key', `${base}rules:\n  - {name: r, predicate: {type: semantic}, strategy: semantic_merge, priority: 1, prio: 2}\n`, 'rules[0].prio'],
    ['an unknown strategy', `${base}defaultStrategy: lww\n`, 'defaultStrategy', 'a strategy: one of last_write_wins'],
    ['an unknown fallback', `${base}fallback: newest\n`, 'fallback'],
    ['an unknown field strategy', `${base}fieldStrategies:\n  power_state: maximum\n`, 'fieldStrategies.power_state'],
    ['a field strategy key that is not an identifier', `${base}fieldStrategies:\n  "document content": merge\n`, 'fieldStrategies["document content"]'],
    ['fieldStrategies as a list', `${base}fieldStrategies: [power_state]\n`, 'fieldStrategies', 'a mapping'],
    ['rules as a mapping', `${base}rules: {name: r}\n`, 'rules', 'a list of rules'],
    ['a rule that is a scalar', `${base}rules:\n  - concurrent_safe\n`, 'rules[0]'],
    ['a rule without a strategy', `${base}rules:\n  - {name: r, predicate: {type: semantic}, priority: 1}\n`, 'rules[0].strategy', 'got nothing'],
    ['a rule without a priority', `${base}rules:\n  - {name: r, predicate: {type: semantic}, strategy: semantic_merge}\n`, 'rules[0].priority'],
    ['a deep bad conflict type', `${base}rules:\n  - name: a\n    predicate: {type: semantic}\n    strategy: semantic_merge\n    priority: 2\n  - name: b\n    predicate:\n      all:\n        - type: concurent_update\n    strategy: semantic_merge\n    priority: 1\n`, 'rules[1].predicate.all[0].type', 'a conflict type: one of concurrent_update'],
    ['a bad severity under not', rule('{not: {severity: urgent}}'), 'rules[0].predicate.not.severity', 'a severity: one of low, medium, high, critical'],
    ['a bad severityAtLeast', rule('{severityAtLeast: 3}'), 'rules[0].predicate.severityAtLeast'],
    ['an unknown predicate key', rule('{typ: semantic}'), 'rules[0].predicate.typ', 'a predicate key'],
    ['two keys in one predicate', rule('{type: semantic, severity: low}'), 'rules[0].predicate', 'exactly one of'],
    ['an empty all', rule('{all: []}'), 'rules[0].predicate.all', 'a non-empty list of predicates'],
    ['any that is not a list', rule('{any: {type: semantic}}'), 'rules[0].predicate.any'],
    ['complexityBelow as a string', rule('{complexityBelow: "0.5"}'), 'rules[0].predicate.complexityBelow', 'a number in [0, 1]'],
    ['complexityBelow out of range', rule('{complexityBelow: 1.5}'), 'rules[0].predicate.complexityBelow'],
    ['an empty field', rule('{field: ""}'), 'rules[0].predicate.field'],
    ['a predicate that is a string', rule('critical'), 'rules[0].predicate', 'a predicate'],
    ['an unregistered custom predicate', rule('{custom: isMultiRegion}'), 'rules[0].predicate.custom', 'none are registered'],
    ['an unknown escalation action', `${base}escalations:\n  - {name: e, predicate: {type: semantic}, action: notify, priority: 1}\n`, 'escalations[0].action', 'one of rollback, manual'],
    ['a name used twice', `${rule('{type: semantic}')}escalations:\n  - {name: r, predicate: {type: semantic}, action: manual, priority: 1}\n`, 'escalations[0].name', 'not used by another'],
    ['a word for maxRetries', `${base}maxRetries: three\n`, 'maxRetries'],
    ['too many retries', `${base}maxRetries: 1000\n`, 'maxRetries', 'an integer in [0, 100]'],
    ['a threshold above 1', `${base}manualThreshold: 7\n`, 'manualThreshold', 'a number in [0, 1]'],
    ['a timeout in words', `${base}timeout: 30 seconds\n`, 'timeout', 'a duration above zero'],
    ['a zero timeout', `${base}timeout: 0s\n`, 'timeout'],
    ['a negative timeout', `${base}timeout: -5\n`, 'timeout'],
    ['a sub-millisecond timeout', `${base}timeout: 0.5ms\n`, 'timeout'],
    ['a bad clock skew', `${base}maxClockSkew: fast\n`, 'maxClockSkew', 'a duration'],
    ['a bad skew action', `${base}skewAction: keep\n`, 'skewAction', 'one of siblings, escalate'],
    ['a missing name', 'defaultStrategy: semantic_merge\n', 'name', 'a non-empty name'],
    ['a numeric name', 'name: 42\n', 'name'],
    ['a list at the top', '- name: p\n', '', 'a policy: a mapping'],
    ['an empty file', '', '', 'a policy: a mapping'],
  ])('rejects %s', (_what, text, path, expected) => {
    const err = policyError(() => parsePolicy(text, 'bad.yaml'));
    expect(err.meta.file).toBe('bad.yaml');
    expect(err.meta.path).toBe(path);
    if (expected !== undefined) expect(err.meta.expected + (err.meta.got === undefined ? '' : ` got ${err.meta.got}`)).toContain(expected);
    expect(err.message.startsWith(path === '' ? 'bad.yaml: expected' : `bad.yaml: ${path}: expected`)).toBe(true);
  });

  it('names line and column of the offending value', () => {
    const err = policyError(() =>
      parsePolicy('name: p\nrules:\n  - name: r\n    predicate:\n      all:\n        - type: concurent\n    strategy: semantic_merge\n    priority: 1\n', 'bad.yaml'),
    );
    expect(err.meta).toMatchObject({ path: 'rules[0].predicate.all[0].type', line: 6, column: 17 });
    expect(err.message).toBe(
      'bad.yaml: rules[0].predicate.all[0].type: expected a conflict type: one of concurrent_update, causal_violation, semantic, invariant_violation, resource_contention, got "concurent" (line 6, column 17)',
    );
  });

  it('reports every problem, the first one in meta', () => {
    const err = policyError(() => parsePolicy('name: p\nfallback: x\nmaxRetries: -1\nextra: 1\n', 'bad.yaml'));
    expect(err.meta.issues.map((i) => i.path)).toEqual(['extra', 'maxRetries', 'fallback']);
    expect(err.message.split('\n')).toHaveLength(3);
  });

  it.each<[string, string, number, number]>([
    ['an unclosed flow sequence', 'name: [p\n', 2, 1],
    ['a duplicate key', 'name: p\nname: q\n', 2, 1],
    ['a tab indentation', 'name: p\nrules:\n\t- name: r\n', 3, 1],
    ['an unterminated string', 'name: "p\n', 2, 1],
  ])('rejects YAML with %s, naming line and column', (_what, text, line, column) => {
    const err = policyError(() => parsePolicy(text, 'syntax.yaml'));
    expect(err.meta).toMatchObject({ file: 'syntax.yaml', path: '', expected: 'valid YAML', line, column });
    expect(err.message).toMatch(/^syntax\.yaml: expected valid YAML, got a syntax error: .+ \(line \d+, column \d+\)/);
  });

  it('refuses alias bombs', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]'].join('\n');
    expect(policyError(() => parsePolicy(bomb, 'bomb.yaml')).meta.path).toBe('');
  });
});

describe('durations', () => {
  it.each<[unknown, number | undefined]>([
    ['500ms', 500],
    ['30s', 30_000],
    ['1.5s', 1500],
    ['0.3s', 300],
    ['5m', 300_000],
    ['1h', 3_600_000],
    [2500, 2500],
    [0, 0],
    ['0.5ms', undefined],
    ['30', undefined],
    ['30 seconds', undefined],
    [-1, undefined],
    [1.5, undefined],
    [null, undefined],
  ])('parseDuration(%j) = %j', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it('formatDuration picks the largest exact unit and round-trips', () => {
    expect([0, 1500, 30_000, 90_000, 300_000, 7_200_000].map(formatDuration)).toEqual(['0ms', '1500ms', '30s', '90s', '5m', '2h']);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });
});
