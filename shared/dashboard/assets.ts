/**
 * The page's static files (web/dashboard/* and the lightweight-charts standalone build) as the
 * dashboard handle serves them: a port (infra/dashboard/assets.ts reads the files) and the rules of
 * serving them (which names exist, content types, caching, the Content-Security-Policy).
 */

export interface StaticFile {
  body: Buffer;
  /** Strong validator of the content (a hash). */
  etag: string;
}

/** The static files' source (infra/dashboard/assets.ts). `name` is already validated (`assetName`). */
export interface DashboardAssets {
  get(name: string): Promise<StaticFile | null>;
}

/** Where the chart library is served (the page loads it with a plain script tag). */
export const CHARTS_ASSET = 'assets/lightweight-charts.standalone.production.js';

/**
 * The project's own modules the page imports (`./lib/<file>`), served as browser ES modules compiled
 * from the same source the server runs (infra/dashboard/assets.ts), so the page has no second copy of
 * the API's routes, the chart theme or the bot's number formatting. Each has no runtime import.
 */
export const SHARED_MODULES: Readonly<Record<string, string>> = {
  'lib/api.js': 'shared/dashboard/api',
  'lib/theme.js': 'shared/charts/theme',
  'lib/html.js': 'shared/telegram/html',
};

const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  webmanifest: 'application/manifest+json',
};

/**
 * The asset a request path names (`''` and `index.html` -> the page), or null: one path segment of
 * the page's folder with a known type, or the chart library. No `..`, no sub-folders, no hidden files.
 */
export function assetName(path: string): string | null {
  const p = path.replace(/^\/+/, '');
  if (p === '' || p === 'index.html') return 'index.html';
  if (p === CHARTS_ASSET) return CHARTS_ASSET;
  if (Object.hasOwn(SHARED_MODULES, p)) return p;
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9]+)+$/.test(p)) return null;
  return contentTypeOf(p) ? p : null;
}

export function contentTypeOf(name: string): string | undefined {
  const ext = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase();
  return ext ? CONTENT_TYPES[ext] : undefined;
}

/**
 * Every source is this origin: no CDN, no telegram.org script (the page reads `initData` from its
 * own URL fragment). Inline styles are allowed for the chart library's element styles; scripts never.
 * Framing: only this origin and Telegram's web clients (web.telegram.org shows a Mini App in an
 * iframe; the apps use their own web view, which frame-ancestors does not restrict).
 */
export const FRAME_ANCESTORS = "frame-ancestors 'self' https://web.telegram.org";

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'self'",
  "form-action 'none'",
  FRAME_ANCESTORS,
].join('; ');

/** Headers every answer carries. */
export const COMMON_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': CONTENT_SECURITY_POLICY,
};

/** The page is revalidated on every load (a deploy takes effect at once); the rest may be cached an hour. */
export function cacheControlOf(name: string): string {
  return name === 'index.html' ? 'no-cache' : 'public, max-age=3600';
}

/**
 * The page with `<base href>` set to where it is mounted (`/dashboard/` locally; the public URL's path
 * in the cloud), so its relative URLs (`app.js`, `api/paper`) resolve whether it was opened with a
 * trailing slash or not.
 */
export function withBase(html: Buffer, base: string): Buffer {
  const text = html.toString('utf8');
  const tag = `<base href="${base.replace(/[^A-Za-z0-9/_.-]/g, '')}">`;
  const i = text.search(/<head[^>]*>/i);
  if (i < 0) return Buffer.from(tag + text);
  const end = text.indexOf('>', i) + 1;
  return Buffer.from(text.slice(0, end) + tag + text.slice(end));
}
