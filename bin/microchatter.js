#!/usr/bin/env node
// `npx microchatter <command>`: the CLI is TypeScript (server/cli.ts), run through tsx like the server.
import { register } from 'tsx/esm/api';

register();
await import('../server/cli.ts');
