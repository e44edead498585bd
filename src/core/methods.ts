/** HTTP methods that get their own label value; anything else is `_OTHER` (OpenTelemetry's rule). */
export const METHOD_NAMES = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', '_OTHER'] as const;
export const METHOD_OTHER = METHOD_NAMES.length - 1;

/** Index into METHOD_NAMES. A switch on the string compiles to cheap comparisons and allocates nothing. */
export function methodIndex(method: string | undefined): number {
  switch (method) {
    case 'GET': return 0;
    case 'HEAD': return 1;
    case 'POST': return 2;
    case 'PUT': return 3;
    case 'DELETE': return 4;
    case 'CONNECT': return 5;
    case 'OPTIONS': return 6;
    case 'TRACE': return 7;
    case 'PATCH': return 8;
    default: return METHOD_OTHER;
  }
}
