/**
 * Loading policies by file path or preset name: the file read lives here, outside the pure core;
 * parsing is the core's {@link parsePolicy}.
 */
import { readFile } from 'node:fs/promises';
import { PolicyError } from '../core/policy/errors.js';
import { parsePolicy, type ParsePolicyOptions } from '../core/policy/parse.js';
import { isPresetName, policyPresets, PRESET_NAMES } from '../core/policy/presets.js';
import type { Policy } from '../core/policy/types.js';

/** Read and parse a policy file. A missing or unreadable file is a {@link PolicyError} too. */
export async function loadPolicyFile(path: string, options: ParsePolicyOptions = {}): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new PolicyError(
      path,
      [{ path: '', expected: `a readable policy file (or a preset: ${PRESET_NAMES.join(', ')})`, got: typeof code === 'string' ? code : String(err) }],
      { cause: err },
    );
  }
  return parsePolicy(text, path, options);
}

/**
 * A preset by name (`production`, `development`: the spec's examples, see presets.ts) or a policy
 * file by path: what the agent configuration's `policy:` and `dwcp sim --policy` accept.
 */
export async function loadPolicy(nameOrPath: string, options: ParsePolicyOptions = {}): Promise<Policy> {
  if (isPresetName(nameOrPath)) return policyPresets[nameOrPath];
  return loadPolicyFile(nameOrPath, options);
}
