/** Factories that set up users, workspaces and members through the API itself. */
import { graphql } from '../gql/index.js';
import type { TestApp } from './app.js';

const SignUpDoc = graphql(`
  mutation FixtureSignUp($input: SignUpInput!) {
    signUp(input: $input) {
      __typename
      ... on AuthPayload {
        accessToken
        user {
          id
        }
      }
      ... on Error {
        message
      }
    }
  }
`);

const CreateWorkspaceDoc = graphql(`
  mutation FixtureCreateWorkspace($name: String!) {
    createWorkspace(input: { name: $name }) {
      __typename
      ... on Workspace {
        id
      }
      ... on Error {
        message
      }
    }
  }
`);

export const AddMemberDoc = graphql(`
  mutation FixtureAddMember($input: AddWorkspaceMemberInput!) {
    addWorkspaceMember(input: $input) {
      __typename
      ... on Error {
        message
      }
    }
  }
`);

const GuestDoc = graphql(`
  mutation FixtureGuest($input: GuestSessionInput!) {
    startGuestSession(input: $input) {
      __typename
      ... on AuthPayload {
        accessToken
        user {
          id
        }
      }
      ... on Error {
        message
      }
    }
  }
`);

export interface Person {
  id: string;
  token: string;
  email: string;
}

let n = 0;

export async function person(t: TestApp, tag = 'user'): Promise<Person> {
  const email = `${tag}-${process.pid}-${Date.now()}-${++n}@example.com`;
  const res = await t.exec(SignUpDoc, { input: { email, password: 'password-123', displayName: tag } });
  const p = res.data?.signUp;
  if (p?.__typename !== 'AuthPayload') throw new Error(`signUp: ${JSON.stringify(res)}`);
  return { id: p.user.id, token: p.accessToken, email };
}

/** A workspace with an admin and, optionally, more people in given roles. */
export async function workspace(
  t: TestApp,
  roles: Record<string, 'ADMIN' | 'AGENT' | 'CLIENT'> = {},
): Promise<{ id: string; admin: Person; people: Record<string, Person> }> {
  const admin = await person(t, 'admin');
  const res = await t.exec(CreateWorkspaceDoc, { name: 'Workspace' }, { token: admin.token });
  const ws = res.data?.createWorkspace;
  if (ws?.__typename !== 'Workspace') throw new Error(`createWorkspace: ${JSON.stringify(res)}`);
  const people: Record<string, Person> = {};
  for (const [name, role] of Object.entries(roles)) {
    const p = await person(t, name);
    const added = await t.exec(AddMemberDoc, { input: { workspaceId: ws.id, email: p.email, role } }, { token: admin.token });
    if (added.data?.addWorkspaceMember.__typename !== 'Membership') throw new Error(JSON.stringify(added));
    people[name] = p;
  }
  return { id: ws.id, admin, people };
}

export async function guest(t: TestApp, workspaceId: string, sessionId: string): Promise<Person> {
  const res = await t.exec(GuestDoc, { input: { workspaceId, sessionId } });
  const g = res.data?.startGuestSession;
  if (g?.__typename !== 'AuthPayload') throw new Error(`guest: ${JSON.stringify(res)}`);
  return { id: g.user.id, token: g.accessToken, email: '' };
}
