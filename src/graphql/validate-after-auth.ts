/**
 * Input validation that runs after authorization.
 *
 * @pothos/plugin-validation checks a field's arguments in an "arg mapper", and Pothos runs arg
 * mappers before any plugin's resolver wrapper, so before scope-auth: a caller without the right
 * to a field learnt from a VALIDATION answer what the field accepts, and invalid input could
 * mask UNAUTHENTICATED/NOT_FOUND. This plugin is the validation plugin with one change: the
 * validator it builds is taken out of the arg mappers and run as a resolver wrapper instead.
 * Listed after ScopeAuth in the builder, it runs once every scope has passed; listed after
 * Errors, a ValidationError it throws is turned into the mutation's typed result like any other
 * error the resolver throws (no `unsafelyHandleInputErrors` needed). Schemas are declared exactly
 * as with the validation plugin (`validate:` on fields, args and input types).
 */
import SchemaBuilder, {
  completeValue,
  reduceMaybeAsync,
  type PothosOutputFieldConfig,
  type SchemaTypes,
} from '@pothos/core';
import { PothosValidationPlugin } from '@pothos/plugin-validation';
import type { GraphQLFieldResolver } from 'graphql';

type ArgMapper = PothosOutputFieldConfig<SchemaTypes>['argMappers'][number];

/** Where a field's validators wait for {@link wrap}. */
const VALIDATORS = 'authorizedValidation.validators';

export class PothosValidateAfterAuthPlugin<Types extends SchemaTypes> extends PothosValidationPlugin<Types> {
  override onOutputFieldConfig(fieldConfig: PothosOutputFieldConfig<Types>): PothosOutputFieldConfig<Types> | null {
    const before = fieldConfig.argMappers.length;
    const next = super.onOutputFieldConfig(fieldConfig);
    if (!next || next.argMappers.length === before) return next;
    return {
      ...next,
      argMappers: next.argMappers.slice(0, before),
      extensions: { ...next.extensions, [VALIDATORS]: next.argMappers.slice(before) },
    };
  }

  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    return wrap(resolver, fieldConfig);
  }

  override wrapSubscribe(
    subscribe: GraphQLFieldResolver<unknown, Types['Context'], object> | undefined,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> | undefined {
    return subscribe && wrap(subscribe, fieldConfig);
  }
}

function wrap<Types extends SchemaTypes>(
  resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
  fieldConfig: PothosOutputFieldConfig<Types>,
): GraphQLFieldResolver<unknown, Types['Context'], object> {
  const validators = fieldConfig.extensions?.[VALIDATORS] as ArgMapper[] | undefined;
  if (!validators?.length) return resolver;
  return (parent, args, context, info) =>
    completeValue(
      reduceMaybeAsync(validators, args as Record<string, unknown>, (value, validate) => validate(value, context, info)),
      (validated) => resolver(parent, validated, context, info),
    );
}

const pluginName = 'authorizedValidation';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      authorizedValidation: PothosValidateAfterAuthPlugin<Types>;
    }
  }
}

SchemaBuilder.registerPlugin(pluginName, PothosValidateAfterAuthPlugin);

export default pluginName;
