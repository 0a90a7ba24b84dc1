#!/usr/bin/env node
/**
 * The `dwcp` command (INTERFACE.md, "Command line"). Exit codes: 0 success; 1 failure at run time;
 * 2 bad usage, bad config, bad input file (the message names the file, the field and what was expected).
 */
import '../adapters/libp2p/polyfill.js';
import { DwcpError } from '../core/errors.js';
import { PolicyError } from '../core/policy/errors.js';
import { loadPolicyFile } from '../agent/policy-file.js';
import { agentCommand, clusterCommand, initCommand, keygenCommand } from './agent-commands.js';
import { parse, RuntimeFailure, UsageError, type Io } from './args.js';
import { checkpointCommand, CLIENT_HELP, conflictsCommand, statusCommand, vmCommand } from './client-commands.js';

const VERSION = '0.1.0';

const HELP: Readonly<Record<string, string>> = {
  '': `usage: dwcp <command> [options]

  init --data-dir DIR [--node-id ID]      create the node identity (Ed25519 key); print node and peer id
  keygen --out FILE [--force]             write a new cluster pre-shared key (mode 0600)
  agent --config FILE [flags]             run the agent in the foreground (what systemd runs)
  cluster --nodes N [--base-port P] [--data-dir DIR]   run N agents locally (what npm start runs)
  status                                  node, peers, quorum, health score and key metrics
  vm put ID (--file F | --set k=v ...) | get ID | list | delete ID
  conflicts list [--status pending|resolved|all] | show ID | resolve ID (--pick VERSION_ID | --file F)
  checkpoint create VM_ID | list [VM_ID] | restore CHECKPOINT_ID
  policy check FILE                       validate a policy file
  sim SCENARIO_FILE [--seed N] [--seeds N] [--policy FILE] [--report FILE]   run a partition simulation

${CLIENT_HELP}
dwcp <command> --help shows a command's options. Exit codes: 0 ok, 1 run-time failure, 2 bad usage or input.`,
  agent: `usage: dwcp agent --config FILE [--node-id ID] [--data-dir DIR] [--listen MULTIADDR] [--bootstrap MULTIADDR,...]
                  [--api-listen HOST:PORT] [--psk-file FILE] [--policy NAME|FILE]
Runs the agent in the foreground. Flags override DWCP_* variables, which override the file.
SIGTERM/SIGINT stop it cleanly (a second signal exits at once); SIGHUP reloads the policy.`,
  cluster: `usage: dwcp cluster [--nodes N] [--base-port P] [--data-dir DIR] [--policy NAME|FILE]
Runs N agents on 127.0.0.1 (API on P, P+1, ...; libp2p on P+1000, ...), data under DIR (default ./.dwcp).`,
  init: 'usage: dwcp init --data-dir DIR [--node-id ID] [--json]',
  keygen: 'usage: dwcp keygen --out FILE [--force] [--json]',
  status: `usage: dwcp status [--json]\n${CLIENT_HELP}`,
  vm: `usage: dwcp vm put ID (--file F | --set key=value ...) | get ID | list | delete ID  [--json]
--set values are JSON when they parse (8, true, "x", {...}) and strings otherwise; nested keys use dots.
${CLIENT_HELP}`,
  conflicts: `usage: dwcp conflicts list [--status pending|resolved|all] | show ID | resolve ID (--pick VERSION_ID | --file F)  [--json]
IDs may be shortened to a unique prefix.\n${CLIENT_HELP}`,
  checkpoint: `usage: dwcp checkpoint create VM_ID | list [VM_ID] | restore CHECKPOINT_ID  [--json]\n${CLIENT_HELP}`,
  policy: 'usage: dwcp policy check FILE [--json]',
  sim: `usage: dwcp sim SCENARIO_FILE [--seed N] [--seeds N] [--policy FILE] [--report FILE] [--json]
Runs a deterministic partition simulation of the scenario; exit 1 if a checker failed.`,
};

async function policyCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {});
  if (sub !== 'check' || !positionals[0]) throw new UsageError(HELP.policy!);
  try {
    const p = await loadPolicyFile(positionals[0]);
    io.out(values.json === true ? JSON.stringify({ ok: true, name: p.name }) : `${positionals[0]}: policy ${p.name} is valid (default ${p.defaultStrategy}, ${p.rules.length} rules, ${p.escalations.length} escalations)`);
    return 0;
  } catch (err) {
    if (err instanceof PolicyError) throw new UsageError(err.message);
    throw err;
  }
}

interface SimModule {
  simCommand(args: Record<string, unknown>, out: { stdout: (s: string) => void; stderr: (s: string) => void }): Promise<number>;
}

async function simCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { seed: { type: 'string' }, seeds: { type: 'string' }, policy: { type: 'string' }, report: { type: 'string' } });
  const file = positionals[0];
  if (!file) throw new UsageError(HELP.sim!);
  const int = (v: unknown, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return n;
  };
  const sim = (await import('../../simulations/index.js')) as unknown as SimModule;
  return sim.simCommand(
    { file, seed: int(values.seed, 'seed'), seeds: int(values.seeds, 'seeds'), policy: values.policy, report: values.report, json: values.json === true },
    { stdout: (s) => io.out(s), stderr: (s) => io.err(s) },
  );
}

const COMMANDS: Readonly<Record<string, (argv: string[], io: Io) => Promise<number>>> = {
  agent: agentCommand,
  cluster: clusterCommand,
  init: initCommand,
  keygen: keygenCommand,
  status: statusCommand,
  vm: vmCommand,
  conflicts: conflictsCommand,
  checkpoint: checkpointCommand,
  policy: policyCommand,
  sim: simCommand,
};

/** Global client options may come before the command: `dwcp --api URL status`. */
function hoistGlobalOptions(argv: string[]): string[] {
  const globals: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const a = argv[i]!;
    if (a === '--json') globals.push(argv[i++]!);
    else if ((a === '--api' || a === '--token') && i + 1 < argv.length) globals.push(argv[i++]!, argv[i++]!);
    else if (a.startsWith('--api=') || a.startsWith('--token=')) globals.push(argv[i++]!);
    else break;
  }
  const [cmd, ...rest] = argv.slice(i);
  return cmd === undefined ? globals : [cmd, ...rest, ...globals];
}

export async function run(rawArgv: string[], io: Io): Promise<number> {
  const argv = hoistGlobalOptions(rawArgv);
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    io.out(HELP['']!);
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === 'version' || cmd === '--version') {
    io.out(`dwcp ${VERSION}`);
    return 0;
  }
  const command = COMMANDS[cmd];
  if (!command) {
    io.err(`dwcp: unknown command ${JSON.stringify(cmd)}\n\n${HELP['']}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(HELP[cmd] ?? HELP['']!);
    return 0;
  }
  try {
    return await command(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`dwcp ${cmd}: ${err.message}`);
      return 2;
    }
    if (err instanceof RuntimeFailure) {
      io.err(`dwcp ${cmd}: ${err.message}`);
      return err.exitCode;
    }
    if (err instanceof DwcpError) {
      io.err(`dwcp ${cmd}: ${err.message}`);
      return 1;
    }
    io.err(`dwcp ${cmd}: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  }
}

const io: Io = {
  out: (t) => process.stdout.write(t + '\n'),
  err: (t) => process.stderr.write(t + '\n'),
  isTty: process.stdout.isTTY,
  env: process.env,
};

run(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`dwcp: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
