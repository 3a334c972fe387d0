/** Gathers every module into one executable schema. */
import { getNamedType, isObjectType, isUnionType, lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.js';
import './roots.js';
import './scalars.js';
import './error-types.js';
import '../modules/users/index.js';
import '../modules/workspaces/index.js';
import '../modules/catalog/index.js';
import '../modules/conversations/index.js';
import '../modules/attachments/index.js';
import '../modules/support/index.js';
import '../modules/presence/index.js';
import '../modules/calls/index.js';
import '../modules/webhooks/index.js';
import '../modules/notifications/index.js';

export const schema = lexicographicSortSchema(describeResultUnions(builder.toSchema()));

/**
 * The errors plugin makes one result union per mutation (e.g. MutationSignUpResult); give each a
 * description naming its field, so GraphiQL documents every type.
 */
function describeResultUnions(built: GraphQLSchema): GraphQLSchema {
  const mutation = built.getMutationType();
  for (const field of Object.values(mutation?.getFields() ?? {})) {
    const type = getNamedType(field.type);
    if (isUnionType(type) && !type.description) {
      type.description = `The result of ${field.name}: the data on success, or one of the listed errors (each with a code and message); nothing is changed on error.`;
      for (const member of type.getTypes()) {
        const data = member.getFields().data;
        if (!member.description && data) {
          member.description = `The success of ${field.name}.`;
          data.description ??= 'What it returned.';
        }
      }
    }
  }
  // The relay plugin's `nodes` shortcut takes no description option.
  for (const type of Object.values(built.getTypeMap())) {
    if (isObjectType(type) && type.name.endsWith('Connection')) {
      const nodes = type.getFields().nodes;
      if (nodes && !nodes.description) nodes.description = 'The items of this page, without cursors.';
    }
  }
  return built;
}

/** The SDL checked in as schema.graphql; a test fails when the file is stale. */
export function printSchemaSDL(): string {
  return `${printSchema(schema)}\n`;
}
