/**
 * Operation limits, checked before anything runs, the same for every way in: HTTP and graphql-ws
 * parse and validate through Yoga's envelope, and the legacy shim's executor validates its
 * documents through it too (src/compat/executor.ts).
 *
 * - tokens (while parsing, so a 10 MB document is dropped after GRAPHQL_MAX_TOKENS tokens),
 *   depth, aliases and directives: GraphQL Armor's rules, refusing through ./refusal.ts;
 * - cost: Pothos' complexity plugin computes it from each field's cost (./cost.ts) and the
 *   operation's variables, so it is checked at execute/subscribe, still before any resolver.
 * Also: introspection and "did you mean" suggestions when they are turned off (production), and
 * text input that PostgreSQL cannot store (NUL) or that is not valid UTF-16 (lone surrogates),
 * refused as BAD_USER_INPUT instead of failing inside the database.
 */
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { complexityFromQuery } from '@pothos/plugin-complexity';
import {
  getOperationAST,
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
  type ValidationContext,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { Config } from '../config/env.js';
import { ValidationError, type ValidationIssue } from '../graphql/errors.js';
import { OPERATION_LIMITS, refusalOf, refusalsMade, refuse, type OperationLimit } from './refusal.js';

/** The codes of the operation limits' refusals. */
const REFUSAL_CODES = new Set<string>(Object.values(OPERATION_LIMITS).map((l) => l.code));

/** GraphQL Armor's options for one limit: refuse through refuse(), with our code. */
function armorLimit(limit: OperationLimit, n: number, logger: Logger) {
  return {
    n,
    exposeLimits: true,
    // Armor's own error carries no code; ours is reported (or, while parsing, thrown) instead.
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, err: GraphQLError) => {
        const found = /found (\d+)/.exec(err.message)?.[1];
        const error = refuse(logger, { kind: 'operation', limit, max: n, found: found ? Number(found) : undefined });
        if (context) context.reportError(error);
        else throw error;
      },
    ],
  };
}

/** The selected operation alone (with its fragments): what the cost is computed for. */
function selectedOperation(document: DocumentNode, operationName: string | null | undefined): DocumentNode | null {
  const operation = getOperationAST(document, operationName);
  if (!operation) return null;
  return { ...document, definitions: document.definitions.filter((d) => d.kind !== Kind.OPERATION_DEFINITION || d === operation) };
}

/** Whether a page-size argument (cost.ts) of the document takes its value from a variable. */
function costReadsVariables(document: DocumentNode): boolean {
  let reads = false;
  visit(document, {
    Argument(node) {
      if (PAGE_ARGUMENTS.has(node.name.value) && node.value.kind !== Kind.INT) reads = true;
    },
  });
  return reads;
}
const PAGE_ARGUMENTS = new Set(['first', 'last', 'limit', 'take']);

/**
 * Per parsed document (Yoga's parser cache hands the same object to every request sending the
 * same text): its cost per operation name when no page size comes from a variable, and the
 * refusal for a bad string literal in it. A client sending one mutation a thousand times a second
 * pays for walking it once.
 */
interface DocumentFacts {
  costs: Map<string, number | null> | null;
  literalIssue: ValidationIssue | null;
}
const facts = new WeakMap<DocumentNode, DocumentFacts>();

function factsOf(document: DocumentNode): DocumentFacts {
  let known = facts.get(document);
  if (!known) {
    let literalIssue: ValidationIssue | null = null;
    visit(document, {
      StringValue(node) {
        const why = literalIssue ? null : badText(node.value);
        if (why) literalIssue = { path: [], message: `a string in the document ${why}` };
      },
    });
    known = { costs: costReadsVariables(document) ? null : new Map(), literalIssue };
    facts.set(document, known);
  }
  return known;
}

function costOf(args: ExecutionArgs): number | null {
  const known = factsOf(args.document).costs;
  const name = args.operationName ?? '';
  const cached = known?.get(name);
  if (cached !== undefined) return cached;
  const cost = computeCost(args);
  known?.set(name, cost);
  return cost;
}

function computeCost(args: ExecutionArgs): number | null {
  const document = selectedOperation(args.document, args.operationName);
  if (!document) return null;
  try {
    return complexityFromQuery(document, {
      schema: args.schema as GraphQLSchema,
      variables: (args.variableValues ?? {}) as Record<string, unknown>,
      ctx: args.contextValue as object,
    }).complexity;
  } catch {
    // Variables that do not fit the operation: execution refuses them with its own error.
    return null;
  }
}

/** Where a text input is one PostgreSQL cannot store or that is not well-formed UTF-16. */
function badText(value: string): string | null {
  if (value.includes('\u0000')) return 'must not contain NUL characters';
  if (!(value as string & { isWellFormed(): boolean }).isWellFormed()) return 'must be valid Unicode (no lone surrogates)';
  return null;
}

function textIssues(args: ExecutionArgs): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const walk = (value: unknown, path: string[]) => {
    if (issues.length >= 10) return;
    if (typeof value === 'string') {
      const why = badText(value);
      if (why) issues.push({ path, message: why });
    } else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, String(i)]));
    else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    }
  };
  walk(args.variableValues ?? {}, []);
  const literal = factsOf(args.document).literalIssue;
  if (literal && issues.length < 10) issues.push(literal);
  return issues;
}

export function useOperationLimits(config: Config, logger: Logger): Plugin[] {
  const beforeRunning = (args: ExecutionArgs): GraphQLError | null => {
    const issues = textIssues(args);
    if (issues.length) return new ValidationError(issues);
    const cost = costOf(args);
    if (cost !== null && cost > config.GRAPHQL_MAX_COST) {
      return refuse(logger, { kind: 'operation', limit: 'cost', max: config.GRAPHQL_MAX_COST, found: cost });
    }
    return null;
  };
  return [
    EnvelopArmorPlugin({
      maxTokens: armorLimit('tokens', config.GRAPHQL_MAX_TOKENS, logger),
      maxDepth: { ...armorLimit('depth', config.GRAPHQL_MAX_DEPTH, logger), ignoreIntrospection: true, flattenFragments: true },
      // __typename aliases count too: 10 MB of `aN: __typename` is still a flood.
      maxAliases: { ...armorLimit('aliases', config.GRAPHQL_MAX_ALIASES, logger), allowList: [] },
      maxDirectives: armorLimit('directives', config.GRAPHQL_MAX_DIRECTIVES, logger),
      // Armor's cost counts no page sizes; ours (Pothos complexity) does, below.
      costLimit: { enabled: false },
      blockFieldSuggestion: { enabled: !config.GRAPHQL_SUGGESTIONS },
    }),
    {
      onValidate: ({ addValidationRule }) => {
        if (!config.GRAPHQL_INTROSPECTION) addValidationRule(NoSchemaIntrospectionCustomRule);
        // Validation is synchronous: refusals made between here and the result were made by
        // this validation; none means the result came from Yoga's validation cache.
        const madeBefore = refusalsMade();
        // An operation over a limit is answered with that refusal alone. The other rules' errors
        // (one per field: 100 aliased `__schema` give 100 introspection errors) would each cost
        // their source locations to serialize, a few ms per response, for nothing the client needs.
        return ({ result, setResult }) => {
          const refusals = result.filter((error) => REFUSAL_CODES.has(String(error.extensions?.code)));
          if (refusals.length === 0) return;
          // The same document refused again, from the cache: still a refusal, counted and logged.
          if (refusalsMade() === madeBefore) {
            for (const error of refusals) {
              const refusal = refusalOf(error);
              if (refusal) refuse(logger, refusal);
            }
          }
          if (refusals.length < result.length) setResult(refusals);
        };
      },
      // Yoga refuses a request body over GRAPHQL_MAX_BODY_BYTES (its maxRequestBodySize, set in
      // http.ts) before any plugin sees the request; its answer is made a refusal like the others
      // here: counted, logged, and saying what to do.
      onResultProcess: ({ result, setResult }) => {
        if (Array.isArray(result) || Symbol.asyncIterator in result) return;
        const errors = (result as ExecutionResult).errors;
        if (errors?.length === 1 && errors[0]!.extensions?.code === 'REQUEST_ENTITY_TOO_LARGE') {
          setResult({ errors: [refuse(logger, { kind: 'body', max: config.GRAPHQL_MAX_BODY_BYTES })] });
        }
      },
      onExecute: ({ args, setResultAndStopExecution }) => {
        const error = beforeRunning(args);
        if (error) setResultAndStopExecution({ errors: [error] });
      },
      onSubscribe: ({ args, setResultAndStopExecution }) => {
        const error = beforeRunning(args);
        if (error) setResultAndStopExecution({ errors: [error] });
      },
    },
  ];
}
