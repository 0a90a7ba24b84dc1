/**
 * Fuzzing the document decoders: VM states and host records (src/core/vm/state.ts parseVmState,
 * parseHostRecord), policy files (src/core/policy parsePolicy), the agent config
 * (src/agent/config.ts parseConfig) and the store's record envelope (src/replica/record-codec.ts
 * decodeRecord).
 *
 * 5,000 cases per property by default; long mode: `DWCP_FUZZ_RUNS=100000 npx vitest run --project unit test/unit/fuzz`.
 * A failure prints fast-check's seed and path (seeds are never fixed).
 *
 * YAML is a superset of JSON, so mutated policy and config documents are fed as JSON text (hostile
 * values included); byte-level mutations are applied to their YAML text. Policy and config files take
 * 0.5-2 ms each to parse (tens of ms for some broken texts), so their properties run a fifth of the
 * cases (1,000 in CI, 20,000 in the long mode); 100,000-element values are left out of the YAML properties (the yaml package takes about 3 s
 * over a 100,000-element flow sequence), and 10,000 levels of
 * nesting are example tests (the yaml package stops at its own stack limit, slowly: ~250 ms a case).
 */
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, parseConfig, type AgentConfig } from '../../../src/agent/config.js';
import { NODE_ID_PATTERN } from '../../../src/core/clock/node-ids.js';
import { canonicalJson } from '../../../src/core/codec/canonical.js';
import { versionToJSON } from '../../../src/core/conflict/version.js';
import { parsePolicy, policyPresets, policyToDocument, serializePolicy, type Policy } from '../../../src/core/policy/index.js';
import { parseHostRecord, parseVmState } from '../../../src/core/vm/state.js';
import { decodeRecord, encodeRecord, RecordKind } from '../../../src/replica/record-codec.js';
import { dataArb, nodeIdArb, versionArb, vmStateArb } from './arbitraries.js';
import {
  attempt,
  byteMutationsArb,
  deepMutationArb,
  enc,
  expand,
  fractionOfRuns,
  jsonMutationsArb,
  mutateBytes,
  narrowJsonMutationsArb,
  mutateJson,
  mutateText,
  params,
  protoKeyMutationArb,
  timeoutFor,
  toJsonText,
} from './support.js';

describe('fuzz: parseVmState / parseHostRecord', () => {
  const parseVm = (v: unknown) => attempt('parseVmState', ['ERR_INVALID_VM_STATE'], () => parseVmState(v));
  const parseHost = (v: unknown) => attempt('parseHostRecord', ['ERR_INVALID_VM_STATE'], () => parseHostRecord(v));
  const hostArb = fc.record({
    id: nodeIdArb,
    capacity: fc.record({ cpu: fc.integer({ min: 0, max: 512 }), memory_mb: fc.integer({ min: 0, max: 1 << 22 }) }),
    labels: fc.dictionary(fc.constantFrom('rack', 'zone', 'tier'), fc.constantFrom('a', 'b', 'é'), { noNullPrototype: true }),
    priority: fc.integer({ min: 0, max: 100 }),
  });

  it('a valid VM state parses, and parsing is idempotent', () => {
    fc.assert(
      fc.property(vmStateArb, (vm) => {
        const once = parseVmState(vm);
        expect(canonicalJson(parseVmState(once))).toBe(canonicalJson(once));
      }),
      params(),
    );
  }, timeoutFor());

  it('hostile values anywhere: ERR_INVALID_VM_STATE, or a normalised state that is plain JSON and parses to itself', () => {
    fc.assert(
      fc.property(vmStateArb, jsonMutationsArb, (vm, muts) => {
        const r = parseVm(expand(mutateJson(vm, muts)));
        if (!r.ok) return;
        // A state the parser accepts must be storable and replicable: canonical JSON (finite numbers, <= 64 levels).
        const text = attempt('canonicalJson(accepted VM state)', [], () => canonicalJson(r.value));
        expect(text.ok).toBe(true);
        expect(canonicalJson(parseVmState(r.value))).toBe(canonicalJson(r.value));
      }),
      params(),
    );
  }, timeoutFor());

  it('10,000 levels of nesting in any field: ERR_INVALID_VM_STATE, no stack overflow', () => {
    fc.assert(
      fc.property(vmStateArb, deepMutationArb, (vm, m) => {
        parseVm(expand(mutateJson(vm, [m])));
      }),
      params(),
    );
  }, timeoutFor());

  it('keys named after Object.prototype members anywhere: ERR_INVALID_VM_STATE or a normalised state', () => {
    fc.assert(
      fc.property(vmStateArb, protoKeyMutationArb, (vm, m) => {
        const r = parseVm(expand(mutateJson(vm, [m])));
        if (r.ok) expect(Object.getPrototypeOf(r.value)).toBe(Object.prototype);
      }),
      params(),
    );
  }, timeoutFor());

  it('host records: hostile values and 10,000 levels of nesting: ERR_INVALID_VM_STATE or a valid record', () => {
    fc.assert(
      fc.property(hostArb, fc.oneof(jsonMutationsArb, deepMutationArb.map((m) => [m])), (h, muts) => {
        const r = parseHost(expand(mutateJson(h, muts)));
        if (r.ok) expect(parseHostRecord(r.value)).toEqual(r.value);
      }),
      params(),
    );
  }, timeoutFor());
});

/** YAML takes 0.5-2 ms a case (tens of ms on some broken inputs): a fifth of the runs. */
const YAML_RUNS = fractionOfRuns(5);

describe('fuzz: parsePolicy', () => {
  const POLICY_CODES = ['ERR_POLICY'];
  const parse = (text: string) => attempt('parsePolicy', POLICY_CODES, () => parsePolicy(text, 'fuzz.yaml'));
  const presetArb: fc.Arbitrary<Policy> = fc.constantFrom(...Object.values(policyPresets));
  const sound = (p: Policy): void => {
    expect(canonicalJson(policyToDocument(parsePolicy(serializePolicy(p), 'again.yaml')))).toBe(canonicalJson(policyToDocument(p)));
  };

  it('every preset round-trips through YAML', () => {
    for (const p of Object.values(policyPresets)) sound(p);
  });

  it('mutated YAML text: ERR_POLICY, or a policy that round-trips', () => {
    fc.assert(
      fc.property(presetArb, byteMutationsArb, (p, muts) => {
        const r = parse(mutateText(serializePolicy(p), muts));
        if (r.ok) sound(r.value);
      }),
      params(YAML_RUNS),
    );
  }, timeoutFor(5, YAML_RUNS));

  it('hostile values anywhere in the document: ERR_POLICY, or a policy that round-trips', () => {
    fc.assert(
      fc.property(presetArb, narrowJsonMutationsArb, (p, muts) => {
        const r = parse(toJsonText(mutateJson(policyToDocument(p), muts)));
        if (r.ok) sound(r.value);
      }),
      params(YAML_RUNS),
    );
  }, timeoutFor(5, YAML_RUNS));

  it('keys named after Object.prototype members anywhere: ERR_POLICY, or a policy that round-trips', () => {
    fc.assert(
      fc.property(presetArb, protoKeyMutationArb, (p, m) => {
        const r = parse(toJsonText(mutateJson(policyToDocument(p), [m])));
        if (r.ok) sound(r.value);
      }),
      params(YAML_RUNS),
    );
  }, timeoutFor(5, YAML_RUNS));

  it('alias bombs, deep block nesting and 10,000 levels of flow nesting at several places are refused', () => {
    expect(parse(ALIAS_BOMB).ok).toBe(false);
    expect(parse(DEEP_BLOCK).ok).toBe(false);
    const doc = policyToDocument(policyPresets.production);
    for (const pick of [0, 3, 12]) {
      for (const deep of ['@@DEEP_ARRAY@@', '@@DEEP_OBJECT@@']) expect(parse(toJsonText(mutateJson(doc, [{ op: 'replace', pick, with: deep }]))).ok).toBe(false);
    }
  }, 30_000);

});

const ALIAS_BOMB = ['a: &a [x, x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]', ''].join('\n');
const DEEP_BLOCK = Array.from({ length: 3_000 }, (_, i) => `${' '.repeat(i)}k:`).join('\n');

describe('fuzz: parseConfig', () => {
  const CONFIG_CODES = ['ERR_CONFIG'];
  const parse = (text: string) => attempt('parseConfig', CONFIG_CODES, () => parseConfig(text, '/etc/dwcp/fuzz.yaml'));
  const configArb = fc
    .record({
      id: nodeIdArb,
      voters: fc.subarray(['n1', 'n2', 'n3', 'hv-01', 'hv-02'], { minLength: 1 }),
      secure: fc.boolean(),
      level: fc.constantFrom('debug', 'info', 'warn', 'error'),
      interval: fc.constantFrom('5s', '500ms', '1m', 2000),
      split: fc.constantFrom('quorum', 'manual', 'priority'),
    })
    .map(({ id, voters, secure, level, interval, split }) => ({
      node: { id, priority: 10, dataDir: 'data', capacity: { cpu: 32, memory_mb: 131072 }, labels: { rack: 'r1' } },
      cluster: {
        name: 'prod',
        voters,
        expectedVotes: voters.length,
        ...(secure ? { pskFile: 'psk.key' } : { insecureNoPsk: true }),
        listen: ['/ip4/0.0.0.0/tcp/7700'],
        bootstrap: ['/ip4/10.0.0.2/tcp/7700/p2p/12D3KooWG2UWsqK21sFwzNqc8hC9wWWkhBqWoMQikGtRDakZXTkc'],
        overcommit: { cpu: 4, memory: 1.5 },
      },
      api: { listen: '127.0.0.1:9090' },
      policy: 'production',
      recovery: { checkpointInterval: '5m', splitBrainResolution: split, snapshotRetention: 10 },
      log: { level, format: 'json', modules: { libp2p: 'warn' } },
      timing: { antiEntropyInterval: interval, heartbeat: '1s' },
    }));

  /** An accepted config is valid, and every key the document gave is a key of the schema. */
  const sound = (doc: unknown, cfg: AgentConfig): void => {
    expect(cfg.node.id).toMatch(NODE_ID_PATTERN);
    if (cfg.cluster.voters) expect(new Set(cfg.cluster.voters).size).toBe(cfg.cluster.voters.length);
    const schema = DEFAULT_CONFIG as unknown as Record<string, Record<string, unknown>>;
    const unknown: string[] = [];
    for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
      if (!Object.hasOwn(schema, k)) unknown.push(k);
      const section = schema[k];
      if (Object.hasOwn(schema, k) && typeof section === 'object' && v !== null && typeof v === 'object' && !Array.isArray(v)) {
        for (const sub of Object.keys(v)) if (!Object.hasOwn(section, sub)) unknown.push(`${k}.${sub}`);
      }
    }
    expect(unknown, 'unknown keys accepted').toEqual([]);
  };

  it('valid configs parse', () => {
    fc.assert(
      fc.property(configArb, (doc) => {
        const cfg = parseConfig(JSON.stringify(doc), '/etc/dwcp/fuzz.yaml');
        sound(doc, cfg);
      }),
      params(YAML_RUNS),
    );
  }, timeoutFor(5, YAML_RUNS));

  it('mutated YAML text: ERR_CONFIG or a valid config', () => {
    fc.assert(
      fc.property(configArb, byteMutationsArb, (doc, muts) => {
        const r = parse(mutateText(JSON.stringify(doc), muts));
        if (r.ok) expect(r.value.node.id).toMatch(NODE_ID_PATTERN);
      }),
      params(YAML_RUNS),
    );
  }, timeoutFor(5, YAML_RUNS));

  it('hostile values anywhere in the document: ERR_CONFIG, or a valid config with only known keys', () => {
    fc.assert(
      fc.property(configArb, narrowJsonMutationsArb, (doc, muts) => {
        const mutated = mutateJson(doc, muts);
        const r = parse(toJsonText(mutated));
        if (r.ok) sound(expand(mutated), r.value);
      }),
      params(YAML_RUNS),
    );
  }, timeoutFor(5, YAML_RUNS));

  it('keys named after Object.prototype members anywhere: ERR_CONFIG, or a valid config with only known keys', () => {
    fc.assert(
      fc.property(configArb, protoKeyMutationArb, (doc, m) => {
        const mutated = mutateJson(doc, [m]);
        const r = parse(toJsonText(mutated));
        if (r.ok) sound(expand(mutated), r.value);
      }),
      params(YAML_RUNS),
    );
  }, timeoutFor(5, YAML_RUNS));

  it('deep block nesting and 10,000 levels of flow nesting at several places are refused with ERR_CONFIG', () => {
    expect(parse(DEEP_BLOCK).ok).toBe(false);
    const doc = fc.sample(configArb, 1)[0]!;
    for (const pick of [0, 2, 9]) {
      for (const deep of ['@@DEEP_ARRAY@@', '@@DEEP_OBJECT@@']) expect(parse(toJsonText(mutateJson(doc, [{ op: 'replace', pick, with: deep }]))).ok).toBe(false);
    }
  }, 30_000);

  it('an alias bomb is refused with ERR_CONFIG', () => {
    expect(parse(ALIAS_BOMB).ok).toBe(false);
  });

  it('an alias to a missing anchor is refused with ERR_CONFIG', () => {
    expect(parse('node: {id: *nope}\n').ok).toBe(false);
  });
});

describe('fuzz: decodeRecord (store envelope)', () => {
  const kinds = Object.values(RecordKind);
  const kindArb = fc.constantFrom(...kinds);
  const payloadArb = fc.oneof(dataArb, versionArb.map(versionToJSON), fc.jsonValue({ maxDepth: 2 }));
  const decode = (b: Uint8Array, kind: RecordKind) => attempt('decodeRecord', ['ERR_CORRUPT_RECORD'], () => decodeRecord(b, kind, 'versions', 'vm/x'));

  it('round-trips every payload', () => {
    fc.assert(
      fc.property(kindArb, payloadArb, (kind, payload) => {
        expect(canonicalJson(decodeRecord(encodeRecord(kind, payload), kind, 'versions', 'k'))).toBe(canonicalJson(JSON.parse(JSON.stringify(payload))));
      }),
      params(),
    );
  }, timeoutFor());

  it('any single bit flip and any truncation is detected (ERR_CORRUPT_RECORD naming sublevel and key)', () => {
    fc.assert(
      fc.property(kindArb, payloadArb, fc.nat(), fc.nat(7), (kind, payload, pos, bit) => {
        const bytes = encodeRecord(kind, payload);
        const flipped = mutateBytes(bytes, [{ op: 'flip', pos, bit }]);
        expect(decode(flipped, kind)).toMatchObject({ ok: false, error: { code: 'ERR_CORRUPT_RECORD', meta: { sublevel: 'versions', key: 'vm/x' } } });
        expect(decode(bytes.subarray(0, pos % bytes.length), kind).ok).toBe(false);
      }),
      params(),
    );
  }, timeoutFor());

  it('arbitrary mutations, unknown formats and kinds: ERR_CORRUPT_RECORD, or exactly the stored payload', () => {
    fc.assert(
      fc.property(kindArb, payloadArb, byteMutationsArb, (kind, payload, muts) => {
        const r = decode(mutateBytes(encodeRecord(kind, payload), muts), kind);
        // CRC-32 lets a multi-byte change through with probability 2^-32; what got through must then be JSON.
        if (r.ok) expect(() => canonicalJson(r.value)).not.toThrow();
      }),
      params(),
    );
  }, timeoutFor());

  it('a record with a valid checksum over hostile JSON (10,000 levels, 100k elements) decodes without overflowing', () => {
    // decodeRecord returns the parsed payload; what a caller does with it is that caller's business.
    for (const text of ['@@DEEP_ARRAY@@', '@@DEEP_OBJECT@@', '@@WIDE_ARRAY@@', '@@HUGE_NUMBER@@']) {
      const body = enc.encode(toJsonText(text));
      const rec = encodeRecord(RecordKind.versionSet, null);
      const out = new Uint8Array(7 + body.length);
      out.set(rec.subarray(0, 7));
      out.set(body, 7);
      new DataView(out.buffer).setUint32(3, crc32(body), false);
      decode(out, RecordKind.versionSet);
    }
  });
});
