// The job runner's thread starts here (server/jobs/thread.ts): a worker thread does not inherit the
// TypeScript loader of its process, whichever way that was started (npm start, bin/microchatter.js).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
