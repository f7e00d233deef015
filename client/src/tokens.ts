/** A token, or a function the client calls for one: at first use, and again after a 401. */
export type TokenProvider = () => string | Promise<string>;

export interface Tokens {
  /** The current token (asking the provider on first use). */
  get(): Promise<string>;
  /**
   * The server refused `refused`: ask the provider for a new one. Callers that saw the same refusal
   * share one provider call; a string token cannot be renewed (false).
   */
  refresh(refused: string): Promise<boolean>;
}

export function tokens(source: string | TokenProvider): Tokens {
  if (typeof source === 'string') {
    const token = Promise.resolve(source);
    return { get: () => token, refresh: async () => false };
  }
  let current: Promise<string> | undefined;
  let latest: string | undefined;
  const ask = () => {
    const asked = Promise.resolve()
      .then(source)
      .then((token) => {
        if (typeof token !== 'string' || token === '')
          throw new TypeError('the token provider gave no token');
        latest = token;
        return token;
      });
    // A failed provider call is not cached: the next use asks again.
    asked.catch(() => {
      if (current === asked) current = undefined;
    });
    current = asked;
    return asked;
  };
  return {
    get: () => current ?? ask(),
    async refresh(refused) {
      if (latest === refused || current === undefined) await ask();
      else await current;
      return true;
    },
  };
}
