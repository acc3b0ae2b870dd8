// Which module a request path belongs to. Lookups walk the path's segments and probe a
// Map, so the cost depends on the path's depth, not on how many modules are installed.
export class RouteTable<T> {
  private readonly prefixes = new Map<string, T>();

  set(prefix: string, target: T): void {
    this.prefixes.set(prefix, target);
  }

  delete(prefix: string): void {
    this.prefixes.delete(prefix);
  }

  /** Who holds exactly this prefix, if anyone. */
  owner(prefix: string): T | undefined {
    return this.prefixes.get(prefix);
  }

  /** Drops every prefix that points at `target`, and only those. */
  release(target: T): void {
    for (const [prefix, t] of this.prefixes) if (t === target) this.prefixes.delete(prefix);
  }

  clear(): void {
    this.prefixes.clear();
  }

  /** The target whose prefix is the longest whole-segment prefix of the URL's path. */
  match(url: string): T | undefined {
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    let found: T | undefined;
    let i = path.indexOf('/', 1);
    while (i !== -1) {
      const hit = this.prefixes.get(path.slice(0, i));
      if (hit !== undefined) found = hit;
      i = path.indexOf('/', i + 1);
    }
    return this.prefixes.get(path) ?? found;
  }
}
