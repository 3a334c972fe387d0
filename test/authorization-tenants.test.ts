/**
 * Every object type a viewer reaches from `me` and `workspace`, probed with another tenant's ids.
 *
 * The types are derived from the schema (walking fields, interfaces and unions), and so are the
 * root fields that take an id of each type (an argument named `<type>Id`, `<type>Ids`, the
 * user-naming arguments, or `id` on a field returning the type), at the top level or in an input
 * object. A new reachable type with no such field, and no reason given below, fails the test.
 * Each field is then called by tenant B's admin, guest and API key with tenant A's id in that one
 * place (B's own ids everywhere else, plausible values for the rest). Each answer must be
 * NOT_FOUND (an error or the mutation's typed result), an empty list, or a refusal of who is
 * asking whatever the id (UNAUTHENTICATED, FORBIDDEN: a guest-only field asked by an admin); at
 * least one of the three must get NOT_FOUND or nothing, so the id itself was checked; no answer
 * may hold A's data; and A must be unchanged.
 */
import { getNamedType, isEnumType, isInputObjectType, isInterfaceType, isListType, isNonNullType, isObjectType, isUnionType, parse } from 'graphql';
import type { GraphQLField, GraphQLInputType, GraphQLNamedType, GraphQLObjectType } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../src/graphql/schema.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { guest, workspace, type Person } from './helpers/fixtures.js';
import { product } from './helpers/support.js';

/** Arguments that name a user under another word. */
const USER_ARGS = new Set(['userId', 'userIds', 'adminId', 'memberId', 'agentId', 'clientId', 'calleeId', 'asUserId']);

/** Reachable types no root field takes an id of, and why that is fine. */
const NO_ID_FIELDS: Record<string, string> = {
  Membership: 'named by (workspaceId, userId): probed through Workspace and User',
};

/**
 * Root fields that take another workspace's id on purpose, and why. Only public sign-in: a
 * website visitor starts a guest session in the workspace whose widget they opened.
 */
const OPEN_BY_DESIGN = new Set(['Mutation.startGuestSession.input.workspaceId']);

function reachableTypes(): string[] {
  const seen = new Set<string>();
  const walk = (type: GraphQLNamedType): void => {
    if (seen.has(type.name)) return;
    if (isObjectType(type) || isInterfaceType(type)) {
      seen.add(type.name);
      if (isInterfaceType(type)) for (const impl of schema.getPossibleTypes(type)) walk(impl);
      for (const field of Object.values(type.getFields())) walk(getNamedType(field.type));
    } else if (isUnionType(type)) {
      for (const member of type.getTypes()) walk(member);
    }
  };
  const query = schema.getQueryType()!.getFields();
  walk(getNamedType(query.me!.type));
  walk(getNamedType(query.workspace!.type));
  return [...seen].sort();
}

/** The type a field returns, looking through a mutation's result union to its success. */
function resultType(field: GraphQLField<unknown, unknown>): string {
  const type = getNamedType(field.type);
  if (isUnionType(type)) {
    for (const member of type.getTypes()) {
      const data = member.getFields().data;
      if (data) return getNamedType(data.type).name;
      if (!member.getInterfaces().some((i) => i.name === 'Error')) return member.name;
    }
  }
  return type.name;
}

interface Probe {
  root: GraphQLObjectType;
  field: GraphQLField<unknown, unknown>;
  /** Path of the id argument: ["id"] or ["input", "workspaceId"]. */
  path: string[];
  type: string;
}

function idTypeOf(argName: string, field: GraphQLField<unknown, unknown>, types: Set<string>): string | null {
  if (USER_ARGS.has(argName)) return 'User';
  if (argName === 'id') return resultType(field);
  const match = /^(\w+?)Ids?$/.exec(argName);
  if (!match) return null;
  const name = match[1]!.charAt(0).toUpperCase() + match[1]!.slice(1);
  return types.has(name) ? name : null;
}

function probes(types: Set<string>): Probe[] {
  const found: Probe[] = [];
  for (const root of [schema.getQueryType()!, schema.getMutationType()!]) {
    for (const field of Object.values(root.getFields())) {
      const visit = (name: string, type: GraphQLInputType, path: string[]) => {
        const named = getNamedType(type);
        if (named.name === 'ID') {
          const idType = idTypeOf(name, field, types);
          if (idType && types.has(idType)) found.push({ root, field, path, type: idType });
        } else if (isInputObjectType(named) && path.length === 1) {
          for (const inner of Object.values(named.getFields())) visit(inner.name, inner.type, [...path, inner.name]);
        }
      };
      for (const arg of field.args) visit(arg.name, arg.type, [arg.name]);
    }
  }
  return found;
}

/** A selection that asks for every scalar field one level down (ids and names are what would leak). */
function selection(type: GraphQLNamedType, depth = 0): string {
  if (isUnionType(type)) {
    return `{ __typename ${type.getTypes().map((m) => `... on ${m.name} ${selection(m, depth)}`).join(' ')} }`;
  }
  if (!isObjectType(type) && !isInterfaceType(type)) return '';
  const parts = ['__typename'];
  for (const field of Object.values(type.getFields())) {
    if (field.args.some((a) => isNonNullType(a.type))) continue;
    const named = getNamedType(field.type);
    if (isObjectType(named) || isInterfaceType(named) || isUnionType(named)) {
      if (depth < 1) parts.push(`${field.name} ${selection(named, depth + 1)}`);
    } else {
      parts.push(field.name);
    }
  }
  return `{ ${parts.join(' ')} }`;
}

describe('another tenant’s ids, on every type reachable from me and workspace', () => {
  let t: TestApp;
  let a: { id: string; admin: Person };
  let b: { id: string; admin: Person };
  const aIds: Record<string, string> = {};
  const bIds: Record<string, string> = {};
  const aSecrets: string[] = [];
  /** B's callers: its admin, a visitor (guest) and an API key. */
  const callers: Record<string, string> = {};
  let n = 0;

  const run = async (query: string, variables: Record<string, unknown>, token: string) =>
    t.exec(parse(query) as TypedDocumentNode<Record<string, unknown>, Record<string, unknown>>, variables, { token });

  /** What A looks like to its admin: compared before and after the probes. */
  const snapshotA = async () =>
    (await run('query($id: ID!) { workspace(id: $id) { name members { role user { id } } organizations { id name } apiKeys { id name revokedAt } } }', { id: a.id }, a.admin.token)).data;

  beforeAll(async () => {
    t = await startTestApp();
    a = await workspace(t);
    b = await workspace(t);
    for (const [tenant, ids, label] of [
      [a, aIds, 'tenant-a-secret'],
      [b, bIds, 'tenant-b'],
    ] as const) {
      ids.Workspace = tenant.id;
      ids.User = tenant.admin.id;
      const org = await run(
        'mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { __typename ... on Organization { id } } }',
        { input: { workspaceId: tenant.id, name: `${label} organization` } },
        tenant.admin.token,
      );
      ids.Organization = (org.data?.createOrganization as { id: string }).id;
      const key = await run(
        'mutation($input: IssueApiKeyInput!) { issueApiKey(input: $input) { __typename ... on IssuedApiKey { apiKey { id } secret } } }',
        { input: { workspaceId: tenant.id, name: `${label} key` } },
        tenant.admin.token,
      );
      const issued = key.data?.issueApiKey as { apiKey: { id: string }; secret: string };
      ids.ApiKey = issued.apiKey.id;
      // Not reachable from me or workspace, but some fields want one beside the id probed.
      ids.Product = (await product(t, tenant.admin.token, tenant.id)).id;
      if (tenant === a) aSecrets.push(issued.secret, tenant.admin.email, label);
      else callers.apiKey = issued.secret;
    }
    callers.admin = b.admin.token;
    callers.guest = (await guest(t, b.id, `probe-${Date.now()}`)).token;
    expect(Object.keys(aIds)).toEqual(Object.keys(bIds));
  });
  afterAll(() => t.close());

  it('covers every reachable type: a root field takes its id, or a reason says why none does', () => {
    const types = reachableTypes();
    const covered = new Set(probes(new Set(types)).map((p) => p.type));
    const uncovered = types.filter((type) => !covered.has(type) && !NO_ID_FIELDS[type]);
    expect(uncovered).toEqual([]);
    // Each probed type has an object of each tenant to ask with.
    expect([...covered].filter((type) => !aIds[type])).toEqual([]);
  });

  it('answers NOT_FOUND (or nothing) for each of them, leaks nothing, and changes nothing', async () => {
    const before = await snapshotA();
    const types = new Set(reachableTypes());
    // B's own ids, for the arguments not probed, may be of any type (a product, say).
    const schemaTypes = new Set(Object.keys(schema.getTypeMap()));
    const failures: string[] = [];
    let asked = 0;
    for (const probe of probes(types)) {
      const key = `${probe.root.name}.${probe.field.name}.${probe.path.join('.')}`;
      if (OPEN_BY_DESIGN.has(key)) continue;
      const value = (name: string, type: GraphQLInputType, path: string[]): unknown => {
        if (isNonNullType(type)) return value(name, type.ofType, path);
        if (isListType(type)) {
          const item = value(name, type.ofType, path);
          return item === undefined ? undefined : [item];
        }
        const here = path.join('.') === probe.path.join('.');
        if (type.name === 'ID') {
          if (here) return aIds[probe.type];
          const own = idTypeOf(name, probe.field, schemaTypes);
          return own && bIds[own] ? bIds[own] : undefined;
        }
        if (isInputObjectType(type)) {
          const object: Record<string, unknown> = {};
          for (const inner of Object.values(type.getFields())) {
            const v = value(inner.name, inner.type, [...path, inner.name]);
            if (v !== undefined) object[inner.name] = v;
            else if (isNonNullType(inner.type) && inner.defaultValue === undefined) object[inner.name] = plausible(inner.name, inner.type);
          }
          return object;
        }
        return undefined;
      };
      const plausible = (name: string, type: GraphQLInputType): unknown => {
        const named = getNamedType(type);
        if (isListType(isNonNullType(type) ? type.ofType : type)) return [plausible(name, named)];
        if (isEnumType(named)) return named.getValues()[0]!.value;
        if (isInputObjectType(named)) return value(name, type, []);
        if (named.name === 'Int') return 1;
        if (named.name === 'Float') return 1;
        if (named.name === 'Boolean') return false;
        if (named.name === 'DateTime') return new Date().toISOString();
        if (named.name === 'ID') return crypto.randomUUID();
        if (/email/i.test(name)) return `probe-${++n}@example.com`;
        if (/url/i.test(name)) return 'https://example.com/hook';
        if (/password/i.test(name)) return 'password-123';
        if (/sdp/i.test(name)) return 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';
        return `probe-${++n}`;
      };
      const variables: Record<string, unknown> = {};
      const defs: string[] = [];
      const args: string[] = [];
      for (const arg of probe.field.args) {
        let v = value(arg.name, arg.type, [arg.name]);
        if (v === undefined && isNonNullType(arg.type) && arg.defaultValue === undefined) v = plausible(arg.name, arg.type);
        if (v === undefined) continue;
        variables[arg.name] = v;
        defs.push(`$${arg.name}: ${String(arg.type)}`);
        args.push(`${arg.name}: $${arg.name}`);
      }
      const op = probe.root.name === 'Mutation' ? 'mutation' : 'query';
      const query = `${op}${defs.length ? `(${defs.join(', ')})` : ''} { result: ${probe.field.name}${args.length ? `(${args.join(', ')})` : ''} ${selection(getNamedType(probe.field.type))} }`;
      const outcomes: string[] = [];
      for (const [who, token] of Object.entries(callers)) {
        const res = await run(query, variables, token);
        asked++;
        const text = JSON.stringify(res);
        const result = (res.data as { result?: unknown } | null | undefined)?.result;
        const code = res.errors?.[0]?.extensions?.code ?? (result as { code?: string } | null | undefined)?.code;
        const list = (value: unknown) => Array.isArray(value) && value.length === 0;
        const empty =
          !res.errors &&
          (result === null ||
            list(result) ||
            (typeof result === 'object' && result !== null && (list((result as { edges?: unknown }).edges) || list((result as { nodes?: unknown }).nodes))));
        const leaked = [...Object.values(aIds).filter((id) => id !== aIds[probe.type]), ...aSecrets].filter((secret) => text.includes(secret));
        const outcome = code === 'NOT_FOUND' || empty ? 'checked' : code === 'FORBIDDEN' || code === 'UNAUTHENTICATED' ? 'refused' : 'wrong';
        outcomes.push(outcome);
        if (outcome === 'wrong' || leaked.length) {
          failures.push(`${key} (${probe.type}) as ${who}: ${leaked.length ? `leaked ${leaked.join(', ')}; ` : ''}${text.slice(0, 300)}`);
        }
      }
      if (!outcomes.includes('checked')) failures.push(`${key} (${probe.type}): refused to every caller, the id itself never checked`);
    }
    expect(failures).toEqual([]);
    expect(asked).toBeGreaterThan(60);
    expect(await snapshotA()).toEqual(before);
  });
});
