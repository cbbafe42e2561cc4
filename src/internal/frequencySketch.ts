/**
 * A count-min sketch of how often keys were asked for, with periodic halving (the "TinyLFU"
 * frequency filter): it tells the context cache whether a new user is asked for more often than
 * the one it would evict. Four 4-bit-saturating counters per key in one byte array; memory is
 * fixed by the cache's capacity, never by the number of distinct keys.
 *
 * @internal
 */

const MAX_COUNT = 15

/** FNV-1a over the UTF-16 code units of `key`, 32 bits. */
export const hashKey = (key: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

export class FrequencySketch {
  private readonly table: Uint8Array
  private readonly mask: number
  private readonly sampleSize: number
  private additions = 0

  /** A sketch sized for a cache of `capacity` entries: at least 16 counters per entry (4 KiB at least), halved every 30 × capacity additions. */
  constructor(capacity: number) {
    let width = 4096
    while (width < capacity * 16) width *= 2
    this.table = new Uint8Array(width)
    this.mask = width - 1
    this.sampleSize = Math.max(100, capacity * 30)
  }

  /** The estimated number of recent requests for the key of `hash`. */
  frequency(hash: number): number {
    let min = MAX_COUNT
    for (let row = 0; row < 4; row++) {
      const count = this.table[this.index(hash, row)] ?? 0
      if (count < min) min = count
    }
    return min
  }

  /** Counts one request for the key of `hash`. */
  increment(hash: number): void {
    let added = false
    for (let row = 0; row < 4; row++) {
      const i = this.index(hash, row)
      const count = this.table[i] ?? 0
      if (count < MAX_COUNT) {
        this.table[i] = count + 1
        added = true
      }
    }
    if (added && ++this.additions >= this.sampleSize) this.halve()
  }

  private index(hash: number, row: number): number {
    // One multiply-xorshift per row over the key's hash: four nearly independent positions.
    let h = Math.imul(hash ^ (row * 0x9e3779b9), 0x85ebca6b)
    h ^= h >>> 13
    h = Math.imul(h, 0xc2b2ae35)
    h ^= h >>> 16
    return h & this.mask
  }

  // Ages every count so that popularity that has passed fades: counts are halved each sample period.
  private halve(): void {
    for (let i = 0; i < this.table.length; i++) this.table[i] = (this.table[i] ?? 0) >>> 1
    this.additions = this.additions >>> 1
  }
}
