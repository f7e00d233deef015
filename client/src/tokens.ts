/** A token, or a function the client calls for one: at first use, and again after a 401. */
export type TokenProvider = () => string | Promise<string>;

export interface Tokens {
  /** Whether there is a provider to ask for a new token (false for a fixed string). */
  renewable: boolean;
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
    return { renewable: false, get: () => token, refresh: async () => false };
  }
  let current: Promise<string> | undefined;
  let latest: string | undefined;
  /** A provider call under way, and the token it replaces (undefined: the first call). */
  let pending: { replaces: string | undefined } | undefined;
  const ask = (replaces: string | undefined) => {
    const call = { replaces };
    pending = call;
    const asked = Promise.resolve()
      .then(source)
      .then((token) => {
        if (typeof token !== 'string' || token === '')
          throw new TypeError('the token provider gave no token');
        latest = token;
        return token;
      });
    // A failed provider call is not cached: the next use asks again.
    asked.then(
      () => {
        if (pending === call) pending = undefined;
      },
      () => {
        if (pending === call) pending = undefined;
        if (current === asked) current = undefined;
      },
    );
    current = asked;
    return asked;
  };
  return {
    renewable: true,
    get: () => current ?? ask(undefined),
    async refresh(refused) {
      // Those refused the same token share one call; a token newer than the refused one is kept.
      if (current !== undefined && (pending?.replaces === refused || latest !== refused)) await current;
      else await ask(refused);
      return true;
    },
  };
}
