/**
 * A ring of at most `capacity` items: pushing past it drops the oldest.
 * Memory stays bounded however long muxd runs.
 */
export class ResourceRing<T> {
  readonly capacity: number;
  readonly #items: T[] = [];
  /** Where the oldest item is, once the ring is full. */
  #start = 0;

  /** @throws RangeError when `capacity` is not a positive integer. */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, not ${capacity}`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    if (this.#items.length < this.capacity) {
      this.#items.push(item);
      return;
    }
    this.#items[this.#start] = item;
    this.#start = (this.#start + 1) % this.capacity;
  }

  /** Oldest first. */
  toArray(): T[] {
    return [...this.#items.slice(this.#start), ...this.#items.slice(0, this.#start)];
  }

  /** The newest item, if any. */
  newest(): T | undefined {
    if (this.#items.length === 0) return undefined;
    return this.#items[(this.#start + this.#items.length - 1) % this.#items.length];
  }
}
