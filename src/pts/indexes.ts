// The pty index allocator of one namespace: lowest free index first, as
// devpts_new_index() does with its IDA.

export class IndexAllocator {
  /** Every index below `next` that is free, as a binary min-heap. */
  private readonly freed: number[] = [];
  private next = 0;

  constructor(readonly max: number) {}

  /** The lowest free index in [0, max-1], or undefined when all are taken (ENOSPC). */
  allocate(): number | undefined {
    if (this.freed.length > 0) return this.popMin();
    if (this.next >= this.max) return undefined;
    return this.next++;
  }

  free(index: number): void {
    // Freeing the highest index just lowers the mark; the heap then still
    // holds exactly the free indexes below it.
    if (index === this.next - 1) this.next--;
    else this.push(index);
  }

  private push(v: number): void {
    const h = this.freed;
    h.push(v);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]! <= v) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = v;
  }

  private popMin(): number {
    const h = this.freed;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const c = l + 1 < h.length && h[l + 1]! < h[l]! ? l + 1 : l;
        if (h[c]! >= last) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
