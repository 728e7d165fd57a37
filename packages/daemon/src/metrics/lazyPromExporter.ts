import type { ExportedService, PromExporter } from './promExporter.js';

/**
 * `GET /metrics` that loads prom-client on its first scrape: most muxd runs
 * are never scraped, and loading it would add to every daemon's start.
 */
export class LazyPromExporter {
  readonly #services: () => readonly ExportedService[];
  #exporter: Promise<PromExporter> | undefined;
  #contentType = 'text/plain; version=0.0.4; charset=utf-8';

  constructor(services: () => readonly ExportedService[]) {
    this.#services = services;
  }

  /** The exposition format's content type: prom-client's, once a scrape loaded it. */
  get contentType(): string {
    return this.#contentType;
  }

  /** The exposition text, read now. */
  async text(): Promise<string> {
    this.#exporter ??= import('./promExporter.js').then(({ PromExporter }) => new PromExporter(this.#services));
    const exporter = await this.#exporter;
    this.#contentType = exporter.contentType;
    return exporter.text();
  }
}
