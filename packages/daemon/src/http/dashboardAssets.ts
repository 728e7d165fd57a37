import { existsSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Headers on every dashboard response: scripts, styles and connections from
 * the front itself only (no inline script), never framed, no referrer (a
 * login URL carries a code), nothing cached.
 */
export const DASHBOARD_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The page's own files, under `static/`, by the name they are served as. */
const PAGE_FILES = ['index.html', 'login.html', 'app.js', 'app.css'] as const;
export type PageFile = (typeof PAGE_FILES)[number];

/** uPlot's files, served from its npm package as installed. */
const UPLOT_FILES: Record<string, string> = {
  'uPlot.iife.min.js': 'uplot/dist/uPlot.iife.min.js',
  'uPlot.min.css': 'uplot/dist/uPlot.min.css',
};

/**
 * The dashboard's static files: the page (HTML, one script, one style
 * sheet) shipped in the package's `static/` directory, and uPlot resolved
 * from node_modules. Each is read once, when first served.
 */
export class DashboardAssets {
  readonly #dir: string | undefined;
  readonly #cache = new Map<string, Buffer>();

  constructor(dir = findStaticDir()) {
    this.#dir = dir;
  }

  /** True when `name` is a file `serve` knows. */
  has(name: string): boolean {
    return (PAGE_FILES as readonly string[]).includes(name) || Object.hasOwn(UPLOT_FILES, name);
  }

  /** Answers with the file `name` (`status` 200 unless told). Throws when the file cannot be read. */
  serve(res: ServerResponse, name: string, status = 200): void {
    const body = this.#read(name);
    const type = TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream';
    res.writeHead(status, { ...DASHBOARD_SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': body.length }).end(body);
  }

  #read(name: string): Buffer {
    const cached = this.#cache.get(name);
    if (cached) return cached;
    let file: string;
    if (Object.hasOwn(UPLOT_FILES, name)) {
      file = createRequire(import.meta.url).resolve(UPLOT_FILES[name] as string);
    } else if ((PAGE_FILES as readonly string[]).includes(name)) {
      if (!this.#dir) throw new Error("the dashboard's static files are missing from muxd's package");
      file = `${this.#dir}/${name}`;
    } else {
      throw new Error(`no dashboard file '${name}'`);
    }
    const body = readFileSync(file);
    this.#cache.set(name, body);
    return body;
  }
}

/** `static/` beside `dist/` in @muxd/daemon, or beside a bundled muxd.js. */
function findStaticDir(): string | undefined {
  const candidates = [new URL('../../static', import.meta.url), new URL('./static', import.meta.url)];
  for (const candidate of candidates) {
    const dir = fileURLToPath(candidate);
    if (existsSync(`${dir}/index.html`)) return dir;
  }
  return undefined;
}
