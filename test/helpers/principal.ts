import type { Principal } from '../../server/auth.ts';

/** Who a principal is, without when its credential expires (tested on its own). */
export function identity(principal: Principal): Principal {
  return principal.kind === 'user' ? { kind: 'user', userId: principal.userId } : principal;
}
