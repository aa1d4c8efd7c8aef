/**
 * A studio's test process in miniature: starts a `noon/testing` cluster (every built-in role,
 * PGlite, the heartbeat thread), makes one call through it, stops it, and then does nothing more.
 * Its process must end on its own: nothing noon started may keep the event loop alive.
 */
import { startTestCluster } from '../../testing';

void (async () => {
  const cluster = await startTestCluster();
  const client = await cluster.client();
  await client.sso.register('exit-ann', 'a-long-password');
  await cluster.stop();
  // what still holds the loop, for the test's message if the process does not end
  process.stdout.write(`${JSON.stringify({ stopped: true, holding: process.getActiveResourcesInfo() })}\n`);
})();
