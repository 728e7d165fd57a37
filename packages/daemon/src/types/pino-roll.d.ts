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
  }

  export default function roll(options: PinoRollOptions): Promise<DestinationStream & { end(): void; flushSync(): void }>;
}
