/** Finds the route template a request URL belongs to, or undefined. */
export type RouteMatcher = (url: string) => string | undefined;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Compiles route templates (`/users/:id`, `/static/*`) into one matcher. Each template
 * becomes a regular expression tested against the raw URL, query string included, so a
 * request costs no string slicing. Templates are tried in the order given.
 */
export function compileRoutes(templates: readonly string[]): RouteMatcher {
  if (templates.length === 0) return () => undefined;
  const compiled = templates.map((template) => {
    const parts = template.split('/').map((segment, i, all) => {
      if (segment === '*' && i === all.length - 1) return '.*';
      if (segment.startsWith(':')) return '[^/?#]+';
      return escapeRegExp(segment);
    });
    const body = parts.join('/');
    // A trailing `/*` is the path itself too (`/static/*` covers `/static`, `/static?v=1`,
    // `/static/a/b`), never a longer name (`/statics`).
    const source = body.endsWith('/.*') ? `^${body.slice(0, -3)}(?:[/?#].*)?$` : `^${body.replace(/\/$/, '')}/?(?:[?#].*)?$`;
    return { template, re: new RegExp(source) };
  });
  return (url) => {
    for (let i = 0; i < compiled.length; i++) {
      const c = compiled[i]!;
      if (c.re.test(url)) return c.template;
    }
    return undefined;
  };
}
