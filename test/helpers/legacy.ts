/**
 * A server with the legacy shim configured: a workspace, its admin, and an API key given to the
 * shim as LEGACY_API_KEY (set at start, so the server is started again with it on the same
 * database; the admin's token stays valid as the JWT secret is the same).
 */
import { graphql } from '../gql/index.js';
import { startTestApp, type TestApp } from './app.js';
import { createTestDatabase } from './database.js';
import { workspace, type Person } from './fixtures.js';

const IssueKey = graphql(`
  mutation LegacyHelperIssueKey($workspaceId: ID!) {
    issueApiKey(input: { workspaceId: $workspaceId, name: "legacy shim" }) {
      __typename
      ... on IssuedApiKey {
        secret
      }
      ... on Error {
        message
      }
    }
  }
`);

export interface LegacyApp {
  t: TestApp;
  workspaceId: string;
  admin: Person;
  apiKey: string;
}

export async function startLegacyApp(env: Record<string, string> = {}): Promise<LegacyApp> {
  const db = await createTestDatabase();
  const first = await startTestApp(env, db);
  const ws = await workspace(first);
  const issued = await first.exec(IssueKey, { workspaceId: ws.id }, { token: ws.admin.token });
  const key = issued.data?.issueApiKey;
  if (key?.__typename !== 'IssuedApiKey') throw new Error(`issueApiKey: ${JSON.stringify(issued)}`);
  await first.stop();
  const t = await startTestApp({ ...env, LEGACY_API_KEY: key.secret }, db);
  return { t, workspaceId: ws.id, admin: ws.admin, apiKey: key.secret };
}
