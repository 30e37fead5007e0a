/** `faultline broker ...`: the broker's own entry point (broker/main.ts), reachable from the CLI. */
import { runBroker } from '../../broker/main.ts';

export async function run(argv: string[]): Promise<number> {
  const code = await runBroker(argv);
  // The broker's sockets and timers are closed by now; exit explicitly so no stray handle keeps us.
  process.exit(code);
}
