const BARS = '▁▂▃▄▅▆▇█';

export interface SparklineOptions {
  /** Characters wide: the newest `width` values are drawn, right-aligned. */
  width: number;
  /**
   * The value drawn as the lowest bar. Default: the smallest value shown, so
   * small changes of a large figure (memory) stay visible; 0 for rates.
   */
  floor?: number;
}

/**
 * Values as a row of unicode block characters (▁ lowest, █ highest), one
 * per value, newest on the right. A null or non-finite value (no child
 * running) is a blank; with every value equal (and none above `floor`)
 * each is the lowest bar.
 */
export function sparkline(values: ReadonlyArray<number | null>, options: SparklineOptions): string {
  const width = Math.max(0, Math.floor(options.width));
  const shown = values.slice(Math.max(0, values.length - width));
  const numbers = shown.filter((value): value is number => value !== null && Number.isFinite(value));
  const floor = options.floor ?? (numbers.length > 0 ? Math.min(...numbers) : 0);
  const top = numbers.length > 0 ? Math.max(...numbers) : floor;
  const bars = shown.map((value) => {
    if (value === null || !Number.isFinite(value)) return ' ';
    if (top <= floor) return BARS[0];
    const level = Math.round(((Math.max(value, floor) - floor) / (top - floor)) * (BARS.length - 1));
    return BARS[level];
  });
  return bars.join('').padStart(width, ' ');
}
