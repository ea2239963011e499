// The API's shapes the console uses (docs/openapi.json has them all).
export type Level = "view" | "collaborate" | "control";
export type State = "pending" | "running" | "hibernated" | "terminated" | "failed";

export interface Resources { cpu: string; memory: string }
export interface Session {
  id: string; ownerId: string; teamId?: string; templateName: string; state: State; desiredState: string;
  resources: Resources; tags: string[]; idle: boolean; idleTimeout: number; maxSessionDuration: number;
  activeConnections: number; lastActivity: string; createdAt: string; updatedAt: string; version: number; error?: string;
}
// GET /sessions/{id}: what the caller may do with the session (the API checks every request).
export interface SessionAccess { level: Level; manage: boolean; delete: boolean; via: string }
export type SessionWithAccess = Session & { yourAccess: SessionAccess };
export interface Template {
  name: string; displayName: string; description: string; category: string; tags: string[]; image: string;
  defaultResources: Resources; recordSessions: boolean; version: number; icon?: string;
  localCommand?: string; // what the local stack runs (admins set it)
}
export interface SharedSession { session: Session; permissionLevel: Level; shareId: string; sharedAt: string; expiresAt?: string }
export interface Share { id: string; sharedWithUserId: string; permissionLevel: Level; createdAt: string; expiresAt?: string; active: boolean }
export interface Invitation {
  id: string; permissionLevel: Level; maxUses: number; uses: number; expiresAt: string; revoked: boolean; tokenPrefix: string; createdAt: string;
  token?: string;
}
export interface Collaborator { userId: string; permissionLevel: Level; connectionIds: string[]; since: string }
export interface Team {
  id: string; name: string; displayName: string; description?: string; role?: string; permissions: string[]; version: number;
}
export interface Member { userId: string; role: string; addedAt: string; version: number }
// GET /users/me/quota: the caller's limits, live usage, and whether a role grant is awaited.
export interface UserQuota {
  maxSessions: number; maxCpuMillis: number; maxMemoryMiB: number;
  usage: { liveSessions: number; cpuMillis: number; memoryMiB: number };
  awaitingRoleGrant: boolean;
}
export interface TeamQuota {
  maxSessions: number; maxCpuMillis: number; maxMemoryMiB: number; version: number;
  usage: { liveSessions: number; cpuMillis: number; memoryMiB: number };
}
export interface APIKey {
  id: string; name: string; description?: string; keyPrefix: string; scopes: string[]; rateLimit: number;
  createdAt: string; expiresAt?: string; lastUsedAt?: string; revoked: boolean; key?: string;
}
export interface APIKeyUsage {
  totalUsage: number; recentUsage24h: number; lastUsedAt?: string; rateLimit: number; usedThisHour: number;
  topEndpoints: { route: string; count: number }[];
  recentRequests: { time: string; route: string; status: number; method: string; path: string }[];
}
export interface Activity {
  id: string; eventType: string; eventCategory: string; timestamp: string; actorId?: string; description?: string; durationSinceMs?: number;
}
export interface Recording {
  id: string; type: string; format: string; status: string; startedAt: string; durationSeconds?: number; sizeBytes?: number; source: string;
}
export interface User { id: string; role: string; email?: string; name?: string; createdAt: string; version: number }
export interface Connection { connectionId: string; url: string; state: string; ready: boolean; permissionLevel: Level; expiresAt: string }
