/**
 * The policy engine: policies (builder, YAML files, presets, manager) and the decision tree that
 * picks and runs a resolution strategy for each conflict, with a decision record of why.
 */
export * from './types.js';
export * from './errors.js';
export * from './predicates.js';
export { parseDuration, formatDuration } from './duration.js';
export { policyFromDocument, formatPath, POLICY_KEYS, type PolicyPath, type ValidateOptions } from './validate.js';
export { PolicyBuilder, type PredicateInput } from './builder.js';
export { productionPolicy, developmentPolicy, policyPresets, PRESET_NAMES, isPresetName, type PresetName } from './presets.js';
export {
  PolicyEngine,
  defaultPolicyEngineDeps,
  resolveConflict,
  selectStrategy,
  type Decision,
  type DecideContext,
  type PolicyEngineDeps,
  type PolicySource,
  type Selection,
  type StrategyLookup,
} from './engine.js';
export {
  buildDecisionRecord,
  describeOrdering,
  formatDecision,
  outcomeOf,
  shortId,
  summarizeVersion,
  type DecisionRecordInput,
} from './decision-record.js';
export { parsePolicy, serializePolicy, policyToDocument, type ParsePolicyOptions } from './parse.js';
export { PolicyManager, type PolicyChange, type PolicyChangeListener, type PolicyManagerInit } from './manager.js';
