/** Every group of settings, in the order the README and .env.example list them. */
import { auth } from './auth.ts';
import { database } from './database.ts';
import { integrations } from './integrations.ts';
import { limits } from './limits.ts';
import { observability } from './observability.ts';
import { realtime } from './realtime.ts';
import { server } from './server.ts';

export { auth, database, integrations, limits, observability, realtime, server };

export const settingGroups = [server, database, auth, limits, realtime, integrations, observability] as const;
