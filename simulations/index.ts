/**
 * The simulator: the real replica code under one seeded scheduler, with a simulated network, clocks,
 * stores and hypervisors; scenario files; a workload; checkers; reports. See simulations/README.md.
 *
 * The CLI's `dwcp sim` calls {@link simCommand} (or {@link runScenarioCommand} with the raw argv).
 */
export { simCommand, runScenarioCommand, parseSimArgs, SIM_USAGE, type ParsedSimArgs, type SimCommandArgs, type SimCommandOutput } from './command.js';
export { runSimulation, type RunOptions, type RunResult, type RunStats, type Timeline } from './runner.js';
export { sweep, seedRange, type SweepOptions, type SweepResult, type SweepRun } from './sweep.js';
export {
  loadScenario,
  parseScenario,
  scenarioFromDocument,
  compressScenario,
  withSeed,
  ScenarioError,
  DEFAULT_WORKLOAD,
  type Scenario,
  type Fault,
  type FaultAction,
  type WorkloadSpec,
} from './scenario.js';
export { buildReport, renderTable, reportJson, percentile, type Report } from './report.js';
export { renderHtmlReport, renderTimelineSvg, type HtmlReportInput } from './report-html.js';
export { explainFailures } from './explain.js';
export {
  CHECKERS,
  runCheckers,
  type CheckerName,
  type CheckInput,
  type CheckResult,
  type ConflictInfo,
  type HealMeasurement,
  type NodeFinal,
  type VersionInfo,
  type Violation,
} from './checkers.js';
export { cutLinks, reachabilityMatrix, partitionGroups, describePartition, type PartitionSpec } from './partition.js';
export { loadSimPolicy } from './policy.js';
