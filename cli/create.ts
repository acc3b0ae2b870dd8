// `hubctl create <name> "<description>"`: a new module from the hub's own modules/_template,
// in HUB_MODULES_DIR wherever that is. The copy is renamed throughout (module name, table
// prefix, API prefix, tag) so it migrates and starts as it is, and it starts out disabled;
// its tests/<name>.test.ts (the template's own test, renamed) passes as it is.
// Everything is checked before the file system is touched, and the folder appears whole or
// not at all: it is built under a hidden name (the kernel ignores dot folders) and renamed.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { HUB_ROOT, HUB_VERSION } from '../shared/paths.js';
import { KERNEL_TABLE_PREFIX, pathsOverlap } from '../kernel/registry-rules.js';
import { scanModules } from '../kernel/registry.js';
import { publicUrl } from './env.js';
import { CliError, EXIT } from './errors.js';
import { pc } from './format.js';
import { checkName } from './module-commands.js';

export const TEMPLATE_DIR = join(HUB_ROOT, 'modules', '_template');
const TEMPLATE = { name: 'template_module', prefix: 'template_', tag: 'Template Module' };
const TEXT_EXTENSIONS = new Set(['.ts', '.js', '.mjs', '.cjs', '.json', '.sql', '.ejs', '.html', '.md', '.css', '.txt']);
export const TABLE_PREFIX_RE = /^[a-z][a-z0-9]*_$/;

export interface NewModule {
  name: string;
  description: string;
  tablePrefix: string;
  apiPrefix: string;
  tag: string;
}

/** `my_feature` → table prefix `myfeature_`, API prefix `/api/v1/my_feature`, tag `My Feature`. */
export function deriveModule(name: string, description: string): NewModule {
  return {
    name,
    description,
    tablePrefix: `${name.replace(/_/g, '')}_`,
    apiPrefix: `/api/v1/${name}`,
    tag: name.split('_').filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' '),
  };
}

/** Replaces the template's identifiers in one pass, longest first, so no replacement is replaced again. */
export function renameText(text: string, m: NewModule): string {
  const map: Record<string, string> = { [TEMPLATE.name]: m.name, [TEMPLATE.tag]: m.tag, [TEMPLATE.prefix]: m.tablePrefix };
  const tokens = Object.keys(map).sort((a, b) => b.length - a.length).map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return text.replace(new RegExp(tokens.join('|'), 'g'), (t) => map[t]!);
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}

async function checkAgainstInstalled(modulesDir: string, m: NewModule): Promise<void> {
  if (m.tablePrefix === KERNEL_TABLE_PREFIX) {
    throw new CliError(`the table prefix of "${m.name}" would be ${m.tablePrefix}, the kernel's own, pick another name`, EXIT.usage);
  }
  for (const e of await scanModules(modulesDir, HUB_VERSION)) {
    const other = e.manifest;
    if (!other) continue;
    if (other.table_prefix.startsWith(m.tablePrefix) || m.tablePrefix.startsWith(other.table_prefix)) {
      throw new CliError(`the table prefix ${m.tablePrefix} of "${m.name}" clashes with ${other.table_prefix} of module ${e.name}, pick another name`, EXIT.conflict);
    }
    if (pathsOverlap(other.api_prefix, m.apiPrefix)) {
      throw new CliError(`the API prefix ${m.apiPrefix} overlaps ${other.api_prefix} of module ${e.name}, pick another name`, EXIT.conflict);
    }
  }
}

async function copyTree(from: string, to: string, m: NewModule): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const d of await readdir(from, { withFileTypes: true })) {
    const src = join(from, d.name);
    const dest = join(to, renameText(d.name, m));
    if (d.isDirectory()) {
      await copyTree(src, dest, m);
    } else if (d.isFile()) {
      const buf = await readFile(src);
      await writeFile(dest, TEXT_EXTENSIONS.has(extname(d.name)) ? renameText(buf.toString('utf8'), m) : buf);
    }
    // symlinks and other specials in the template are not copied: a module folder is plain files
  }
}

function manifestText(templateJson: string, m: NewModule): string {
  const t = JSON.parse(templateJson) as Record<string, unknown>;
  return JSON.stringify({
    ...t,
    name: m.name,
    description: m.description,
    enabled: false,
    table_prefix: m.tablePrefix,
    api_prefix: m.apiPrefix,
    tags: [m.tag],
  }, null, 2) + '\n';
}

function readme(m: NewModule): string {
  return `# ${m.name}

${m.description}

Made with \`hubctl create\` from the hub's module template.

| | |
|---|---|
| table prefix | \`${m.tablePrefix}\` (every table, index and sequence must start with it) |
| API | \`${m.apiPrefix}\` (\`GET ${m.apiPrefix}/health\` comes for free) |
| pages | \`/${m.name}\` |

| file | holds |
|---|---|
| \`module.json\` | the manifest; \`enabled\` is switched by \`hubctl enable/disable\` |
| \`backend/router.ts\` | the API |
| \`frontend/views.ts\`, \`templates/index.ejs\` | the pages, inside the hub's layout (\`ctx.page\`) |
| \`migrations/001_init.sql\` | the tables; \`-- migrate:down\` holds the rollback |
| \`tests/${m.name}.test.ts\` | the module's own tests (\`startModule\` from \`bmc-hub/testing\`); they pass as created |

Writes are refused until \`MODULES__${m.name.toUpperCase()}__READ_ONLY=false\` and
\`MODULES__${m.name.toUpperCase()}__DRY_RUN=false\` are set.
`;
}

export async function create(modulesDir: string, rawName: string, description: string): Promise<string> {
  const name = checkName(rawName);
  if (typeof description !== 'string' || description.trim() === '') {
    throw new CliError('a description is required: hubctl create <name> "<description>"', EXIT.usage);
  }
  if (description.length > 500 || /[\u0000-\u001f\u007f]/.test(description)) {
    throw new CliError('the description must be one line of at most 500 characters', EXIT.usage);
  }
  const m = deriveModule(name, description.trim());
  if (!TABLE_PREFIX_RE.test(m.tablePrefix)) throw new CliError(`cannot derive a table prefix from "${name}", pick another name`, EXIT.usage);
  const dirStat = await stat(modulesDir).catch(() => null);
  if (!dirStat?.isDirectory()) {
    throw new CliError(`the modules folder ${modulesDir} does not exist, create it or set HUB_MODULES_DIR`, EXIT.usage);
  }
  const target = join(modulesDir, name);
  if (await exists(target)) throw new CliError(`${target} already exists, pick another name or remove that folder`, EXIT.conflict);
  const templateJson = await readFile(join(TEMPLATE_DIR, 'module.json'), 'utf8').catch(() => {
    throw new CliError(`the module template ${TEMPLATE_DIR} is missing, reinstall the hub`);
  });
  await checkAgainstInstalled(modulesDir, m);

  const tmp = join(modulesDir, `.${name}.creating-${randomBytes(4).toString('hex')}`);
  try {
    await copyTree(TEMPLATE_DIR, tmp, m);
    await writeFile(join(tmp, 'module.json'), manifestText(templateJson, m));
    await writeFile(join(tmp, 'README.md'), readme(m));
    if (await exists(target)) throw new CliError(`${target} appeared while creating it, pick another name`, EXIT.conflict);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return target;
}

export function nextSteps(target: string, m: NewModule): string {
  const rel = relative(process.cwd(), target) || target;
  return [
    `${pc.green('✔')} created module ${pc.bold(m.name)} in ${rel} (disabled)`,
    `  ${pc.dim('table prefix')} ${m.tablePrefix}`,
    `  ${pc.dim('api prefix  ')} ${m.apiPrefix}`,
    '',
    'Next steps:',
    `  1. write your tables in ${join(rel, 'migrations/001_init.sql')} and your API in ${join(rel, 'backend/router.ts')}`,
    `  2. npx hubctl test ${m.name}        ${pc.dim('(migrations, isolation, a real child and its tests, on a throwaway database)')}`,
    `  3. npx hubctl enable ${m.name}      ${pc.dim('(migrates and starts it; after later code edits: npx hubctl restart ' + m.name + ')')}`,
    `  4. npx hubctl user add alice --grant ${m.name}.editor   ${pc.dim('(the module declares read/write and viewer/editor)')}`,
    `  5. curl -H "Authorization: Bearer $(npx hubctl token create alice)" ${publicUrl()}${m.apiPrefix}/items`,
    `  6. extend ${join(rel, 'tests', `${m.name}.test.ts`)} as the API grows   ${pc.dim('(startModule from bmc-hub/testing; README "Testing a module")')}`,
  ].join('\n');
}
