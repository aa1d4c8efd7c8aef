/**
 * Which Thrift services a role may serve. A role serves the service named after it in
 * PascalCase (`player` → `Player`, `my-shop` → `MyShop`), and whatever the keyring lists for it
 * (a keyring entry's `services`, for a studio whose names do not follow the rule). Yellow refuses
 * a registration outside this, and the broker routes a service only to instances of roles that
 * may serve it, so a key of one role can never collect another role's calls (a `chat` key
 * announcing `Sso` would otherwise receive logins and their passwords).
 */

/** The Thrift service a role serves by default: its name in PascalCase. */
export function conventionalService(role: string): string {
  return role
    .split(/[-_]/)
    .filter((part) => part.length > 0)
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join('');
}

/** Whether instances of `role` may serve `thriftService`; `listed` = what the keyring grants the role. */
export function mayServe(role: string, thriftService: string, listed: readonly string[] = []): boolean {
  return thriftService === conventionalService(role) || listed.includes(thriftService);
}

/** The services a role may serve, for error messages. */
export function servicesOfRole(role: string, listed: readonly string[] = []): string[] {
  return [...new Set([conventionalService(role), ...listed])];
}
