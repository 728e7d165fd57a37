/** The engine's side of one client connection, driven by its transport. */
export interface ClientHandle {
  readonly id: number;
  /** One parsed JSON value (message or batch) from the client, and the size of its line in bytes. */
  receive(message: unknown, bytes?: number): void;
  /** The client will send nothing more: close once its answers are delivered. */
  end(): void;
  /** The connection is gone: release everything the client owned. Idempotent. */
  disconnect(reason?: string): void;
  /**
   * The transport's word on whether the client is idle: connected, but
   * silent for a while with nothing open (an HTTP session its host never
   * ended). Idle clients are counted apart and keep no child up.
   */
  setIdle(idle: boolean): void;
}

/** The engine's side of the child's stdio, driven by the supervisor. */
export interface UpstreamHandle {
  /** One parsed JSON value from the child's stdout. */
  receive(message: unknown): void;
  /** The child is gone. Idempotent. */
  closed(reason: string, end?: UpstreamEnd): void;
}

/** How a child that muxd did not mean to stop ended. */
export interface UpstreamEnd {
  /** It crashed, or muxd had to replace it: not a stop that was asked for. */
  failed: boolean;
  /** The last lines it wrote to stderr, for clients waiting for a handshake it never completed. */
  stderrTail?: string;
}
