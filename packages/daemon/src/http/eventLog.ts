/** One message kept so a client can resume a stream after losing its connection. */
export interface LoggedEvent {
  /** The stream it was sent on: `g` for the GET stream, `p<N>` for the answer to a POST. */
  readonly stream: string;
  readonly seq: number;
  readonly data: string;
}

export interface EventLogOptions {
  maxEvents: number;
  maxBytes: number;
  /** Told of each event pushed out by the bounds, oldest first. */
  onEvict: (event: LoggedEvent) => void;
}

/**
 * The events of one HTTP session's streams, for `Last-Event-ID`. Event ids
 * are `<stream>_<seq>` with one sequence for the whole session. Bounded by
 * count and bytes: the oldest events go first.
 */
export class EventLog {
  readonly #events: LoggedEvent[] = [];
  readonly #options: EventLogOptions;
  #bytes = 0;
  #nextSeq = 1;

  constructor(options: EventLogOptions) {
    this.#options = options;
  }

  /** Keeps `data` as the next event of `stream`; returns its id and sequence number. */
  append(stream: string, data: string): { id: string; seq: number } {
    const seq = this.#nextSeq++;
    this.#events.push({ stream, seq, data });
    this.#bytes += data.length;
    while (this.#events.length > this.#options.maxEvents || (this.#bytes > this.#options.maxBytes && this.#events.length > 0)) {
      const evicted = this.#events.shift() as LoggedEvent;
      this.#bytes -= evicted.data.length;
      this.#options.onEvict(evicted);
    }
    return { id: eventId(stream, seq), seq };
  }

  /** An id for a position in `stream` with nothing kept (a priming event). */
  mark(stream: string): { id: string; seq: number } {
    const seq = this.#nextSeq++;
    return { id: eventId(stream, seq), seq };
  }

  /** The events of `stream` after sequence number `seq`, oldest first. */
  after(stream: string, seq: number): LoggedEvent[] {
    return this.#events.filter((event) => event.stream === stream && event.seq > seq);
  }

  has(stream: string): boolean {
    return this.#events.some((event) => event.stream === stream);
  }

  /** Forgets every event of `stream`. */
  drop(stream: string): void {
    let kept = 0;
    for (const event of this.#events) {
      if (event.stream === stream) this.#bytes -= event.data.length;
      else this.#events[kept++] = event;
    }
    this.#events.length = kept;
  }

  /** Splits an id this log made; undefined for anything else. */
  static parseId(id: string): { stream: string; seq: number } | undefined {
    const match = /^(g|p\d+)_(\d+)$/.exec(id);
    return match ? { stream: match[1] as string, seq: Number(match[2]) } : undefined;
  }
}

function eventId(stream: string, seq: number): string {
  return `${stream}_${seq}`;
}
