/**
 * The policy a simulation runs: a preset name (`production`, `development`) or a policy file path.
 * Reading the file happens here; parsing and validation are the core's (`parsePolicy`), so a bad
 * policy file is the same {@link PolicyError} (file, path, expected) as for the agent.
 */
import { readFile } from 'node:fs/promises';
import { PolicyError } from '../src/core/policy/errors.js';
import { parsePolicy } from '../src/core/policy/parse.js';
import { isPresetName, policyPresets, PRESET_NAMES } from '../src/core/policy/presets.js';
import type { Policy } from '../src/core/policy/types.js';

export async function loadSimPolicy(nameOrPath: string): Promise<Policy> {
  if (isPresetName(nameOrPath)) return policyPresets[nameOrPath];
  let text: string;
  try {
    text = await readFile(nameOrPath, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new PolicyError(
      nameOrPath,
      [{ path: '', expected: `a readable policy file (or a preset: ${PRESET_NAMES.join(', ')})`, got: typeof code === 'string' ? code : String(err) }],
      { cause: err },
    );
  }
  return parsePolicy(text, nameOrPath);
}
