// EJS for a module child, loaded on the first render (issue 17: most modules render no
// templates and should not pay for the engine): ctx.render and express's res.render for
// `.ejs` and `.html` views both come through here.
import type { Data } from 'ejs';

type Ejs = typeof import('ejs');
let loading: Promise<Ejs> | undefined;
let loaded = false;

function engine(): Promise<Ejs> {
  return (loading ??= import('ejs').then((m) => {
    loaded = true;
    return ((m as { default?: Ejs }).default ?? m) as Ejs;
  }));
}

/** True once the template engine has been loaded in this process. */
export function templatesLoaded(): boolean {
  return loaded;
}

/** Renders one template file with `data` (ejs.renderFile); rejects with ejs's error. */
export async function renderTemplate(file: string, data: Data = {}): Promise<string> {
  return (await engine()).renderFile(file, data, { async: false });
}

/** An express view engine (app.engine) that loads ejs on its first view. */
export function lazyViewEngine(file: string, options: object, callback: (err: unknown, html?: string) => void): void {
  engine().then(
    (ejs) => ejs.renderFile(file, options as Data, callback as never),
    (e: unknown) => callback(e),
  );
}

/** Compiles an EJS template string (ejs.compile), loading ejs first if it is not yet. */
export async function compileTemplate(source: string): Promise<(data: object) => string> {
  const fn = (await engine()).compile(source);
  return (data) => fn(data as Data);
}
