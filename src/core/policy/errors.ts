import { DwcpError } from '../errors.js';

/** One problem found in a policy (file or builder input). */
export type PolicyIssue = {
  /** Where inside the policy, e.g. `rules[1].predicate.all[0].type`; empty for the document itself. */
  readonly path: string;
  /** What was expected there, in words. */
  readonly expected: string;
  /** What was found, shortened JSON; absent when nothing was there. */
  readonly got?: string | undefined;
  /** 1-based position in the YAML source, when the policy came from a file. */
  readonly line?: number | undefined;
  readonly column?: number | undefined;
};

export type PolicyErrorMeta = PolicyIssue & {
  /** The file name (or `PolicyBuilder("name")` for builder input). */
  readonly file: string;
  /** Every problem found, the first one being the one in `path`/`expected`. */
  readonly issues: readonly PolicyIssue[];
};

/**
 * A policy that cannot be used: invalid YAML, an unknown key, an unknown strategy, a bad predicate, or
 * an unknown policy name. The message names the file, the path inside it and what was expected, e.g.
 * `prod.yaml: rules[1].predicate.all[0].type: expected one of concurrent_update, ..., got "concurent" (line 9, column 17)`.
 */
export class PolicyError extends DwcpError {
  declare readonly meta: Readonly<PolicyErrorMeta>;

  constructor(file: string, issues: readonly PolicyIssue[], options?: ErrorOptions) {
    const first = issues[0] ?? { path: '', expected: 'a valid policy' };
    const lines = issues.map((i) => formatIssue(file, i));
    const more = lines.length > 1 ? `\n${lines.slice(1).map((l) => `  also: ${l}`).join('\n')}` : '';
    super('ERR_POLICY', `${lines[0] ?? formatIssue(file, first)}${more}`, { file, ...first, issues }, options);
  }
}

/** `file: path: expected X, got Y (line L, column C)` */
export function formatIssue(file: string, issue: PolicyIssue): string {
  const where = issue.path === '' ? file : `${file}: ${issue.path}`;
  const got = issue.got === undefined ? '' : `, got ${issue.got}`;
  const pos = issue.line === undefined ? '' : ` (line ${issue.line}, column ${issue.column ?? 1})`;
  return `${where}: expected ${issue.expected}${got}${pos}`;
}
