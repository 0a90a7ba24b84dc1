/**
 * The spec's two example policies ("Policy Configuration" → "Example Policies"), built with the
 * builder exactly as the spec writes them. `config/policies/production.yaml` and `development.yaml`
 * are the same policies as files; a unit test checks they are equal.
 */
import { PolicyBuilder } from './builder.js';
import { and, complexityBelow, isSeverity, isType, or } from './predicates.js';
import type { Policy } from './types.js';

/** Production-Safe Policy. */
export const productionPolicy: Policy = new PolicyBuilder('production')
  .withDefaultStrategy('last_write_wins')
  .withFieldStrategy('power_state', 'highest_priority')
  .withRule('concurrent_safe', and(isType('concurrent_update'), complexityBelow(0.5)), 'multi_value_register', 50)
  .withEscalation('critical_conflicts', or(isSeverity('critical'), isType('invariant_violation')), 'manual', 100)
  .withMaxRetries(5)
  .withManualThreshold(0.7)
  .withTimeout(30_000)
  .withFallback('last_write_wins')
  .build();

/** Development Policy. */
export const developmentPolicy: Policy = new PolicyBuilder('development')
  .withDefaultStrategy('multi_value_register')
  .withMaxRetries(3)
  .withManualThreshold(0.9) // higher threshold for dev
  .withTimeout(60_000)
  .build();

export const PRESET_NAMES = ['production', 'development'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** The presets by name (what `policy: production` in the agent configuration selects). */
export const policyPresets: Readonly<Record<PresetName, Policy>> = Object.freeze({
  production: productionPolicy,
  development: developmentPolicy,
});

export function isPresetName(name: string): name is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(name);
}
