/** Who may do what in a workspace. */
import type { Role } from '../../generated/prisma/enums.js';

/** Manage members, keys, products: admins (and API keys, which act as admins). */
export const MANAGE: readonly Role[] = ['ADMIN'];
/** See the workspace's staff-facing data (member list, admin product list). */
export const STAFF: readonly Role[] = ['ADMIN', 'AGENT'];
