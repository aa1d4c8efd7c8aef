/** One composition per role; `noon start <role>` runs one per process, `noon up` all in one. */
export { RoleHost, type RunningRole } from './host';
export { openData, migrateModule, type SharedData } from './data';
export { startYellowRole } from './yellow';
export { startBrokerListRole } from './brokerlist';
export { startConsoleRole } from './console';
export { startBrokerRole, type RunningBroker } from './broker';
export { startService, startServiceRole, type RunningService } from './service';
export { startWorkerRole, jobHandlersOf } from './worker';
export { clusterConfig, startCluster, type RunningCluster } from './cluster';

export const INFRA_ROLES = ['yellow', 'brokerlist', 'broker', 'console'] as const;

/** The role that runs jobs (`noon start worker`): not a service, and no module may take its name. */
export const WORKER_ROLE = 'worker';
