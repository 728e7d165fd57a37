// pino-roll ships no type declarations; this covers the options muxd uses.
declare module 'pino-roll' {
  import type { DestinationStream } from 'pino';

  interface PinoRollOptions {
    file: string;
    size?: string | number;
    frequency?: string | number;
    extension?: string;
    symlink?: boolean;
    mkdir?: boolean;
    limit?: { count?: number; removeOtherLogFiles?: boolean };
    dateFormat?: string;
    /** Passed on to sonic-boom: bytes buffered while writes fail before new lines are dropped ('drop' events). */
    maxLength?: number;
  }

  /** The sonic-boom stream pino-roll returns. */
  interface RollStream extends DestinationStream {
    end(): void;
    flushSync(): void;
    /** The file written now. */
    readonly file: string;
    on(event: 'error', listener: (error: NodeJS.ErrnoException) => void): this;
    on(event: 'write', listener: (bytes: number) => void): this;
    on(event: 'drop', listener: (data: string) => void): this;
    on(event: 'close', listener: () => void): this;
  }

  export default function roll(options: PinoRollOptions): Promise<RollStream>;
}
