#!/usr/bin/env node
// Entry point: registers tsx so the TypeScript sources run directly on Node 20, then hands over to the CLI.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../harness/cli.ts');
await main(process.argv.slice(2));
