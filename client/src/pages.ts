/**
 * Items fetched a page at a time: `for await (const item of pages)` walks every item, asking for the
 * next page only when the previous one is used up; `pages.pages()` walks whole pages instead (one
 * per "load more"). Stopping early (`break`) fetches nothing further.
 */
export interface Pages<T> extends AsyncIterable<T> {
  pages(): AsyncIterable<T[]>;
}

/** A page of items and the cursor of the next one (undefined: this was the last). */
export interface Page<T, C> {
  items: T[];
  next: C | undefined;
}

export function paginate<T, C>(
  first: C | undefined,
  fetchPage: (cursor: C | undefined) => Promise<Page<T, C>>,
): Pages<T> {
  async function* pages(): AsyncGenerator<T[]> {
    let cursor = first;
    for (;;) {
      const page = await fetchPage(cursor);
      if (page.items.length > 0) yield page.items;
      if (page.next === undefined) return;
      cursor = page.next;
    }
  }
  return {
    pages,
    async *[Symbol.asyncIterator]() {
      for await (const page of pages()) yield* page;
    },
  };
}
