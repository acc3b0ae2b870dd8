#!/usr/bin/env node
// hubctl: the operator's handle on a BMC Hub. Talks to the running kernel at HUB_URL
// (the admin origin; token from HUB_ADMIN_TOKEN, else HUB_DATA_DIR/admin-token); create, migrate and offline enable/disable work on the
// files and the database directly. Exit 0 on success; otherwise one line on stderr,
// "hubctl: <what>, <what to do>", and a code from cli/errors.ts.
import { Command, CommanderError } from 'commander';
import { isHubError } from '../shared/errors.js';
import { HUB_VERSION } from '../shared/paths.js';
import { HubClient } from './client.js';
import { create, deriveModule, nextSteps } from './create.js';
import { dbUrl, psql } from './db-shell.js';
import { modulesDir } from './env.js';
import { CliError, EXIT } from './errors.js';
import { logs, parseCount } from './logs.js';
import { migrate } from './migrate.js';
import { checkName, moduleCommand } from './module-commands.js';
import { start } from './start.js';
import { status } from './status.js';
import { parseInterval, top } from './top.js';
import { grantCommand, tokenCreate, userAdd, userList, userPasswd } from './user-commands.js';

function positiveInt(raw: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new CliError(`--down wants a whole number of migrations (1 or more), got ${JSON.stringify(raw).slice(0, 40)}`, EXIT.usage);
  return Number(raw);
}

function program(): Command {
  const client = () => new HubClient();
  const p = new Command('hubctl')
    .description('Operate a BMC Hub: module status, enable/disable/restart, logs, scaffolding, migrations, a SQL shell')
    .version(HUB_VERSION)
    .addHelpText('after', '\nEnvironment: HUB_URL (the admin origin, default http://127.0.0.1:8001), HUB_ADMIN_TOKEN (else HUB_DATA_DIR/admin-token), HUB_MODULES_DIR, HUB_DATA_DIR, DATABASE_URL')
    .configureOutput({ outputError: (str, write) => write(`hubctl: ${str.trim().replace(/^error: /, '')}, see hubctl --help\n`) })
    .exitOverride();

  p.command('status')
    .description('every module: state, pid, uptime, restarts, CPU, memory, API prefix')
    .option('--json', 'the module records as JSON')
    .action((opts: { json?: boolean }) => status(client(), opts));

  p.command('top')
    .description('live per-module CPU, memory, requests/s, errors/s and p95 latency, redrawn in place (Ctrl-C quits)')
    .option('--once', 'print one frame and exit (for pipes and scripts)')
    .option('--json', 'one frame as JSON')
    .option('--interval <S>', 'seconds between frames', parseInterval, 2)
    .action((opts: { once?: boolean; json?: boolean; interval: number }) => top(client(), opts));

  for (const [verb, text] of [
    ['enable', 'migrate and start a module (and the modules it needs); persisted in module.json'],
    ['disable', 'drain and stop a module; persisted in module.json'],
    ['restart', 'swap in a new process for a module with no failed request'],
  ] as const) {
    p.command(`${verb} <name>`)
      .description(text)
      .option('--json', 'the module record as JSON')
      .action((name: string, opts: { json?: boolean }) => moduleCommand(client(), verb, name, opts));
  }

  p.command('logs [name]')
    .description("a module's log lines, with the kernel's lines about it marked [kernel]; --kernel for the kernel's own")
    .option('-f, --follow', 'keep printing new lines')
    .option('-n, --lines <N>', 'how many recent lines', parseCount, 100)
    .option('--json', 'raw NDJSON entries')
    .option('--kernel', "the kernel's own log instead of a module's")
    .action((name: string | undefined, opts: { follow?: boolean; lines: number; json?: boolean; kernel?: boolean }) => logs(client(), name, opts));

  p.command('create <name> <description>')
    .description('a new module from the template, in HUB_MODULES_DIR, disabled')
    .action(async (name: string, description: string) => {
      const target = await create(modulesDir(), name, description);
      process.stdout.write(nextSteps(target, deriveModule(name, description)) + '\n');
    });

  p.command('migrate [name]')
    .description('apply pending migrations (the hub and every enabled module, or one module); "migrate status" lists them')
    .option('--down <N>', 'revert the last N migrations of <name>', positiveInt)
    .option('--dry-run', 'show what would run, change nothing')
    .option('--json', 'results as JSON')
    .option('--adopt', "hand every object carrying the module's prefix to the module's role, whoever owns it (tables made by hand)")
    .action((name: string | undefined, opts: { down?: number; dryRun?: boolean; json?: boolean; adopt?: boolean }) => migrate(name, opts));

  p.command('test [names...]')
    .description("test modules on their own, on a throwaway database: migrations up/down/up, seal & isolation, the real child, the module's own tests; records the result for HUB_REQUIRE_TESTED")
    .option('--all', 'every module in HUB_MODULES_DIR')
    .option('--json', 'one JSON document on stdout')
    .option('--junit <file>', 'also write a JUnit XML report')
    .option('--strict', 'warnings (no down section, no tests) fail')
    .action(async (names: string[], opts: { all?: boolean; json?: boolean; junit?: string; strict?: boolean }) => {
      // loaded on demand: it pulls in the migrator and the module compiler
      const { testCommand } = await import('./test-command.js');
      process.exitCode = await testCommand(names, opts);
    });

  // a SQL shell on the hub's database (the embedded server or DATABASE_URL): cli/db-shell.ts
  p.command('psql')
    .usage('[--admin] [<module>] [psql options…]')
    .description("psql on the hub's database as <module>'s runtime role (what the module itself can see), or with --admin (or no module) as the privileged login; further arguments go to psql, e.g. hubctl psql notes -c '\\d notes_notes'")
    .argument('[args...]')
    .allowUnknownOption()
    .helpOption(false)
    .action(async (args: string[]) => {
      process.exitCode = await psql(args);
    });
  p.command('db-url [module]')
    .description("a connection string for other tools: as <module>'s runtime role, or with --admin (or no module) the privileged login; it carries the privileged password")
    .option('--admin', 'the privileged login')
    .action((name: string | undefined, opts: { admin?: boolean }) => dbUrl(name, opts));

  p.command('serve-module <name>')
    .description('run one module on its own (e.g. in its own container); a hub reaches it through remote_url. Needs MODULES__<NAME>__SECRET (or HUB_MODULE_SECRET), the same value the hub has: the module answers only requests that carry it')
    .requiredOption('--port <P>', 'port to listen on', (raw: string) => {
      if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw new CliError(`--port wants a port number, got ${JSON.stringify(raw).slice(0, 40)}`, EXIT.usage);
      return Number(raw);
    })
    .option('--host <H>', 'address to bind (HUB_HOST, default 127.0.0.1; 0.0.0.0 in a container)', process.env.HUB_HOST || '127.0.0.1')
    .action(async (name: string, opts: { port: number; host: string }) => {
      checkName(name);
      // loaded on demand: it pulls in the module compiler, which no other command needs
      const { serveModuleFromEnv } = await import('./serve-module.js');
      await serveModuleFromEnv(name, opts);
    });

  // users, grants and tokens (DESIGN.md "Identity and permissions"): cli/user-commands.ts
  const collect = (v: string, prev: string[] = []) => [...prev, v];
  const user = p.command('user').description('hub users: add, list, passwd');
  user.command('add <username>')
    .description('a new user (password from --password-stdin, else a random one printed once)')
    .option('--grant <grant>', 'a grant such as notes.editor (repeatable)', collect)
    .option('--password-stdin', 'read the password from stdin')
    .action((name: string, opts: { grant?: string[]; passwordStdin?: boolean }) => userAdd(client(), name, opts));
  user.command('list').description('every user and their grants').option('--json', 'as JSON').action((opts: { json?: boolean }) => userList(client(), opts));
  user.command('passwd <username>')
    .description("set a user's password and end their sessions")
    .option('--password-stdin', 'read the password from stdin')
    .action((name: string, opts: { passwordStdin?: boolean }) => userPasswd(client(), name, opts));
  p.command('grant <username> <grant>').description('give a user <module>.<role>, <module>.<permission> or hub.admin').action((u: string, g: string) => grantCommand(client(), 'grant', u, g));
  p.command('revoke <username> <grant>').description('take a grant away (effective on every kernel within a second)').action((u: string, g: string) => grantCommand(client(), 'revoke', u, g));
  p.command('token')
    .description('personal API tokens')
    .command('create <username>')
    .description('a bmc_pat_ token for a user, printed once')
    .option('--name <name>', 'what it is for', 'hubctl')
    .option('--days <D>', 'days until it expires (1-366)', (raw: string) => Number(raw), 30)
    .action((u: string, opts: { name: string; days: number }) => tokenCreate(client(), u, opts));

  p.command('start')
    .description('run the hub in the foreground (Ctrl-C stops it cleanly)')
    .action(async () => {
      process.exitCode = await start();
    });

  return p;
}

try {
  await program().parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // help and version end here too, with code 0; usage errors were already printed
    process.exitCode = e.exitCode === 0 ? 0 : EXIT.usage;
  } else if (e instanceof CliError) {
    process.stderr.write(`hubctl: ${e.message}\n`);
    process.exitCode = e.exitCode;
  } else if (isHubError(e)) {
    process.stderr.write(`hubctl: ${e.message}\n`);
    process.exitCode = e.code === 'invalid_name' ? EXIT.usage : EXIT.error;
  } else {
    process.stderr.write(`hubctl: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = EXIT.error;
  }
}
