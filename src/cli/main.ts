#!/usr/bin/env node
/**
 * The `dwcp` command. Sub-commands grow with the project; see INTERFACE.md for the full contract.
 */
const USAGE = `usage: dwcp <command> [options]

commands available in this build:
  version            print the version
  help               this text

The agent, cluster, vm, conflicts, checkpoint, policy and sim commands arrive with the agent
and simulation work (see README.md, "Status").`;

function main(argv: string[]): number {
  const [cmd] = argv;
  switch (cmd) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    case 'version':
    case '--version':
      console.log('dwcp 0.1.0');
      return 0;
    default:
      console.error(`dwcp: unknown or not yet available command ${JSON.stringify(cmd)}\n\n${USAGE}`);
      return 2;
  }
}

process.exitCode = main(process.argv.slice(2));
