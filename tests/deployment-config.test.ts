// The container and Kubernetes descriptions (Dockerfile, docker-compose.yml, deploy/k8s/)
// are checked against the hub's actual code, without Docker: every environment variable
// they set is one the code reads (the list is derived from the sources, not kept here),
// ports are the ones the kernel and `hubctl serve-module` would listen on given that very
// environment, health checks hit routes that exist, and what the image runs is what the
// build produces. Then the compose topology runs for real on loopback: a module served by
// `hubctl serve-module` and a kernel, both with the environment taken from the compose file.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../kernel/config.js';
import { secretFromEnv } from '../cli/serve-module.js';
import { parseManifest } from '../shared/manifest.js';
import { envName } from '../shared/names.js';
import { HUB_ROOT } from '../shared/paths.js';
import { moduleConfigFromEnv } from '../shared/runtime/config.js';
import { connectAs, createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir } from './helpers/modules.js';
import { freePort } from './helpers/ports.js';

const read = (rel: string) => readFileSync(join(HUB_ROOT, rel), 'utf8');

// ------------------------------------------------------------------ what the code reads

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sources(p);
    return /\.(ts|mts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const codeFiles = ['kernel', 'cli', 'shared'].flatMap((d) => sources(join(HUB_ROOT, d)));
const code = codeFiles.map((f) => readFileSync(f, 'utf8')).join('\n');

function matches(text: string, re: RegExp): string[] {
  return [...text.matchAll(re)].map((m) => m[1]!);
}

/** Every plain environment variable the kernel, hubctl or the module runtime reads. */
const ENV_READ = new Set([
  ...matches(code, /\benv\.([A-Z][A-Z0-9_]+)/g), // process.env.X, env.X
  ...matches(code, /\benv\[\s*['"]([A-Z][A-Z0-9_]+)['"]\s*\]/g), // env['X']
  ...matches(code, /\b(?:int|envInt|text|bool|oneOf|optional)\(\s*(?:env\s*,\s*)?['"]([A-Z][A-Z0-9_]+)['"]/g), // int(env, 'X', …), config.ts: r.bool('X', …)
  // the variables the kernel passes on to its module children (kernel/child-env.ts)
  ...matches(/const ALLOWED = \[([^\]]*)\]/.exec(read('kernel/child-env.ts'))?.[1] ?? '', /'([A-Z][A-Z0-9_]+)'/g),
]);

const MODULE_NAMES = readdirSync(join(HUB_ROOT, 'modules'), { withFileTypes: true })
  .filter((e) => e.isDirectory() && !e.name.startsWith('_') && !e.name.startsWith('.') && existsSync(join(HUB_ROOT, 'modules', e.name, 'module.json')))
  .map((e) => e.name);

/** The <KEY>s of MODULES__<NAME>__<KEY> that the hub itself or that module's code reads. */
function moduleKeysRead(name: string): Set<string> {
  const own = sources(join(HUB_ROOT, 'modules', name)).map((f) => readFileSync(f, 'utf8')).join('\n');
  return new Set([
    ...matches(code + own, /config\.(?:get|bool|number)\(\s*['"]([A-Z][A-Z0-9_]+)['"]/g), // ctx.config.get('X'), READ_ONLY, DRY_RUN
    ...matches(code, /\bconfig\.([A-Z][A-Z0-9_]+)\b/g), // serve-module: config.DATABASE_URL
    ...matches(code, /MODULES__\$\{[^}]+\}__([A-Z][A-Z0-9_]+)/g), // kernel: MODULES__${…}__URL
  ]);
}

/** Why `key` is not a variable the code reads, or null when it is. */
function unknownEnv(key: string): string | null {
  const m = /^MODULES__([A-Z0-9_]+?)__([A-Z0-9_]+)$/.exec(key);
  if (m) {
    const name = MODULE_NAMES.find((n) => envName(n) === m[1]);
    if (!name) return `${key}: no module folder in modules/ is named ${m[1]!.toLowerCase()}`;
    return moduleKeysRead(name).has(m[2]!) ? null : `${key}: neither the hub nor modules/${name} reads the key ${m[2]}`;
  }
  return ENV_READ.has(key) ? null : `${key}: no code in kernel/, cli/ or shared/ reads it`;
}

function manifestOf(name: string) {
  const where = `modules/${name}/module.json`;
  return parseManifest(read(where), where, name).manifest;
}

// ------------------------------------------------------------------ docker-compose.yml

type Env = Record<string, string>;
interface ComposeService {
  image?: string;
  build?: string | { context: string };
  command?: string[] | string;
  environment?: Env | string[];
  ports?: (string | { target: number; published?: number | string })[];
  expose?: (string | number)[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] | string };
  stop_grace_period?: string;
  user?: string;
}

const composeText = read('docker-compose.yml');
const compose = parse(composeText) as { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };

/** The values a user would put in .env for these checks. */
const DOTENV: Env = { POSTGRES_PASSWORD: 'compose-pw', HUB_ADMIN_TOKEN: 'compose-token-0123456789', INVOICE_PARSER_SECRET: 'compose-secret-0123456789' };

/** Compose's variable substitution: ${X}, ${X:-default}, ${X-default}, ${X:?error}, $$. */
function interpolate(value: string, vars: Env = DOTENV): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (whole, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (whole === '$$') return '$';
    const v = vars[name!];
    if (op === ':?' || op === '?') {
      if (v === undefined || (op === ':?' && v === '')) throw new Error(`compose needs ${name}: ${arg}`);
      return v;
    }
    if (op === ':-') return v === undefined || v === '' ? arg! : v;
    if (op === '-') return v === undefined ? arg! : v;
    return v ?? '';
  });
}

function envOf(svc: ComposeService, vars: Env = DOTENV): Env {
  const raw = svc.environment ?? {};
  const pairs = Array.isArray(raw) ? raw.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]) : Object.entries(raw);
  return Object.fromEntries(pairs.map(([k, v]) => [k, interpolate(String(v), vars)]));
}

function commandOf(svc: ComposeService): string[] {
  const c = svc.command;
  if (!c) return [];
  return Array.isArray(c) ? c.map(String) : c.split(/\s+/);
}

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i === -1 ? undefined : argv[i + 1];
}

/** The `node -e` health check's URL. */
function healthUrl(test: string[] | string): URL {
  const text = Array.isArray(test) ? test.join(' ') : test;
  const m = /https?:\/\/[^'"`\s)]+/.exec(text);
  if (!m) throw new Error(`no URL in health check ${text}`);
  return new URL(m[0]);
}

// ------------------------------------------------------------------ Dockerfile

interface Instruction { op: string; args: string }
interface Stage { from: string; name: string | undefined; ins: Instruction[] }

function dockerfileStages(text: string): { args: Env; stages: Stage[] } {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args: Env = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const ins = { op: op.toUpperCase(), args: rest.trim() };
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(ins.args.replace(/--platform=\S+\s+/, ''))!;
      stages.push({ from: m[1]!.replace(/\$\{(\w+)\}/g, (_w, n: string) => args[n] ?? ''), name: m[2], ins: [] });
    } else if (stages.length === 0 && ins.op === 'ARG') {
      const [k, v = ''] = ins.args.split('=');
      args[k!] = v;
    } else stages.at(-1)?.ins.push(ins);
  }
  return { args, stages };
}

function envInstruction(args: string): Env {
  const out: Env = {};
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) out[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  return out;
}

/** COPY's sources and destination (relative to the project root and /app), flags apart. */
function copyArgs(args: string): { from?: string; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
  const paths = words.filter((w) => !w.startsWith('--'));
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
}

/** .dockerignore semantics: the last pattern matching a path (or one of its folders) wins. */
function dockerIgnored(path: string): boolean {
  const patterns = read('.dockerignore').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const parts = path.split('/');
  let ignored = false;
  for (const p of patterns) {
    const negate = p.startsWith('!');
    const glob = (negate ? p.slice(1) : p).replace(/\/$/, '');
    const re = new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*/g, '\0').replace(/\*/g, '[^/]*').replace(/\0/g, '.*') + '$');
    for (let i = 1; i <= parts.length; i++) if (re.test(parts.slice(0, i).join('/'))) ignored = !negate;
  }
  return ignored;
}

const dockerfile = dockerfileStages(read('Dockerfile'));
const finalStage = dockerfile.stages.at(-1)!;
const finalIns = (op: string) => finalStage.ins.filter((i) => i.op === op);
const workdir = finalIns('WORKDIR').at(-1)?.args ?? '/';
const imageEnv: Env = Object.assign({}, ...finalIns('ENV').map((i) => envInstruction(i.args)));
const jsonArray = (s: string) => JSON.parse(s) as string[];

// ------------------------------------------------------------------ deploy/k8s

interface K8sObject {
  kind: string;
  metadata: { name: string; labels?: Env };
  data?: Env;
  stringData?: Env;
  spec?: any;
}
const k8sDir = join(HUB_ROOT, 'deploy/k8s');
const k8sFiles = readdirSync(k8sDir).filter((f) => /\.ya?ml$/.test(f));
const k8s: K8sObject[] = k8sFiles.flatMap((f) =>
  parseAllDocuments(readFileSync(join(k8sDir, f), 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`deploy/k8s/${f}: ${d.errors[0]!.message}`);
    return d.toJS() as K8sObject;
  }),
);
const ofKind = (kind: string) => k8s.filter((o) => o.kind === kind);
const named = (kind: string, name: string) => {
  const o = ofKind(kind).find((x) => x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} in deploy/k8s`);
  return o;
};

/** What a container's environment would be, with the example Secret's values. */
/**
 * A Secret's values as an operator creates them: the example's CHANGE-ME placeholders (which
 * the kernel and serve-module refuse as guessable) become what `openssl rand -hex 32` gives.
 */
function created(values: Env | undefined): Env {
  return Object.fromEntries(Object.entries(values ?? {}).map(([k, v]) => [k, /^CHANGE-ME/.test(String(v)) ? `created-${k.toLowerCase()}-0123456789abcdef` : v]));
}

function containerEnv(c: any): Env {
  const env: Env = {};
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, named('ConfigMap', from.configMapRef.name).data);
    if (from.secretRef) Object.assign(env, created(named('Secret', from.secretRef.name).stringData));
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
    if (ref) {
      const src = e.valueFrom.secretKeyRef ? created(named('Secret', ref.name).stringData) : named('ConfigMap', ref.name).data;
      env[e.name] = src?.[ref.key] as string;
    }
  }
  return env;
}

function podOf(deploymentName: string) {
  const d = named('Deployment', deploymentName);
  const pod = d.spec.template.spec;
  return { d, pod, c: pod.containers[0] };
}

function portNumber(c: any, port: number | string): number {
  if (typeof port === 'number') return port;
  const p = (c.ports ?? []).find((x: any) => x.name === port);
  if (!p) throw new Error(`container ${c.name} has no port named ${port}`);
  return p.containerPort;
}

/** The Service that selects a Deployment's pods, and the container port it sends to. */
function serviceFor(deploymentName: string): { svc: K8sObject; port: number; containerPort: number } {
  const { d, c } = podOf(deploymentName);
  const labels: Env = d.spec.template.metadata.labels;
  const svc = ofKind('Service').find((s) => Object.entries(s.spec.selector as Env).every(([k, v]) => labels[k] === v));
  if (!svc) throw new Error(`no Service selects the pods of ${deploymentName}`);
  const p = svc.spec.ports[0];
  return { svc, port: p.port, containerPort: portNumber(c, p.targetPort ?? p.port) };
}

const isSecretName = (k: string) => /DATABASE_URL$|TOKEN|PASSWORD|SECRET/.test(k);

/** The `sleep N` of a preStop hook, in seconds. */
function preStopSeconds(c: any): number {
  const cmd: string[] = c.lifecycle?.preStop?.exec?.command ?? [];
  return cmd[0] === 'sleep' ? Number(cmd[1]) : (c.lifecycle?.preStop?.sleep?.seconds ?? 0);
}

/** How long `hubctl serve-module` drains on SIGTERM by default (cli/serve-module.ts). */
const SERVE_MODULE_DRAIN_MS = Number(/drainMs \?\? ([\d_]+)/.exec(read('cli/serve-module.ts'))![1]!.replace(/_/g, ''));

/** The module a serve-module command line names, and its port. */
function serveModuleArgs(argv: string[]): { module: string; port: number; host: string | undefined; script: string } {
  const at = argv.indexOf('serve-module');
  expect(at, `serve-module in ${argv.join(' ')}`).toBeGreaterThan(0);
  return { module: argv[at + 1]!, port: Number(flag(argv, '--port')), host: flag(argv, '--host'), script: argv[at - 1]! };
}

// ================================================================== checks

describe('the code-derived list of environment variables', () => {
  it('finds what kernel/config.ts reads (so an empty list cannot make every check pass)', () => {
    for (const k of ['HUB_PORT', 'HUB_HOST', 'HUB_DATA_DIR', 'DATABASE_URL', 'HUB_ADMIN_TOKEN', 'LOG_LEVEL', 'HUB_MODULES_DIR']) expect(ENV_READ).toContain(k);
    expect(unknownEnv('HUB_NO_SUCH_SETTING')).toMatch(/no code/);
    expect(unknownEnv('MODULES__NOTES__URL')).toBeNull();
    expect(unknownEnv('MODULES__NOTES__READ_ONLY')).toBeNull();
    expect(unknownEnv('MODULES__NO_SUCH_MODULE__URL')).toMatch(/no module folder/);
    expect(unknownEnv('MODULES__NOTES__NO_SUCH_KEY')).toMatch(/reads the key/);
  });
});

describe('Dockerfile', () => {
  it('is a multi-stage build: dev dependencies and `npm run build` in one stage, --omit=dev for the runtime', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    const runs = (s: Stage) => s.ins.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    const builder = dockerfile.stages.find((s) => /npm run build/.test(runs(s)));
    expect(builder, 'a stage that runs npm run build').toBeDefined();
    expect(runs(builder!)).toMatch(/npm ci(?![^\n&]*--omit=dev)/);
    // production node_modules: installed in the final stage or copied into it from a stage that used --omit=dev
    const nodeModulesFrom = finalIns('COPY').map((i) => copyArgs(i.args)).find((c) => c.dest.replace(/\/$/, '').endsWith('node_modules'))?.from;
    const prodStage = nodeModulesFrom ? dockerfile.stages.find((s) => s.name === nodeModulesFrom) : finalStage;
    expect(runs(prodStage!)).toMatch(/npm ci[^\n&]*--omit=dev/);
    expect(finalStage.from).toMatch(/^node:20[.\d]*-(bookworm-)?slim$/);
  });

  it('runs the kernel as root, so each module child can get its own uid, under an init process', () => {
    // the `uid` isolation tier needs a kernel that can change user: no USER, or root
    const user = finalIns('USER').at(-1)?.args.split(':')[0];
    expect([undefined, 'root', '0']).toContain(user);
    // and the image says which tier it gives, and how to get the other one
    expect(read('Dockerfile')).toMatch(/"isolation": "uid"/);
    expect(read('Dockerfile')).toMatch(/"isolation": "process"/);
    const entrypoint = jsonArray(finalIns('ENTRYPOINT').at(-1)!.args);
    expect(entrypoint[0]).toMatch(/(^|\/)(tini|dumb-init)$/);
    expect(finalStage.ins.some((i) => i.op === 'RUN' && /apt-get install[^\n]*\btini\b/.test(i.args))).toBe(true);
    expect(jsonArray(finalIns('CMD').at(-1)!.args)).toEqual(['node', 'dist/kernel/main.js']);
  });

  it('starts files the build produces, copied from where the build puts them', () => {
    // `npm test` builds first, so dist/ is what `npm run build` makes in the image
    expect(existsSync(join(HUB_ROOT, 'dist/kernel/main.js'))).toBe(true);
    expect(existsSync(join(HUB_ROOT, 'dist/cli/hubctl.js'))).toBe(true);
    const copies = finalIns('COPY').map((i) => copyArgs(i.args));
    const inImage = (rel: string) =>
      copies.some((c) => c.sources.some((s) => {
        const dest = posix.join(workdir, c.dest.endsWith('/') || c.sources.length > 1 ? posix.join(c.dest, posix.basename(s)) : c.dest);
        const target = posix.join(workdir, rel);
        return target === dest || target.startsWith(dest + '/');
      }));
    for (const file of ['dist/kernel/main.js', 'dist/cli/hubctl.js', 'dist/shared/runtime/child.js']) expect(inImage(file), file).toBe(true);
    // the compose and k8s commands run hubctl from the image too
    expect(inImage(serveModuleArgs(commandOf(compose.services.invoice_parser!)).script)).toBe(true);
  });

  it('contains every file the code opens relative to the hub root at run time', () => {
    // join(HUB_ROOT, 'kernel', 'views'), join(HUB_ROOT, 'migrations'), ...
    const needed = matches(code, /join\(HUB_ROOT,\s*((?:'[^']+'\s*,?\s*)+)\)/g).map((list) => matches(list, /'([^']+)'/g).join('/'));
    expect(needed).toContain('migrations');
    const copies = finalIns('COPY').map((i) => copyArgs(i.args));
    const dests = copies.map((c) => posix.relative(workdir, posix.join(workdir, c.dest)).replace(/\/$/, ''));
    const copiedFiles = copies.flatMap((c) => (c.dest === './' || c.dest === '.' ? c.sources : []));
    for (const path of needed) {
      const there = dests.some((d) => d !== '' && (path === d || path.startsWith(d + '/'))) || copiedFiles.includes(path);
      expect(there, `${path} (opened via HUB_ROOT) is copied into the runtime image`).toBe(true);
    }
  });

  it('copies only sources that exist and that .dockerignore lets into the build context', () => {
    for (const stage of dockerfile.stages) {
      for (const c of stage.ins.filter((i) => i.op === 'COPY').map((i) => copyArgs(i.args))) {
        if (c.from) continue;
        for (const s of c.sources) {
          expect(existsSync(join(HUB_ROOT, s)), `COPY ${s}`).toBe(true);
          expect(dockerIgnored(s.replace(/^\.\//, '')), `COPY ${s} is excluded by .dockerignore`).toBe(false);
        }
      }
    }
    // the build transpiles these folders (scripts/build.mjs); each must reach the build stage
    const built = matches(/const sources = \[([^\]]*)\]/.exec(read('scripts/build.mjs'))![1]!, /'([^']+)'/g);
    const builder = dockerfile.stages.find((s) => s.ins.some((i) => i.op === 'RUN' && /npm run build/.test(i.args)))!;
    const copied = builder.ins.filter((i) => i.op === 'COPY').flatMap((i) => copyArgs(i.args).sources.map((s) => s.replace(/^\.\//, '')));
    for (const dir of [...built, 'scripts/build.mjs', 'package-lock.json']) {
      expect(copied.some((s) => dir === s || dir.startsWith(s + '/')), `${dir} copied into the build stage`).toBe(true);
      expect(dockerIgnored(dir), `${dir} excluded by .dockerignore`).toBe(false);
    }
    for (const local of ['node_modules', 'dist', '.hub', '.git', '.env']) expect(dockerIgnored(local), local).toBe(true);
  });

  it('sets only variables the code reads, listens where it says, and checks /health there', () => {
    for (const k of Object.keys(imageEnv)) expect(unknownEnv(k)).toBeNull();
    const config = loadConfig(imageEnv, '/app');
    expect(config.host).toBe('0.0.0.0');
    expect(config.dataDir).toBe('/data');
    expect(finalIns('EXPOSE').flatMap((i) => i.args.split(/\s+/)).map((p) => Number(p.split('/')[0]))).toContain(config.port);
    const hc = finalIns('HEALTHCHECK').at(-1)?.args ?? '';
    expect(hc).toMatch(/\bCMD\b/);
    expect(hc).toMatch(/\/health\b/);
    expect(hc).not.toMatch(/\bcurl\b|\bwget\b/); // not in the slim image
    // the data folder (admin token, database password, logs) is the kernel's alone: module
    // children under their own uids cannot even list it
    expect(finalStage.ins.some((i) => i.op === 'RUN' && new RegExp(`chmod\\s+0?700\\s+${config.dataDir}\\b`).test(i.args))).toBe(true);
    // the admin origin stays on the container's loopback unless the deployment says otherwise
    expect(config.adminHost).toBe('127.0.0.1');
    expect(finalIns('EXPOSE').flatMap((i) => i.args.split(/\s+/)).map((p) => Number(p.split('/')[0]))).toContain(config.adminPort);
  });
});

describe('docker-compose.yml', () => {
  const svc = compose.services;
  const hub = svc.hub!;
  const module = svc.invoice_parser!;

  it('has postgres, hub and invoice_parser, the module service named after the module', () => {
    expect(Object.keys(svc).sort()).toEqual(['hub', 'invoice_parser', 'postgres']);
    expect(MODULE_NAMES).toContain('invoice_parser');
    expect(serveModuleArgs(commandOf(module)).module).toBe('invoice_parser');
  });

  it('keeps PostgreSQL on a named volume behind a pg_isready health check', () => {
    const pgSvc = svc.postgres!;
    expect(pgSvc.image).toMatch(/^postgres:1[5-9]\b/);
    const data = (pgSvc.volumes ?? []).map((v) => v.split(':')).find((v) => v[1] === '/var/lib/postgresql/data');
    expect(data, 'a volume on /var/lib/postgresql/data').toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(data![0]);
    expect(JSON.stringify(pgSvc.healthcheck?.test)).toMatch(/pg_isready/);
    expect(pgSvc.ports, 'the database is not published').toBeUndefined();
  });

  it('builds the hub and the module from this Dockerfile, one image for both', () => {
    for (const s of [hub, module]) {
      expect(typeof s.build === 'string' ? s.build : s.build?.context).toBe('.');
      expect(s.image).toBe(hub.image);
    }
  });

  it('sets only variables the code reads, for the hub and for the module', () => {
    for (const s of [hub, module]) for (const k of Object.keys(envOf(s))) expect(unknownEnv(k)).toBeNull();
    for (const k of Object.keys(envOf(svc.postgres!))) expect(k).toMatch(/^POSTGRES_/);
  });

  it('takes the secrets from .env, and .env.example lists every variable the file uses', () => {
    expect(interpolate.bind(null, String((hub.environment as Env).HUB_ADMIN_TOKEN), {})).toThrow(/HUB_ADMIN_TOKEN/);
    expect(String((hub.environment as Env).HUB_ADMIN_TOKEN)).toMatch(/^\$\{HUB_ADMIN_TOKEN:\?/);
    expect(String((hub.environment as Env).DATABASE_URL)).toMatch(/\$\{POSTGRES_PASSWORD:\?/);
    const used = new Set(matches(composeText, /\$\{([A-Za-z_][A-Za-z0-9_]*)/g));
    const example = read('.env.example');
    for (const v of used) expect(example, `${v} in .env.example`).toMatch(new RegExp(`^#?\\s*${v}=`, 'm'));
  });

  it('runs the hub where the kernel would listen with that environment, on the postgres service', () => {
    const env = envOf(hub);
    const config = loadConfig({ ...imageEnv, ...env }, '/app');
    expect(config.host).toBe('0.0.0.0');
    expect(config.adminToken).toBe(DOTENV.HUB_ADMIN_TOKEN);
    const db = new URL(config.databaseUrl!);
    expect(db.hostname).toBe('postgres');
    expect(Number(db.port || 5432)).toBe(5432);
    expect(db.password).toBe(DOTENV.POSTGRES_PASSWORD);
    const targets = (hub.ports ?? []).map((p) => (typeof p === 'string' ? Number(interpolate(p).split(':').at(-1)) : Number(p.target)));
    expect(targets).toContain(config.port);
    expect((hub.depends_on as Record<string, { condition: string }>).postgres?.condition).toBe('service_healthy');
    // the data folder is a named volume: the kernel's id (and its database roles) survive a re-create
    expect((hub.volumes ?? []).some((v) => v.split(':')[1] === config.dataDir && Object.keys(compose.volumes ?? {}).includes(v.split(':')[0]!))).toBe(true);
    // health check: the kernel's /health, on its port
    const hc = healthUrl(hub.healthcheck!.test);
    expect(hc.pathname).toBe('/health');
    expect(Number(hc.port)).toBe(config.port);
    expect(read('kernel/kernel-routes.ts')).toContain("app.get('/health'");
    // SIGTERM drains every module child before the kernel exits
    expect(Number.parseInt(hub.stop_grace_period ?? '10')).toBeGreaterThan(config.timing.drainMs / 1000);
  });

  it('publishes the admin origin on the host loopback only, runs the module as non-root, and gives both sides the same kernel secret', () => {
    const config = loadConfig({ ...imageEnv, ...envOf(hub) }, '/app');
    const published = (hub.ports ?? []).map((p) => (typeof p === 'string' ? interpolate(p) : `${p.published}:${p.target}`));
    const admin = published.filter((p) => Number(p.split(':').at(-1)) === config.adminPort);
    for (const p of admin) expect(p, 'admin port published beyond the host').toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    // only the public port is published to other machines
    for (const p of published.filter((x) => !x.startsWith('127.0.0.1:'))) expect(Number(p.split(':').at(-1))).toBe(config.port);
    expect(module.user?.split(':')[0]).toMatch(/^[1-9]\d*$/);
    const key = `MODULES__${envName(serveModuleArgs(commandOf(module)).module)}__SECRET`;
    const secrets = { ...DOTENV, INVOICE_PARSER_SECRET: 'shared-secret-0123456789' };
    expect(envOf(hub, secrets)[key]).toBe('shared-secret-0123456789');
    expect(envOf(module, secrets)[key]).toBe('shared-secret-0123456789');
    expect(String((hub.environment as Env)[key])).toMatch(/^\$\{[A-Z_]+:\?/); // compose refuses to start without it
  });

  it("points the hub at the module's service name and port, and the module's health check at its api_prefix", () => {
    const argv = commandOf(module);
    const { module: name, port, host } = serveModuleArgs(argv);
    expect(argv.slice(0, 2)).toEqual(['node', 'dist/cli/hubctl.js']);
    expect(read('cli/hubctl.ts')).toContain("command('serve-module <name>')");
    expect(host).toBe('0.0.0.0');
    const url = new URL(envOf(hub)[`MODULES__${envName(name)}__URL`]!);
    expect(url.hostname).toBe('invoice_parser'); // the service's name on the compose network
    expect(Number(url.port)).toBe(port);
    expect((module.expose ?? []).map(Number)).toContain(port);
    // the module's own settings reach it as the kernel would hand them to a child
    const config = moduleConfigFromEnv(envOf(module), name);
    expect(new URL(config.DATABASE_URL!).hostname).toBe('postgres');
    expect(config).toMatchObject({ READ_ONLY: 'true', DRY_RUN: 'true' });
    expect((module.depends_on as Record<string, { condition: string }>).postgres?.condition).toBe('service_healthy');
    const hc = healthUrl(module.healthcheck!.test);
    expect(Number(hc.port)).toBe(port);
    expect(hc.pathname).toBe(`${manifestOf(name).api_prefix}/health`);
    expect(Number.parseInt(module.stop_grace_period ?? '10')).toBeGreaterThan(SERVE_MODULE_DRAIN_MS / 1000);
  });
});

describe('deploy/k8s', () => {
  it('has a Deployment and a Service for the hub and for the remote module, a ConfigMap and an example Secret', () => {
    expect(k8sFiles.sort()).toEqual(['configmap.yaml', 'hub.yaml', 'invoice-parser.yaml', 'secret.example.yaml']);
    expect(ofKind('Deployment').map((d) => d.metadata.name).sort()).toEqual(['bmc-hub', 'invoice-parser']);
    expect(ofKind('Service').map((d) => d.metadata.name).sort()).toEqual(['bmc-hub', 'invoice-parser']);
    expect(ofKind('ConfigMap').length).toBeGreaterThan(0);
    expect(ofKind('Secret').length).toBeGreaterThan(0);
    expect(existsSync(join(k8sDir, 'README.md'))).toBe(true);
    for (const d of ofKind('Deployment')) {
      for (const [k, v] of Object.entries(d.spec.selector.matchLabels as Env)) expect(d.spec.template.metadata.labels[k], `${d.metadata.name}: label ${k}`).toBe(v);
    }
  });

  it('sets only variables the code reads, and keeps secrets in the Secret', () => {
    for (const cm of ofKind('ConfigMap')) {
      for (const k of Object.keys(cm.data ?? {})) {
        expect(unknownEnv(k)).toBeNull();
        expect(isSecretName(k), `${k} belongs in a Secret, not ConfigMap ${cm.metadata.name}`).toBe(false);
      }
    }
    for (const s of ofKind('Secret')) for (const k of Object.keys({ ...s.stringData, ...s.data })) expect(unknownEnv(k)).toBeNull();
    for (const d of ofKind('Deployment')) {
      for (const c of d.spec.template.spec.containers) {
        for (const e of c.env ?? []) {
          expect(unknownEnv(e.name)).toBeNull();
          if (isSecretName(e.name)) {
            expect(e.value, `${e.name} inlined in ${d.metadata.name}`).toBeUndefined();
            expect(e.valueFrom?.secretKeyRef, `${e.name} from a Secret`).toBeDefined();
          }
        }
        for (const [k, v] of Object.entries(containerEnv(c))) expect(v, `${d.metadata.name}: ${k} resolves`).toBeTypeOf('string');
      }
    }
    expect(containerEnv(podOf('bmc-hub').c)).toHaveProperty('DATABASE_URL');
    expect(containerEnv(podOf('bmc-hub').c)).toHaveProperty('HUB_ADMIN_TOKEN');
    // the module's pod does not get the kernel's credentials
    expect(containerEnv(podOf('invoice-parser').c)).not.toHaveProperty('DATABASE_URL');
    expect(containerEnv(podOf('invoice-parser').c)).not.toHaveProperty('HUB_ADMIN_TOKEN');
  });

  it('probes the hub on /health and /health/ready at the port the kernel listens on, behind a Service', () => {
    const { d, pod, c } = podOf('bmc-hub');
    const config = loadConfig({ ...imageEnv, ...containerEnv(c) }, '/app');
    expect(config.host).toBe('0.0.0.0');
    expect(c.ports.map((p: any) => p.containerPort)).toContain(config.port);
    // readiness waits for the first start of the modules; liveness only for the gateway
    const paths: Record<string, string> = { readinessProbe: '/health/ready', livenessProbe: '/health' };
    for (const [probe, path] of Object.entries(paths)) {
      expect(c[probe]?.httpGet?.path, probe).toBe(path);
      expect(portNumber(c, c[probe].httpGet.port), probe).toBe(config.port);
      expect(read('kernel/kernel-routes.ts')).toContain(`app.get('${path}'`);
    }
    expect(serviceFor('bmc-hub').containerPort).toBe(config.port);
    // the admin origin: pod loopback, reached by port-forward; no Service sends to it
    expect(config.adminHost).toBe('127.0.0.1');
    for (const svc of ofKind('Service')) for (const p of svc.spec.ports) expect(portNumber(c, p.targetPort ?? p.port)).not.toBe(config.adminPort);
    expect(c.command, 'no command: tini stays PID 1').toBeUndefined();
    expect(d.spec.replicas).toBeGreaterThanOrEqual(1);
    // longer than preStop + draining the module children
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStopSeconds(c) + config.timing.drainMs / 1000);
    // writable: HUB_DATA_DIR, and the modules folder (module.json is rewritten on enable/disable)
    const mounts = (c.volumeMounts ?? []).map((m: any) => m.mountPath);
    expect(mounts).toContain(config.dataDir);
    expect(mounts).toContain(posix.join(workdir, 'modules'));
  });

  it("points the hub at the module's Service, probes the module on its api_prefix health route", () => {
    const hubEnv = containerEnv(podOf('bmc-hub').c);
    const { pod, c } = podOf('invoice-parser');
    expect(c.command, 'args, not command: tini stays PID 1').toBeUndefined();
    const { module: name, port, host } = serveModuleArgs(c.args);
    expect(c.args.slice(0, 2)).toEqual(['node', 'dist/cli/hubctl.js']);
    expect(MODULE_NAMES).toContain(name);
    expect(host).toBe('0.0.0.0');
    const { svc, port: svcPort, containerPort } = serviceFor('invoice-parser');
    expect(containerPort).toBe(port);
    const url = new URL(hubEnv[`MODULES__${envName(name)}__URL`]!);
    expect(url.hostname).toBe(svc.metadata.name);
    expect(Number(url.port || 80)).toBe(svcPort);
    const health = `${manifestOf(name).api_prefix}/health`;
    // the module answers only with the kernel secret, so its probes send it from the environment
    for (const probe of ['readinessProbe', 'livenessProbe']) {
      const command: string[] = c[probe]?.exec?.command ?? [];
      const url = healthUrl(command);
      expect(url.pathname, probe).toBe(health);
      expect(Number(url.port), probe).toBe(port);
      expect(command.join(' '), probe).toContain(`process.env.MODULES__${envName(name)}__SECRET`);
    }
    const key = `MODULES__${envName(name)}__SECRET`;
    expect(containerEnv(c)[key]).toBeTruthy();
    expect(hubEnv[key]).toBeTruthy();
    const config = moduleConfigFromEnv(containerEnv(c), name);
    expect(config.DATABASE_URL).toBeTruthy();
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStopSeconds(c) + SERVE_MODULE_DRAIN_MS / 1000);
    expect((c.volumeMounts ?? []).map((m: any) => m.mountPath)).toContain(loadConfig({ ...imageEnv, ...containerEnv(c) }, '/app').dataDir);
  });

  it('keeps placeholders in its example Secret that the kernel and serve-module refuse to start with', () => {
    const hubSecret = named('Secret', 'bmc-hub-secrets').stringData!;
    expect(() => loadConfig({ HUB_ADMIN_TOKEN: hubSecret.HUB_ADMIN_TOKEN }, '/app')).toThrow(/HUB_ADMIN_TOKEN is \d+ characters, short enough to guess/);
    expect(() => secretFromEnv('invoice_parser', { MODULES__INVOICE_PARSER__SECRET: hubSecret.MODULES__INVOICE_PARSER__SECRET })).toThrow(/MODULES__INVOICE_PARSER__SECRET is \d+ characters, short enough to guess/);
  });

  it('states its isolation tier and points to remote modules as the wall', () => {
    const readme = read('deploy/k8s/README.md');
    expect(readme).toMatch(/Isolation tier: `process`/);
    expect(readme).toMatch(/remote module in its own Deployment/);
  });

  it('runs every container as non-root, read-only, without capabilities, with resources set', () => {
    for (const d of ofKind('Deployment')) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext?.runAsNonRoot, d.metadata.name).toBe(true);
      expect(pod.securityContext?.runAsUser).not.toBe(0);
      const volumes = new Map((pod.volumes ?? []).map((v: any) => [v.name, v]));
      for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
        const where = `${d.metadata.name}/${c.name}`;
        expect(c.securityContext?.readOnlyRootFilesystem, where).toBe(true);
        expect(c.securityContext?.allowPrivilegeEscalation, where).toBe(false);
        expect(c.securityContext?.capabilities?.drop, where).toEqual(['ALL']);
        expect(c.resources?.requests?.memory, where).toBeTruthy();
        expect(c.resources?.limits?.memory, where).toBeTruthy();
        for (const m of c.volumeMounts ?? []) expect(volumes.has(m.name), `${where}: volume ${m.name}`).toBe(true);
      }
    }
  });
});

// ================================================================== the compose topology on loopback

function runNode(args: string[], env: Env = {}): Promise<number> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { env: { PATH: process.env.PATH, ...env }, timeout: 10_000 }, (err) => resolve(err ? Number((err as { code?: number }).code ?? 1) : 0));
  });
}

describe('the compose topology on loopback (no Docker)', () => {
  const hubSvc = compose.services.hub!;
  const modSvc = compose.services.invoice_parser!;
  const modArgv = commandOf(modSvc);
  // The module compose runs; notes stands in only while invoice_parser is not there yet.
  const wanted = serveModuleArgs(modArgv).module;
  const name = existsSync(join(HUB_ROOT, 'modules', wanted, 'module.json')) ? wanted : 'notes';
  let db: TestDatabase;
  let k: RunningKernel;
  let runner: ChildProcess | null = null;
  let modPort = 0;
  let output = '';
  const composePort = serveModuleArgs(modArgv).port;

  /** A compose value as it must be on loopback: service names → 127.0.0.1, the database → ours. */
  function onLoopback(value: string): string {
    if (/^postgres(ql)?:\/\//.test(value) && new URL(value).hostname === 'postgres') return db.url;
    if (/^https?:\/\//.test(value) && new URL(value).hostname === wanted) {
      const u = new URL(value);
      u.hostname = '127.0.0.1';
      u.port = String(modPort);
      return u.toString().replace(/\/$/, '');
    }
    return value === '0.0.0.0' ? '127.0.0.1' : value;
  }

  const rename = (key: string) => key.replace(`MODULES__${envName(wanted)}__`, `MODULES__${envName(name)}__`);
  const loopbackEnv = (s: ComposeService): Env => Object.fromEntries(Object.entries(envOf(s)).map(([key, v]) => [rename(key), onLoopback(v)]));

  beforeAll(async () => {
    if (name !== wanted) console.warn(`deployment-config: modules/${wanted}/module.json is missing; the loopback smoke uses modules/${name} instead`);
    db = await createTestDatabase();
    modPort = await freePort();
    const modulesDir = tempDir('compose-modules');
    cpSync(join(HUB_ROOT, 'modules', name), join(modulesDir, name), { recursive: true });

    // the invoice_parser service: its command and environment, on a free loopback port
    const argv = modArgv.slice(1).map((a, i, all) => (all[i - 1] === '--port' ? String(modPort) : all[i - 1] === '--host' ? '127.0.0.1' : a === wanted ? name : a));
    argv[0] = join(HUB_ROOT, argv[0]!);
    runner = spawn(process.execPath, argv, {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, HUB_MODULES_DIR: modulesDir, HUB_DATA_DIR: tempDir('compose-module-data'), ...loopbackEnv(modSvc) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    runner.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    runner.stderr!.on('data', (c: Buffer) => (output += c.toString()));

    // the hub service: its environment, with the kernel on a free port (the helper's HUB_PORT=0)
    const { HUB_PORT: _port, HUB_ADMIN_PORT: _adminPort, DATABASE_URL: _db, ...hubEnv } = loopbackEnv(hubSvc);
    k = await startKernel({ modulesDir, databaseUrl: db.url, env: { ...hubEnv, HUB_REMOTE_CHECK_MS: '300' } });
  });

  afterAll(async () => {
    runner?.kill('SIGKILL');
    await stopAllKernels();
    await db?.drop();
  });

  it('the hub reports the module remote and running, and proxies to the serve-module process', async () => {
    const rec = await k.waitForState(name, 'running').catch((e) => {
      throw new Error(`${(e as Error).message}\n--- serve-module output ---\n${output}`);
    });
    expect(rec).toMatchObject({ remote: true, pid: null, api_prefix: manifestOf(name).api_prefix });
    const health = await k.json('/health');
    // /health also reports the database (issue 11.13) and the isolation tier; status and modules are as before
    expect({ status: health.status, modules: health.modules }).toEqual({ status: 'ok', modules: { [name]: 'running' } });
    expect(health.isolation).toMatch(/^(uid|process)$/);
    const res = await k.get(`${manifestOf(name).api_prefix}/health`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { pid: number }).pid).toBe(runner!.pid); // answered by the separate process, through the hub
    // its tables were created by the hub before it was routed
    const tables = await connectAs(db.url);
    try {
      const prefix = manifestOf(name).table_prefix;
      const { rows } = await tables.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND starts_with(tablename, $1)", [prefix]);
      expect(rows[0].n).toBeGreaterThan(0);
    } finally {
      await tables.end();
    }
  });

  it("the compose file's and the image's health check commands pass against these processes", async () => {
    const script = (test: string[] | string) => (Array.isArray(test) ? test[test.indexOf('-e') + 1]! : test);
    const hubCheck = script(hubSvc.healthcheck!.test).replace(`:${loadConfig({ ...imageEnv, ...envOf(hubSvc) }).port}/`, `:${k.port}/`);
    expect(await runNode(['-e', hubCheck])).toBe(0);
    const modCheck = script(modSvc.healthcheck!.test).replace(`:${composePort}/`, `:${modPort}/`).replace(`/${wanted}/`, `/${name}/`);
    expect(await runNode(['-e', modCheck], loopbackEnv(modSvc))).toBe(0);
    // without the kernel secret the module's own health route refuses
    expect(await runNode(['-e', modCheck])).not.toBe(0);
    // the Dockerfile's HEALTHCHECK reads HUB_PORT
    const imageCheck = jsonArray(finalIns('HEALTHCHECK').at(-1)!.args.replace(/^.*?\bCMD\s+/, ''));
    expect(await runNode(imageCheck.slice(1), { HUB_PORT: String(k.port) })).toBe(0);
    // and they fail when nothing answers, so a passing check means something
    expect(await runNode(imageCheck.slice(1), { HUB_PORT: String(await freePort()) })).not.toBe(0);
  });

  it('both stop cleanly on SIGTERM within their compose stop_grace_period', async () => {
    const grace = (s: ComposeService) => Number.parseInt(s.stop_grace_period ?? '10') * 1000;
    const t0 = Date.now();
    const exited = new Promise<number | null>((resolve) => runner!.once('exit', (code) => resolve(code)));
    runner!.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(grace(modSvc));
    runner = null;
    await k.waitForState(name, 'unreachable');
    const t1 = Date.now();
    expect(await k.stop('SIGTERM')).toBe(0);
    expect(Date.now() - t1).toBeLessThan(grace(hubSvc));
  });
});
